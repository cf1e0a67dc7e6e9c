package rediscache_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/cachetest"
	"github.com/viborm/viborm-go/cache/rediscache"
	"github.com/viborm/viborm-go/internal/testenv"
)

func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts *rediscache.Options
	}{
		{"index", nil},
		{"NoIndex", &rediscache.Options{NoIndex: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Run("single", func(t *testing.T) {
				// The kit keeps to namespaces of its own, so it shares the
				// database without flushing it.
				c := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t), DB: testDB})
				t.Cleanup(func() { c.Close() })
				cachetest.Run(t, func(t *testing.T) cache.Driver { return newDriver(t, c, tc.opts) }, nil)
			})
			t.Run("cluster", func(t *testing.T) {
				c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: clusterAddrs(t)})
				t.Cleanup(func() { c.Close() })
				cachetest.Run(t, func(t *testing.T) cache.Driver { return newDriver(t, c, tc.opts) }, nil)
			})
		})
	}
}

// TestConformanceTestForm runs the kit's non-testing form once.
func TestConformanceTestForm(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t), DB: testDB})
	defer c.Close()
	err := cachetest.Test(context.Background(), func() (cache.Driver, error) { return rediscache.New(c, nil) }, nil)
	if err != nil {
		t.Error(err)
	}
}
