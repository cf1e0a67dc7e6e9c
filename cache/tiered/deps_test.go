package tiered_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/memorycache"
	"github.com/viborm/viborm-go/cache/rediscache"
	"github.com/viborm/viborm-go/cache/tiered"
)

// depL2 is an L2 stand-in with a dependency index: a memorycache (through
// a pausingDriver) and a map of records.
type depL2 struct {
	*pausingDriver
	mu   sync.Mutex
	recs map[string]map[string]bool
	// beforeClear, when set, runs once at the start of the next clear.
	beforeClear func()
}

func (d *depL2) IndexDeps(ctx context.Context, key string, deps []string, ttl time.Duration) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, t := range deps {
		if d.recs[t] == nil {
			d.recs[t] = map[string]bool{}
		}
		d.recs[t][key] = true
	}
	return nil
}

func (d *depL2) ClearDeps(ctx context.Context, tags []string) error {
	_, err := d.clear(ctx, tags)
	return err
}

func (d *depL2) clear(ctx context.Context, tags []string) ([]string, error) {
	if f := d.beforeClear; f != nil {
		d.beforeClear = nil
		f()
	}
	d.mu.Lock()
	var keys []string
	for _, t := range tags {
		for k := range d.recs[t] {
			keys = append(keys, k)
		}
		delete(d.recs, t)
	}
	d.mu.Unlock()
	return keys, d.Driver.Delete(ctx, keys)
}

// depKeysL2 is a depL2 that reports the keys its ClearDeps removed, as the
// Redis drivers do.
type depKeysL2 struct{ *depL2 }

func (d depKeysL2) ClearDepsKeys(ctx context.Context, tags []string) ([]string, error) {
	return d.clear(ctx, tags)
}

// depPair is two instances over one depL2 and one memBus.
type depPair struct {
	l2   *depL2
	a, b *tiered.Driver
	clk  *clock
}

func newDepPair(t *testing.T, reportsKeys bool) *depPair {
	t.Helper()
	clk := newClock()
	mem, err := memorycache.New(&memorycache.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	l2 := &depL2{pausingDriver: &pausingDriver{Driver: mem}, recs: map[string]map[string]bool{}}
	var drv cache.Driver = l2
	if reportsKeys {
		drv = depKeysL2{l2}
	}
	bus := newMemBus()
	p := &depPair{l2: l2, clk: clk}
	for _, d := range []**tiered.Driver{&p.a, &p.b} {
		subscribed := make(chan struct{}, 1)
		*d, err = tiered.NewHooked(drv, bus, &tiered.Options{Now: clk.Now, Logger: quiet}, func(ev tiered.Event) {
			if ev.Kind == "subscribed" {
				select {
				case subscribed <- struct{}{}:
				default:
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { (*d).Close() })
		<-subscribed
	}
	return p
}

// fill stores key (recorded under deps) through a, and reads it through b,
// so that both L1s hold it.
func (p *depPair) fill(t *testing.T, key string, deps ...string) {
	t.Helper()
	if len(deps) > 0 {
		if err := p.a.IndexDeps(ctx, key, deps, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.a.Set(ctx, key, time.Minute, entry(key, p.clk.Now(), time.Minute)); err != nil {
		t.Fatal(err)
	}
	mustGet(t, p.b, key)
	wantLocal(t, p.a, key, key)
	wantLocal(t, p.b, key, key)
}

// With an L2 that reports the keys it removed, ClearDeps drops exactly
// those from every instance's L1.
func TestClearDepsDropsExactlyDependentsFromEveryL1(t *testing.T) {
	p := newDepPair(t, true)
	p.fill(t, "viborm:user:findMany:withPosts", "viborm:post")
	p.fill(t, "viborm:user:findMany:plain")
	if !p.a.OffersDeps() {
		t.Fatal("OffersDeps = false over an L2 with an index")
	}
	if err := p.a.ClearDeps(ctx, []string{"viborm:post"}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*tiered.Driver{p.a, p.b} {
		wantLocal(t, d, "viborm:user:findMany:withPosts", nil)
		wantLocal(t, d, "viborm:user:findMany:plain", "viborm:user:findMany:plain")
	}
	if _, ok, _ := p.l2.Driver.Get(ctx, "viborm:user:findMany:withPosts"); ok {
		t.Fatal("L2 still holds the dependent key")
	}
	// An unknown tag removes nothing.
	if err := p.b.ClearDeps(ctx, []string{"viborm:nothing"}); err != nil {
		t.Fatal(err)
	}
	wantLocal(t, p.a, "viborm:user:findMany:plain", "viborm:user:findMany:plain")
}

// With an L2 that does not report them, every instance drops its whole L1.
func TestClearDepsWithoutKeysDropsWholeL1(t *testing.T) {
	p := newDepPair(t, false)
	p.fill(t, "viborm:user:findMany:withPosts", "viborm:post")
	p.fill(t, "viborm:user:findMany:plain")
	if err := p.a.ClearDeps(ctx, []string{"viborm:post"}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*tiered.Driver{p.a, p.b} {
		wantLocal(t, d, "viborm:user:findMany:withPosts", nil)
		wantLocal(t, d, "viborm:user:findMany:plain", nil)
	}
	if _, ok, _ := p.l2.Driver.Get(ctx, "viborm:user:findMany:plain"); !ok {
		t.Fatal("L2 lost an unrelated key")
	}
	// L1 fills again from L2.
	mustGet(t, p.b, "viborm:user:findMany:plain")
	wantLocal(t, p.b, "viborm:user:findMany:plain", "viborm:user:findMany:plain")
}

// A read of L2 that began before a ClearDeps, in this instance or
// another, never lands in L1 after it.
func TestClearDepsVoidsEarlierL1Fill(t *testing.T) {
	for _, reportsKeys := range []bool{true, false} {
		for _, same := range []bool{true, false} {
			p := newDepPair(t, reportsKeys)
			const key = "viborm:user:findMany:withPosts"
			if err := p.a.IndexDeps(ctx, key, []string{"viborm:post"}, time.Minute); err != nil {
				t.Fatal(err)
			}
			if err := p.l2.Driver.Set(ctx, key, time.Minute, entry("old", p.clk.Now(), time.Minute)); err != nil {
				t.Fatal(err)
			}
			clearer := p.a
			if same {
				clearer = p.b
			}
			p.l2.arm(key, "")
			got := make(chan any)
			go func() { got <- mustGet(t, p.b, key) }()
			<-p.l2.paused // b read "old" from L2
			if err := clearer.ClearDeps(ctx, []string{"viborm:post"}); err != nil {
				t.Fatal(err)
			}
			close(p.l2.resume)
			<-got
			if v, ok := local(p.b, key); ok {
				t.Fatalf("reports keys %v, same instance %v: L1 serves %v, read before the clear", reportsKeys, same, v)
			}
		}
	}
}

// A read that fills L1 while L2 is being cleared (after ClearDeps began,
// before L2 removed the key) is dropped before ClearDeps returns.
func TestClearDepsDropsFillDuringClear(t *testing.T) {
	for _, reportsKeys := range []bool{true, false} {
		p := newDepPair(t, reportsKeys)
		const key = "viborm:user:findMany:withPosts"
		if err := p.a.IndexDeps(ctx, key, []string{"viborm:post"}, time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := p.l2.Driver.Set(ctx, key, time.Minute, entry("old", p.clk.Now(), time.Minute)); err != nil {
			t.Fatal(err)
		}
		p.l2.beforeClear = func() { mustGet(t, p.a, key) }
		if err := p.a.ClearDeps(ctx, []string{"viborm:post"}); err != nil {
			t.Fatal(err)
		}
		if v, ok := local(p.a, key); ok {
			t.Fatalf("reports keys %v: L1 serves %v, read during the clear", reportsKeys, v)
		}
	}
}

func TestDepsNeedL2Index(t *testing.T) {
	p := newPair(t, nil) // its L2 is wrapped: no index
	if p.a.OffersDeps() {
		t.Fatal("OffersDeps = true over an L2 without an index")
	}
	if err := p.a.IndexDeps(ctx, "k", []string{"t"}, time.Minute); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("IndexDeps = %v, want ErrUnsupported", err)
	}
	// Nothing was recorded, so there is nothing to clear: the cache's
	// InvalidateModel calls it whatever the driver offers.
	if err := p.a.ClearDeps(ctx, []string{"t"}); err != nil {
		t.Fatalf("ClearDeps = %v, want nil", err)
	}
}

// Over Redis: rediscache reports the keys, and the bus carries them.
func TestClearDepsOverRedis(t *testing.T) {
	c := sharedClient(t)
	channel := randomName("viborm-test:bus:")
	a := newInstance(t, c, channel, nil, nil)
	b := newInstance(t, c, channel, nil, nil)
	a.await(t, "subscribed")
	b.await(t, "subscribed")
	root := randomName("viborm-test:deps:") + ":"
	tag := root + "post"
	dep, plain := root+"user:findMany:withPosts", root+"user:findMany:plain"
	l2, err := rediscache.New(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = l2.ClearDeps(context.Background(), []string{tag})
		_ = l2.Clear(context.Background(), root)
	})
	now := time.Now()
	if err := a.IndexDeps(ctx, dep, []string{tag}, time.Minute); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{dep, plain} {
		if err := a.Set(ctx, k, time.Minute, entry(k, now, time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := b.Get(ctx, k); err != nil || !ok {
			t.Fatalf("Get(%s) = %v, %v", k, ok, err)
		}
	}
	if err := a.ClearDeps(ctx, []string{tag}); err != nil {
		t.Fatal(err)
	}
	ev := b.await(t, "invalidate")
	if len(ev.Inv.Keys) != 1 || ev.Inv.Keys[0] != dep || len(ev.Inv.Prefixes) != 0 {
		t.Fatalf("b applied %+v, want exactly the dependent key", ev.Inv)
	}
	for _, in := range []*instance{a, b} {
		if _, ok := in.GetLocal(dep); ok {
			t.Fatal("an L1 still serves the dependent key")
		}
		if _, ok := in.GetLocal(plain); !ok {
			t.Fatal("an L1 lost the unrelated key")
		}
	}
	if _, ok, _ := l2.Get(ctx, dep); ok {
		t.Fatal("Redis still holds the dependent key")
	}
}
