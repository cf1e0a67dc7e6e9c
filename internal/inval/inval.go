// Package inval runs the cache invalidations that follow committed writes:
// at once, bounded by a timeout so that a slow cache never holds a write,
// and on failure again in the background with a backoff, until they
// succeed, a retry window ends or the client closes. An invalidation still
// failing when its window ends is reported, and owed: one background loop
// retries every owed pattern at a slow pace until the cache takes them or
// the client closes, so that entries written before a write cannot outlive
// a long outage of the cache by more than that pace. It is the only
// background work of the ORM client (the cache runs its own).
package inval

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/viborm/viborm-go/cache"
)

// Options configures an [Invalidator]; every field is required.
type Options struct {
	// Timeout bounds each attempt.
	Timeout time.Duration
	// Retry bounds how long a failed invalidation is retried.
	Retry time.Duration
	// Log receives the failures that are retried.
	Log *slog.Logger
	// Failed reports an invalidation given up: after its retries (it is
	// then owed), or (closed) abandoned because the invalidator closed.
	Failed func(err error, closed bool)
}

// OwedPace is how often the owed invalidations are retried: the cache's
// circuit breaker cool-down, so that an attempt follows soon after the
// cache is back.
const OwedPace = 5 * time.Second

// MaxOwed bounds the owed patterns. Beyond it they are replaced by one
// pattern clearing every entry of the cache's prefix: a heavier
// invalidation, but never a missed one.
const MaxOwed = 1024

// Invalidator invalidates after writes. Its retries run through the
// cache's WaitUntil hook when it has one, otherwise on goroutines it owns;
// the loop of the owed invalidations, which can last as long as an outage,
// always runs on a goroutine it owns. Close waits for them all.
type Invalidator struct {
	c      *cache.Cache
	o      Options
	bg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex // orders bg.Add against Close; guards owed
	closed bool
	owed   map[string]struct{} // patterns given up, retried by owedLoop
	owing  bool                // owedLoop is running
}

// New returns an invalidator of c.
func New(c *cache.Cache, o Options) *Invalidator {
	v := &Invalidator{c: c, o: o}
	v.ctx, v.cancel = context.WithCancel(context.Background())
	return v
}

// AfterWrite invalidates patterns after a committed write. It never fails
// and holds the caller at most Options.Timeout, whatever ctx allows: a
// failure or a timeout is logged and handed to a background retry.
func (v *Invalidator) AfterWrite(ctx context.Context, patterns []string) {
	if len(patterns) == 0 {
		return
	}
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), v.o.Timeout)
	err := v.c.Invalidate(ictx, patterns...)
	cancel()
	if err == nil {
		return
	}
	v.mu.Lock()
	if v.closed {
		// Close has begun (and may be waiting for bg): start nothing.
		v.mu.Unlock()
		v.o.Failed(err, true)
		return
	}
	v.bg.Add(1)
	v.mu.Unlock()
	v.o.Log.Warn("viborm: cache invalidation after a write failed; retrying in the background", "err", err, "patterns", len(patterns))
	run := func(context.Context) {
		defer v.bg.Done()
		v.retry(patterns, err)
	}
	if wait := v.c.WaitUntil(); wait != nil {
		wait(context.WithoutCancel(ctx), run)
	} else {
		go run(context.Background())
	}
}

// retry retries patterns with a backoff until it succeeds, the retry window
// ends or the invalidator closes.
func (v *Invalidator) retry(patterns []string, err error) {
	deadline := time.Now().Add(v.o.Retry)
	delay := 50 * time.Millisecond
	for time.Now().Before(deadline) {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-v.ctx.Done():
			t.Stop()
			v.o.Failed(err, true)
			return
		}
		ctx, cancel := context.WithTimeout(v.ctx, v.o.Timeout)
		err = v.c.Invalidate(ctx, patterns...)
		cancel()
		if err == nil {
			return
		}
		if v.ctx.Err() != nil {
			v.o.Failed(err, true)
			return
		}
		delay = min(delay*2, 2*time.Second)
	}
	v.o.Failed(err, false)
	v.owe(patterns)
}

// owe adds patterns to the owed set and starts owedLoop if it is not
// running. It runs on a retry goroutine, which the bg count covers until
// owe returns.
func (v *Invalidator) owe(patterns []string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return // Close cancelled v.ctx after the last attempt: nothing runs now
	}
	if v.owed == nil {
		v.owed = make(map[string]struct{})
	}
	for _, p := range patterns {
		v.owed[p] = struct{}{}
	}
	if len(v.owed) > MaxOwed {
		v.owed = map[string]struct{}{v.c.Prefix() + ":*": {}}
	}
	if v.owing {
		return
	}
	v.owing = true
	v.bg.Add(1)
	go v.owedLoop()
}

// owedLoop retries the owed patterns every OwedPace until none is left or
// the invalidator closes, which reports them abandoned.
func (v *Invalidator) owedLoop() {
	defer v.bg.Done()
	var err error
	for {
		t := time.NewTimer(OwedPace)
		select {
		case <-t.C:
		case <-v.ctx.Done():
			t.Stop()
			v.mu.Lock()
			v.owing = false
			v.mu.Unlock()
			v.o.Failed(errors.Join(errors.New("owed invalidations abandoned"), err), true)
			return
		}
		v.mu.Lock()
		patterns := make([]string, 0, len(v.owed))
		for p := range v.owed {
			patterns = append(patterns, p)
		}
		v.mu.Unlock()
		ctx, cancel := context.WithTimeout(v.ctx, v.o.Timeout)
		err = v.c.Invalidate(ctx, patterns...)
		cancel()
		if err != nil {
			continue
		}
		v.mu.Lock()
		for _, p := range patterns {
			delete(v.owed, p)
		}
		done := len(v.owed) == 0
		if done {
			v.owing = false
		}
		v.mu.Unlock()
		if done {
			return
		}
	}
}

// Close abandons the retries at once (each reported as closed) and waits
// for them to return. Later writes start no retry.
func (v *Invalidator) Close() {
	v.mu.Lock()
	v.closed = true
	v.mu.Unlock()
	v.cancel()
	v.bg.Wait()
}
