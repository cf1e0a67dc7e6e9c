package tiered_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/memorycache"
	"github.com/viborm/viborm-go/cache/tiered"
)

// memBus is an in-process tiered.Bus for the tests of the tier's logic:
// Publish hands the message to every subscription's goroutine and waits
// until each has applied it; Drop and Resubscribe make a subscription lost
// and live again, also waiting until applied.
type memBus struct {
	mu   sync.Mutex
	subs map[*memSub]bool
}

type memSub struct {
	ops chan func(tiered.Handler)
}

func newMemBus() *memBus { return &memBus{subs: map[*memSub]bool{}} }

func (b *memBus) Publish(ctx context.Context, inv tiered.Invalidation) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Copy: the bus must not retain inv's slices.
	inv.Keys = append([]string(nil), inv.Keys...)
	inv.Prefixes = append([]string(nil), inv.Prefixes...)
	b.each(func(h tiered.Handler) { h.Invalidate(inv) })
	return nil
}

// each runs f on every subscription's goroutine and waits for all of them.
func (b *memBus) each(f func(tiered.Handler)) {
	b.mu.Lock()
	subs := make([]*memSub, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
	}
	b.mu.Unlock()
	for _, s := range subs {
		done := make(chan struct{})
		select {
		case s.ops <- func(h tiered.Handler) { f(h); close(done) }:
			<-done
		case <-time.After(30 * time.Second): // a guard, never reached
			panic("memBus: a subscription stopped taking messages")
		}
	}
}

// Drop makes every subscription lost; Resubscribe makes them live.
func (b *memBus) Drop()        { b.each(func(h tiered.Handler) { h.Lost(errDropped) }) }
func (b *memBus) Resubscribe() { b.each(func(h tiered.Handler) { h.Subscribed() }) }

var errDropped = &testError{"dropped by the test"}

type testError struct{ s string }

func (e *testError) Error() string { return e.s }

func (b *memBus) Subscribe(ctx context.Context, h tiered.Handler) error {
	s := &memSub{ops: make(chan func(tiered.Handler))}
	b.mu.Lock()
	b.subs[s] = true
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.subs, s)
		b.mu.Unlock()
	}()
	h.Subscribed()
	for {
		select {
		case <-ctx.Done():
			h.Lost(ctx.Err())
			return ctx.Err()
		case op := <-s.ops:
			op(h)
		}
	}
}

// pausingDriver wraps an L2 driver; a Get of the key in pauseGet, once it
// has read L2, reports on paused and waits for resume.
type pausingDriver struct {
	cache.Driver
	mu       sync.Mutex
	pauseGet string
	paused   chan cache.Entry
	resume   chan struct{}
	// Delete of the key in pauseDelete waits the same way before deleting,
	// and Set of the key in pauseSet before storing.
	pauseDelete, pauseSet string
}

func (d *pausingDriver) armSet(key string) {
	d.mu.Lock()
	d.pauseSet = key
	d.paused = make(chan cache.Entry, 1)
	d.resume = make(chan struct{})
	d.mu.Unlock()
}

func (d *pausingDriver) Set(ctx context.Context, key string, ttl time.Duration, e cache.Entry) error {
	d.mu.Lock()
	pause := key == d.pauseSet
	if pause {
		d.pauseSet = ""
	}
	paused, resume := d.paused, d.resume
	d.mu.Unlock()
	if pause {
		paused <- e
		<-resume
	}
	return d.Driver.Set(ctx, key, ttl, e)
}

func (d *pausingDriver) arm(getKey, deleteKey string) {
	d.mu.Lock()
	d.pauseGet, d.pauseDelete = getKey, deleteKey
	d.paused = make(chan cache.Entry, 1)
	d.resume = make(chan struct{})
	d.mu.Unlock()
}

func (d *pausingDriver) Get(ctx context.Context, key string) (cache.Entry, bool, error) {
	e, ok, err := d.Driver.Get(ctx, key)
	d.mu.Lock()
	pause := key == d.pauseGet
	if pause {
		d.pauseGet = ""
	}
	paused, resume := d.paused, d.resume
	d.mu.Unlock()
	if pause {
		paused <- e
		<-resume
	}
	return e, ok, err
}

func (d *pausingDriver) Delete(ctx context.Context, keys []string) error {
	d.mu.Lock()
	pause := len(keys) > 0 && keys[0] == d.pauseDelete
	if pause {
		d.pauseDelete = ""
	}
	paused, resume := d.paused, d.resume
	d.mu.Unlock()
	if pause {
		paused <- cache.Entry{}
		<-resume
	}
	return d.Driver.Delete(ctx, keys)
}

// clock is a settable clock shared by L1 and L2 stand-ins.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_700_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// pair is two instances sharing one L2 (a memorycache standing in for
// Redis) and one memBus.
type pair struct {
	l2     *memorycache.Driver
	pl2    *pausingDriver
	bus    *memBus
	a, b   *tiered.Driver
	clk    *clock
	events chan tiered.Event // of b
}

func newPair(t *testing.T, opts *tiered.Options) *pair {
	t.Helper()
	p := &pair{bus: newMemBus(), clk: newClock(), events: make(chan tiered.Event, 64)}
	var o tiered.Options
	if opts != nil {
		o = *opts
	}
	o.Now = p.clk.Now
	if o.Logger == nil {
		o.Logger = quiet
	}
	l2, err := memorycache.New(&memorycache.Options{Now: p.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	p.l2 = l2
	p.pl2 = &pausingDriver{Driver: l2}
	subscribed := make(chan struct{}, 2)
	mk := func(l2 cache.Driver, events chan tiered.Event) *tiered.Driver {
		d, err := tiered.NewHooked(l2, p.bus, &o, func(ev tiered.Event) {
			if ev.Kind == "subscribed" {
				select {
				case subscribed <- struct{}{}:
				default:
				}
			}
			if events != nil {
				events <- ev
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	}
	// Both share the L2 store; only b's reads can be paused. Closing a
	// tiered driver closes its L2, so a gets a wrapper that does not close.
	p.a = mk(noClose{l2}, nil)
	<-subscribed
	p.b = mk(p.pl2, p.events)
	<-subscribed
	<-p.events // b's "subscribed"
	return p
}

type noClose struct{ cache.Driver }

func entry(v any, created time.Time, ttl time.Duration) cache.Entry {
	return cache.NewEntry(v, created, ttl)
}
