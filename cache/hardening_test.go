package cache_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/internal/testenv"
)

// ---- issue 7, item 1: an invalidation is bounded by a timeout ----

// A driver whose Clear never answers (until the test ends) must not hold an
// invalidation past Options.InvalidateTimeout (default Options.Timeout): it
// returns a DriverError matching context.DeadlineExceeded, and its fence
// still holds: a load of a covered key that was in flight never stores.
func TestInvalidationBoundedWhenClearHangs(t *testing.T) {
	for _, tc := range []struct {
		name     string
		honors   bool // the driver honors its context, or ignores it
		opts     cache.Options
		want     time.Duration
		validate func(context.Context, *cache.Cache) error
	}{
		{"model/ignores-ctx/timeout", false, cache.Options{Timeout: 100 * time.Millisecond}, 100 * time.Millisecond,
			func(ctx context.Context, c *cache.Cache) error { return c.InvalidateModel(ctx, "user") }},
		{"model/honors-ctx/timeout", true, cache.Options{Timeout: 100 * time.Millisecond}, 100 * time.Millisecond,
			func(ctx context.Context, c *cache.Cache) error { return c.InvalidateModel(ctx, "user") }},
		{"prefix+key/ignores-ctx/invalidate-timeout", false, cache.Options{Timeout: 100 * time.Millisecond, InvalidateTimeout: 300 * time.Millisecond}, 300 * time.Millisecond,
			func(ctx context.Context, c *cache.Cache) error { return c.Invalidate(ctx, "user:*", "post:findMany:x") }},
		{"clear/ignores-ctx/timeout", false, cache.Options{Timeout: 100 * time.Millisecond}, 100 * time.Millisecond,
			func(ctx context.Context, c *cache.Cache) error { return c.Clear(ctx, "user:") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d := newMapDriver(nil)
				d.honors = tc.honors
				hang := make(chan struct{})
				d.clearHook = func(ctx context.Context) {
					if tc.honors {
						select {
						case <-hang:
						case <-ctx.Done():
						}
						return
					}
					<-hang
				}
				opts := tc.opts
				opts.Logger = quietLogger()
				c, err := cache.New(d, &opts)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				defer close(hang) // the driver answers only when the test ends, before Close
				release := gatedLoad(t, c, "user:findMany:a", cache.Policy{})
				start := time.Now()
				err = tc.validate(context.Background(), c)
				if took := time.Since(start); took != tc.want {
					t.Fatalf("invalidation took %v, want the %v bound", took, tc.want)
				}
				if !errors.Is(err, cache.ErrDriver) || !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("got %v, want a driver error matching context.DeadlineExceeded", err)
				}
				var de *cache.DriverError
				if !errors.As(err, &de) || de.Op != "clear" {
					t.Fatalf("got %#v, want a *DriverError of op clear", err)
				}
				release()
				if d.has("viborm:user:findMany:a") {
					t.Fatal("a load that started before a timed-out invalidation stored its result after it")
				}
			})
		})
	}
}

// An invalidation that waits for a write in progress of a covered key waits
// no longer than InvalidateTimeout, even when the write is slower.
func TestInvalidationWaitForWriteInProgressIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newMapDriver(nil)
		hang := make(chan struct{})
		storing := make(chan struct{})
		d.setHook = func(context.Context) {
			close(storing)
			<-hang
		}
		c, _ := cache.New(d, &cache.Options{Timeout: time.Second, InvalidateTimeout: 50 * time.Millisecond, Logger: quietLogger()})
		defer c.Close()
		defer close(hang)
		mustLoad(t, c, "user:findMany:a", cache.Policy{}, func(context.Context) (int, error) { return 1, nil })
		<-storing
		start := time.Now()
		err := c.Delete(context.Background(), "user:findMany:a")
		if took := time.Since(start); took != 50*time.Millisecond {
			t.Fatalf("Delete took %v, want the 50ms bound", took)
		}
		if !errors.Is(err, cache.ErrDriver) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want a driver error matching context.DeadlineExceeded", err)
		}
	})
}

func TestInvalidateTimeoutMustNotBeNegative(t *testing.T) {
	_, err := cache.New(newMapDriver(nil), &cache.Options{InvalidateTimeout: -1})
	var ce *cache.ConfigError
	if !errors.As(err, &ce) || ce.Field != "Options.InvalidateTimeout" {
		t.Fatalf("got %v, want a ConfigError for Options.InvalidateTimeout", err)
	}
}

// ---- issue 7, item 8: a late miss must not run the query twice ----

// lateReader starts a shared load of "k" that blocks, then a second reader
// whose lookup misses while the load is in flight and who is held between
// its lookup and the join; it lets the load store and retire, runs between
// (when set), and only then releases the second reader. It returns the
// second reader's value and how many times the loader ran.
func lateReader(t *testing.T, c *cache.Cache, d *mapDriver, between func()) (string, int64) {
	t.Helper()
	var hold atomic.Bool
	release := make(chan struct{})
	held := make(chan struct{})
	cache.SetHookBeforeJoin(c, func() {
		if hold.CompareAndSwap(true, false) {
			close(held)
			<-release
		}
	})
	gate := make(chan struct{})
	var loads atomic.Int64
	load := func(context.Context) (string, error) {
		n := loads.Add(1)
		if n == 1 {
			<-gate
			return "first", nil
		}
		return "second", nil
	}
	var wg sync.WaitGroup
	wg.Go(func() { mustLoad(t, c, "k", cache.Policy{}, load) })
	synctest.Wait() // the first load is in flight
	hold.Store(true)
	var got string
	wg.Go(func() { got = mustLoad(t, c, "k", cache.Policy{}, load) })
	<-held // the second reader's lookup missed; it waits before the join
	close(gate)
	synctest.Wait() // the first load returned, stored and retired
	if !d.has("viborm:k") {
		t.Fatal("the first load did not store")
	}
	if between != nil {
		between()
	}
	close(release)
	wg.Wait()
	return got, loads.Load()
}

// Issue 7 item 8: a reader whose lookup missed while a load was in flight,
// but who reaches the one-load-per-key table after that load has stored and
// retired, takes its result instead of running the query again.
func TestLateMissAfterLoadRetiredRunsNoSecondQuery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newMapDriver(nil)
		c, _ := cache.New(d, &cache.Options{Logger: quietLogger()})
		defer c.Close()
		got, loads := lateReader(t, c, d, nil)
		if loads != 1 || got != "first" {
			t.Fatalf("the late reader got %q and the loader ran %d times; want the first load's result and 1 run", got, loads)
		}
	})
}

// The retired result is fenced like a load in flight: after an invalidation
// of the key, the late reader loads afresh.
func TestLateMissAfterInvalidationLoadsAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newMapDriver(nil)
		c, _ := cache.New(d, &cache.Options{Logger: quietLogger()})
		defer c.Close()
		got, loads := lateReader(t, c, d, func() {
			if err := c.Delete(context.Background(), "k"); err != nil {
				t.Fatal(err)
			}
		})
		if loads != 2 || got != "second" {
			t.Fatalf("after an invalidation the late reader got %q (loader ran %d times); want a fresh load", got, loads)
		}
	})
}

// A read that starts after a load retired never takes the retired result:
// once the stored entry expires, it loads again.
func TestRetiredLoadNotReusedByLaterReads(t *testing.T) {
	c, d, clk := newInline(t, nil)
	var n counter
	p := cache.Policy{TTL: time.Minute}
	if v := mustLoad(t, c, "k", p, n.loader("v")); v != "v#1" {
		t.Fatalf("got %q", v)
	}
	clk.Advance(2 * time.Minute)
	if d.has("viborm:k") {
		t.Fatal("the entry did not expire")
	}
	if v := mustLoad(t, c, "k", p, n.loader("v")); v != "v#2" {
		t.Fatalf("a read after the entry expired got %q, want a fresh load", v)
	}
}

// ---- issue 7, item 10: a panicking loader ----

type loaderBug struct{ code int }

func (e *loaderBug) Error() string { return "loader bug" }

func panickyLoader(gate chan struct{}, v any) func(context.Context) (int, error) {
	return func(context.Context) (int, error) {
		<-gate
		panic(v)
	}
}

// Every caller waiting for a loader that panics re-panics with a
// *cache.PanicError that keeps the original value (its type too) and the
// loader's stack.
func TestLoaderPanicRepanicsInEveryWaiterWithOriginalValue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := cache.New(newMapDriver(nil), &cache.Options{Logger: quietLogger()})
		defer c.Close()
		bug := &loaderBug{code: 7}
		gate := make(chan struct{})
		load := panickyLoader(gate, bug)
		const waiters = 3
		recovered := make([]any, waiters)
		var wg sync.WaitGroup
		for i := range waiters {
			wg.Go(func() {
				defer func() { recovered[i] = recover() }()
				cache.Load(context.Background(), c, "k", cache.Policy{}, load)
			})
		}
		synctest.Wait()
		close(gate)
		wg.Wait()
		for i, r := range recovered {
			pe, ok := r.(*cache.PanicError)
			if !ok {
				t.Fatalf("waiter %d recovered %T %v, want a *cache.PanicError", i, r, r)
			}
			if pe.Value != bug {
				t.Fatalf("waiter %d: panic value %#v, want the loader's own %#v", i, pe.Value, bug)
			}
			var lb *loaderBug
			if !errors.As(pe, &lb) || lb.code != 7 {
				t.Fatalf("waiter %d: errors.As does not reach the original error", i)
			}
			if !bytes.Contains(pe.Stack, []byte("panickyLoader")) {
				t.Fatalf("waiter %d: the stack does not show the loader:\n%s", i, pe.Stack)
			}
		}
	})
}

// A loader that panics after every caller stopped waiting has its panic
// logged with the stack, never swallowed.
func TestLoaderPanicWithNoWaiterIsLogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs testenv.Buffer
		c, _ := cache.New(newMapDriver(nil), &cache.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		defer c.Close()
		gate := make(chan struct{})
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := cache.Load(ctx, c, "user:findMany:secret", cache.Policy{}, panickyLoader(gate, "no one is listening"))
			errc <- err
		}()
		synctest.Wait()
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("the cancelled caller got %v", err)
		}
		close(gate)
		synctest.Wait()
		out := logs.String()
		if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "no one is listening") || !strings.Contains(out, "panickyLoader") {
			t.Fatalf("the orphan panic was not logged with its value and stack:\n%s", out)
		}
		if strings.Contains(out, "secret") {
			t.Fatalf("a key was logged:\n%s", out)
		}
	})
}

// A loader that panics in a background refresh does not crash the process:
// the panic is logged with its stack, the stale value stays, and a later
// refresh runs.
func TestRefreshLoaderPanicIsLoggedAndStaleValueStays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs testenv.Buffer
		clk := newClock()
		d := newMapDriver(clk.Now)
		c, _ := cache.New(d, &cache.Options{Now: clk.Now, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		defer c.Close()
		p := cache.Policy{TTL: time.Minute, SWR: true}
		mustLoad(t, c, "k", p, func(context.Context) (int, error) { return 1, nil })
		synctest.Wait()
		clk.Advance(90 * time.Second)
		if v := mustLoad(t, c, "k", p, func(context.Context) (int, error) { panic("refresh bug") }); v != 1 {
			t.Fatalf("stale read got %d, want 1", v)
		}
		synctest.Wait()
		out := logs.String()
		if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "refresh bug") || !strings.Contains(out, "stack=") {
			t.Fatalf("the refresh panic was not logged with its stack:\n%s", out)
		}
		// The marker was released: the next stale read refreshes.
		if v := mustLoad(t, c, "k", p, func(context.Context) (int, error) { return 2, nil }); v != 1 {
			t.Fatalf("stale read got %d, want 1", v)
		}
		synctest.Wait()
		if v := mustLoad(t, c, "k", p, func(context.Context) (int, error) { return 3, nil }); v != 2 {
			t.Fatalf("after the second refresh got %d, want 2", v)
		}
	})
}

// A loader that calls runtime.Goexit fails its waiting callers instead of
// leaving them waiting forever.
func TestLoaderGoexitFailsWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := cache.New(newMapDriver(nil), &cache.Options{Logger: quietLogger()})
		defer c.Close()
		_, err := cache.Load(context.Background(), c, "k", cache.Policy{}, func(context.Context) (int, error) {
			runtime.Goexit()
			return 0, nil
		})
		if err == nil {
			t.Fatal("a loader that called runtime.Goexit answered with no error")
		}
		// The key is free again.
		if v := mustLoad(t, c, "k", cache.Policy{}, func(context.Context) (int, error) { return 4, nil }); v != 4 {
			t.Fatalf("got %d", v)
		}
	})
}
