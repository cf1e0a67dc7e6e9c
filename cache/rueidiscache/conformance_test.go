package rueidiscache_test

import (
	"context"
	"testing"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/cachetest"
	"github.com/viborm/viborm-go/cache/rueidiscache"
)

func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts *rueidiscache.Options
	}{
		{"index", nil},
		{"NoIndex", &rueidiscache.Options{NoIndex: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The kit keeps to namespaces of its own and clears them, so it
			// shares the database without flushing it.
			t.Run("single", func(t *testing.T) {
				c := singleClient(t)
				cachetest.Run(t, func(t *testing.T) cache.Driver { return newDriver(t, c, tc.opts) }, nil)
			})
			t.Run("cluster", func(t *testing.T) {
				c := clusterClient(t)
				cachetest.Run(t, func(t *testing.T) cache.Driver { return newDriver(t, c, tc.opts) }, nil)
			})
		})
	}
}

// TestConformanceTestForm runs the kit's non-testing form once.
func TestConformanceTestForm(t *testing.T) {
	c := singleClient(t)
	err := cachetest.Test(context.Background(), func() (cache.Driver, error) { return rueidiscache.New(c, nil) }, nil)
	if err != nil {
		t.Error(err)
	}
}
