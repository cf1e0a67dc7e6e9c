package cache_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/memorycache"
)

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newInline returns a cache over a map driver on a manual clock, running
// background work inline so tests can assert right after a read.
func newInline(t *testing.T, o *cache.Options) (*cache.Cache, *mapDriver, *clock) {
	t.Helper()
	clk := newClock()
	d := newMapDriver(clk.Now)
	opts := cache.Options{Now: clk.Now, WaitUntil: cache.Inline, Logger: quietLogger()}
	if o != nil {
		opts.Version = o.Version
		opts.DefaultTTL = o.DefaultTTL
		opts.Observer = o.Observer
	}
	c, err := cache.New(d, &opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, d, clk
}

type counter struct{ n atomic.Int64 }

func (c *counter) loader(v string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		n := c.n.Add(1)
		return v + "#" + string(rune('0'+n)), nil
	}
}

func mustLoad[T any](t *testing.T, c *cache.Cache, key string, p cache.Policy, load func(context.Context) (T, error)) T {
	t.Helper()
	v, err := cache.Load(context.Background(), c, key, p, load)
	if err != nil {
		t.Fatalf("Load(%q): %v", key, err)
	}
	return v
}

func TestLoadMissThenFreshHit(t *testing.T) {
	var outcomes []cache.Outcome
	c, d, _ := newInline(t, &cache.Options{Observer: func(e cache.Event) { outcomes = append(outcomes, e.Outcome) }})
	var n counter
	p := cache.Policy{TTL: time.Minute}
	if got := mustLoad(t, c, "user:findMany:h", p, n.loader("v")); got != "v#1" {
		t.Fatalf("miss returned %q, want v#1", got)
	}
	if !d.has("viborm:user:findMany:h") {
		t.Fatal("miss did not store under the prefixed key")
	}
	if got := mustLoad(t, c, "user:findMany:h", p, n.loader("v")); got != "v#1" {
		t.Fatalf("hit returned %q, want the stored v#1", got)
	}
	if n.n.Load() != 1 {
		t.Fatalf("loader ran %d times, want 1", n.n.Load())
	}
	if want := []cache.Outcome{cache.OutcomeMiss, cache.OutcomeHit}; !equalOutcomes(outcomes, want) {
		t.Fatalf("outcomes %v, want %v", outcomes, want)
	}
}

func equalOutcomes(a, b []cache.Outcome) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestTTLExpiryWithoutSWRReloads(t *testing.T) {
	c, d, clk := newInline(t, nil)
	var n counter
	p := cache.Policy{TTL: time.Minute}
	mustLoad(t, c, "k", p, n.loader("v"))
	if got := d.storageTTL("viborm:k"); got != time.Minute {
		t.Fatalf("storage TTL without SWR = %v, want the TTL (1m)", got)
	}
	clk.Advance(time.Minute - time.Millisecond)
	if got := mustLoad(t, c, "k", p, n.loader("v")); got != "v#1" {
		t.Fatalf("just before the TTL got %q, want the fresh v#1", got)
	}
	clk.Advance(2 * time.Millisecond)
	if got := mustLoad(t, c, "k", p, n.loader("v")); got != "v#2" {
		t.Fatalf("after TTL without SWR got %q, want a reload v#2", got)
	}
}

func TestDefaultTTLIsFiveMinutes(t *testing.T) {
	c, d, _ := newInline(t, nil)
	mustLoad(t, c, "k", cache.Policy{}, func(context.Context) (int, error) { return 1, nil })
	e, ok, err := c.Get(context.Background(), "k")
	if err != nil || !ok || e.TTL != 5*time.Minute || d.storageTTL("viborm:k") != 5*time.Minute {
		t.Fatalf("entry %+v ok=%v err=%v storage %v; want TTL 5m", e, ok, err, d.storageTTL("viborm:k"))
	}
}

func TestSWRServesStaleAndRefreshesOnce(t *testing.T) {
	for _, tc := range []struct {
		name        string
		p           cache.Policy
		wantStorage time.Duration
	}{
		{"on", cache.Policy{TTL: time.Minute, SWR: true}, 2 * time.Minute},
		{"window", cache.Policy{TTL: time.Minute, StaleWindow: 10 * time.Minute}, 11 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var outcomes []cache.Outcome
			c, d, clk := newInline(t, &cache.Options{Observer: func(e cache.Event) { outcomes = append(outcomes, e.Outcome) }})
			var n counter
			mustLoad(t, c, "k", tc.p, n.loader("v"))
			if got := d.storageTTL("viborm:k"); got != tc.wantStorage {
				t.Fatalf("storage TTL = %v, want %v", got, tc.wantStorage)
			}
			clk.Advance(tc.wantStorage - time.Millisecond) // stale, still inside the window
			if got := mustLoad(t, c, "k", tc.p, n.loader("v")); got != "v#1" {
				t.Fatalf("stale read got %q, want the stale v#1", got)
			}
			// The inline refresh ran during the stale read.
			if n.n.Load() != 2 {
				t.Fatalf("loader ran %d times, want 2 (one refresh)", n.n.Load())
			}
			if got := mustLoad(t, c, "k", tc.p, n.loader("v")); got != "v#2" {
				t.Fatalf("after refresh got %q, want v#2", got)
			}
			if d.has("viborm:k:reval") {
				t.Fatal("refresh marker left behind")
			}
			want := []cache.Outcome{cache.OutcomeMiss, cache.OutcomeStale, cache.OutcomeHit}
			if !equalOutcomes(outcomes, want) {
				t.Fatalf("outcomes %v, want %v", outcomes, want)
			}
		})
	}
}

func TestStalePastWindowReloads(t *testing.T) {
	c, _, clk := newInline(t, nil)
	var n counter
	p := cache.Policy{TTL: time.Minute, StaleWindow: time.Minute}
	mustLoad(t, c, "k", p, n.loader("v"))
	clk.Advance(2*time.Minute + time.Millisecond)
	if got := mustLoad(t, c, "k", p, n.loader("v")); got != "v#2" {
		t.Fatalf("past the window got %q, want a reload", got)
	}
}

func TestSWROneRefresherPerKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := newClock()
		d := newMapDriver(clk.Now)
		c, err := cache.New(d, &cache.Options{Now: clk.Now, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		p := cache.Policy{TTL: time.Minute, SWR: true}
		mustLoad(t, c, "k", p, func(context.Context) (int, error) { return 0, nil })
		synctest.Wait() // the first fill's background write
		clk.Advance(90 * time.Second)
		release := make(chan struct{})
		var loads atomic.Int64
		slow := func(context.Context) (int, error) {
			loads.Add(1)
			<-release
			return 1, nil
		}
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				if v := mustLoad(t, c, "k", p, slow); v != 0 {
					t.Errorf("stale read got %d, want the stale 0", v)
				}
			})
		}
		wg.Wait()
		synctest.Wait()
		close(release)
		synctest.Wait()
		if loads.Load() != 1 {
			t.Fatalf("%d refreshes ran, want 1", loads.Load())
		}
		if v := mustLoad(t, c, "k", p, slow); v != 1 {
			t.Fatalf("after refresh got %d, want 1", v)
		}
	})
}

func TestBypassSkipsReadButStores(t *testing.T) {
	c, _, _ := newInline(t, nil)
	var n counter
	p := cache.Policy{TTL: time.Minute}
	mustLoad(t, c, "k", p, n.loader("v"))
	if got := mustLoad(t, c, "k", cache.Policy{TTL: time.Minute, Bypass: true}, n.loader("v")); got != "v#2" {
		t.Fatalf("bypass got %q, want a fresh load v#2", got)
	}
	if got := mustLoad(t, c, "k", p, n.loader("v")); got != "v#2" {
		t.Fatalf("after bypass got %q, want the stored v#2", got)
	}
}

func TestCustomKeyReplacesGeneratedKey(t *testing.T) {
	c, d, _ := newInline(t, &cache.Options{Version: "3"})
	mustLoad(t, c, "user:findMany:abc", cache.Policy{Key: "dashboard"}, func(context.Context) (int, error) { return 7, nil })
	if !d.has("viborm:v3:dashboard") || d.has("viborm:v3:user:findMany:abc") {
		t.Fatalf("custom key not used: %v", d.m)
	}
}

func TestVersionsIsolate(t *testing.T) {
	d := newMapDriver(nil)
	c1, _ := cache.New(d, &cache.Options{Version: "1", WaitUntil: cache.Inline})
	c2, _ := cache.New(d, &cache.Options{Version: "2", WaitUntil: cache.Inline})
	mustLoad(t, c1, "k", cache.Policy{}, func(context.Context) (int, error) { return 1, nil })
	if got := mustLoad(t, c2, "k", cache.Policy{}, func(context.Context) (int, error) { return 2, nil }); got != 2 {
		t.Fatalf("version 2 read version 1's entry")
	}
	if !d.has("viborm:v1:k") || !d.has("viborm:v2:k") {
		t.Fatalf("keys %v", d.m)
	}
}

func TestThousandConcurrentMissesRunLoaderOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newMapDriver(nil)
		c, err := cache.New(d, &cache.Options{Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		gate := make(chan struct{})
		var loads atomic.Int64
		load := func(context.Context) (int, error) {
			loads.Add(1)
			<-gate
			return 42, nil
		}
		var wg sync.WaitGroup
		for range 1000 {
			wg.Go(func() {
				if v := mustLoad(t, c, "cold", cache.Policy{}, load); v != 42 {
					t.Errorf("got %d, want 42", v)
				}
			})
		}
		synctest.Wait() // all 1000 are waiting, and the one loader is blocked
		close(gate)
		wg.Wait()
		if got := loads.Load(); got != 1 {
			t.Fatalf("loader ran %d times for 1000 concurrent misses, want exactly 1", got)
		}
	})
}

func TestCallerCancelStopsWaitingButSharedLoadGoesOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, err := cache.New(newMapDriver(nil), &cache.Options{Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		gate := make(chan struct{})
		var loaderCtxErr atomic.Value
		load := func(ctx context.Context) (int, error) {
			<-gate
			if ctx.Err() != nil {
				loaderCtxErr.Store(ctx.Err())
			}
			return 5, nil
		}
		ctx1, cancel1 := context.WithCancel(context.Background())
		var err1 error
		var v2 int
		var wg sync.WaitGroup
		wg.Go(func() { _, err1 = cache.Load(ctx1, c, "k", cache.Policy{}, load) }) // starts the load
		synctest.Wait()
		wg.Go(func() { v2 = mustLoad(t, c, "k", cache.Policy{}, load) })
		synctest.Wait()
		cancel1()
		synctest.Wait()
		if !errors.Is(err1, context.Canceled) {
			t.Fatalf("cancelled caller got %v, want context.Canceled", err1)
		}
		close(gate)
		wg.Wait()
		if v2 != 5 {
			t.Fatalf("other caller got %d, want 5", v2)
		}
		if e := loaderCtxErr.Load(); e != nil {
			t.Fatalf("the shared load saw its context cancelled: %v", e)
		}
	})
}

func TestInvalidationDuringLoadPreventsStore(t *testing.T) {
	for _, tc := range []struct {
		name       string
		invalidate func(context.Context, *cache.Cache) error
	}{
		{"key", func(ctx context.Context, c *cache.Cache) error { return c.Invalidate(ctx, "user:findMany:a") }},
		{"prefix", func(ctx context.Context, c *cache.Cache) error { return c.Invalidate(ctx, "user:*") }},
		{"model", func(ctx context.Context, c *cache.Cache) error { return c.InvalidateModel(ctx, "user") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d := newMapDriver(nil)
				c, _ := cache.New(d, &cache.Options{Logger: quietLogger()})
				defer c.Close()
				release := gatedLoad(t, c, "user:findMany:a", cache.Policy{})
				if err := tc.invalidate(context.Background(), c); err != nil {
					t.Fatal(err)
				}
				if got := release(); got != "pre-write rows" {
					t.Fatalf("caller got %q", got)
				}
				if d.has("viborm:user:findMany:a") {
					t.Fatal("a load that started before the invalidation stored its result after it")
				}
				// A new read after the invalidation loads afresh.
				if v := mustLoad(t, c, "user:findMany:a", cache.Policy{}, func(context.Context) (string, error) { return "fresh", nil }); v != "fresh" {
					t.Fatalf("read after invalidation got %q, want fresh", v)
				}
			})
		})
	}
}

func TestInvalidationWaitsForWriteInProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newMapDriver(nil)
		setStarted := make(chan struct{})
		setGate := make(chan struct{})
		var once sync.Once
		d.setHook = func(context.Context) {
			once.Do(func() {
				close(setStarted)
				<-setGate
			})
		}
		c, _ := cache.New(d, &cache.Options{Logger: quietLogger(), Timeout: time.Hour})
		defer c.Close()
		mustLoad(t, c, "user:findMany:a", cache.Policy{}, func(context.Context) (int, error) { return 1, nil })
		<-setStarted // the background write is in the driver now
		invalidated := make(chan error)
		go func() { invalidated <- c.InvalidateModel(context.Background(), "user") }()
		synctest.Wait()
		select {
		case err := <-invalidated:
			t.Fatalf("invalidation returned (%v) while a write of a covered key was in progress", err)
		default:
		}
		close(setGate)
		if err := <-invalidated; err != nil {
			t.Fatal(err)
		}
		if d.has("viborm:user:findMany:a") {
			t.Fatal("the write in progress landed after the invalidation")
		}
	})
}

func TestModelInvalidationStopsAtSeparator(t *testing.T) {
	c, d, _ := newInline(t, nil)
	ctx := context.Background()
	for _, k := range []string{"user:findMany:a", "user:count:b", "userProfile:findMany:c", "post:findMany:d"} {
		if err := c.Set(ctx, k, k, cache.Policy{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.InvalidateModel(ctx, "user"); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]bool{
		"viborm:user:findMany:a": false, "viborm:user:count:b": false,
		"viborm:userProfile:findMany:c": true, "viborm:post:findMany:d": true,
	} {
		if d.has(k) != want {
			t.Errorf("after invalidating model user, %s present = %v, want %v", k, !want, want)
		}
	}
}

// The seed's "Testing Your Driver", in Go, through the core.
func TestSeedDriverTests(t *testing.T) {
	ctx := context.Background()
	c, _, _ := newInline(t, nil)
	p := cache.Policy{TTL: 60 * time.Second}
	if err := c.Set(ctx, "test-key", map[string]any{"id": 1}, p); err != nil {
		t.Fatal(err)
	}
	e, ok, err := c.Get(ctx, "test-key")
	if err != nil || !ok || e.Value.(map[string]any)["id"] != 1 {
		t.Fatalf("stores and retrieves entries: %+v %v %v", e, ok, err)
	}
	if _, ok, err := c.Get(ctx, "nonexistent"); ok || err != nil {
		t.Fatalf("returns null for missing keys: ok=%v err=%v", ok, err)
	}
	for _, k := range []string{"viborm:user:a", "viborm:user:b", "viborm:post:c"} {
		if err := c.Set(ctx, k, map[string]any{}, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.InvalidateModel(ctx, "user"); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]bool{"viborm:user:a": false, "viborm:user:b": false, "viborm:post:c": true} {
		if _, ok, _ := c.Get(ctx, k); ok != want {
			t.Errorf("clears by prefix: %s present = %v, want %v", k, ok, want)
		}
	}
}

func TestDeleteRemovesRefreshMarker(t *testing.T) {
	c, d, _ := newInline(t, nil)
	d.put("viborm:k", 1)
	d.put("viborm:k:reval", true)
	if err := c.Delete(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	if d.has("viborm:k") || d.has("viborm:k:reval") {
		t.Fatal("Delete left the key or its refresh marker")
	}
}

func TestDriverFailureNeverFailsRead(t *testing.T) {
	var logs bytes.Buffer
	d := newMapDriver(nil)
	d.getErr = errors.New("connection refused")
	d.setErr = errors.New("connection refused")
	c, _ := cache.New(d, &cache.Options{WaitUntil: cache.Inline, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	defer c.Close()
	v, err := cache.Load(context.Background(), c, "user:findMany:secret-arg", cache.Policy{}, func(context.Context) (int, error) { return 9, nil })
	if err != nil || v != 9 {
		t.Fatalf("got %d, %v; want the loader's 9", v, err)
	}
	if !bytes.Contains(logs.Bytes(), []byte("connection refused")) {
		t.Fatalf("driver failure not logged: %s", logs.String())
	}
	if bytes.Contains(logs.Bytes(), []byte("secret-arg")) {
		t.Fatalf("a key was logged: %s", logs.String())
	}
}

func TestSlowDriverBoundedByTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newMapDriver(nil)
		hang := make(chan struct{})
		d.getHook = func(context.Context) { <-hang } // ignores its context
		c, _ := cache.New(d, &cache.Options{Timeout: 100 * time.Millisecond, Logger: quietLogger()})
		start := time.Now()
		v, err := cache.Load(context.Background(), c, "k", cache.Policy{}, func(context.Context) (int, error) { return 3, nil })
		if err != nil || v != 3 {
			t.Fatalf("got %d, %v", v, err)
		}
		if took := time.Since(start); took != 100*time.Millisecond {
			t.Fatalf("read took %v, want the 100ms timeout", took)
		}
		close(hang)
		c.Close()
	})
}

func TestCorruptEntryIsMissAndReplaced(t *testing.T) {
	c, d, _ := newInline(t, nil)
	d.put("viborm:k", json.RawMessage(`{"not":"an int"`))
	v := mustLoad(t, c, "k", cache.Policy{}, func(context.Context) (int, error) { return 4, nil })
	if v != 4 {
		t.Fatalf("got %d, want the loader's 4", v)
	}
	if v := mustLoad(t, c, "k", cache.Policy{}, func(context.Context) (int, error) { return 5, nil }); v != 4 {
		t.Fatalf("corrupt entry not replaced by the fill: got %d", v)
	}
}

func TestSerializedValueDecodes(t *testing.T) {
	type row struct {
		ID   int
		Name string
	}
	c, d, _ := newInline(t, nil)
	d.put("viborm:k", json.RawMessage(`[{"ID":1,"Name":"a"}]`))
	v := mustLoad(t, c, "k", cache.Policy{}, func(context.Context) ([]row, error) { return nil, errors.New("must not load") })
	if len(v) != 1 || v[0] != (row{1, "a"}) {
		t.Fatalf("got %+v", v)
	}
}

func TestLoaderErrorIsReturnedAndNotCached(t *testing.T) {
	c, d, _ := newInline(t, nil)
	boom := errors.New("boom")
	_, err := cache.Load(context.Background(), c, "k", cache.Policy{}, func(context.Context) (int, error) { return 0, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want boom", err)
	}
	if d.has("viborm:k") {
		t.Fatal("an error was cached")
	}
}

func TestInvalidPolicyAndOptionsAreTypedErrors(t *testing.T) {
	c, _, _ := newInline(t, nil)
	load := func(context.Context) (int, error) { return 1, nil }
	for _, p := range []cache.Policy{{TTL: time.Microsecond}, {TTL: -time.Second}, {StaleWindow: -1}} {
		_, err := cache.Load(context.Background(), c, "k", p, load)
		var ce *cache.ConfigError
		if !errors.As(err, &ce) || !errors.Is(err, cache.ErrConfig) {
			t.Errorf("policy %+v: got %v, want a *ConfigError", p, err)
		}
	}
	if _, err := cache.Load(context.Background(), c, "k", cache.Policy{TTL: time.Microsecond}, load); !errors.Is(err, cache.ErrInvalidTTL) {
		t.Errorf("sub-millisecond TTL: %v does not match ErrInvalidTTL", err)
	}
	for _, o := range []cache.Options{{Version: "a:b"}, {Timeout: -1}, {DefaultTTL: time.Nanosecond}} {
		if _, err := cache.New(newMapDriver(nil), &o); !errors.Is(err, cache.ErrConfig) {
			t.Errorf("options %+v: got %v, want ErrConfig", o, err)
		}
	}
	if _, err := cache.New(nil, nil); !errors.Is(err, cache.ErrConfig) {
		t.Errorf("nil driver: %v", err)
	}
	if err := c.Invalidate(context.Background(), ""); !errors.Is(err, cache.ErrInvalidKey) {
		t.Errorf("empty pattern: %v", err)
	}
}

func TestCloseWaitsIsIdempotentAndRefusesLaterCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newMapDriver(nil)
		gate := make(chan struct{})
		var once sync.Once
		d.setHook = func(context.Context) { once.Do(func() { <-gate }) }
		c, _ := cache.New(d, &cache.Options{Logger: quietLogger(), Timeout: time.Hour})
		mustLoad(t, c, "k", cache.Policy{}, func(context.Context) (int, error) { return 1, nil })
		closed := make(chan error)
		go func() { closed <- c.Close() }()
		synctest.Wait()
		select {
		case <-closed:
			t.Fatal("Close returned while a background write was in flight")
		default:
		}
		close(gate)
		if err := <-closed; err != nil {
			t.Fatal(err)
		}
		if !d.has("viborm:k") {
			t.Fatal("Close did not let the background write finish")
		}
		if err := c.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if _, err := cache.Load(context.Background(), c, "k", cache.Policy{}, func(context.Context) (int, error) { return 1, nil }); !errors.Is(err, cache.ErrClosed) {
			t.Fatalf("Load after Close: %v", err)
		}
	})
}

func TestWaitUntilHookReceivesBackgroundWork(t *testing.T) {
	var mu sync.Mutex
	var tasks []func(context.Context)
	hook := func(ctx context.Context, task func(context.Context)) {
		mu.Lock()
		defer mu.Unlock()
		tasks = append(tasks, task)
	}
	d := newMapDriver(nil)
	c, _ := cache.New(d, &cache.Options{WaitUntil: hook, Logger: quietLogger()})
	mustLoad(t, c, "k", cache.Policy{}, func(context.Context) (int, error) { return 1, nil })
	mu.Lock()
	n := len(tasks)
	mu.Unlock()
	if n != 1 || d.has("viborm:k") {
		t.Fatalf("got %d tasks (stored: %v); want the write handed to the hook before Load returned", n, d.has("viborm:k"))
	}
	tasks[0](context.Background())
	if !d.has("viborm:k") {
		t.Fatal("running the task did not store")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestLoaderPanicReachesCaller(t *testing.T) {
	c, _, _ := newInline(t, nil)
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("the loader's panic was swallowed")
		}
	}()
	cache.Load(context.Background(), c, "k", cache.Policy{}, func(context.Context) (int, error) { panic("bad loader") })
}

func TestPolicyWaitUntilOverridesOptions(t *testing.T) {
	var fromOptions, fromPolicy atomic.Int64
	d := newMapDriver(nil)
	c, _ := cache.New(d, &cache.Options{Logger: quietLogger(), WaitUntil: func(ctx context.Context, task func(context.Context)) {
		fromOptions.Add(1)
		task(ctx)
	}})
	defer c.Close()
	p := cache.Policy{WaitUntil: func(ctx context.Context, task func(context.Context)) {
		fromPolicy.Add(1)
		task(ctx)
	}}
	mustLoad(t, c, "k", p, func(context.Context) (int, error) { return 1, nil })
	if fromPolicy.Load() != 1 || fromOptions.Load() != 0 || !d.has("viborm:k") {
		t.Fatalf("policy hook ran %d, options hook %d; want the write through the policy's hook", fromPolicy.Load(), fromOptions.Load())
	}
}

// A driver that honors its context is called directly, with the timeout in
// the context: a slow call ends at the timeout and the loader answers.
func TestContextHonoringDriverBoundedThroughContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newMapDriver(nil)
		d.honors = true
		var sawDeadline atomic.Bool
		d.getHook = func(ctx context.Context) {
			_, ok := ctx.Deadline()
			sawDeadline.Store(ok)
			<-ctx.Done()
		}
		c, _ := cache.New(d, &cache.Options{Timeout: 100 * time.Millisecond, Logger: quietLogger(), WaitUntil: cache.Inline})
		defer c.Close()
		start := time.Now()
		v, err := cache.Load(context.Background(), c, "k", cache.Policy{}, func(context.Context) (int, error) { return 3, nil })
		if err != nil || v != 3 {
			t.Fatalf("got %d, %v", v, err)
		}
		if took := time.Since(start); took != 100*time.Millisecond {
			t.Fatalf("read took %v, want the 100ms timeout", took)
		}
		if !sawDeadline.Load() {
			t.Fatal("the driver was called without the timeout in its context")
		}
		d.getHook = nil
		if _, ok, err := c.Get(context.Background(), "k"); err != nil || !ok {
			t.Fatalf("the fill after the slow read was not stored: %v, %v", ok, err)
		}
	})
}

// valueSource is a cache.Source held by value, with pointers in it as a
// real one has (the ORM's holds its query and model).
type valueSource struct {
	v    *string
	want *string
}

func (s valueSource) Load(context.Context) (string, error) { return *s.v, nil }

func (s valueSource) Check(v string) (string, error) {
	if v != *s.want {
		return "", errors.New("not mine")
	}
	return v, nil
}

// TestLoadFromHitAllocatesNoSource checks that a fresh hit through LoadFrom
// with a Source held by value allocates only the entry's full key: the
// source is copied only on the paths that load. (Closures over it would be
// allocated on every read, hits included, since a miss hands them to
// another goroutine.)
func TestLoadFromHitAllocatesNoSource(t *testing.T) {
	mem, err := memorycache.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.New(mem, &cache.Options{WaitUntil: cache.Inline})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	p := cache.Policy{TTL: time.Hour}
	v, want := "v", "v"
	src := valueSource{&v, &want}
	if got, err := cache.LoadFrom(ctx, c, "m:op:k", p, src); err != nil || got != "v" {
		t.Fatalf("miss: %q, %v", got, err)
	}
	n := testing.AllocsPerRun(200, func() {
		if _, err := cache.LoadFrom(ctx, c, "m:op:k", p, src); err != nil {
			t.Fatal(err)
		}
	})
	if n > 1 {
		t.Errorf("a LoadFrom hit allocates %v times, want 1 (the full key)", n)
	}
}
