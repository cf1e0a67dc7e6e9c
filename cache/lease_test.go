package cache_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/viborm/viborm-go/cache"
)

// leaseDriver is mapDriver with memcached's leases (cache.Leaser), kept under
// the map's lock: the shared backend of several Caches that stand for
// several processes in these tests.
type leaseDriver struct {
	*mapDriver
	leases map[string]leaseRec // by key; under mapDriver.mu
	seq    int
	asked  atomic.Int64 // Lease calls
}

type leaseRec struct {
	tok     string
	expires time.Time
}

var _ cache.Leaser = (*leaseDriver)(nil)

func newLeaseDriver(now func() time.Time) *leaseDriver {
	return &leaseDriver{mapDriver: newMapDriver(now), leases: map[string]leaseRec{}}
}

func (d *leaseDriver) Lease(ctx context.Context, key string, ttl time.Duration) (string, cache.Entry, bool, error) {
	d.asked.Add(1)
	if err := ctx.Err(); err != nil {
		return "", cache.Entry{}, false, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var e cache.Entry
	s, ok := d.m[key]
	if ok = ok && d.now().Before(s.expires); ok {
		e = s.e
	}
	if l, held := d.leases[key]; held && d.now().Before(l.expires) {
		return "", e, ok, nil
	}
	d.seq++
	tok := strings.Repeat("t", d.seq)
	d.leases[key] = leaseRec{tok, d.now().Add(ttl)}
	return tok, e, ok, nil
}

func (d *leaseDriver) SetLeased(ctx context.Context, key, tok string, ttl time.Duration, e cache.Entry) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	l, held := d.leases[key]
	if !held || l.tok != tok || !d.now().Before(l.expires) {
		return false, nil
	}
	delete(d.leases, key)
	d.sets++
	d.m[key] = stored{e, d.now().Add(ttl)}
	return true, nil
}

func (d *leaseDriver) Release(ctx context.Context, key, tok string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if l, held := d.leases[key]; held && l.tok == tok {
		delete(d.leases, key)
	}
	return nil
}

// Delete and Clear void leases first, as the Redis drivers do.
func (d *leaseDriver) Delete(ctx context.Context, keys []string) error {
	d.mu.Lock()
	for _, k := range keys {
		delete(d.leases, k)
	}
	d.mu.Unlock()
	return d.mapDriver.Delete(ctx, keys)
}

func (d *leaseDriver) Clear(ctx context.Context, prefix string) error {
	d.mu.Lock()
	for k := range d.leases {
		if strings.HasPrefix(k, prefix) {
			delete(d.leases, k)
		}
	}
	d.mu.Unlock()
	return d.mapDriver.Clear(ctx, prefix)
}

// processes returns n Caches over d, each standing for a process of its own.
func processes(t *testing.T, d cache.Driver, n int, o *cache.Options) []*cache.Cache {
	t.Helper()
	cs := make([]*cache.Cache, n)
	for i := range cs {
		var opts cache.Options
		if o != nil {
			opts = *o
		}
		opts.Logger = quietLogger()
		c, err := cache.New(d, &opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		cs[i] = c
	}
	return cs
}

var invalidations = []struct {
	name       string
	invalidate func(context.Context, *cache.Cache) error
}{
	{"key", func(ctx context.Context, c *cache.Cache) error { return c.Invalidate(ctx, "user:findMany:a") }},
	{"prefix", func(ctx context.Context, c *cache.Cache) error { return c.Invalidate(ctx, "user:*") }},
	{"model", func(ctx context.Context, c *cache.Cache) error { return c.InvalidateModel(ctx, "user") }},
}

// A load in process B that began before process A invalidated its key (or
// a prefix of it) never stores its result: the invalidation voided B's
// lease.
func TestFillBeforeOtherProcessInvalidationNeverLands(t *testing.T) {
	for _, tc := range invalidations {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d := newLeaseDriver(nil)
				ps := processes(t, d, 2, nil)
				a, b := ps[0], ps[1]
				release := gatedLoad(t, b, "user:findMany:a", cache.Policy{})
				if err := tc.invalidate(context.Background(), a); err != nil {
					t.Fatal(err)
				}
				release()
				if d.has("viborm:user:findMany:a") {
					t.Fatal("a fill that began in another process before the invalidation landed after it")
				}
				if v := mustLoad(t, a, "user:findMany:a", cache.Policy{}, func(context.Context) (string, error) { return "fresh", nil }); v != "fresh" {
					t.Fatalf("read after the invalidation got %q, want fresh", v)
				}
			})
		})
	}
}

// A background refresh in process B that began before process A
// invalidated the key never stores its result.
func TestRefreshBeforeOtherProcessInvalidationNeverLands(t *testing.T) {
	for _, tc := range invalidations {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				clk := newClock()
				d := newLeaseDriver(clk.Now)
				ps := processes(t, d, 2, &cache.Options{Now: clk.Now})
				a, b := ps[0], ps[1]
				p := cache.Policy{TTL: time.Minute, SWR: true}
				mustLoad(t, b, "user:findMany:a", p, func(context.Context) (string, error) { return "v1", nil })
				synctest.Wait()
				clk.Advance(90 * time.Second) // stale, inside the window
				gate := make(chan struct{})
				got := mustLoad(t, b, "user:findMany:a", p, func(context.Context) (string, error) {
					<-gate
					return "pre-write rows", nil
				})
				if got != "v1" {
					t.Fatalf("stale read got %q, want v1", got)
				}
				synctest.Wait() // the refresh is in its loader
				if err := tc.invalidate(context.Background(), a); err != nil {
					t.Fatal(err)
				}
				close(gate)
				synctest.Wait()
				if d.has("viborm:user:findMany:a") {
					t.Fatal("a refresh that began in another process before the invalidation landed after it")
				}
			})
		})
	}
}

// A bypass read in process B that began before process A invalidated the
// key never stores its result.
func TestBypassBeforeOtherProcessInvalidationNeverLands(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newLeaseDriver(nil)
		ps := processes(t, d, 2, nil)
		a, b := ps[0], ps[1]
		release := gatedLoad(t, b, "user:findMany:a", cache.Policy{Bypass: true})
		if err := a.InvalidateModel(context.Background(), "user"); err != nil {
			t.Fatal(err)
		}
		release()
		if d.has("viborm:user:findMany:a") {
			t.Fatal("a bypass fill that began before another process's invalidation landed after it")
		}
	})
}

// A read in process B that starts after process A's invalidation returned,
// and joins a load that B began before it, must not get that load's
// pre-invalidation result.
func TestReadAfterOtherProcessInvalidationNeverJoinsOlderLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newLeaseDriver(nil)
		ps := processes(t, d, 2, nil)
		a, b := ps[0], ps[1]
		var db atomic.Int64 // the row's version in the database
		db.Store(1)
		gate := make(chan struct{})
		var first atomic.Bool
		load := func(context.Context) (int64, error) {
			v := db.Load()
			if first.CompareAndSwap(false, true) {
				<-gate // the first load read version 1 and is slow
			}
			return v, nil
		}
		var wg sync.WaitGroup
		var got1 int64
		wg.Go(func() { got1 = mustLoad(t, b, "user:findMany:a", cache.Policy{}, load) })
		synctest.Wait()
		// Process A writes version 2 and invalidates.
		db.Store(2)
		if err := a.InvalidateModel(context.Background(), "user"); err != nil {
			t.Fatal(err)
		}
		// Then a read starts in B, and joins the slow load.
		joined := make(chan struct{})
		cache.SetHookJoined(b, func() { close(joined) })
		var got2 int64
		wg.Go(func() { got2 = mustLoad(t, b, "user:findMany:a", cache.Policy{}, load) })
		<-joined
		cache.SetHookJoined(b, nil)
		close(gate)
		wg.Wait()
		if got1 != 1 {
			t.Fatalf("the read that started before the write got version %d, want 1", got1)
		}
		if got2 != 2 {
			t.Fatalf("a read that started after the invalidation returned got version %d, want 2", got2)
		}
	})
}

// Four processes missing one cold key run its loader once: the lease
// holder loads, the others wait for its fill.
func TestColdKeyAcrossProcessesLoadsOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newLeaseDriver(nil)
		ps := processes(t, d, 4, nil)
		gate := make(chan struct{})
		var loads atomic.Int32
		load := func(context.Context) (string, error) {
			loads.Add(1)
			<-gate
			return "rows", nil
		}
		var wg sync.WaitGroup
		got := make([]string, len(ps))
		for i, c := range ps {
			wg.Go(func() { got[i] = mustLoad(t, c, "user:findMany:a", cache.Policy{}, load) })
		}
		synctest.Wait() // one holder in its loader, the others polling
		// Let the waiters poll a while (fake time, in the bubble).
		time.Sleep(100 * time.Millisecond)
		close(gate)
		wg.Wait()
		if n := loads.Load(); n != 1 {
			t.Fatalf("%d processes missing one key ran the loader %d times, want 1", len(ps), n)
		}
		for i, v := range got {
			if v != "rows" {
				t.Fatalf("process %d got %q", i, v)
			}
		}
	})
}

// When the lease holder's load fails, it releases the lease, and a waiting
// process loads (and stores) at once instead of waiting out LeaseWait.
func TestFailedLeaseHolderHandsOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newLeaseDriver(nil)
		ps := processes(t, d, 2, &cache.Options{LeaseWait: time.Minute})
		gate := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			_, err := cache.Load(context.Background(), ps[0], "user:findMany:a", cache.Policy{}, func(context.Context) (string, error) {
				<-gate
				return "", errors.New("database down")
			})
			if err == nil {
				t.Error("the holder's read did not fail")
			}
		})
		synctest.Wait()
		start := time.Now()
		var got string
		wg.Go(func() {
			got = mustLoad(t, ps[1], "user:findMany:a", cache.Policy{}, func(context.Context) (string, error) { return "rows", nil })
		})
		synctest.Wait() // polling
		close(gate)
		wg.Wait()
		synctest.Wait()
		if got != "rows" {
			t.Fatalf("waiter got %q", got)
		}
		if waited := time.Since(start); waited > time.Second {
			t.Fatalf("waiter took %v after the holder failed, want it to take the lease at once", waited)
		}
		if !d.has("viborm:user:findMany:a") {
			t.Fatal("the waiter that took the lease over did not store")
		}
	})
}

// A process that finds the lease held waits at most LeaseWait, then loads
// on its own and does not store.
func TestLeaseWaitIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newLeaseDriver(nil)
		ps := processes(t, d, 2, &cache.Options{LeaseWait: 300 * time.Millisecond})
		gate := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			mustLoad(t, ps[0], "user:findMany:a", cache.Policy{}, func(context.Context) (string, error) {
				<-gate
				return "holder", nil
			})
		})
		synctest.Wait()
		start := time.Now()
		got := mustLoad(t, ps[1], "user:findMany:a", cache.Policy{}, func(context.Context) (string, error) { return "own", nil })
		waited := time.Since(start)
		if got != "own" {
			t.Fatalf("waiter got %q, want its own load", got)
		}
		if waited < 300*time.Millisecond || waited > 400*time.Millisecond {
			t.Fatalf("waiter waited %v, want LeaseWait (300ms)", waited)
		}
		synctest.Wait()
		if d.has("viborm:user:findMany:a") {
			t.Fatal("a load without the lease stored its result")
		}
		close(gate)
		wg.Wait()
		synctest.Wait()
		if !d.has("viborm:user:findMany:a") {
			t.Fatal("the holder did not store")
		}
	})
}

// A waiting caller whose context ends stops waiting for another process's
// fill; once every caller has left, the wait ends without a query.
func TestLeaseWaitHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newLeaseDriver(nil)
		ps := processes(t, d, 2, &cache.Options{LeaseWait: 200 * time.Millisecond})
		gate := make(chan struct{})
		defer close(gate)
		go cache.Load(context.Background(), ps[0], "user:findMany:a", cache.Policy{}, func(context.Context) (string, error) {
			<-gate
			return "holder", nil
		})
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		var ran atomic.Bool
		_, err := cache.Load(ctx, ps[1], "user:findMany:a", cache.Policy{}, func(context.Context) (string, error) {
			ran.Store(true)
			return "own", nil
		})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want the context's error", err)
		}
		time.Sleep(time.Second) // fake time: past LeaseWait
		synctest.Wait()
		if ran.Load() {
			t.Fatal("a wait that every caller had left ran the query")
		}
	})
}

// With DisableLeases a Leaser driver is used like any other.
func TestDisableLeasesStoresWithSet(t *testing.T) {
	d := newLeaseDriver(nil)
	ps := processes(t, d, 1, &cache.Options{DisableLeases: true, WaitUntil: cache.Inline})
	mustLoad(t, ps[0], "k", cache.Policy{}, func(context.Context) (string, error) { return "v", nil })
	d.mu.Lock()
	n := len(d.leases)
	d.mu.Unlock()
	if n != 0 || !d.has("viborm:k") {
		t.Fatalf("leases taken: %d, stored: %v; want 0 and true", n, d.has("viborm:k"))
	}
}

// A read whose lookup failed in the driver answers from the loader without
// asking the failing driver for a lease, and stores nothing.
func TestFailedLookupSkipsLease(t *testing.T) {
	d := newLeaseDriver(nil)
	d.getErr = errors.New("redis down")
	ps := processes(t, d, 1, &cache.Options{WaitUntil: cache.Inline})
	if v := mustLoad(t, ps[0], "k", cache.Policy{}, func(context.Context) (string, error) { return "db", nil }); v != "db" {
		t.Fatalf("got %q", v)
	}
	if n := d.asked.Load(); n != 0 {
		t.Fatalf("the failing driver was asked for %d leases, want 0", n)
	}
	if d.has("viborm:k") {
		t.Fatal("a load without a lease stored its result")
	}
}
