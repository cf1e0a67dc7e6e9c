package rueidiscache_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"testing"
	"time"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/internal/redisindex/depscheck"
)

// leaseCaches returns n Caches over one rueidis driver of b, each standing
// for a process, in a namespace of the test's own, cleared when t ends.
func leaseCaches(t *testing.T, b backend, n int) []*cache.Cache {
	t.Helper()
	var r [6]byte
	rand.Read(r[:])
	version := "lt" + hex.EncodeToString(r[:])
	d := newDriver(t, b.client, nil)
	cs := make([]*cache.Cache, n)
	for i := range cs {
		c, err := cache.New(d, &cache.Options{Version: version, LeaseWait: 10 * time.Second, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		cs[i] = c
	}
	t.Cleanup(func() {
		for _, c := range cs {
			c.Close()
		}
		if err := d.Clear(context.Background(), cache.Prefix(version)+":"); err != nil {
			t.Errorf("cleaning up: %v", err)
		}
	})
	return cs
}

// A fill that began in one process before another invalidated its key, or
// its model, never lands, on a single node and on a cluster.
func TestFillBeforeOtherProcessInvalidationNeverLands(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		for _, byModel := range []bool{false, true} {
			cs := leaseCaches(t, b, 2)
			a, p := cs[0], cs[1]
			key := "user:findMany:a"
			depscheck.FillAcrossInvalidation(t, a, p, key, byModel)
			if n, err := b.inspect.Exists(context.Background(), a.FullKey(key)).Result(); err != nil || n != 0 {
				t.Fatalf("by model %v: a fill that began before another process's invalidation landed after it (exists %d, %v)", byModel, n, err)
			}
		}
	})
}

// Four processes missing one cold key run its loader once.
func TestColdKeyAcrossProcessesLoadsOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		cs := leaseCaches(t, b, 4)
		if n := depscheck.LoadsOfColdKey(t, cs, "user:findUnique:cold"); n != 1 {
			t.Fatalf("4 processes missing one cold key ran the loader %d times, want 1", n)
		}
	})
}
