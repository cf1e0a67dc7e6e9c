package cache

import (
	"context"
	"log/slog"
	"time"
)

// Defaults used when the corresponding option is zero.
const (
	DefaultTTL              = 5 * time.Minute
	DefaultTimeout          = 250 * time.Millisecond
	DefaultRefreshMarkerTTL = 30 * time.Second
	DefaultLeaseTTL         = 10 * time.Second
	DefaultLeaseWait        = time.Second
)

// Options configures a [Cache]. A nil *Options, and every zero field, means
// the default. New copies the options; changing them afterwards has no
// effect.
type Options struct {
	// Version is VibORM's cacheVersion: when set, every key is prefixed
	// "viborm:v<Version>:" instead of "viborm:", so bumping it orphans every
	// old entry. It must not contain ':'.
	Version string

	// DefaultTTL is the TTL of a [Policy] whose TTL is zero. Default 5 minutes.
	DefaultTTL time.Duration

	// Timeout bounds each driver call the cache makes on behalf of a read
	// (get, refresh election) and each background write. A driver that fails
	// or exceeds it never fails a read: the loader answers and the failure is
	// logged. Default 250ms.
	Timeout time.Duration

	// InvalidateTimeout bounds each invalidation ([Cache.Delete],
	// [Cache.Clear], [Cache.Invalidate], [Cache.InvalidateModel]) as a whole:
	// the wait for writes in progress and every driver call it makes. An
	// invalidation that exceeds it returns a [*DriverError] matching
	// [ErrDriver] and [context.DeadlineExceeded]; a driver that never answers
	// cannot hold it longer. Its fence still holds: a load of a covered key
	// that started before the invalidation never stores its result. What the
	// backend did is unknown, so the caller should retry it (the ORM client
	// retries in the background). Zero means Timeout; it must not be
	// negative.
	InvalidateTimeout time.Duration

	// Breaker configures the circuit breaker that skips a failing driver
	// (see [BreakerOptions]). Nil means the defaults: open after 5
	// consecutive failures, probe after 5 seconds.
	Breaker *BreakerOptions

	// OnBreakerChange, when set, is called once per state change of the
	// circuit breaker, after the change (which is also logged once). It runs
	// on the goroutine whose driver call caused the change; it must be fast,
	// must not block and must not call the cache. Changes that happen
	// concurrently may be reported out of order: [Cache.BreakerState] has the
	// current state.
	OnBreakerChange func(from, to BreakerState)

	// RefreshMarkerTTL is how long the marker that elects one refresher of a
	// stale key lives. Default 30 seconds (VibORM's value).
	RefreshMarkerTTL time.Duration

	// DisableLeases turns off the cross-process fence and stampede
	// protection of a driver that implements [Leaser] (see there): loads
	// then store with a plain Set, fenced within this process only, as with
	// a driver without leases. Use it while processes that do not void
	// leases (older versions, TypeScript VibORM services) share the cache
	// and invalidate it, or to measure what the fence costs.
	DisableLeases bool

	// LeaseTTL is how long a lease taken on a miss lives, with a [Leaser]
	// driver: a load that takes longer loses its lease and stores nothing,
	// and a process that died holding one delays other processes' fills of
	// the key at most this long. Default 10 seconds (memcached's lease
	// window).
	LeaseTTL time.Duration

	// LeaseWait is how long a load that finds another process holding the
	// lease of its key waits for that process's fill, polling the driver
	// with a growing backoff, before running its loader itself (its result
	// is then returned but not stored). Default 1 second; a negative
	// LeaseWait means not to wait.
	LeaseWait time.Duration

	// Logger receives driver failures and failed background work. Keys are
	// never logged, since they can hold user data. Nil means [slog.Default].
	Logger *slog.Logger

	// Now is the clock every freshness decision reads. Nil means [time.Now].
	// Tests can pass a controllable clock (or use testing/synctest).
	Now func() time.Time

	// WaitUntil schedules background work: stale-while-revalidate refreshes
	// and cache writes that happen after a result was returned. It is the Go
	// form of VibORM's waitUntil, for runtimes that must be told to stay
	// alive until such work ends. It must run task exactly once, on any
	// goroutine, with ctx or a context derived from it; [Cache.Close] still
	// waits for every task it handed out. Nil means the cache runs tasks on
	// goroutines of its own. [Inline] runs them synchronously.
	WaitUntil func(ctx context.Context, task func(context.Context))

	// Codec decodes values that a serializing driver returns as JSON into the
	// type a [Load] asks for. Nil means [JSON].
	Codec Codec

	// Observer, when set, is called after each cached read with what
	// happened. It must be fast and must not block; it runs on the reading
	// goroutine.
	Observer func(Event)

	// OnStep, when set, is called after each step of the cache (lookup,
	// read, fill, refresh, invalidation; see [Step]) with the step's
	// context, labels, outcome, latency and error, and never its key: the
	// hook for tracing and metrics (the otelviborm package provides one).
	// It must be fast and must not block; it runs on the goroutine that ran
	// the step, background ones included.
	OnStep func(ctx context.Context, s Step)
}

// Inline is a [Options.WaitUntil] that runs background work synchronously,
// on the calling goroutine: handy in tests and command-line tools.
func Inline(ctx context.Context, task func(context.Context)) { task(ctx) }

// Policy is the per-read cache setting: VibORM's $withCache options. The zero
// Policy uses the cache's default TTL, no stale-while-revalidate, no bypass
// and the generated key.
type Policy struct {
	// TTL is how long a stored value is fresh. Zero means
	// [Options.DefaultTTL]; otherwise it must be at least one millisecond.
	// [ParseTTL] turns VibORM's strings ("5 minutes") into a TTL.
	TTL time.Duration

	// SWR enables stale-while-revalidate: once the value is older than TTL
	// but still stored, a read returns it at once and refreshes it in the
	// background. The stale window is StaleWindow, or TTL when StaleWindow is
	// zero (VibORM's swr: true).
	SWR bool

	// StaleWindow is how long after TTL a stale value may still be served.
	// Setting it implies SWR. It must not be negative.
	StaleWindow time.Duration

	// Bypass skips the cache read: the loader runs and its result is stored.
	Bypass bool

	// Key replaces the generated key. It is prefixed like any key (unless it
	// already starts with "viborm:").
	Key string

	// WaitUntil, when set, schedules this read's background work (the write
	// after a miss, a stale refresh) instead of [Options.WaitUntil], with the
	// same contract. VibORM passes its waitUntil per execution the same way;
	// an ORM client hands its own hook here.
	WaitUntil func(ctx context.Context, task func(context.Context))

	// Deps names the models (or junction tokens) the read depends on besides
	// its key's own model, such as the models of its includes and relation
	// filters. [Cache.InvalidateModel] of any of them (or an Invalidate of
	// "<model>:*") removes the entry too, and a load in flight when that
	// happens never stores its result. The entry is indexed under each dep
	// through the driver's [DepIndexer] before it is stored; with a driver
	// that lacks that capability a read with Deps is answered by its loader
	// and not stored (logged once). Names must not be empty.
	Deps []string
}

// Outcome says how a cached read was answered.
type Outcome uint8

// The outcomes of a cached read.
const (
	// OutcomeMiss: nothing usable was stored; the loader answered.
	OutcomeMiss Outcome = iota + 1
	// OutcomeHit: a fresh stored value answered.
	OutcomeHit
	// OutcomeStale: a stale value answered and a refresh was scheduled.
	OutcomeStale
	// OutcomeBypass: the policy skipped the read; the loader answered.
	OutcomeBypass
	// OutcomeError: the loader failed.
	OutcomeError
)

func (o Outcome) String() string {
	switch o {
	case OutcomeMiss:
		return "miss"
	case OutcomeHit:
		return "hit"
	case OutcomeStale:
		return "stale"
	case OutcomeBypass:
		return "bypass"
	case OutcomeError:
		return "error"
	}
	return "unknown"
}

// Event describes one cached read, for an [Options.Observer].
type Event struct {
	// Key is the full key. It can hold user data: do not log it casually.
	Key     string
	Outcome Outcome
	// Shared is true when the read waited for another caller's load of the
	// same key instead of running the loader itself.
	Shared bool
	// DriverErr is a driver failure that the read survived, if any.
	DriverErr error
	TTL       time.Duration
}
