package cache_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/viborm/viborm-go/cache"
)

// depDriver is mapDriver with a dependency index (cache.DepIndexer) kept
// under the map's lock. It logs the order of IndexDeps and Set calls.
type depDriver struct {
	*mapDriver
	tags     map[string]map[string]bool // tag → keys; under mapDriver.mu
	ttls     map[string]time.Duration   // key → ttl of its last IndexDeps
	calls    []string                   // "index <key>" and "set <key>", in order
	clearErr error
}

var _ cache.DepIndexer = (*depDriver)(nil)

func newDepDriver(now func() time.Time) *depDriver {
	return &depDriver{mapDriver: newMapDriver(now), tags: map[string]map[string]bool{}, ttls: map[string]time.Duration{}}
}

func (d *depDriver) Set(ctx context.Context, key string, ttl time.Duration, e cache.Entry) error {
	d.mu.Lock()
	d.calls = append(d.calls, "set "+key)
	d.mu.Unlock()
	return d.mapDriver.Set(ctx, key, ttl, e)
}

func (d *depDriver) IndexDeps(ctx context.Context, key string, deps []string, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	indexDeps(d.tags, key, deps)
	d.ttls[key] = ttl
	d.calls = append(d.calls, "index "+key)
	return nil
}

func (d *depDriver) ClearDeps(ctx context.Context, tags []string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.clearErr != nil {
		return d.clearErr
	}
	for _, k := range clearDeps(d.tags, tags) {
		delete(d.m, k)
	}
	return nil
}

// leaseDepDriver is leaseDriver with a dependency index whose ClearDeps
// voids the leases of the keys it removes, as the Redis drivers do.
type leaseDepDriver struct {
	*leaseDriver
	tags map[string]map[string]bool // under mapDriver.mu
}

var _ cache.DepIndexer = (*leaseDepDriver)(nil)

func newLeaseDepDriver(now func() time.Time) *leaseDepDriver {
	return &leaseDepDriver{leaseDriver: newLeaseDriver(now), tags: map[string]map[string]bool{}}
}

func (d *leaseDepDriver) IndexDeps(ctx context.Context, key string, deps []string, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	indexDeps(d.tags, key, deps)
	return nil
}

func (d *leaseDepDriver) ClearDeps(ctx context.Context, tags []string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, k := range clearDeps(d.tags, tags) {
		delete(d.m, k)
		delete(d.leases, k)
	}
	return nil
}

func indexDeps(idx map[string]map[string]bool, key string, deps []string) {
	for _, t := range deps {
		if idx[t] == nil {
			idx[t] = map[string]bool{}
		}
		idx[t][key] = true
	}
}

func clearDeps(idx map[string]map[string]bool, tags []string) []string {
	var keys []string
	for _, t := range tags {
		for k := range idx[t] {
			keys = append(keys, k)
		}
		delete(idx, t)
	}
	return keys
}

var depInvalidations = []struct {
	name       string
	invalidate func(context.Context, *cache.Cache) error
}{
	{"model", func(ctx context.Context, c *cache.Cache) error { return c.InvalidateModel(ctx, "post") }},
	{"pattern", func(ctx context.Context, c *cache.Cache) error { return c.Invalidate(ctx, "post:*") }},
	{"clear", func(ctx context.Context, c *cache.Cache) error { return c.Clear(ctx, "post:") }},
}

var withPosts = cache.Policy{TTL: time.Minute, Deps: []string{"post", "post"}}

func TestInvalidatingAModelClearsTheReadsThatDependOnIt(t *testing.T) {
	for _, tc := range depInvalidations {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			d := newDepDriver(clk.Now)
			c, err := cache.New(d, &cache.Options{Now: clk.Now, WaitUntil: cache.Inline, Logger: quietLogger()})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx := context.Background()
			const inc, plain = "user:findMany:withPosts", "user:findMany:plain"
			mustLoad(t, c, inc, withPosts, func(context.Context) (string, error) { return "users+posts", nil })
			mustLoad(t, c, plain, cache.Policy{TTL: time.Minute}, func(context.Context) (string, error) { return "users", nil })
			full := "viborm:" + inc
			if !d.has(full) {
				t.Fatal("a read with deps on a DepIndexer driver was not stored")
			}
			d.mu.Lock()
			calls, ttl, tags := slices.Clone(d.calls), d.ttls[full], len(d.tags)
			_, indexed := d.tags["viborm:post"][full]
			d.mu.Unlock()
			if !indexed || tags != 1 {
				t.Fatalf("IndexDeps recorded %v under %d tags, want the key under the one tag viborm:post", d.tags, tags)
			}
			if i := slices.Index(calls, "index "+full); i < 0 || i > slices.Index(calls, "set "+full) {
				t.Fatalf("calls %q: IndexDeps must come before Set", calls)
			}
			if ttl < time.Minute {
				t.Fatalf("IndexDeps ttl %v, want at least the storage TTL (1m)", ttl)
			}
			// Invalidations that do not cover post leave it.
			if err := c.InvalidateModel(ctx, "comment"); err != nil {
				t.Fatal(err)
			}
			if err := c.Invalidate(ctx, "post:findMany:*"); err != nil {
				t.Fatal(err)
			}
			if !d.has(full) {
				t.Fatal("an invalidation of another model, or of part of post, removed a read that depends on post")
			}
			if err := tc.invalidate(ctx, c); err != nil {
				t.Fatal(err)
			}
			if d.has(full) {
				t.Error("the read that depends on post survived its invalidation")
			}
			if !d.has("viborm:" + plain) {
				t.Error("the read that includes nothing was removed too")
			}
		})
	}
}

// A load that depends on post and began before an invalidation of post
// never stores its result after it, and readers that come after the
// invalidation do not share it.
func TestFillThatBeganBeforeAnInvalidationOfItsDepNeverLands(t *testing.T) {
	for _, tc := range depInvalidations {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d := newDepDriver(nil)
				c := processes(t, d, 1, nil)[0]
				release := gatedLoad(t, c, "user:findMany:a", withPosts)
				if err := tc.invalidate(context.Background(), c); err != nil {
					t.Fatal(err)
				}
				fresh := make(chan string, 1)
				go func() {
					fresh <- mustLoad(t, c, "user:findMany:a", withPosts, func(context.Context) (string, error) { return "fresh", nil })
				}()
				synctest.Wait()
				select {
				case v := <-fresh:
					if v != "fresh" {
						t.Fatalf("a read after the invalidation got %q from the load that began before it", v)
					}
				default:
					release()
					t.Fatal("a read after the invalidation joined the load that began before it")
				}
				release()
				e, ok, err := c.Get(context.Background(), "user:findMany:a")
				if err != nil || !ok || e.Value != "fresh" {
					t.Fatalf("stored %v, %v, %v; want the fresh value, not the fill that began before the invalidation", e.Value, ok, err)
				}
			})
		})
	}
}

// Same across processes: process B's load, under a lease, began before
// process A invalidated post; the dependency index voided B's lease.
func TestFillBeforeOtherProcessDepInvalidationNeverLands(t *testing.T) {
	for _, tc := range depInvalidations {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d := newLeaseDepDriver(nil)
				ps := processes(t, d, 2, nil)
				a, b := ps[0], ps[1]
				release := gatedLoad(t, b, "user:findMany:a", withPosts)
				if err := tc.invalidate(context.Background(), a); err != nil {
					t.Fatal(err)
				}
				release()
				if d.has("viborm:user:findMany:a") {
					t.Fatal("a fill that began in another process before the invalidation of its dependency landed after it")
				}
			})
		})
	}
}

// A background refresh of a read that depends on post, in flight when post
// is invalidated, never stores its result.
func TestRefreshBeforeAnInvalidationOfItsDepNeverLands(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := newClock()
		d := newDepDriver(clk.Now)
		c := processes(t, d, 1, &cache.Options{Now: clk.Now})[0]
		p := withPosts
		p.SWR = true
		mustLoad(t, c, "user:findMany:a", p, func(context.Context) (string, error) { return "v1", nil })
		synctest.Wait()
		clk.Advance(90 * time.Second)
		gate := make(chan struct{})
		if got := mustLoad(t, c, "user:findMany:a", p, func(context.Context) (string, error) {
			<-gate
			return "pre-write rows", nil
		}); got != "v1" {
			t.Fatalf("stale read got %q, want v1", got)
		}
		synctest.Wait()
		if err := c.InvalidateModel(context.Background(), "post"); err != nil {
			t.Fatal(err)
		}
		close(gate)
		synctest.Wait()
		if d.has("viborm:user:findMany:a") {
			t.Fatal("a refresh that began before the invalidation of its dependency landed after it")
		}
	})
}

// countHandler counts the records logged at warning level or above.
type countHandler struct{ n atomic.Int64 }

func (h *countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		h.n.Add(1)
	}
	return nil
}
func (h *countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countHandler) WithGroup(string) slog.Handler      { return h }

// A read with deps on a driver that cannot index them is answered by its
// loader and never stored: a stored entry could not be invalidated with its
// dependencies. It is logged once.
func TestReadWithDepsOnDriverWithoutDepIndexerIsNotStored(t *testing.T) {
	clk := newClock()
	d := newMapDriver(clk.Now)
	h := &countHandler{}
	c, err := cache.New(d, &cache.Options{Now: clk.Now, WaitUntil: cache.Inline, Logger: slog.New(h)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	loads := 0
	for range 3 {
		if v := mustLoad(t, c, "user:findMany:a", withPosts, func(context.Context) (string, error) {
			loads++
			return "rows", nil
		}); v != "rows" {
			t.Fatalf("got %q", v)
		}
	}
	if loads != 3 || d.sets != 0 || d.has("viborm:user:findMany:a") {
		t.Errorf("loads = %d, sets = %d: want every read answered by its loader and nothing stored", loads, d.sets)
	}
	if n := h.n.Load(); n != 1 {
		t.Errorf("%d warnings logged, want 1", n)
	}
	// Without deps the same driver caches as usual.
	mustLoad(t, c, "user:findMany:a", cache.Policy{}, func(context.Context) (string, error) { return "rows", nil })
	if !d.has("viborm:user:findMany:a") {
		t.Error("a read without deps was not stored")
	}
	if err := c.Set(context.Background(), "user:findMany:b", "rows", withPosts); !errors.Is(err, errors.ErrUnsupported) || !errors.Is(err, cache.ErrDriver) {
		t.Errorf("Set with deps on a driver without DepIndexer = %v, want a DriverError matching errors.ErrUnsupported", err)
	}
}

func TestEmptyDepIsAConfigError(t *testing.T) {
	c, _, _ := newInline(t, nil)
	_, err := cache.Load(context.Background(), c, "user:findMany:a", cache.Policy{Deps: []string{""}}, func(context.Context) (int, error) { return 1, nil })
	if !errors.Is(err, cache.ErrConfig) {
		t.Errorf("Load with an empty dep = %v, want ErrConfig", err)
	}
}

// A failing ClearDeps fails the invalidation, as a failing Clear does, and
// the fence still holds.
func TestClearDepsFailureIsReturned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDepDriver(nil)
		d.clearErr = errors.New("index down")
		c := processes(t, d, 1, nil)[0]
		release := gatedLoad(t, c, "user:findMany:a", withPosts)
		err := c.InvalidateModel(context.Background(), "post")
		var de *cache.DriverError
		if !errors.As(err, &de) || de.Op != "cleardeps" || !errors.Is(err, d.clearErr) {
			t.Fatalf("InvalidateModel = %v, want a DriverError of cleardeps wrapping the driver's error", err)
		}
		release()
		if d.has("viborm:user:findMany:a") {
			t.Fatal("a fill landed after a failed invalidation of its dependency")
		}
	})
}

// notOffered is a depDriver whose DepIndexer is not offered (a wrapper
// over a driver without the capability, say).
type notOffered struct{ *depDriver }

func (notOffered) OffersDeps() bool { return false }

// A DepIndexer that does not offer itself is a driver without the
// capability: reads with deps are answered and not stored, and its index
// is never called.
func TestDepIndexerNotOfferedIsNotUsed(t *testing.T) {
	clk := newClock()
	d := newDepDriver(clk.Now)
	c, err := cache.New(notOffered{d}, &cache.Options{Now: clk.Now, WaitUntil: cache.Inline, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mustLoad(t, c, "user:findMany:a", withPosts, func(context.Context) (string, error) { return "rows", nil })
	d.mu.Lock()
	calls := slices.Clone(d.calls)
	d.mu.Unlock()
	if len(calls) != 0 || d.has("viborm:user:findMany:a") {
		t.Errorf("calls %q: a read with deps was stored through a DepIndexer that is not offered", calls)
	}
	if err := c.InvalidateModel(context.Background(), "post"); err != nil {
		t.Errorf("InvalidateModel = %v", err)
	}
}
