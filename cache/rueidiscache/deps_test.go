package rueidiscache_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/internal/redisindex/depscheck"
	"github.com/viborm/viborm-go/cache/rediscache"
	"github.com/viborm/viborm-go/cache/rueidiscache"
)

// TestDeps checks the dependency index on the shared Redis (in namespaces
// of its own, never flushed) and on the private cluster.
func TestDeps(t *testing.T) {
	for _, noIndex := range []bool{false, true} {
		name := "index"
		if noIndex {
			name = "NoIndex"
		}
		t.Run(name, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, b backend) {
				env := depscheck.Env{
					New: func(t *testing.T, ns string) depscheck.Driver {
						return newDriver(t, b.client, &rueidiscache.Options{IndexPrefix: ns, NoIndex: noIndex})
					},
					Inspect: b.inspect,
					Cluster: b.cluster,
				}
				depscheck.Run(t, env)
				depscheck.RunCache(t, env)
			})
		})
	}
}

// TestDepsSharedWithRediscache: what one driver records, the other clears,
// leases included.
func TestDepsSharedWithRediscache(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ns := depscheck.Random("dx")
		ru := newDriver(t, b.client, &rueidiscache.Options{IndexPrefix: ns})
		gr, err := rediscache.New(b.inspect, &rediscache.Options{IndexPrefix: ns})
		if err != nil {
			t.Fatal(err)
		}
		f := depscheck.NewFixture(t, depscheck.Env{
			New:     func(*testing.T, string) depscheck.Driver { return ru },
			Inspect: b.inspect,
			Cluster: b.cluster,
		})
		t.Cleanup(func() { _ = depscheck.DeleteUnder(context.Background(), b.inspect, ns) })
		ctx := context.Background()
		tag := f.Root + "T:post"
		e := cache.NewEntry("v", time.Now(), time.Minute)
		var keys []string
		for i, d := range []interface {
			cache.Driver
			cache.DepIndexer
			cache.Leaser
		}{ru, gr, ru, gr} {
			k := f.Root + "user:findMany:" + string(rune('a'+i))
			keys = append(keys, k)
			tok, _, _, err := d.Lease(ctx, k, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.IndexDeps(ctx, k, []string{tag}, time.Minute); err != nil {
				t.Fatal(err)
			}
			if i < 2 { // a and b are stored, c and d stay leased
				if ok, err := d.SetLeased(ctx, k, tok, time.Minute, e); err != nil || !ok {
					t.Fatalf("SetLeased = %v, %v", ok, err)
				}
			}
		}
		for i, clearer := range []cache.DepIndexer{gr, ru} {
			// gr clears what ru recorded and the reverse: the second clear
			// finds nothing left, and the lease keys are gone with the first.
			if err := clearer.ClearDeps(ctx, []string{tag}); err != nil {
				t.Fatal(err)
			}
			if n, err := existsEach(ctx, b.inspect, keys); err != nil || n != 0 {
				t.Fatalf("clear %d: %d keys remain (%v)", i, n, err)
			}
			var leases []string
			for _, k := range keys {
				leases = append(leases, f.Layout.LeaseKey(k))
			}
			if n, err := existsEach(ctx, b.inspect, leases); err != nil || n != 0 {
				t.Fatalf("clear %d: %d leases remain (%v)", i, n, err)
			}
		}
	})
}

// existsEach counts which of keys exist, one EXISTS each (they may be in
// different slots).
func existsEach(ctx context.Context, c redis.UniversalClient, keys []string) (int64, error) {
	var n int64
	for _, k := range keys {
		m, err := c.Exists(ctx, k).Result()
		if err != nil {
			return 0, err
		}
		n += m
	}
	return n, nil
}
