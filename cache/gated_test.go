package cache_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/viborm/viborm-go/cache"
)

// gatedLoad starts, in the background, a load of key by c under p whose
// loader blocks until release is called and then returns "pre-write rows",
// and waits until the loader blocks. release lets the loader return, waits
// for the load and then for the background work it started (its write),
// and returns what the caller got. Call it in a synctest bubble, and call
// release exactly once.
func gatedLoad(t *testing.T, c *cache.Cache, key string, p cache.Policy) (release func() string) {
	t.Helper()
	gate := make(chan struct{})
	var got string
	var wg sync.WaitGroup
	wg.Go(func() {
		got = mustLoad(t, c, key, p, func(context.Context) (string, error) {
			<-gate
			return "pre-write rows", nil
		})
	})
	synctest.Wait()
	return func() string {
		close(gate)
		wg.Wait()
		synctest.Wait()
		return got
	}
}
