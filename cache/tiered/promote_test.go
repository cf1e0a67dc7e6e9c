package tiered_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/memorycache"
	"github.com/viborm/viborm-go/cache/tiered"
)

// jsonDriver stands in for Redis: it keeps each value as JSON and every Get
// returns a fresh copy of the bytes, as a network driver does.
type jsonDriver struct{ *memorycache.Driver }

func (d jsonDriver) Name() string { return "json" }

func (d jsonDriver) Set(ctx context.Context, key string, ttl time.Duration, e cache.Entry) error {
	if _, raw := e.Value.(json.RawMessage); !raw {
		b, err := json.Marshal(e.Value)
		if err != nil {
			return err
		}
		e.Value = json.RawMessage(b)
	}
	return d.Driver.Set(ctx, key, ttl, e)
}

func (d jsonDriver) Get(ctx context.Context, key string) (cache.Entry, bool, error) {
	e, ok, err := d.Driver.Get(ctx, key)
	if raw, isRaw := e.Value.(json.RawMessage); isRaw {
		e.Value = json.RawMessage(bytes.Clone(raw))
	}
	return e, ok, err
}

func (d jsonDriver) Close() error { return nil }

// jsonPair is two instances over one serializing L2 and one memBus, with a
// Cache over each; b's L1 is the one under test.
type jsonPair struct {
	l2     jsonDriver
	a, b   *tiered.Driver
	ca, cb *cache.Cache
	clk    *clock
}

func newJSONPair(t *testing.T, opts *tiered.Options) *jsonPair {
	t.Helper()
	p := &jsonPair{clk: newClock()}
	var o tiered.Options
	if opts != nil {
		o = *opts
	}
	o.Now, o.Logger = p.clk.Now, quiet
	m, err := memorycache.New(&memorycache.Options{Now: p.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	p.l2 = jsonDriver{m}
	bus := newMemBus()
	mk := func() (*tiered.Driver, *cache.Cache) {
		subscribed := make(chan struct{}, 1)
		d, err := tiered.NewHooked(p.l2, bus, &o, func(ev tiered.Event) {
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
		<-subscribed
		c, err := cache.New(noCloseDriver{d}, &cache.Options{WaitUntil: cache.Inline, Now: p.clk.Now, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(); d.Close() })
		return d, c
	}
	p.a, p.ca = mk()
	p.b, p.cb = mk()
	t.Cleanup(func() { m.Close() })
	return p
}

// TestL1KeepsDecodedValueOfL2Entry guards the L1 hit of an entry another
// instance filled: the first hit decodes L2's bytes, and every later hit
// answers that decoded value from L1 itself, as a memory-driver hit does,
// instead of decoding again.
func TestL1KeepsDecodedValueOfL2Entry(t *testing.T) {
	p := newJSONPair(t, nil)
	load := func(context.Context) (*[]int, error) { v := []int{1, 2, 3}; return &v, nil }
	miss := func(context.Context) (*[]int, error) { t.Fatal("a hit loaded"); return nil, nil }
	if _, err := cache.Load(ctx, p.ca, "user:findMany:x", cache.Policy{}, load); err != nil {
		t.Fatal(err)
	}
	v1, err := cache.Load(ctx, p.cb, "user:findMany:x", cache.Policy{}, miss)
	if err != nil || len(*v1) != 3 {
		t.Fatalf("first read = %v, %v", v1, err)
	}
	for range 3 {
		v, err := cache.Load(ctx, p.cb, "user:findMany:x", cache.Policy{}, miss)
		if err != nil || v != v1 {
			t.Fatalf("a later L1 hit returned %p (%v), want the value decoded by the first hit, %p", v, err, v1)
		}
	}
	if !p.cb.SharesChecked() {
		t.Fatal("SharesChecked = false over a tiered driver")
	}
}

// TestInvalidationBeforePromotionWins: a read that returned L2's bytes,
// and then an invalidation of its key (local or remote, by key or by
// prefix), and only then the promotion of the decoded value: the
// invalidation wins, L1 serves nothing.
func TestInvalidationBeforePromotionWins(t *testing.T) {
	for _, tc := range []struct {
		name       string
		invalidate func(p *jsonPair) error
	}{
		{"remote Delete", func(p *jsonPair) error { return p.a.Delete(ctx, []string{"viborm:m:k"}) }},
		{"remote Clear", func(p *jsonPair) error { return p.a.Clear(ctx, "viborm:m:") }},
		{"local Delete", func(p *jsonPair) error { return p.b.Delete(ctx, []string{"viborm:m:k"}) }},
		{"local Clear", func(p *jsonPair) error { return p.b.Clear(ctx, "viborm:m:") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newJSONPair(t, nil)
			if err := p.a.Set(ctx, "viborm:m:k", time.Minute, entry("old", p.clk.Now(), time.Minute)); err != nil {
				t.Fatal(err)
			}
			e, ok, err := p.b.Get(ctx, "viborm:m:k")
			if err != nil || !ok {
				t.Fatalf("Get = %v, %v", ok, err)
			}
			if err := tc.invalidate(p); err != nil {
				t.Fatal(err)
			}
			p.b.PromoteLocal("viborm:m:k", e, "old")
			wantLocal(t, p.b, "viborm:m:k", nil)
		})
	}
}

// TestPromotionOfOlderReadRefused: the bytes a read returned are no longer
// what L1 holds (the key was written, or refilled from L2 with a newer
// value): promoting the older read changes nothing.
func TestPromotionOfOlderReadRefused(t *testing.T) {
	p := newJSONPair(t, nil)
	now := p.clk.Now()
	p.a.Set(ctx, "viborm:m:k", time.Minute, entry("v1", now, time.Minute))
	e1, _, _ := p.b.Get(ctx, "viborm:m:k")
	// Written by this instance: L1 holds v2 as given.
	p.b.Set(ctx, "viborm:m:k", time.Minute, entry("v2", now, time.Minute))
	p.b.PromoteLocal("viborm:m:k", e1, "v1")
	wantLocal(t, p.b, "viborm:m:k", "v2")
	// Refilled from L2 with new bytes after an invalidation.
	e2, _, _ := p.b.Get(ctx, "viborm:m:k")
	p.a.Delete(ctx, []string{"viborm:m:k"})
	p.a.Set(ctx, "viborm:m:k", time.Minute, entry("v3", now, time.Minute))
	if v := mustGet(t, p.b, "viborm:m:k"); string(v.(json.RawMessage)) != `"v3"` {
		t.Fatalf("Get = %s, want v3", v)
	}
	p.b.PromoteLocal("viborm:m:k", e2, "v2")
	if v, _ := local(p.b, "viborm:m:k"); string(v.(json.RawMessage)) != `"v3"` {
		t.Fatalf("L1 serves %v after promoting an older read, want v3's bytes", v)
	}
}

// TestPromotionKeepsL1Lifetime: a promoted entry leaves L1 when the bytes
// it replaced would have (MaxTTL after the fill), not MaxTTL after the
// promotion.
func TestPromotionKeepsL1Lifetime(t *testing.T) {
	p := newJSONPair(t, &tiered.Options{MaxTTL: 10 * time.Second})
	p.a.Set(ctx, "viborm:m:k", time.Hour, entry("v", p.clk.Now(), time.Hour))
	e, _, _ := p.b.Get(ctx, "viborm:m:k")
	p.clk.Advance(9 * time.Second)
	p.b.PromoteLocal("viborm:m:k", e, "decoded")
	wantLocal(t, p.b, "viborm:m:k", "decoded")
	p.clk.Advance(2 * time.Second)
	wantLocal(t, p.b, "viborm:m:k", nil)
}

// TestLeasesNeedL2Leases: over an L2 without leases the Driver offers none,
// its lease methods fail with errors.ErrUnsupported, and a Cache over it
// stores its fills with Set.
func TestLeasesNeedL2Leases(t *testing.T) {
	p := newJSONPair(t, nil)
	if p.b.OffersLeases() {
		t.Fatal("OffersLeases = true over an L2 without leases")
	}
	if _, _, _, err := p.b.Lease(ctx, "viborm:m:k", time.Second); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Lease = %v, want errors.ErrUnsupported", err)
	}
	if _, err := p.b.SetLeased(ctx, "viborm:m:k", "t", time.Second, entry(1, p.clk.Now(), time.Second)); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("SetLeased = %v, want errors.ErrUnsupported", err)
	}
	if err := p.b.Release(ctx, "viborm:m:k", "t"); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Release = %v, want errors.ErrUnsupported", err)
	}
	loads := 0
	load := func(context.Context) (int, error) { loads++; return 7, nil }
	for range 2 {
		if v, err := cache.Load(ctx, p.cb, "m:k", cache.Policy{}, load); err != nil || v != 7 {
			t.Fatalf("Load = %v, %v", v, err)
		}
	}
	if loads != 1 {
		t.Fatalf("loads = %d, want 1: the fill was not stored", loads)
	}
}

// TestPromotionAcrossInvalidationNeverResurrects orders the worst case of
// a promotion against an invalidation from another instance: the
// invalidation has moved the fence but not yet deleted from L1 when the
// promotion finds the bytes it read, and deletes them before the promotion
// writes. The promotion must not put the decoded value back after the
// deletion.
func TestPromotionAcrossInvalidationNeverResurrects(t *testing.T) {
	p := newJSONPair(t, nil)
	const key = "viborm:m:k"
	if err := p.a.Set(ctx, key, time.Minute, entry("old", p.clk.Now(), time.Minute)); err != nil {
		t.Fatal(err)
	}
	e, ok, err := p.b.Get(ctx, key)
	if err != nil || !ok {
		t.Fatalf("Get = %v, %v", ok, err)
	}
	fenced, deleted := make(chan struct{}), make(chan struct{})
	release, inGap, resume := make(chan struct{}), make(chan struct{}), make(chan struct{})
	p.b.SetRaceHooks(func(del bool) {
		if !del {
			close(fenced)
			<-release
		} else {
			close(deleted)
		}
	}, func() {
		close(inGap)
		<-resume
	})
	invalidated := make(chan error)
	go func() { invalidated <- p.a.Delete(ctx, []string{key}) }()
	<-fenced // b has moved its fence for key, L1 still holds the bytes
	promoted := make(chan struct{})
	go func() {
		p.b.PromoteLocal(key, e, "promoted")
		close(promoted)
	}()
	select {
	case <-inGap: // the promotion found the bytes: let the deletion run
		close(release)
		<-deleted
		close(resume)
		<-promoted
	case <-promoted: // the promotion gave up
		close(release)
	}
	if err := <-invalidated; err != nil {
		t.Fatal(err)
	}
	if v, ok := local(p.b, key); ok {
		t.Fatalf("L1 serves %v after the invalidation returned: the promotion put it back", v)
	}
}
