package depscheck

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/viborm/viborm-go/cache"
)

// RunCache checks relation-aware invalidation end to end through
// [cache.Cache]: two Caches over one driver stand for two processes.
func RunCache(t *testing.T, env Env) {
	t.Run("InvalidateModelClearsDependentReads", func(t *testing.T) { invalidateDependents(t, env) })
	t.Run("FillBeforeOtherProcessDepInvalidationNeverLands", func(t *testing.T) { fenceDeps(t, env) })
}

// caches returns two Caches over one driver in a namespace of their own,
// whose keys are deleted when t ends.
func caches(t *testing.T, env Env) (a, b *cache.Cache, d Driver) {
	t.Helper()
	ns := Random("dx")
	d = env.New(t, ns)
	version := strings.TrimSuffix(Random("dv"), ":")
	var cs [2]*cache.Cache
	for i := range cs {
		c, err := cache.New(d, &cache.Options{Version: version, WaitUntil: cache.Inline, LeaseWait: 10 * time.Second, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		cs[i] = c
	}
	t.Cleanup(func() {
		for _, c := range cs {
			c.Close()
		}
		for _, p := range []string{cache.Prefix(version) + ":", ns} {
			if err := DeleteUnder(context.Background(), env.Inspect, p); err != nil {
				t.Errorf("cleaning up %s: %v", p, err)
			}
		}
	})
	return cs[0], cs[1], d
}

// invalidateDependents: updating a post clears the cached "users with
// their posts", not the cached "users" that included nothing.
func invalidateDependents(t *testing.T, env Env) {
	a, b, _ := caches(t, env)
	var loads atomic.Int64
	load := func(context.Context) (int64, error) { return loads.Add(1), nil }
	withPosts := cache.Policy{Deps: []string{"post"}}
	read := func(c *cache.Cache, key string, p cache.Policy) int64 {
		t.Helper()
		v, err := cache.Load(ctx, c, key, p, load)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	v1 := read(a, "user:findMany:withPosts", withPosts)
	v2 := read(a, "user:findMany:plain", cache.Policy{})
	if read(b, "user:findMany:withPosts", withPosts) != v1 || read(b, "user:findMany:plain", cache.Policy{}) != v2 {
		t.Fatal("the other process did not hit the stored entries")
	}
	if err := b.InvalidateModel(ctx, "post"); err != nil {
		t.Fatal(err)
	}
	if got := read(a, "user:findMany:withPosts", withPosts); got == v1 {
		t.Fatal("the read that includes posts survived InvalidateModel(post) in another process")
	}
	if got := read(a, "user:findMany:plain", cache.Policy{}); got != v2 {
		t.Fatal("the read that includes nothing was cleared by InvalidateModel(post)")
	}
}

// fenceDeps: a fill that began in one process before another invalidated
// one of its dependencies never lands.
func fenceDeps(t *testing.T, env Env) {
	a, p, d := caches(t, env)
	key := "user:findMany:withPosts"
	started, gate := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		_, err := cache.Load(ctx, p, key, cache.Policy{Deps: []string{"post"}}, func(context.Context) (string, error) {
			close(started) // the lease is taken, the key recorded
			<-gate
			return "pre-write rows", nil
		})
		done <- err
	}()
	<-started
	if err := a.InvalidateModel(ctx, "post"); err != nil {
		t.Fatal(err)
	}
	close(gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, ok, err := d.Get(ctx, a.FullKey(key)); err != nil || ok {
		t.Fatalf("a fill that began before another process invalidated its dependency landed after it (%v, %v)", ok, err)
	}
}
