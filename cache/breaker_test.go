package cache_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/internal/testenv"
)

// transitions records the breaker's state changes reported to
// Options.OnBreakerChange.
type transitions struct {
	mu  sync.Mutex
	got []string
}

func (r *transitions) record(from, to cache.BreakerState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, from.String()+">"+to.String())
}

func (r *transitions) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.got, " ")
}

type breakerEnv struct {
	c    *cache.Cache
	d    *mapDriver
	logs *testenv.Buffer
	tr   *transitions
}

// newBreakerCache returns a cache over a map driver with a breaker that opens
// after 3 failures and cools down for 1s. Background work runs on the
// cache's goroutines; run it inside synctest.
func newBreakerCache(t *testing.T, o cache.Options) *breakerEnv {
	t.Helper()
	env := &breakerEnv{d: newMapDriver(nil), logs: &testenv.Buffer{}, tr: &transitions{}}
	if o.Breaker == nil {
		o.Breaker = &cache.BreakerOptions{Failures: 3, CoolDown: time.Second}
	}
	if o.Timeout == 0 {
		o.Timeout = 100 * time.Millisecond
	}
	o.Logger = slog.New(slog.NewTextHandler(env.logs, nil))
	o.OnBreakerChange = env.tr.record
	c, err := cache.New(env.d, &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	env.c = c
	return env
}

func constLoader(v int) func(context.Context) (int, error) {
	return func(context.Context) (int, error) { return v, nil }
}

// openBreaker makes the driver fail and reads until the breaker opens.
func (env *breakerEnv) openBreaker(t *testing.T) {
	t.Helper()
	env.d.setDown(errors.New("connection refused"))
	for i := 0; env.c.BreakerState() != cache.BreakerOpen; i++ {
		if i == 10 {
			t.Fatalf("the breaker did not open after %d failing reads", i)
		}
		mustLoad(t, env.c, fmt.Sprint("open-", i), cache.Policy{}, constLoader(i))
		synctest.Wait() // the background write
	}
}

// After the configured number of consecutive failures the breaker opens;
// while open, reads answer from the loader with no driver call and no wait,
// writes, invalidations, Get and Set are refused at once; the opening is
// logged once, without keys, and reported once.
func TestBreakerOpensAfterConsecutiveFailuresAndSkipsDriver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var events []cache.Event
		env := newBreakerCache(t, cache.Options{Observer: func(e cache.Event) {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		}})
		env.d.setDown(errors.New("connection refused"))
		// Read 1: get fails (1), the background set fails (2). Read 2: get
		// fails (3): open; its set is skipped.
		for i := range 2 {
			mustLoad(t, env.c, "user:findMany:secret", cache.Policy{}, constLoader(i))
			synctest.Wait()
		}
		if s := env.c.BreakerState(); s != cache.BreakerOpen {
			t.Fatalf("breaker %v after 3 consecutive failures, want open", s)
		}
		calls := env.d.calls.Load()
		if calls != 3 {
			t.Fatalf("%d driver calls to open, want 3", calls)
		}
		mu.Lock()
		events = nil
		mu.Unlock()
		start := time.Now()
		for i := range 100 {
			if v := mustLoad(t, env.c, fmt.Sprint("user:findMany:secret-", i), cache.Policy{}, constLoader(i)); v != i {
				t.Fatalf("read while open got %d, want the loader's %d", v, i)
			}
		}
		synctest.Wait()
		if took := time.Since(start); took != 0 {
			t.Fatalf("100 reads while open took %v, want no wait at all", took)
		}
		if _, _, err := env.c.Get(context.Background(), "k"); !errors.Is(err, cache.ErrBreakerOpen) || !errors.Is(err, cache.ErrDriver) {
			t.Fatalf("Get while open: %v, want ErrBreakerOpen", err)
		}
		if err := env.c.Set(context.Background(), "k", 1, cache.Policy{}); !errors.Is(err, cache.ErrBreakerOpen) {
			t.Fatalf("Set while open: %v, want ErrBreakerOpen", err)
		}
		if err := env.c.InvalidateModel(context.Background(), "user"); !errors.Is(err, cache.ErrBreakerOpen) || !errors.Is(err, cache.ErrDriver) {
			t.Fatalf("InvalidateModel while open: %v, want a DriverError matching ErrBreakerOpen", err)
		}
		if got := env.d.calls.Load(); got != calls {
			t.Fatalf("the driver was called %d times while the breaker was open", got-calls)
		}
		if took := time.Since(start); took != 0 {
			t.Fatalf("calls while open took %v, want no wait at all", took)
		}
		mu.Lock()
		if len(events) != 100 || !errors.Is(events[0].DriverErr, cache.ErrBreakerOpen) || events[0].Outcome != cache.OutcomeMiss {
			t.Fatalf("observer saw %d events; want 100 misses carrying ErrBreakerOpen", len(events))
		}
		mu.Unlock()
		logs := env.logs.String()
		if n := strings.Count(logs, "circuit breaker open"); n != 1 {
			t.Fatalf("the opening was logged %d times, want once:\n%s", n, logs)
		}
		if strings.Contains(logs, "secret") {
			t.Fatalf("a key was logged:\n%s", logs)
		}
		if strings.Count(logs, "level=WARN") != 4 { // 3 failures, then the opening; nothing while open
			t.Fatalf("want 3 failure warnings and the opening, nothing while open:\n%s", logs)
		}
		if got := env.tr.String(); got != "closed>open" {
			t.Fatalf("reported transitions %q, want closed>open", got)
		}
	})
}

// A hung backend (timeouts, not errors) opens the breaker too; from then on a
// read costs the loader alone instead of the timeout.
func TestBreakerOpensOnTimeoutsAndReadsStopPayingThem(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := newBreakerCache(t, cache.Options{})
		hang := make(chan struct{})
		t.Cleanup(func() { close(hang) }) // runs before the Close registered earlier
		env.d.getHook = func(context.Context) { <-hang }
		env.d.setHook = func(context.Context) { <-hang }
		var took []time.Duration
		for i := 0; i < 10; i++ {
			start := time.Now()
			mustLoad(t, env.c, "k", cache.Policy{}, constLoader(i))
			took = append(took, time.Since(start))
			if env.c.BreakerState() == cache.BreakerOpen {
				break
			}
		}
		if env.c.BreakerState() != cache.BreakerOpen {
			t.Fatalf("the breaker did not open after 10 timed-out reads: %v", took)
		}
		calls := env.d.calls.Load()
		start := time.Now()
		for i := range 50 {
			mustLoad(t, env.c, "k", cache.Policy{}, constLoader(i))
		}
		if d := time.Since(start); d != 0 {
			t.Fatalf("50 reads with the breaker open took %v, want 0 (before it opened each read took %v)", d, took)
		}
		if got := env.d.calls.Load(); got != calls {
			t.Fatalf("%d driver calls while open, want 0", got-calls)
		}
	})
}

// After the cool-down the breaker lets exactly one probe through, however
// many reads arrive at once; the others skip the driver. The probe's
// success closes the breaker and the driver is used again.
func TestBreakerHalfOpenSingleProbeClosesOnSuccess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := newBreakerCache(t, cache.Options{Timeout: 10 * time.Second})
		env.openBreaker(t)
		time.Sleep(500 * time.Millisecond)
		calls := env.d.calls.Load()
		mustLoad(t, env.c, "early", cache.Policy{}, constLoader(1))
		synctest.Wait()
		if env.d.calls.Load() != calls || env.c.BreakerState() != cache.BreakerOpen {
			t.Fatal("the driver was called before the cool-down ended")
		}
		time.Sleep(500 * time.Millisecond)
		env.d.setDown(nil)
		gate := make(chan struct{})
		env.d.getHook = func(context.Context) { <-gate }
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() {
				if v := mustLoad(t, env.c, fmt.Sprint("k", i), cache.Policy{}, constLoader(i)); v != i {
					t.Errorf("got %d, want %d", v, i)
				}
			})
		}
		synctest.Wait() // the probe blocks in the driver; the 49 others answered
		if got := env.d.calls.Load() - calls; got != 1 {
			t.Fatalf("%d driver calls in half-open, want exactly the one probe", got)
		}
		if s := env.c.BreakerState(); s != cache.BreakerHalfOpen {
			t.Fatalf("state %v during the probe, want half-open", s)
		}
		close(gate)
		wg.Wait()
		synctest.Wait()
		if s := env.c.BreakerState(); s != cache.BreakerClosed {
			t.Fatalf("state %v after a successful probe, want closed", s)
		}
		env.d.getHook = nil
		before := env.d.calls.Load()
		mustLoad(t, env.c, "after", cache.Policy{}, constLoader(7))
		synctest.Wait()
		if env.d.calls.Load() == before || !env.d.has("viborm:after") {
			t.Fatal("the driver is not used after the breaker closed")
		}
		if got := env.tr.String(); got != "closed>open open>half-open half-open>closed" {
			t.Fatalf("transitions %q", got)
		}
		logs := env.logs.String()
		for _, m := range []string{"circuit breaker open", "circuit breaker half-open", "circuit breaker closed"} {
			if n := strings.Count(logs, m); n != 1 {
				t.Fatalf("%q logged %d times, want once:\n%s", m, n, logs)
			}
		}
	})
}

// A probe that fails re-opens the breaker for another cool-down.
func TestBreakerProbeFailureReopens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := newBreakerCache(t, cache.Options{})
		env.openBreaker(t)
		time.Sleep(time.Second)
		calls := env.d.calls.Load()
		mustLoad(t, env.c, "probe", cache.Policy{}, constLoader(1)) // the probe: still down
		synctest.Wait()
		if s := env.c.BreakerState(); s != cache.BreakerOpen {
			t.Fatalf("state %v after a failed probe, want open", s)
		}
		for i := range 20 {
			mustLoad(t, env.c, "k", cache.Policy{}, constLoader(i))
		}
		synctest.Wait()
		if got := env.d.calls.Load() - calls; got != 1 {
			t.Fatalf("%d driver calls, want the one probe", got)
		}
		time.Sleep(time.Second)
		env.d.setDown(nil)
		mustLoad(t, env.c, "probe2", cache.Policy{}, constLoader(2))
		synctest.Wait()
		if s := env.c.BreakerState(); s != cache.BreakerClosed {
			t.Fatalf("state %v after a successful probe, want closed", s)
		}
		if got := env.tr.String(); got != "closed>open open>half-open half-open>open open>half-open half-open>closed" {
			t.Fatalf("transitions %q", got)
		}
	})
}

// A probe that hangs is bounded by Options.Timeout even on a call that has no
// timeout of its own (Cache.Get with a background context), so the breaker
// cannot stay half-open forever.
func TestBreakerHungProbeIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := newBreakerCache(t, cache.Options{})
		env.openBreaker(t)
		env.d.setDown(nil)
		hang := make(chan struct{})
		t.Cleanup(func() { close(hang) })
		env.d.getHook = func(context.Context) { <-hang }
		time.Sleep(time.Second)
		start := time.Now()
		_, _, err := env.c.Get(context.Background(), "k")
		if took := time.Since(start); took != 100*time.Millisecond || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("hung probe returned %v after %v, want a timeout after 100ms", err, took)
		}
		if s := env.c.BreakerState(); s != cache.BreakerOpen {
			t.Fatalf("state %v after a hung probe, want open", s)
		}
	})
}

// An invalidation while the breaker is open returns at once with an error
// (the backend cannot be reached; the caller should retry), yet still fences
// the loads in flight of its keys.
func TestBreakerInvalidationWhileOpenFailsFastButFences(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := newBreakerCache(t, cache.Options{})
		release := gatedLoad(t, env.c, "user:findMany:a", cache.Policy{}) // the load is in flight; its lookup went to the healthy driver
		env.openBreaker(t)
		start := time.Now()
		err := env.c.InvalidateModel(context.Background(), "user")
		if !errors.Is(err, cache.ErrBreakerOpen) || time.Since(start) != 0 {
			t.Fatalf("invalidation while open: %v after %v; want ErrBreakerOpen at once", err, time.Since(start))
		}
		env.d.setDown(nil)
		time.Sleep(time.Second) // the cool-down: the load's write could be the probe
		release()
		if env.d.has("viborm:user:findMany:a") {
			t.Fatal("a load fenced by an invalidation refused by the breaker stored its result")
		}
	})
}

// Errors of the caller's own context say nothing about the backend: they
// never open the breaker.
func TestBreakerIgnoresCallerCancellation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := newBreakerCache(t, cache.Options{})
		env.d.getHook = func(ctx context.Context) { <-ctx.Done() }
		for range 10 {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
			env.c.Get(ctx, "k")
			cancel()
		}
		if s := env.c.BreakerState(); s != cache.BreakerClosed {
			t.Fatalf("state %v after callers' own deadlines, want closed", s)
		}
	})
}

func TestBreakerDisabledAlwaysCallsDriver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		env := newBreakerCache(t, cache.Options{Breaker: &cache.BreakerOptions{Disabled: true}})
		env.d.setDown(errors.New("connection refused"))
		for i := range 20 {
			mustLoad(t, env.c, "k", cache.Policy{}, constLoader(i))
			synctest.Wait()
		}
		if got := env.d.calls.Load(); got != 40 {
			t.Fatalf("%d driver calls for 20 failing reads with the breaker disabled, want 40", got)
		}
		if s := env.c.BreakerState(); s != cache.BreakerClosed {
			t.Fatalf("disabled breaker reports %v", s)
		}
	})
}

func TestBreakerOptionsValidationAndDefaults(t *testing.T) {
	for _, tc := range []struct {
		o     cache.BreakerOptions
		field string
	}{
		{cache.BreakerOptions{Failures: -1}, "Options.Breaker.Failures"},
		{cache.BreakerOptions{CoolDown: -time.Second}, "Options.Breaker.CoolDown"},
	} {
		_, err := cache.New(newMapDriver(nil), &cache.Options{Breaker: &tc.o})
		var ce *cache.ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field {
			t.Errorf("%+v: got %v, want a ConfigError for %s", tc.o, err, tc.field)
		}
	}
	synctest.Test(t, func(t *testing.T) {
		// Defaults: 5 failures, 5s cool-down.
		d := newMapDriver(nil)
		d.setDown(errors.New("down"))
		c, _ := cache.New(d, &cache.Options{Logger: quietLogger()})
		defer c.Close()
		for i := range 4 {
			c.Get(context.Background(), fmt.Sprint(i))
		}
		if c.BreakerState() != cache.BreakerClosed {
			t.Fatal("opened before 5 failures")
		}
		c.Get(context.Background(), "5")
		if c.BreakerState() != cache.BreakerOpen {
			t.Fatal("not open after 5 failures")
		}
		time.Sleep(cache.DefaultBreakerCoolDown - time.Millisecond)
		c.Get(context.Background(), "x")
		if c.BreakerState() != cache.BreakerOpen || d.calls.Load() != 5 {
			t.Fatal("probed before the 5s cool-down")
		}
		time.Sleep(time.Millisecond)
		d.setDown(nil)
		c.Get(context.Background(), "x")
		if c.BreakerState() != cache.BreakerClosed {
			t.Fatal("not closed after a successful probe at 5s")
		}
	})
	for s, want := range map[cache.BreakerState]string{cache.BreakerClosed: "closed", cache.BreakerOpen: "open", cache.BreakerHalfOpen: "half-open", 9: "unknown"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", s, s.String(), want)
		}
	}
}

// A breaker that is closed costs nothing measurable on the concurrent hit
// path; this only checks that it stays race-free under concurrent success
// and failure.
func TestBreakerConcurrentUse(t *testing.T) {
	env := &breakerEnv{d: newMapDriver(nil)}
	c, _ := cache.New(env.d, &cache.Options{Logger: quietLogger(), Breaker: &cache.BreakerOptions{Failures: 2, CoolDown: time.Millisecond}})
	defer c.Close()
	var failing atomic.Bool
	env.d.getHook = func(context.Context) {}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				if g == 0 && i%20 == 0 {
					if failing.Load() {
						env.d.setDown(nil)
					} else {
						env.d.setDown(errors.New("down"))
					}
					failing.Store(!failing.Load())
				}
				mustLoad(t, c, fmt.Sprint("k", i%5), cache.Policy{}, constLoader(i))
				c.BreakerState()
			}
		})
	}
	wg.Wait()
}

// BenchmarkLoadWhileBreakerOpen measures a cached read during an outage once
// the breaker is open: the cache's whole cost on top of the loader (a
// constant here), with no driver call and no timer.
func BenchmarkLoadWhileBreakerOpen(b *testing.B) {
	d := newMapDriver(nil)
	d.setDown(errors.New("connection refused"))
	c, _ := cache.New(d, &cache.Options{Logger: quietLogger(), Breaker: &cache.BreakerOptions{Failures: 1, CoolDown: time.Hour}})
	defer c.Close()
	ctx := context.Background()
	load := constLoader(1)
	c.Get(ctx, "open")
	if c.BreakerState() != cache.BreakerOpen {
		b.Fatal("breaker not open")
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cache.Load(ctx, c, "user:findMany:k", cache.Policy{}, load); err != nil {
			b.Fatal(err)
		}
	}
}
