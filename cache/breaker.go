package cache

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of [BreakerOptions].
const (
	DefaultBreakerFailures = 5
	DefaultBreakerCoolDown = 5 * time.Second
)

// BreakerState is the state of a [Cache]'s circuit breaker.
type BreakerState uint32

// The states of the circuit breaker.
const (
	// BreakerClosed: the driver is called as usual.
	BreakerClosed BreakerState = iota
	// BreakerOpen: the driver has failed repeatedly and is not called until
	// the cool-down has passed.
	BreakerOpen
	// BreakerHalfOpen: the cool-down has passed and one probe call is let
	// through; its success closes the breaker, its failure re-opens it.
	BreakerHalfOpen
)

func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerOpen:
		return "open"
	case BreakerHalfOpen:
		return "half-open"
	}
	return "unknown"
}

// BreakerOptions configures the circuit breaker of a [Cache]
// ([Options.Breaker]). Zero fields mean the defaults.
//
// The breaker counts consecutive failed driver calls: an error of the driver
// or a call that exceeded its timeout. A call that ended because the caller's
// own context ended does not count, nor does a value that cannot be decoded.
// After Failures of them in a row the breaker opens: for CoolDown no driver
// call is made. Reads answer from the loader at once, writes after a miss
// are skipped, and [Cache.Get], [Cache.Set] and invalidations return a
// [*DriverError] matching [ErrBreakerOpen] without waiting on the backend.
// Then the breaker is half-open: the next driver call is let through as a
// probe (bounded by [Options.Timeout]) while the others keep skipping the
// driver; the probe's success closes the breaker, its failure opens it for
// another CoolDown. The cool-down is timed with [Options.Now].
type BreakerOptions struct {
	// Disabled turns the breaker off: every call goes to the driver.
	Disabled bool
	// Failures is how many consecutive failed driver calls open the
	// breaker. Zero means DefaultBreakerFailures (5); it must not be negative.
	Failures int
	// CoolDown is how long an open breaker skips the driver before it lets
	// a probe through. Zero means DefaultBreakerCoolDown (5s); it must not be
	// negative.
	CoolDown time.Duration
}

// breaker is the circuit breaker. A disabled one stays closed. While closed,
// the only costs on a driver call are an atomic load before it and one after
// a success.
type breaker struct {
	disabled  bool
	threshold int32
	coolDown  time.Duration
	now       func() time.Time
	notify    func(from, to BreakerState, failures int32, err error)

	state    atomic.Uint32 // BreakerState; written under mu
	failures atomic.Int32  // consecutive failures while closed

	mu       sync.Mutex
	openedAt time.Time
	probing  bool // half-open and the probe is out
}

func newBreaker(o *BreakerOptions, now func() time.Time, notify func(from, to BreakerState, failures int32, err error)) (*breaker, error) {
	var bo BreakerOptions
	if o != nil {
		bo = *o
	}
	if bo.Failures < 0 {
		return nil, &ConfigError{Field: "Options.Breaker.Failures", Reason: "must not be negative"}
	}
	if bo.CoolDown < 0 {
		return nil, &ConfigError{Field: "Options.Breaker.CoolDown", Reason: "must not be negative"}
	}
	if bo.Failures == 0 {
		bo.Failures = DefaultBreakerFailures
	}
	if bo.Failures > 1<<30 {
		bo.Failures = 1 << 30
	}
	if bo.CoolDown == 0 {
		bo.CoolDown = DefaultBreakerCoolDown
	}
	return &breaker{disabled: bo.Disabled, threshold: int32(bo.Failures), coolDown: bo.CoolDown, now: now, notify: notify}, nil
}

func (b *breaker) State() BreakerState { return BreakerState(b.state.Load()) }

// gate is allow's answer for one driver call.
type gate uint8

const (
	pass   gate = iota // go ahead
	probe              // go ahead as the half-open probe; give done its outcome
	refuse             // do not call the driver
)

// allow says whether a driver call may go ahead. It inlines to one atomic
// load while the breaker is closed.
func (b *breaker) allow() gate {
	if b.state.Load() == uint32(BreakerClosed) {
		return pass
	}
	return b.allowSlow()
}

func (b *breaker) allowSlow() gate {
	b.mu.Lock()
	switch BreakerState(b.state.Load()) {
	case BreakerClosed:
		b.mu.Unlock()
		return pass
	case BreakerOpen:
		if b.now().Sub(b.openedAt) < b.coolDown {
			b.mu.Unlock()
			return refuse
		}
		b.state.Store(uint32(BreakerHalfOpen))
		b.probing = true
		b.mu.Unlock()
		b.notify(BreakerOpen, BreakerHalfOpen, 0, nil)
		return probe
	default: // half-open
		if b.probing {
			b.mu.Unlock()
			return refuse
		}
		b.probing = true
		b.mu.Unlock()
		return probe
	}
}

// blocked reports, without taking the probe, whether a driver call would be
// refused now.
func (b *breaker) blocked() bool {
	if b.state.Load() == uint32(BreakerClosed) {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch BreakerState(b.state.Load()) {
	case BreakerOpen:
		return b.now().Sub(b.openedAt) < b.coolDown
	case BreakerHalfOpen:
		return b.probing
	}
	return false
}

// outcome of a driver call, for the breaker.
type outcome uint8

const (
	succeeded outcome = iota
	failed
	neutral // the caller's context ended or the cache closed: says nothing of the backend
)

// ok records a success of a call that was not the probe: the common case,
// kept small enough to inline.
func (b *breaker) ok() {
	if b.failures.Load() != 0 {
		b.failures.Store(0)
	}
}

// done records the outcome of a call that allow let through.
func (b *breaker) done(g gate, o outcome, err error) {
	if b.disabled {
		return
	}
	if g != probe {
		switch o {
		case succeeded:
			if b.failures.Load() != 0 {
				b.failures.Store(0)
			}
		case failed:
			if b.state.Load() == uint32(BreakerClosed) && b.failures.Add(1) >= b.threshold {
				b.mu.Lock()
				if b.state.Load() != uint32(BreakerClosed) {
					b.mu.Unlock()
					return
				}
				n := b.failures.Swap(0)
				b.state.Store(uint32(BreakerOpen))
				b.openedAt = b.now()
				b.mu.Unlock()
				b.notify(BreakerClosed, BreakerOpen, n, err)
			}
		}
		// A call let through before the breaker opened says nothing about
		// the probe: it is ignored while the breaker is not closed.
		return
	}
	b.mu.Lock()
	b.probing = false
	switch o {
	case succeeded:
		b.failures.Store(0)
		b.state.Store(uint32(BreakerClosed))
		b.mu.Unlock()
		b.notify(BreakerHalfOpen, BreakerClosed, 0, nil)
	case failed:
		b.state.Store(uint32(BreakerOpen))
		b.openedAt = b.now()
		b.mu.Unlock()
		b.notify(BreakerHalfOpen, BreakerOpen, 1, err)
	default:
		// The probe told nothing: stay half-open, the next call probes.
		b.mu.Unlock()
	}
}

// BreakerState returns the state of the cache's circuit breaker;
// [BreakerClosed] when the breaker is disabled.
func (c *Cache) BreakerState() BreakerState { return c.br.State() }

// breakerChanged logs a state change once and tells [Options.OnBreakerChange].
func (c *Cache) breakerChanged(from, to BreakerState, failures int32, err error) {
	attrs := []slog.Attr{slog.String("driver", c.name), slog.String("from", from.String()), slog.String("to", to.String())}
	switch to {
	case BreakerOpen:
		attrs = append(attrs, slog.Int("failures", int(failures)), slog.Duration("cool_down", c.br.coolDown))
		if err != nil {
			attrs = append(attrs, slog.Any("err", err))
		}
		c.log.LogAttrs(context.Background(), slog.LevelWarn, "viborm cache: circuit breaker open; the driver is skipped until the cool-down has passed", attrs...)
	case BreakerHalfOpen:
		c.log.LogAttrs(context.Background(), slog.LevelInfo, "viborm cache: circuit breaker half-open; probing the driver", attrs...)
	case BreakerClosed:
		c.log.LogAttrs(context.Background(), slog.LevelInfo, "viborm cache: circuit breaker closed; the driver answers again", attrs...)
	}
	if c.onBreakerChange != nil {
		c.onBreakerChange(from, to)
	}
}

// breakerOpenError is what a call refused by the breaker returns.
func (c *Cache) breakerOpenError(op string) error {
	return &DriverError{Driver: c.name, Op: op, Err: ErrBreakerOpen}
}

// classify turns a driver call's error into the breaker's outcome. ctx is
// the caller's context, before the cache added its timeout.
func classify(ctx context.Context, err error) outcome {
	switch {
	case err == nil:
		return succeeded
	case ctx.Err() != nil, errors.Is(err, ErrClosed):
		return neutral
	}
	return failed
}
