package tiered_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/memorycache"
	"github.com/viborm/viborm-go/cache/tiered"
)

var ctx = context.Background()

func mustGet(t *testing.T, d cache.Driver, key string) any {
	t.Helper()
	e, ok, err := d.Get(ctx, key)
	if err != nil || !ok {
		t.Fatalf("Get(%q) = %v, %v; want a hit", key, ok, err)
	}
	return e.Value
}

func local(d *tiered.Driver, key string) (any, bool) {
	e, ok := d.GetLocal(key)
	return e.Value, ok
}

// wantLocal checks what L1 of d serves for key: want, or nothing when want
// is nil.
func wantLocal(t *testing.T, d *tiered.Driver, key string, want any) {
	t.Helper()
	v, ok := local(d, key)
	switch {
	case want == nil && ok:
		t.Fatalf("L1 serves %q = %v; want nothing", key, v)
	case want != nil && (!ok || v != want):
		t.Fatalf("L1 serves %q = %v, %v; want %v", key, v, ok, want)
	}
}

func TestGetFillsL1AndHitsIt(t *testing.T) {
	p := newPair(t, nil)
	now := p.clk.Now()
	if err := p.l2.Set(ctx, "k", time.Minute, entry("v1", now, time.Minute)); err != nil {
		t.Fatal(err)
	}
	wantLocal(t, p.b, "k", nil)
	if got := mustGet(t, p.b, "k"); got != "v1" {
		t.Fatalf("Get = %v, want v1", got)
	}
	wantLocal(t, p.b, "k", "v1")
	// L1 answers now: L2 changing behind its back (no invalidation) is not
	// seen until L1's copy expires.
	p.l2.Set(ctx, "k", time.Minute, entry("v2", now, time.Minute))
	if got := mustGet(t, p.b, "k"); got != "v1" {
		t.Fatalf("Get = %v, want v1 from L1", got)
	}
}

func TestRemoteDeleteAndClearReachL1(t *testing.T) {
	p := newPair(t, nil)
	now := p.clk.Now()
	for _, k := range []string{"viborm:user:1", "viborm:user:2", "viborm:userProfile:1"} {
		if err := p.a.Set(ctx, k, time.Minute, entry(k, now, time.Minute)); err != nil {
			t.Fatal(err)
		}
		mustGet(t, p.b, k)
		wantLocal(t, p.b, k, k)
	}
	if err := p.a.Delete(ctx, []string{"viborm:user:1"}); err != nil {
		t.Fatal(err)
	}
	// memBus.Publish returns once every subscription applied the message.
	wantLocal(t, p.b, "viborm:user:1", nil)
	wantLocal(t, p.b, "viborm:user:2", "viborm:user:2")
	if err := p.a.Clear(ctx, "viborm:user:"); err != nil {
		t.Fatal(err)
	}
	wantLocal(t, p.b, "viborm:user:2", nil)
	wantLocal(t, p.b, "viborm:userProfile:1", "viborm:userProfile:1")
	if _, ok, _ := p.b.Get(ctx, "viborm:user:2"); ok {
		t.Fatal("Get after a remote Clear still finds the key")
	}
}

// TestInvalidationBetweenL2ReadAndL1FillWins guards the documented race: an
// invalidation that arrives while a read is between its L2 read and its L1
// fill must win, so the read's older value never lands in L1.
func TestInvalidationBetweenL2ReadAndL1FillWins(t *testing.T) {
	for _, tc := range []struct {
		name       string
		invalidate func(p *pair) error
	}{
		{"remote Delete", func(p *pair) error { return p.a.Delete(ctx, []string{"viborm:m:k"}) }},
		{"remote Clear", func(p *pair) error { return p.a.Clear(ctx, "viborm:m:") }},
		{"local Delete", func(p *pair) error { return p.b.Delete(ctx, []string{"viborm:m:k"}) }},
		{"local Clear", func(p *pair) error { return p.b.Clear(ctx, "viborm:m:") }},
		{"bus lost and back", func(p *pair) error { p.bus.Drop(); p.bus.Resubscribe(); return nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPair(t, nil)
			now := p.clk.Now()
			p.l2.Set(ctx, "viborm:m:k", time.Minute, entry("old", now, time.Minute))
			p.pl2.arm("viborm:m:k", "")
			got := make(chan any, 1)
			go func() {
				e, _, _ := p.b.Get(ctx, "viborm:m:k")
				got <- e.Value
			}()
			<-p.pl2.paused // b has read "old" from L2 and not yet filled L1
			if err := tc.invalidate(p); err != nil {
				t.Fatal(err)
			}
			close(p.pl2.resume)
			if v := <-got; v != "old" {
				t.Fatalf("the paused Get returned %v, want old", v)
			}
			wantLocal(t, p.b, "viborm:m:k", nil)
		})
	}
}

// TestLocalDeleteDropsRefillFromBeforeL2Delete guards the second L1 pass of
// a local invalidation: a read of this process that copies the old value
// from L2 after the first L1 pass but before L2's delete must not leave it
// in L1.
func TestLocalDeleteDropsRefillFromBeforeL2Delete(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(p *pair) error
		key  string
	}{
		{"Delete", func(p *pair) error { return p.b.Delete(ctx, []string{"viborm:m:k"}) }, "viborm:m:k"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPair(t, nil)
			now := p.clk.Now()
			p.l2.Set(ctx, tc.key, time.Minute, entry("old", now, time.Minute))
			p.pl2.arm("", tc.key)
			done := make(chan error, 1)
			go func() { done <- tc.run(p) }()
			<-p.pl2.paused // L1 cleared once, L2 not deleted yet
			if got := mustGet(t, p.b, tc.key); got != "old" {
				t.Fatalf("Get = %v, want old (L2 not deleted yet)", got)
			}
			close(p.pl2.resume)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			wantLocal(t, p.b, tc.key, nil)
			if _, ok, _ := p.b.Get(ctx, tc.key); ok {
				t.Fatal("Get after Delete finds the key")
			}
		})
	}
}

// TestSetVoidsOlderFill: a read that copied an older value from L2 must not
// overwrite, in L1, what a later Set of this process stored.
func TestSetVoidsOlderFill(t *testing.T) {
	p := newPair(t, nil)
	now := p.clk.Now()
	p.l2.Set(ctx, "k", time.Minute, entry("old", now, time.Minute))
	p.pl2.arm("k", "")
	got := make(chan any, 1)
	go func() {
		e, _, _ := p.b.Get(ctx, "k")
		got <- e.Value
	}()
	<-p.pl2.paused
	if err := p.b.Set(ctx, "k", time.Minute, entry("new", now, time.Minute)); err != nil {
		t.Fatal(err)
	}
	close(p.pl2.resume)
	<-got
	wantLocal(t, p.b, "k", "new")
}

// TestSetWhoseFillIsVoidedDropsOldCopy guards read-your-writes: a Set
// whose own L1 fill is voided by a concurrent invalidation (here a remote
// Clear of another prefix) must not leave the value it replaced in L1.
func TestSetWhoseFillIsVoidedDropsOldCopy(t *testing.T) {
	p := newPair(t, nil)
	now := p.clk.Now()
	if err := p.b.Set(ctx, "k", time.Minute, entry("old", now, time.Minute)); err != nil {
		t.Fatal(err)
	}
	wantLocal(t, p.b, "k", "old")
	p.pl2.armSet("k")
	done := make(chan error, 1)
	go func() { done <- p.b.Set(ctx, "k", time.Minute, entry("new", now, time.Minute)) }()
	<-p.pl2.paused
	if err := p.a.Clear(ctx, "other:"); err != nil {
		t.Fatal(err)
	}
	close(p.pl2.resume)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, p.b, "k"); got != "new" {
		t.Fatalf("Get after Set(new) = %v, want new", got)
	}
}

// TestL1OffWhileBusLost: while the bus is lost L1 serves and stores
// nothing; once resubscribed it starts empty, so a write it missed is read
// fresh from L2.
func TestL1OffWhileBusLost(t *testing.T) {
	p := newPair(t, nil)
	now := p.clk.Now()
	p.a.Set(ctx, "k", time.Minute, entry("old", now, time.Minute))
	mustGet(t, p.b, "k")
	wantLocal(t, p.b, "k", "old")

	p.bus.Drop()
	if ev := <-p.events; ev.Kind != "lost" {
		t.Fatalf("event %q, want lost", ev.Kind)
	}
	wantLocal(t, p.b, "k", nil)
	// A write b cannot hear of: straight into L2.
	p.l2.Set(ctx, "k", time.Minute, entry("new", now, time.Minute))
	if got := mustGet(t, p.b, "k"); got != "new" {
		t.Fatalf("Get while lost = %v, want new from L2", got)
	}
	wantLocal(t, p.b, "k", nil) // and not copied into L1

	p.bus.Resubscribe()
	if ev := <-p.events; ev.Kind != "subscribed" {
		t.Fatalf("event %q, want subscribed", ev.Kind)
	}
	wantLocal(t, p.b, "k", nil)
	if got := mustGet(t, p.b, "k"); got != "new" {
		t.Fatalf("Get after resubscribe = %v, want new", got)
	}
	wantLocal(t, p.b, "k", "new")
}

// TestL1EntryLifetimeBounded: an entry stays in L1 no longer than its
// storage TTL, the rest of its freshness, and MaxTTL; a stale entry is never
// copied into L1.
func TestL1EntryLifetimeBounded(t *testing.T) {
	p := newPair(t, &tiered.Options{MaxTTL: 10 * time.Second})
	now := p.clk.Now()
	p.b.Set(ctx, "storage", 3*time.Second, entry("v", now, time.Minute))
	p.b.Set(ctx, "fresh", time.Hour, entry("v", now.Add(-55*time.Second), time.Minute))
	p.b.Set(ctx, "max", time.Hour, entry("v", now, time.Hour))
	p.b.Set(ctx, "stale", time.Hour, entry("v", now.Add(-2*time.Minute), time.Minute))
	wantLocal(t, p.b, "stale", nil)
	if got := mustGet(t, p.b, "stale"); got != "v" {
		t.Fatalf("Get(stale) = %v, want v from L2", got)
	}
	wantLocal(t, p.b, "stale", nil)
	for _, step := range []struct {
		advance time.Duration
		gone    string
	}{{3 * time.Second, "storage"}, {2 * time.Second, "fresh"}, {5 * time.Second, "max"}} {
		wantLocal(t, p.b, step.gone, "v")
		p.clk.Advance(step.advance)
		wantLocal(t, p.b, step.gone, nil)
	}
}

func TestL1MemoryBound(t *testing.T) {
	p := newPair(t, &tiered.Options{L1: &memorycache.Options{MaxEntries: 4}})
	now := p.clk.Now()
	for i := range 100 {
		k := string(rune('a'+i%26)) + string(rune('0'+i/26))
		p.b.Set(ctx, k, time.Minute, entry(k, now, time.Minute))
	}
	n := 0
	for i := range 100 {
		k := string(rune('a'+i%26)) + string(rune('0'+i/26))
		if _, ok := local(p.b, k); ok {
			n++
		}
	}
	if n > 4 {
		t.Fatalf("L1 holds %d entries, want at most MaxEntries 4", n)
	}
}

func TestPublishFailureIsReported(t *testing.T) {
	l2, _ := memorycache.New(nil)
	d, err := tiered.New(l2, failBus{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	err = d.Delete(ctx, []string{"k"})
	if !errors.Is(err, tiered.ErrPublish) || !errors.Is(err, errBusDown) {
		t.Fatalf("Delete = %v, want ErrPublish wrapping the bus's error", err)
	}
	if err := d.Clear(ctx, "k"); !errors.Is(err, tiered.ErrPublish) {
		t.Fatalf("Clear = %v, want ErrPublish", err)
	}
}

var errBusDown = errors.New("bus down")

type failBus struct{}

func (failBus) Publish(context.Context, tiered.Invalidation) error { return errBusDown }
func (failBus) Subscribe(ctx context.Context, h tiered.Handler) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestNewRejectsBadArguments(t *testing.T) {
	l2, _ := memorycache.New(nil)
	for _, tc := range []struct {
		name string
		l2   cache.Driver
		bus  tiered.Bus
		opts *tiered.Options
	}{
		{"nil l2", nil, newMemBus(), nil},
		{"nil bus", l2, nil, nil},
		{"negative MaxTTL", l2, newMemBus(), &tiered.Options{MaxTTL: -1}},
		{"bad L1", l2, newMemBus(), &tiered.Options{L1: &memorycache.Options{MaxEntries: -1}}},
	} {
		d, err := tiered.New(tc.l2, tc.bus, tc.opts)
		if !errors.Is(err, cache.ErrConfig) {
			t.Errorf("%s: New = %v, %v; want a ConfigError", tc.name, d, err)
		}
	}
}

// TestLoadThroughCacheUsesL1 checks the tier under the core: a second read
// is an L1 hit that returns the very value the fill stored, and an
// invalidation by another instance's Cache makes the next read load again.
func TestLoadThroughCacheUsesL1(t *testing.T) {
	p := newPair(t, nil)
	ca, _ := cache.New(noCloseDriver{p.a}, &cache.Options{WaitUntil: cache.Inline, Now: p.clk.Now})
	cb, _ := cache.New(noCloseDriver{p.b}, &cache.Options{WaitUntil: cache.Inline, Now: p.clk.Now})
	defer ca.Close()
	defer cb.Close()
	loads := 0
	load := func(context.Context) (*[]int, error) { loads++; v := []int{loads}; return &v, nil }
	v1, _ := cache.Load(ctx, cb, "user:findMany:x", cache.Policy{}, load)
	v2, _ := cache.Load(ctx, cb, "user:findMany:x", cache.Policy{}, load)
	if loads != 1 || v1 != v2 {
		t.Fatalf("loads = %d, same value = %v; want 1 load and the L1 value itself", loads, v1 == v2)
	}
	if err := ca.InvalidateModel(ctx, "user"); err != nil {
		t.Fatal(err)
	}
	v3, _ := cache.Load(ctx, cb, "user:findMany:x", cache.Policy{}, load)
	if loads != 2 || (*v3)[0] != 2 {
		t.Fatalf("after a remote invalidation: loads = %d, value %v; want a second load", loads, *v3)
	}
}

// noCloseDriver hides Close, since the pair closes its drivers itself.
type noCloseDriver struct{ *tiered.Driver }

func (noCloseDriver) Close() error { return nil }
