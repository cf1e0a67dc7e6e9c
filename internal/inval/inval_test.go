package inval_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/internal/inval"
)

// flaky is a cache driver whose invalidations fail until up is set.
type flaky struct {
	up      atomic.Bool
	cleared atomic.Int64
}

func (d *flaky) Name() string { return "flaky" }
func (d *flaky) Get(context.Context, string) (cache.Entry, bool, error) {
	return cache.Entry{}, false, nil
}
func (d *flaky) Set(context.Context, string, time.Duration, cache.Entry) error { return nil }
func (d *flaky) Delete(context.Context, []string) error                        { return d.fail() }
func (d *flaky) Clear(context.Context, string) error                           { return d.fail() }
func (d *flaky) fail() error {
	if !d.up.Load() {
		return errors.New("down")
	}
	d.cleared.Add(1)
	return nil
}

type report struct {
	mu     sync.Mutex
	errs   []error
	closed []bool
}

func (r *report) failed(err error, closed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
	r.closed = append(r.closed, closed)
}

func setup(t *testing.T, retry time.Duration, wait func(context.Context, func(context.Context))) (*flaky, *inval.Invalidator, *report) {
	d := &flaky{}
	kv, err := cache.New(d, &cache.Options{WaitUntil: wait})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kv.Close() })
	r := &report{}
	v := inval.New(kv, inval.Options{Timeout: 100 * time.Millisecond, Retry: retry,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Failed: r.failed})
	return d, v, r
}

func TestRetriesUntilTheCacheIsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, v, r := setup(t, time.Minute, nil)
		defer v.Close()
		v.AfterWrite(context.Background(), []string{"viborm:user:*"})
		time.Sleep(time.Second)
		synctest.Wait()
		if d.cleared.Load() != 0 {
			t.Fatal("cleared while down")
		}
		d.up.Store(true)
		time.Sleep(10 * time.Second) // the backoff is at most 2s, the cache's breaker cool-down 5s
		synctest.Wait()
		if d.cleared.Load() != 1 {
			t.Fatalf("cleared %d times after the cache came back, want 1", d.cleared.Load())
		}
		if len(r.errs) != 0 {
			t.Fatalf("reported %v for an invalidation that succeeded", r.errs)
		}
	})
}

func TestGivesUpAfterTheRetryWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, v, r := setup(t, 5*time.Second, nil)
		defer v.Close()
		v.AfterWrite(context.Background(), []string{"viborm:user:*"})
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if len(r.errs) != 1 || r.closed[0] {
			t.Fatalf("reports %v (closed %v), want one failure after the window", r.errs, r.closed)
		}
	})
}

// TestCloseAbandonsRetriesAndStartsNoMore: Close reports the retry in
// flight as abandoned and returns without waiting for the window; a write
// after Close starts nothing and is reported at once.
func TestCloseAbandonsRetriesAndStartsNoMore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var handed atomic.Int64
		_, v, r := setup(t, time.Minute, func(ctx context.Context, task func(context.Context)) {
			handed.Add(1)
			go task(ctx)
		})
		v.AfterWrite(context.Background(), []string{"viborm:user:*"})
		v.Close()
		if len(r.errs) != 1 || !r.closed[0] || handed.Load() != 1 {
			t.Fatalf("after Close: reports %v closed %v, %d tasks handed to WaitUntil", r.errs, r.closed, handed.Load())
		}
		v.AfterWrite(context.Background(), []string{"viborm:user:*"})
		if len(r.errs) != 2 || !r.closed[1] || handed.Load() != 1 {
			t.Fatalf("a write after Close: reports %v closed %v, %d tasks", r.errs, r.closed, handed.Load())
		}
	})
}

// TestOwedAfterTheWindowUntilTheCacheIsBack: an invalidation still failing
// when its window ends is reported once, and kept: once the cache is back,
// however much later, it is done within OwedPace (plus the cache's breaker
// cool-down), with no further report. Before, it was dropped, and entries
// written before the write outlived the outage until their TTL.
func TestOwedAfterTheWindowUntilTheCacheIsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, v, r := setup(t, 5*time.Second, nil)
		defer v.Close()
		v.AfterWrite(context.Background(), []string{"viborm:user:*"})
		v.AfterWrite(context.Background(), []string{"viborm:user:*", "viborm:post:*"})
		time.Sleep(time.Minute) // far beyond the window
		synctest.Wait()
		if len(r.errs) != 2 || r.closed[0] || r.closed[1] {
			t.Fatalf("reports %v (closed %v), want one failure per write after the window", r.errs, r.closed)
		}
		d.up.Store(true)
		time.Sleep(inval.OwedPace + 5*time.Second)
		synctest.Wait()
		if n := d.cleared.Load(); n != 2 {
			t.Fatalf("cleared %d patterns after the cache came back, want the 2 owed ones", n)
		}
		if len(r.errs) != 2 {
			t.Fatalf("reports %v after the owed invalidations succeeded", r.errs)
		}
	})
}

// TestCloseAbandonsOwedInvalidations: Close reports what is still owed as
// abandoned, once, and returns.
func TestCloseAbandonsOwedInvalidations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, v, r := setup(t, 5*time.Second, nil)
		v.AfterWrite(context.Background(), []string{"viborm:user:*"})
		time.Sleep(time.Minute)
		synctest.Wait()
		v.Close()
		if len(r.errs) != 2 || r.closed[0] || !r.closed[1] {
			t.Fatalf("reports %v (closed %v), want the window's failure, then one abandonment", r.errs, r.closed)
		}
	})
}

// TestOwedPatternsAreBounded: past MaxOwed distinct patterns, what is owed
// becomes one pattern clearing the whole prefix.
func TestOwedPatternsAreBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, v, _ := setup(t, time.Second, nil)
		defer v.Close()
		for i := range inval.MaxOwed + 1 {
			v.AfterWrite(context.Background(), []string{fmt.Sprintf("viborm:m%d:*", i)})
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		d.up.Store(true)
		time.Sleep(inval.OwedPace + 5*time.Second)
		synctest.Wait()
		if n := d.cleared.Load(); n != 1 {
			t.Fatalf("cleared %d patterns, want the one prefix pattern", n)
		}
	})
}
