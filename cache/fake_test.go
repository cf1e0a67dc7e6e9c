package cache_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/viborm/viborm-go/cache"
)

// mapDriver is a simple, correct driver over a map, with hooks that let
// tests make it fail or block. It implements Adder.
type mapDriver struct {
	mu      sync.Mutex
	now     func() time.Time
	m       map[string]stored
	nonblk  bool
	honors  bool
	getErr  error
	setErr  error
	getHook func(ctx context.Context) // runs before Get, outside the lock
	setHook func(ctx context.Context) // runs before Set, outside the lock
	sets    int

	clearHook func(ctx context.Context) // runs before Clear, outside the lock
	delHook   func(ctx context.Context) // runs before Delete, outside the lock
	down      atomic.Pointer[error]     // when set, every operation fails with it
	calls     atomic.Int64              // operations called (Get, Set, Add, Delete, Clear)
}

// setDown makes every operation fail with err; nil brings the driver back.
func (d *mapDriver) setDown(err error) {
	if err == nil {
		d.down.Store(nil)
		return
	}
	d.down.Store(&err)
}

func (d *mapDriver) isDown() error {
	if p := d.down.Load(); p != nil {
		return *p
	}
	return nil
}

type stored struct {
	e       cache.Entry
	expires time.Time
}

func newMapDriver(now func() time.Time) *mapDriver {
	if now == nil {
		now = time.Now
	}
	return &mapDriver{now: now, m: map[string]stored{}}
}

func (d *mapDriver) Name() string        { return "map" }
func (d *mapDriver) Nonblocking() bool   { return d.nonblk }
func (d *mapDriver) HonorsContext() bool { return d.honors }

func (d *mapDriver) Get(ctx context.Context, key string) (cache.Entry, bool, error) {
	d.calls.Add(1)
	if err := d.isDown(); err != nil {
		return cache.Entry{}, false, err
	}
	if d.getHook != nil {
		d.getHook(ctx)
	}
	if err := ctx.Err(); err != nil {
		return cache.Entry{}, false, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.getErr != nil {
		return cache.Entry{}, false, d.getErr
	}
	s, ok := d.m[key]
	if !ok || !d.now().Before(s.expires) {
		return cache.Entry{}, false, nil
	}
	return s.e, true, nil
}

func (d *mapDriver) Set(ctx context.Context, key string, ttl time.Duration, e cache.Entry) error {
	d.calls.Add(1)
	if err := d.isDown(); err != nil {
		return err
	}
	if d.setHook != nil {
		d.setHook(ctx)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.setErr != nil {
		return d.setErr
	}
	d.sets++
	d.m[key] = stored{e, d.now().Add(ttl)}
	return nil
}

func (d *mapDriver) Add(ctx context.Context, key string, ttl time.Duration, e cache.Entry) (bool, error) {
	d.calls.Add(1)
	if err := d.isDown(); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.m[key]; ok && d.now().Before(s.expires) {
		return false, nil
	}
	d.m[key] = stored{e, d.now().Add(ttl)}
	return true, nil
}

func (d *mapDriver) Delete(ctx context.Context, keys []string) error {
	d.calls.Add(1)
	if err := d.isDown(); err != nil {
		return err
	}
	if d.delHook != nil {
		d.delHook(ctx)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, k := range keys {
		delete(d.m, k)
	}
	return nil
}

func (d *mapDriver) Clear(ctx context.Context, prefix string) error {
	d.calls.Add(1)
	if err := d.isDown(); err != nil {
		return err
	}
	if d.clearHook != nil {
		d.clearHook(ctx)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for k := range d.m {
		if strings.HasPrefix(k, prefix) {
			delete(d.m, k)
		}
	}
	return nil
}

func (d *mapDriver) has(key string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, ok := d.m[key]
	return ok && d.now().Before(s.expires)
}

func (d *mapDriver) storageTTL(key string) time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.m[key].expires.Sub(d.now())
}

func (d *mapDriver) put(key string, v any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.m[key] = stored{cache.Entry{Value: v, CreatedAt: time.UnixMilli(d.now().UnixMilli()), TTL: time.Hour}, d.now().Add(time.Hour)}
}

// clock is a manual clock for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.UnixMilli(1_700_000_000_000)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
