package cache

import (
	"context"
	"strings"
	"time"
)

// StepKind names a step of the cache, for an [Options.OnStep] hook.
type StepKind uint8

// The steps of the cache.
const (
	// StepRead is a whole cached read ([Load]): Outcome says how it was
	// answered, as [Options.Observer] reports it.
	StepRead StepKind = iota + 1
	// StepLookup is the driver read of a [Load] and the check of what it
	// found: Outcome is hit, stale, miss, or error when the driver failed
	// or the value could not be used. A read with [Policy.Bypass] has none.
	StepLookup
	// StepFill is the background write of a loaded result.
	StepFill
	// StepRefresh is a background stale-while-revalidate refresh: the
	// election of the refresher, the reload and its write (which is also
	// reported as a StepFill).
	StepRefresh
	// StepInvalidate is one invalidation: [Cache.Delete], [Cache.Clear],
	// [Cache.Invalidate] or [Cache.InvalidateModel].
	StepInvalidate
)

func (k StepKind) String() string {
	switch k {
	case StepRead:
		return "read"
	case StepLookup:
		return "lookup"
	case StepFill:
		return "fill"
	case StepRefresh:
		return "refresh"
	case StepInvalidate:
		return "invalidate"
	}
	return "unknown"
}

// Step describes one step of the cache, for an [Options.OnStep] hook:
// tracing, metrics and logs without parsing keys.
//
// A Step holds no key. Keys can hold user data; what telemetry receives
// cannot leak it.
type Step struct {
	Kind StepKind
	// Driver is the driver's name ([Driver.Name]).
	Driver string
	// Model and Operation are those of the key when it was made by [Key] or
	// [Cache.Key] ("<prefix>:<model>:<operation>:<hash>"), and empty
	// otherwise: for a custom key, and for invalidations.
	Model, Operation string
	// Outcome is, for StepRead, how the read was answered (hit, stale, miss,
	// bypass, error) and, for StepLookup, what the cache held (hit, stale,
	// miss, or error). It is zero for the other steps.
	Outcome Outcome
	// Shared is true on a StepRead that waited for another caller's load of
	// the same key instead of running the loader itself.
	Shared bool
	// Queued is true on the event reporting that a StepFill or StepRefresh
	// was handed to the background (it has no Duration). Its end is
	// reported by a second event with Queued false, unless the work did not
	// need to run (an invalidation dropped the fill, another process holds
	// the refresh).
	Queued bool
	// Start is when the step began; Duration how long it took.
	Start    time.Time
	Duration time.Duration
	// Err is the step's failure: the loader's error for a StepRead (the
	// read returns it), the driver's or decoder's for a StepLookup (the
	// read survives it), the write's for a StepFill, the election's,
	// reload's or write's for a StepRefresh, the returned error for a
	// StepInvalidate.
	Err error
}

// step reports s to the OnStep hook, filling in the driver and the key's
// model and operation. Callers check c.onStep first, so that a cache
// without the hook pays a nil check.
func (c *Cache) step(ctx context.Context, key string, s Step) {
	s.Driver = c.name
	if key != "" {
		s.Model, s.Operation = c.keyLabels(key)
	}
	c.onStep(ctx, s)
}

// stepSince is step for a step that began at start.
func (c *Cache) stepSince(ctx context.Context, key string, start time.Time, s Step) {
	s.Start = start
	s.Duration = time.Since(start)
	c.step(ctx, key, s)
}

// keyLabels returns the model and operation of a full key made by [Key]:
// "<prefix>:<model>:<op>:<hash>" where hash is 16 or 32 lowercase hex
// digits. Any other key (a custom one, which may hold user data) yields
// empty labels.
func (c *Cache) keyLabels(full string) (model, op string) {
	if len(full) <= len(c.prefix) || full[len(c.prefix)] != ':' || !strings.HasPrefix(full, c.prefix) {
		return "", ""
	}
	model, rest, ok := strings.Cut(full[len(c.prefix)+1:], ":")
	if !ok || model == "" {
		return "", ""
	}
	op, hash, ok := strings.Cut(rest, ":")
	if !ok || op == "" || (len(hash) != 16 && len(hash) != 32) {
		return "", ""
	}
	for i := 0; i < len(hash); i++ {
		if b := hash[i]; (b < '0' || b > '9') && (b < 'a' || b > 'f') {
			return "", ""
		}
	}
	return model, op
}

// stepLookup reports the lookup of a read that began at rp.start: err is
// the driver's or decoder's failure, ok whether an entry e was found.
func (c *Cache) stepLookup(ctx context.Context, key string, rp resolved, e Entry, ok bool, err error) {
	s := Step{Kind: StepLookup, Outcome: OutcomeMiss, Err: err}
	switch {
	case err != nil:
		s.Outcome = OutcomeError
	case ok:
		age := c.now().Sub(e.CreatedAt)
		if age <= e.TTL {
			s.Outcome = OutcomeHit
		} else if rp.window > 0 && age <= e.TTL+rp.window {
			s.Outcome = OutcomeStale
		}
	}
	c.stepSince(ctx, key, rp.start, s)
}

// stepInvalidate reports an invalidation that began at start and ended
// with *err.
func (c *Cache) stepInvalidate(ctx context.Context, start time.Time, err *error) {
	c.stepSince(ctx, "", start, Step{Kind: StepInvalidate, Err: *err})
}
