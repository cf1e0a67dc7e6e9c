package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Cache is the query-result cache that users hold: VibORM's CacheDriver base
// class. It owns the logic shared by every backend (key prefixing, TTLs,
// stale-while-revalidate, one load per key, invalidation, timeouts and
// background work) on top of a small [Driver].
//
// A Cache is safe for concurrent use. Close it when done: [Cache.Close]
// waits for its background work and closes the driver.
type Cache struct {
	d         Driver
	name      string
	nonblock  bool // call directly, no deadline needed
	honorsCtx bool // call directly, deadline through the context
	local     LocalGetter
	promoter  LocalPromoter
	adder     Adder
	leaser    Leaser     // nil without leases (or with Options.DisableLeases)
	depIdx    DepIndexer // nil when the driver does not index dependencies
	depsWarn  sync.Once  // logs once that reads with Policy.Deps are not stored
	leaseTTL  time.Duration
	leaseWait time.Duration
	version   string
	prefix    string // "viborm" or "viborm:v<version>"
	ttl       time.Duration
	timeout   time.Duration
	markerTTL time.Duration
	log       *slog.Logger
	now       func() time.Time
	waitUntil func(context.Context, func(context.Context))
	codec     Codec
	observer  func(Event)
	onStep    func(context.Context, Step)

	invTimeout      time.Duration
	br              *breaker
	onBreakerChange func(from, to BreakerState)

	// hookBeforeJoin, set only by tests (export_test.go), runs after a
	// lookup missed and before the read joins or starts the shared load.
	hookBeforeJoin func()
	// hookJoined, set only by tests, runs after a read joined a shared
	// load in flight.
	hookJoined func()

	bgCtx    context.Context // cancelled by Close; parent of background work
	bgCancel context.CancelFunc

	mu         sync.Mutex
	calls      map[string]*call   // shared loads in flight, by full key
	fills      map[*fill]struct{} // every load whose result may be stored
	refreshing map[string]bool    // keys with a refresh in flight here
	retired    map[string]retiredLoad
	retiredLog [retiredCap]string // retired keys by sequence number mod retiredCap
	retireSeq  atomic.Uint64      // sequence number of the last retired shared load; written under mu
	running    int                // goroutines and tasks in flight
	closed     bool
	closedFlag atomic.Bool   // closed, readable without mu on the hit path
	idle       chan struct{} // closed when running drops to zero after Close

	closeOnce sync.Once
	closeErr  error
}

// call is one shared load of a key: the first caller starts it and every
// caller of the same key waits for it.
type call struct {
	done chan struct{}
	val  any
	err  error
	pan  *PanicError // a panic of the loader, re-raised in every waiter
	fill *fill

	// With a Leaser, a value reaches only the callers it is good for (see
	// runLeased): epoch counts the steps that vouch for a value (a lease
	// taken, the start of the load, a poll, a fenced write), and a caller
	// notes it, under Cache.mu, when it joins. ready closes once val or err
	// is known, for callers that joined below readyBelow; done closes at the
	// end, for those below validBelow; the rest load on their own. Without
	// a Leaser ready is done and both bounds are maxEpoch.
	ready      chan struct{}
	epoch      int
	readyBelow int
	validBelow int

	// Under Cache.mu: callers waiting for done, and whether the load failed
	// (done is about to be closed). A failed load with no caller left logs
	// its panic instead of dropping it.
	waiters int
	failed  bool
}

// maxRetries is how many times a caller for whom a shared load's value
// does not vouch starts another before it loads on its own.
const maxRetries = 2

// maxEpoch is above every call's epoch: every caller takes the value.
const maxEpoch = int(^uint(0) >> 1)

// retiredCap is how many retired shared loads the cache remembers for late
// readers (see retiredLoad).
const retiredCap = 256

// retiredLoad is the result of a shared load that stored its value and left
// the table of loads in flight. A reader whose lookup began before that (its
// sequence number is below seq) missed only because it looked too early; it
// takes this result instead of running the query a second time. An
// invalidation covering the key forgets it; so does the retirement of
// retiredCap later loads.
type retiredLoad struct {
	seq  uint64
	val  any
	deps []string // full dependency tags of the load
}

// fill is a load whose result may be stored. An invalidation that covers its
// key marks it dropped, so its result never lands after the invalidation;
// an invalidation that finds it storing waits until the write ends, so the
// invalidation removes what it wrote.
type fill struct {
	key     string
	deps    []string // full dependency tags (see Policy.Deps)
	dropped bool
	storing bool
	stored  chan struct{} // closed when a write in progress ends; made on demand
}

// New returns a Cache storing in d. It returns a [*ConfigError] for invalid
// options. The Cache owns d from then on: Close closes it.
func New(d Driver, opts *Options) (*Cache, error) {
	if d == nil {
		return nil, &ConfigError{Field: "driver", Reason: "must not be nil"}
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if strings.Contains(o.Version, ":") {
		return nil, &ConfigError{Field: "Options.Version", Reason: "must not contain ':'"}
	}
	if o.DefaultTTL == 0 {
		o.DefaultTTL = DefaultTTL
	}
	if err := checkTTL(o.DefaultTTL); err != nil {
		return nil, &ConfigError{Field: "Options.DefaultTTL", Reason: "invalid", Err: err}
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Timeout < 0 {
		return nil, &ConfigError{Field: "Options.Timeout", Reason: "must not be negative"}
	}
	if o.InvalidateTimeout == 0 {
		o.InvalidateTimeout = o.Timeout
	}
	if o.InvalidateTimeout < 0 {
		return nil, &ConfigError{Field: "Options.InvalidateTimeout", Reason: "must not be negative"}
	}
	if o.RefreshMarkerTTL == 0 {
		o.RefreshMarkerTTL = DefaultRefreshMarkerTTL
	}
	if err := checkTTL(o.RefreshMarkerTTL); err != nil {
		return nil, &ConfigError{Field: "Options.RefreshMarkerTTL", Reason: "invalid", Err: err}
	}
	if o.LeaseTTL == 0 {
		o.LeaseTTL = DefaultLeaseTTL
	}
	if err := checkTTL(o.LeaseTTL); err != nil {
		return nil, &ConfigError{Field: "Options.LeaseTTL", Reason: "invalid", Err: err}
	}
	if o.LeaseWait == 0 {
		o.LeaseWait = DefaultLeaseWait
	}
	if o.LeaseWait < 0 {
		o.LeaseWait = 0
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Codec == nil {
		o.Codec = JSON
	}
	c := &Cache{
		d:          d,
		name:       d.Name(),
		nonblock:   isNonblocking(d),
		honorsCtx:  honorsContext(d),
		version:    o.Version,
		prefix:     Prefix(o.Version),
		ttl:        o.DefaultTTL.Truncate(time.Millisecond),
		timeout:    o.Timeout,
		markerTTL:  o.RefreshMarkerTTL,
		log:        o.Logger,
		now:        o.Now,
		waitUntil:  o.WaitUntil,
		codec:      o.Codec,
		observer:   o.Observer,
		onStep:     o.OnStep,
		calls:      make(map[string]*call),
		fills:      make(map[*fill]struct{}),
		refreshing: make(map[string]bool),
		idle:       make(chan struct{}),
	}
	c.invTimeout = o.InvalidateTimeout
	c.onBreakerChange = o.OnBreakerChange
	c.retired = make(map[string]retiredLoad)
	br, err := newBreaker(o.Breaker, o.Now, c.breakerChanged)
	if err != nil {
		return nil, err
	}
	c.br = br
	c.adder, _ = d.(Adder)
	if di, ok := d.(DepIndexer); ok && offersDeps(d) {
		c.depIdx = di
	}
	if l, ok := d.(Leaser); ok && !o.DisableLeases && offersLeases(d) {
		c.leaser = l
	}
	c.leaseTTL, c.leaseWait = o.LeaseTTL.Truncate(time.Millisecond), o.LeaseWait
	c.local, _ = d.(LocalGetter)
	c.promoter, _ = d.(LocalPromoter)
	c.bgCtx, c.bgCancel = context.WithCancel(context.Background())
	return c, nil
}

// Driver returns the cache's driver.
func (c *Cache) Driver() Driver { return c.d }

// SharesChecked reports whether a value that the check of [LoadChecked]
// returns, for an entry the driver returned serialized, may be kept by the
// driver in memory and returned to later reads, as a loaded value is (the
// driver implements [LocalPromoter]). Then that value must not be one the
// caller will modify: treat it as read-only, or copy it first.
func (c *Cache) SharesChecked() bool { return c.promoter != nil }

// Version returns [Options.Version].
func (c *Cache) Version() string { return c.version }

// WaitUntil returns [Options.WaitUntil] (nil when unset), so that a client
// built on the cache schedules its own background work the same way.
func (c *Cache) WaitUntil() func(ctx context.Context, task func(context.Context)) {
	return c.waitUntil
}

// Prefix returns the prefix of every key: "viborm" or "viborm:v<Version>".
func (c *Cache) Prefix() string { return c.prefix }

// Key returns the full key "viborm[:v<version>]:<model>:<op>:<hash>" of a
// read of model by op with args, hashed as [Key] does by default.
func (c *Cache) Key(model, op string, args any) (string, error) {
	return buildKey(c.prefix, model, op, args, false)
}

// FullKey returns key with the cache's prefix: key itself when it already
// starts with "viborm:", and "<prefix>:<key>" otherwise.
func (c *Cache) FullKey(key string) string {
	if strings.HasPrefix(key, "viborm:") {
		return key
	}
	return c.prefix + ":" + key
}

func markerKey(full string) string { return full + ":reval" }

// ---- goroutine and task ownership ----

// acquire counts one goroutine or task in flight. Once the cache is closed
// it reports false when nothing is in flight any more; until then work in
// flight may still start the work it needs (a load's write, say), which
// Close waits for. Public entry points check closed themselves.
func (c *Cache) acquire() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed && c.running == 0 {
		return false
	}
	c.running++
	return true
}

func (c *Cache) release() {
	c.mu.Lock()
	c.running--
	if c.running == 0 && c.closed {
		close(c.idle)
	}
	c.mu.Unlock()
}

// background runs task through the read's or the cache's WaitUntil, or on a
// goroutine of the cache's own. Close waits for it either way.
func (c *Cache) background(ctx context.Context, hook func(context.Context, func(context.Context)), task func(context.Context)) bool {
	if !c.acquire() {
		return false
	}
	run := func(ctx context.Context) {
		defer c.release()
		task(ctx)
	}
	if hook == nil {
		hook = c.waitUntil
	}
	if hook != nil {
		hook(ctx, run)
	} else {
		go run(ctx)
	}
	return true
}

// spawn runs task in the background with a context detached from ctx (see
// detached), and then done; when the cache is closed and nothing may start,
// it only runs done.
func (c *Cache) spawn(ctx context.Context, hook func(context.Context, func(context.Context)), task func(context.Context), done func()) {
	dctx, cancel := c.detached(ctx)
	if !c.background(dctx, hook, func(ctx context.Context) {
		defer cancel()
		defer done()
		task(ctx)
	}) {
		cancel()
		done()
	}
}

// detached returns a context that keeps ctx's values but not its
// cancellation, and that Close cancels.
func (c *Cache) detached(ctx context.Context) (context.Context, context.CancelFunc) {
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(c.bgCtx, cancel)
	return dctx, func() { stop(); cancel() }
}

// callDriver runs one driver operation through the circuit breaker. A
// driver that answers from memory is called directly; so is one that honors
// its context, with the timeout in the context. Any other is called on a
// goroutine of the cache's, so a driver that ignores its context still cannot
// hold the caller past ctx's deadline or timeout (when timeout > 0). A call
// the breaker refuses returns at once; the half-open probe is bounded by
// [Options.Timeout] even when timeout is zero.
func callDriver[R any](c *Cache, ctx context.Context, op string, timeout time.Duration, fn func(context.Context) (R, error)) (R, error) {
	g := c.br.allow()
	if g == refuse {
		var zero R
		return zero, c.breakerOpenError(op)
	}
	if g == probe && (timeout <= 0 || timeout > c.timeout) {
		timeout = c.timeout
	}
	r, err := callDriverNow(c, ctx, op, timeout, fn)
	if err == nil && g == pass {
		c.br.ok()
	} else {
		c.br.done(g, classify(ctx, err), err)
	}
	return r, err
}

func callDriverNow[R any](c *Cache, ctx context.Context, op string, timeout time.Duration, fn func(context.Context) (R, error)) (R, error) {
	if c.nonblock {
		r, err := fn(ctx)
		if err != nil {
			return r, &DriverError{Driver: c.name, Op: op, Err: err}
		}
		return r, nil
	}
	var zero R
	if err := ctx.Err(); err != nil {
		return zero, &DriverError{Driver: c.name, Op: op, Err: err}
	}
	cctx, cancel := ctx, context.CancelFunc(func() {})
	if timeout > 0 {
		cctx, cancel = context.WithTimeout(ctx, timeout)
	}
	defer cancel()
	if c.honorsCtx {
		r, err := fn(cctx)
		if err != nil {
			if cerr := cctx.Err(); cerr != nil && ctx.Err() == nil {
				err = fmt.Errorf("%w: %w", cerr, err) // the timeout, whatever the driver made of it
			}
			return r, &DriverError{Driver: c.name, Op: op, Err: err}
		}
		return r, nil
	}
	if !c.acquire() {
		return zero, ErrClosed
	}
	type result struct {
		r   R
		err error
	}
	ch := make(chan result, 1)
	go func() {
		defer c.release()
		r, err := fn(cctx)
		ch <- result{r, err}
	}()
	select {
	case res := <-ch:
		if res.err != nil {
			return res.r, &DriverError{Driver: c.name, Op: op, Err: res.err}
		}
		return res.r, nil
	case <-cctx.Done():
		return zero, &DriverError{Driver: c.name, Op: op, Err: cctx.Err()}
	}
}

type none struct{}

// ---- plain operations ----

func (c *Cache) isClosed() bool { return c.closedFlag.Load() }

// Get returns the raw entry stored under key (prefixed as by
// [Cache.FullKey]); ok is false on a miss. Driver failures are returned as a
// [*DriverError].
func (c *Cache) Get(ctx context.Context, key string) (e Entry, ok bool, err error) {
	if c.isClosed() {
		return Entry{}, false, ErrClosed
	}
	type got struct {
		e  Entry
		ok bool
	}
	g, err := callDriver(c, ctx, "get", 0, func(ctx context.Context) (got, error) {
		e, ok, err := c.d.Get(ctx, c.FullKey(key))
		return got{e, ok}, err
	})
	return g.e, g.ok, err
}

// Set stores value under key (prefixed as by [Cache.FullKey]), created now,
// fresh for the policy's TTL and stored for the TTL plus its stale window.
// With [Policy.Deps] it first indexes the key under them ([DepIndexer]); a
// driver without that capability makes it fail with a [*DriverError]
// matching [errors.ErrUnsupported].
func (c *Cache) Set(ctx context.Context, key string, value any, p Policy) error {
	if c.isClosed() {
		return ErrClosed
	}
	rp, err := c.resolve(p)
	if err != nil {
		return err
	}
	if len(rp.deps) > 0 && c.depIdx == nil {
		return &DriverError{Driver: c.name, Op: "indexdeps", Err: errors.ErrUnsupported}
	}
	e := NewEntry(value, c.now(), rp.ttl)
	_, err = callDriver(c, ctx, "set", 0, func(ctx context.Context) (none, error) {
		if len(rp.deps) > 0 {
			if err := c.depIdx.IndexDeps(ctx, c.FullKey(key), rp.deps, rp.storage()+c.timeout); err != nil {
				return none{}, err
			}
		}
		return none{}, c.d.Set(ctx, c.FullKey(key), rp.storage(), e)
	})
	return err
}

// Delete removes keys (prefixed as by [Cache.FullKey]) and their refresh
// markers. A load of one of the keys that started before Delete will not
// store its result, even when Delete fails. Delete waits at most
// [Options.InvalidateTimeout]; see there for what a failure means.
func (c *Cache) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	for _, k := range keys {
		if k == "" {
			return &KeyError{Reason: "empty key"}
		}
	}
	return c.invalidate(ctx, keys, nil)
}

// Clear removes every key that starts with prefix, prefixed as by
// [Cache.FullKey]; an empty prefix clears every key of this cache's version.
// A load of a covered key that started before Clear will not store its
// result, even when Clear fails. Clear waits at most
// [Options.InvalidateTimeout]; see there for what a failure means.
func (c *Cache) Clear(ctx context.Context, prefix string) error {
	return c.invalidate(ctx, nil, []string{c.fullPrefix(prefix)})
}

func (c *Cache) fullPrefix(prefix string) string {
	if prefix == "" {
		return c.prefix + ":"
	}
	return c.FullKey(prefix)
}

// Invalidate removes cached entries by pattern: an exact key
// ("user:findMany:abc", or a full "viborm:…" key) or a prefix ending in "*"
// ("user:*", "user:findMany:*"; "*" alone clears every key of this cache's
// version). Patterns are prefixed as by [Cache.FullKey]; '*' is special only
// at the end. Errors of several patterns are joined. The whole invalidation
// waits at most [Options.InvalidateTimeout]; see there for what a failure
// means.
func (c *Cache) Invalidate(ctx context.Context, patterns ...string) error {
	var exact, prefixes []string
	var errs []error
	for _, p := range patterns {
		switch {
		case p == "":
			errs = append(errs, &KeyError{Reason: "empty invalidation pattern"})
		case strings.HasSuffix(p, "*"):
			prefixes = append(prefixes, c.fullPrefix(strings.TrimSuffix(p, "*")))
		default:
			exact = append(exact, p)
		}
	}
	if len(exact) > 0 || len(prefixes) > 0 {
		errs = append(errs, c.invalidate(ctx, exact, prefixes))
	}
	return errors.Join(errs...)
}

// InvalidateModel removes every cached entry of each model: the keys under
// "viborm[:v<version>]:<model>:". The prefix ends at the separator, so
// invalidating "user" never touches "userProfile". It also removes every
// entry that depends on the model ([Policy.Deps]), through the driver's
// [DepIndexer], and keeps every load in flight that depends on it from
// storing its result. So does an [Cache.Invalidate] of "<model>:*" or a
// [Cache.Clear] of "<model>:". It waits at most [Options.InvalidateTimeout];
// see there for what a failure means.
func (c *Cache) InvalidateModel(ctx context.Context, models ...string) error {
	var prefixes []string
	var errs []error
	for _, m := range models {
		if m == "" {
			errs = append(errs, &KeyError{Reason: "empty model name"})
			continue
		}
		prefixes = append(prefixes, c.prefix+":"+m+":")
	}
	if len(prefixes) > 0 {
		errs = append(errs, c.invalidate(ctx, nil, prefixes))
	}
	return errors.Join(errs...)
}

// invalidate removes keys (not yet prefixed) with their refresh markers, and
// every key under each of prefixes (full). First it fences: every load in
// flight of a covered key is marked so that it never stores its result, and
// the shared loads and retired results of covered keys are forgotten. That
// holds whatever happens next. Then, unless the circuit breaker refuses the
// driver (an error at once), it waits for writes in progress of covered keys
// and calls the driver, all within [Options.InvalidateTimeout].
func (c *Cache) invalidate(ctx context.Context, keys, prefixes []string) (err error) {
	if c.isClosed() {
		return ErrClosed
	}
	if c.onStep != nil {
		defer c.stepInvalidate(ctx, time.Now(), &err)
	}
	full := make([]string, 0, 2*len(keys))
	exact := make(map[string]bool, len(keys))
	for _, k := range keys {
		fk := c.FullKey(k)
		exact[fk] = true
		full = append(full, fk, markerKey(fk))
	}
	op := "delete"
	if len(prefixes) > 0 {
		op = "clear"
	}
	tags := c.modelTags(prefixes)
	waits := c.dropFills(func(k string, deps []string) bool {
		if exact[k] {
			return true
		}
		for _, p := range prefixes {
			if strings.HasPrefix(k, p) {
				return true
			}
		}
		for _, d := range deps {
			if slices.Contains(tags, d) {
				return true
			}
		}
		return false
	})
	if c.br.blocked() {
		return c.breakerOpenError(op)
	}
	deadline := time.Now().Add(c.invTimeout)
	if len(waits) > 0 {
		wctx, cancel := context.WithDeadline(ctx, deadline)
		defer cancel()
		for _, w := range waits {
			select {
			case <-w:
			case <-wctx.Done():
				if err := ctx.Err(); err != nil {
					return err
				}
				return &DriverError{Driver: c.name, Op: op, Err: fmt.Errorf("waiting for a write in progress: %w", wctx.Err())}
			}
		}
	}
	// call runs one driver call within what is left of the deadline.
	call := func(op string, fn func(context.Context) (none, error)) error {
		left := time.Until(deadline)
		if left <= 0 {
			return &DriverError{Driver: c.name, Op: op, Err: context.DeadlineExceeded}
		}
		_, err := callDriver(c, ctx, op, left, fn)
		return err
	}
	var errs []error
	if len(full) > 0 {
		if err := call("delete", func(ctx context.Context) (none, error) {
			return none{}, c.d.Delete(ctx, full)
		}); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range prefixes {
		if err := call("clear", func(ctx context.Context) (none, error) {
			return none{}, c.d.Clear(ctx, p)
		}); err != nil {
			errs = append(errs, err)
		}
	}
	if len(tags) > 0 && c.depIdx != nil {
		if err := call("cleardeps", func(ctx context.Context) (none, error) {
			return none{}, c.depIdx.ClearDeps(ctx, tags)
		}); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// modelTags returns the dependency tags (see [Policy.Deps]) that an
// invalidation of prefixes clears: "<prefix>:<model>" for each prefix that
// is a whole model's, "<prefix>:<model>:".
func (c *Cache) modelTags(prefixes []string) []string {
	var tags []string
	for _, p := range prefixes {
		rest, ok := strings.CutPrefix(p, c.prefix+":")
		if !ok || len(rest) < 2 || strings.IndexByte(rest, ':') != len(rest)-1 {
			continue
		}
		if t := strings.TrimSuffix(p, ":"); !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	return tags
}

// depTags returns the full dependency tags of a policy's Deps, without
// duplicates.
func (c *Cache) depTags(deps []string) ([]string, error) {
	if len(deps) == 0 {
		return nil, nil
	}
	tags := make([]string, 0, len(deps))
	for _, d := range deps {
		if d == "" {
			return nil, &ConfigError{Field: "Policy.Deps", Reason: "must not hold an empty name"}
		}
		if t := c.prefix + ":" + d; !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	return tags, nil
}

// dropFills marks every in-flight load whose key or dependency tags match as
// dropped, detaches matching shared loads so later callers start afresh,
// forgets matching retired loads, and returns the channels that close when
// the writes already in progress of matching loads end.
func (c *Cache) dropFills(match func(key string, deps []string) bool) []chan struct{} {
	var waits []chan struct{}
	c.mu.Lock()
	defer c.mu.Unlock()
	for f := range c.fills {
		if match(f.key, f.deps) {
			f.dropped = true
			if f.storing {
				if f.stored == nil {
					f.stored = make(chan struct{})
				}
				waits = append(waits, f.stored)
			}
		}
	}
	for k, cl := range c.calls {
		if cl.fill.dropped && match(k, cl.fill.deps) {
			delete(c.calls, k)
		}
	}
	for k, r := range c.retired {
		if match(k, r.deps) {
			delete(c.retired, k)
		}
	}
	return waits
}

func (c *Cache) addFill(key string, deps []string) *fill {
	f := &fill{key: key, deps: deps}
	c.fills[f] = struct{}{}
	return f
}

// store writes a loaded value unless an invalidation dropped its fill, and
// reports whether it did. With a lease token it writes through
// [Leaser.SetLeased], which refuses the value when any process invalidated
// the key since the lease was taken.
func (c *Cache) store(ctx context.Context, f *fill, rp resolved, e Entry, tok string) bool {
	c.mu.Lock()
	if f.dropped {
		c.mu.Unlock()
		if tok != "" {
			c.releaseLease(ctx, f.key, tok)
		}
		return false
	}
	f.storing = true
	c.mu.Unlock()
	var t0 time.Time
	if c.onStep != nil {
		t0 = time.Now()
	}
	stored, err := callDriver(c, ctx, "set", c.timeout, func(ctx context.Context) (bool, error) {
		if len(f.deps) > 0 && tok == "" { // under a lease, indexLeased did it
			if c.depIdx == nil {
				return false, errors.ErrUnsupported
			}
			// The index records go first: a record without its entry is
			// harmless, an entry without its record is not. They outlive
			// the entry: the Set below starts within c.timeout.
			if err := c.depIdx.IndexDeps(ctx, f.key, f.deps, rp.storage()+c.timeout); err != nil {
				if tok != "" {
					_ = c.leaser.Release(ctx, f.key, tok)
				}
				return false, err
			}
		}
		if tok != "" {
			return c.leaser.SetLeased(ctx, f.key, tok, rp.storage(), e)
		}
		return true, c.d.Set(ctx, f.key, rp.storage(), e)
	})
	if c.onStep != nil {
		c.stepSince(ctx, f.key, t0, Step{Kind: StepFill, Err: err})
	}
	c.mu.Lock()
	f.storing = false
	if f.stored != nil {
		close(f.stored)
		f.stored = nil
	}
	c.mu.Unlock()
	if err != nil && !errors.Is(err, ErrBreakerOpen) {
		c.log.LogAttrs(ctx, slog.LevelWarn, "viborm cache: storing a result failed", slog.String("driver", c.name), slog.Any("err", err))
	}
	return err == nil && stored
}

// ---- policy ----

type resolved struct {
	start       time.Time // of the read, when an OnStep hook is set
	ttl, window time.Duration
	bypass      bool
	waitUntil   func(context.Context, func(context.Context))
	deps        []string // full dependency tags
}

func (r resolved) storage() time.Duration { return r.ttl + r.window }

func (c *Cache) resolve(p Policy) (resolved, error) {
	r := resolved{ttl: p.TTL, bypass: p.Bypass, waitUntil: p.WaitUntil}
	deps, err := c.depTags(p.Deps)
	if err != nil {
		return r, err
	}
	r.deps = deps
	if r.ttl == 0 {
		r.ttl = c.ttl
	} else if err := checkTTL(r.ttl); err != nil {
		return r, &ConfigError{Field: "Policy.TTL", Reason: "invalid", Err: err}
	}
	r.ttl = r.ttl.Truncate(time.Millisecond)
	if p.StaleWindow < 0 {
		return r, &ConfigError{Field: "Policy.StaleWindow", Reason: "must not be negative"}
	}
	if p.SWR || p.StaleWindow > 0 {
		r.window = p.StaleWindow.Truncate(time.Millisecond)
		if r.window == 0 {
			r.window = r.ttl
		}
	}
	return r, nil
}

// ---- the cached read ----

// Load is the cached read: it returns the value stored under key, or runs
// load and stores its result. key is prefixed as by [Cache.FullKey], and
// [Policy.Key], when set, replaces it.
//
//   - A fresh entry (no older than its TTL) is returned at once.
//   - A stale entry within the policy's stale window is returned at once and
//     refreshed in the background by one refresher per key: the election is
//     atomic across processes when the driver implements [Adder].
//   - Otherwise, and with [Policy.Bypass], load runs and its result is
//     stored in the background. Concurrent misses of one key share one run
//     of load; a caller whose ctx ends stops waiting with ctx's error, while
//     the shared load goes on for the others with a context that keeps ctx's
//     values but not its cancellation (Close cancels it).
//   - A load that started before an invalidation covering its key never
//     stores its result after that invalidation.
//   - A driver that fails, times out ([Options.Timeout]) or returns a value
//     that cannot be decoded into T never fails the read: load answers and
//     the failure is logged.
//
// A read whose lookup missed while a shared load of its key was in flight
// takes that load's result even when it reaches the table of loads in flight
// after the load has stored and left it: exactly one query for every reader
// whose lookup overlapped the load (up to 256 other loads retiring in
// between; past that it may load again).
//
// When load panics, every caller waiting for it (load runs on a goroutine of
// the cache's) panics with a [*PanicError] holding the original value and
// load's stack, as golang.org/x/sync/singleflight does. When no caller is
// left to receive it (all their contexts ended), or when load panics in a
// background refresh, the panic is logged at error level with its stack,
// without the key, and the process goes on: the refresh is a detail of a
// read that was already answered, and the stale value stays. A load that
// calls runtime.Goexit fails its waiting callers with an error. A panic
// with [Policy.Bypass] propagates from load on the caller's own goroutine.
//
// Errors of load are returned as they are and are not cached. With a driver
// that keeps values in memory the returned value is the stored one itself:
// treat it as read-only. One key must always be loaded with the same T.
func Load[T any](ctx context.Context, c *Cache, key string, p Policy, load func(context.Context) (T, error)) (T, error) {
	return LoadChecked(ctx, c, key, p, load, nil)
}

// LoadChecked is [Load] with check, which every value found in the cache
// (fresh or stale) passes before it answers: check returns the value to
// answer with (it may decode or convert it) or an error. A value that check
// rejects is handled like one that cannot be decoded into T: a miss that
// load answers and whose result replaces the entry; the failure is logged
// without the key. A nil check makes LoadChecked Load.
//
// When the driver implements [LocalPromoter] ([Cache.SharesChecked]), the
// value that check returns for a fresh entry the driver returned serialized
// is handed back to the driver's in-process tier and answers later reads
// from there, without decoding: like a loaded value, it is then shared by
// every reader and must be treated as read-only.
func LoadChecked[T any](ctx context.Context, c *Cache, key string, p Policy, load func(context.Context) (T, error), check func(T) (T, error)) (T, error) {
	return LoadFrom(ctx, c, key, p, funcSource[T]{load, check})
}

// Source is what [LoadFrom] reads through: Load answers a miss, as the load
// of [Load], and Check vets every value found in the cache, as the check of
// [LoadChecked].
type Source[T any] interface {
	Load(ctx context.Context) (T, error)
	Check(v T) (T, error)
}

// funcSource is the Source of Load and LoadChecked.
type funcSource[T any] struct {
	load  func(context.Context) (T, error)
	check func(T) (T, error)
}

func (s funcSource[T]) Load(ctx context.Context) (T, error) { return s.load(ctx) }

func (s funcSource[T]) Check(v T) (T, error) {
	if s.check == nil {
		return v, nil
	}
	return s.check(v)
}

// LoadFrom is [LoadChecked] with the load and the check of src. Where
// LoadChecked's funcs are closures that a miss hands to another goroutine,
// and so are allocated on every read, a Source that is a small struct value
// (not a pointer) is copied only when the read must load or refresh: a
// fresh hit allocates nothing for it.
func LoadFrom[T any, S Source[T]](ctx context.Context, c *Cache, key string, p Policy, src S) (T, error) {
	var zero T
	rp, err := c.resolve(p)
	if err != nil {
		return zero, err
	}
	if p.Key != "" {
		key = p.Key
	}
	if key == "" {
		return zero, &KeyError{Reason: "empty key"}
	}
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	if c.isClosed() {
		return zero, ErrClosed
	}
	full := c.FullKey(key)
	if c.onStep != nil {
		rp.start = time.Now()
	}
	if len(rp.deps) > 0 && c.depIdx == nil {
		return loadUnstored(ctx, c, full, rp, loadOf[T](src))
	}
	var driverErr error
	var seq uint64 // shared loads retired before this read looked
	if !rp.bypass {
		seq = c.retireSeq.Load()
		e, ok, err := c.lookup(ctx, full)
		if c.onStep != nil && (err != nil || !ok) {
			c.stepLookup(ctx, full, rp, e, ok, err)
		}
		if err != nil {
			driverErr = err
			c.logFailure(ctx, "get", err)
		} else if ok {
			v, derr := decodeValue[T](c.codec, e.Value)
			if derr == nil {
				if v, derr = src.Check(v); derr != nil {
					derr = &EntryError{Reason: "value rejected by the reader", Err: derr}
				}
			}
			if c.onStep != nil {
				c.stepLookup(ctx, full, rp, e, true, derr)
			}
			if derr != nil {
				driverErr = derr
				c.logFailure(ctx, "decode", derr)
			} else {
				now := c.now()
				age := now.Sub(e.CreatedAt)
				if age <= e.TTL {
					if c.promoter != nil {
						if _, raw := e.Value.(json.RawMessage); raw {
							c.promoter.PromoteLocal(full, e, v)
						}
					}
					c.observeRead(ctx, full, OutcomeHit, false, nil, rp, nil)
					return v, nil
				}
				if rp.window > 0 && age <= e.TTL+rp.window {
					load := loadOf[T](src)
					c.refresh(ctx, full, rp, func(ctx context.Context) (any, error) { return load(ctx) })
					c.observeRead(ctx, full, OutcomeStale, false, nil, rp, nil)
					return v, nil
				}
			}
		}
	}
	if rp.bypass {
		return loadBypass(ctx, c, full, rp, loadOf[T](src))
	}
	if c.hookBeforeJoin != nil {
		c.hookBeforeJoin()
	}
	return loadShared(ctx, c, full, rp, loadOf[T](src), checkOf[T](src), driverErr, seq, 0)
}

// loadOf returns the load of a copy of src, for the paths that hand it to
// another goroutine; the copy is what they allocate.
func loadOf[T any, S Source[T]](src S) func(context.Context) (T, error) {
	return func(ctx context.Context) (T, error) { return src.Load(ctx) }
}

// checkOf returns the check of a copy of src (see loadOf).
func checkOf[T any, S Source[T]](src S) func(T) (T, error) {
	return func(v T) (T, error) { return src.Check(v) }
}

func (c *Cache) lookup(ctx context.Context, full string) (Entry, bool, error) {
	if c.local != nil && c.br.State() == BreakerClosed {
		if e, ok := c.local.GetLocal(full); ok {
			return e, true, nil
		}
	}
	if c.nonblock {
		// callDriver would do the same, but its closure escapes (it may run
		// on a goroutine) and costs the in-memory hit path an allocation.
		g := c.br.allow()
		if g == refuse {
			return Entry{}, false, c.breakerOpenError("get")
		}
		e, ok, err := c.d.Get(ctx, full)
		if err == nil && g == pass {
			c.br.ok()
		} else {
			c.br.done(g, classify(ctx, err), err)
		}
		if err != nil {
			return e, ok, &DriverError{Driver: c.name, Op: "get", Err: err}
		}
		return e, ok, nil
	}
	type got struct {
		e  Entry
		ok bool
	}
	g, err := callDriver(c, ctx, "get", c.timeout, func(ctx context.Context) (got, error) {
		e, ok, err := c.d.Get(ctx, full)
		return got{e, ok}, err
	})
	return g.e, g.ok, err
}

func (c *Cache) logFailure(ctx context.Context, op string, err error) {
	if errors.Is(err, ErrClosed) || errors.Is(err, ErrBreakerOpen) {
		return // the breaker logged its opening once
	}
	c.log.LogAttrs(ctx, slog.LevelWarn, "viborm cache: "+op+" failed; answering from the loader",
		slog.String("driver", c.name), slog.Any("err", err))
}

func (c *Cache) observe(key string, o Outcome, shared bool, derr error, ttl time.Duration) {
	if c.observer != nil {
		c.observer(Event{Key: key, Outcome: o, Shared: shared, DriverErr: derr, TTL: ttl})
	}
}

// observeRead is observe with the read's context, for the OnStep hook too.
func (c *Cache) observeRead(ctx context.Context, key string, o Outcome, shared bool, derr error, rp resolved, err error) {
	c.observe(key, o, shared, derr, rp.ttl)
	if c.onStep != nil {
		c.stepSince(ctx, key, rp.start, Step{Kind: StepRead, Outcome: o, Shared: shared, Err: err})
	}
}

// decodeValue returns a stored value as a T: the value itself when the
// driver kept it in memory, or decoded from JSON when the driver serialized
// it: by *T's own UnmarshalJSON when it has one, by the codec otherwise.
func decodeValue[T any](codec Codec, v any) (T, error) {
	if x, ok := v.(T); ok {
		return x, nil
	}
	var out T
	switch raw := v.(type) {
	case json.RawMessage:
		if u, ok := any(&out).(json.Unmarshaler); ok {
			// A type that decodes itself gets the bytes directly, without
			// the codec's validating pass over them.
			if err := u.UnmarshalJSON(raw); err != nil {
				return out, &EntryError{Reason: fmt.Sprintf("value cannot be decoded into %s", reflect.TypeFor[T]()), Err: err}
			}
			return out, nil
		}
		if err := codec.Unmarshal(raw, &out); err != nil {
			return out, &EntryError{Reason: fmt.Sprintf("value cannot be decoded into %s", reflect.TypeFor[T]()), Err: err}
		}
		return out, nil
	case nil:
		switch reflect.TypeFor[T]().Kind() {
		case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
			return out, nil
		}
	}
	return out, &EntryError{Reason: fmt.Sprintf("cached value is a %T, not a %s", v, reflect.TypeFor[T]())}
}

// errLoaderGoexit is the error of a shared load whose loader called
// runtime.Goexit.
var errLoaderGoexit = errors.New("cache: the loader called runtime.Goexit")

func newPanicError(v any) *PanicError {
	stack := debug.Stack()
	// The first line reads "goroutine N [running]:", but by the time a
	// waiter re-panics that goroutine may be gone: trim it, as singleflight
	// does.
	if i := strings.IndexByte(string(stack), '\n'); i >= 0 {
		stack = stack[i+1:]
	}
	return &PanicError{Value: v, Stack: stack}
}

// protect runs load, turning a panic into a *PanicError.
func protect[T any](ctx context.Context, load func(context.Context) (T, error)) (v T, pe *PanicError, err error) {
	defer func() {
		if r := recover(); r != nil {
			pe = newPanicError(r)
		}
	}()
	v, err = load(ctx)
	return v, nil, err
}

func (c *Cache) logPanic(ctx context.Context, msg string, pe *PanicError) {
	c.log.LogAttrs(ctx, slog.LevelError, msg, slog.String("driver", c.name),
		slog.String("panic", fmt.Sprint(pe.Value)), slog.String("stack", string(pe.Stack)))
}

func loadShared[T any](ctx context.Context, c *Cache, full string, rp resolved, load func(context.Context) (T, error), check func(T) (T, error), driverErr error, seq uint64, retried int) (T, error) {
	var zero T
	joined := 0 // the call's epoch when this caller joined it
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return zero, ErrClosed
	}
	cl, shared := c.calls[full]
	if !shared {
		if r, ok := c.retired[full]; ok && r.seq > seq {
			// A load of the key stored and retired after this read looked
			// up the key: its result answers this read too.
			if v, ok := r.val.(T); ok {
				c.mu.Unlock()
				c.observeRead(ctx, full, OutcomeMiss, true, driverErr, rp, nil)
				return v, nil
			}
		}
		cl = &call{done: make(chan struct{}), fill: c.addFill(full, rp.deps), readyBelow: maxEpoch, validBelow: maxEpoch}
		cl.ready = cl.done
		if c.leaser != nil {
			cl.ready = make(chan struct{})
		}
		c.calls[full] = cl
		cl.waiters++
		c.running++
		c.mu.Unlock()
		lctx, cancel := c.detached(ctx)
		go func() {
			defer c.release()
			defer cancel()
			if c.leaser != nil {
				runLeased(lctx, c, cl, rp, load, check, driverErr)
			} else {
				runShared(lctx, c, cl, rp, load)
			}
		}()
	} else {
		joined = cl.epoch
		cl.waiters++
		c.mu.Unlock()
		if c.hookJoined != nil {
			c.hookJoined()
		}
	}
	select {
	case <-cl.ready:
	case <-ctx.Done():
		c.mu.Lock()
		if !cl.failed {
			cl.waiters--
			c.mu.Unlock()
			return zero, ctx.Err()
		}
		// The load failed as this caller gave up, and counted on it to
		// carry its panic or error: take it.
		c.mu.Unlock()
		<-cl.ready
	}
	if cl.pan != nil {
		panic(cl.pan)
	}
	if cl.err != nil {
		c.observeRead(ctx, full, OutcomeError, shared, driverErr, rp, cl.err)
		return zero, cl.err
	}
	if joined >= cl.readyBelow {
		// The value may predate an invalidation that ended before this
		// caller started (see runLeased): wait for its fenced write.
		select {
		case <-cl.done:
		case <-ctx.Done():
			return zero, ctx.Err()
		}
		if joined >= cl.validBelow {
			if retried < maxRetries {
				// A new shared load, which finds the value if it was
				// stored meanwhile.
				return loadShared(ctx, c, full, rp, load, check, driverErr, seq, retried+1)
			}
			v, err := load(ctx)
			if err != nil {
				c.observeRead(ctx, full, OutcomeError, false, driverErr, rp, err)
				return v, err
			}
			c.observeRead(ctx, full, OutcomeMiss, false, driverErr, rp, nil)
			return v, nil
		}
	}
	v, ok := cl.val.(T)
	if !ok {
		// Another caller loaded this key as another type: load our own.
		return load(ctx)
	}
	c.observeRead(ctx, full, OutcomeMiss, shared, driverErr, rp, nil)
	return v, nil
}

// failCall ends a load of cl that did not produce a value: its waiters
// take the error or panic in cl, and a panic that no one waits for is
// logged. A leased call (ready set) also closes cl.ready.
func (c *Cache) failCall(ctx context.Context, cl *call, ready bool) {
	f := cl.fill
	c.mu.Lock()
	if c.calls[f.key] == cl {
		delete(c.calls, f.key)
	}
	delete(c.fills, f)
	cl.failed = true
	orphan := cl.waiters == 0
	c.mu.Unlock()
	if ready {
		close(cl.ready)
	}
	close(cl.done)
	if orphan && cl.pan != nil {
		c.logPanic(ctx, "viborm cache: a loader panicked and no caller was left waiting for it", cl.pan)
	}
}

func runShared[T any](ctx context.Context, c *Cache, cl *call, rp resolved, load func(context.Context) (T, error)) {
	f := cl.fill
	// retire takes the call out of the table once its write has ended, and
	// remembers its result for readers whose lookup was under way, unless an
	// invalidation dropped it.
	retire := func() {
		c.mu.Lock()
		if c.calls[f.key] == cl {
			delete(c.calls, f.key)
		}
		delete(c.fills, f)
		if !f.dropped {
			c.retire(f.key, f.deps, cl.val)
		}
		c.mu.Unlock()
	}
	fail := func() { c.failCall(ctx, cl, false) }
	returned := false
	defer func() {
		if !returned { // load called runtime.Goexit
			cl.err = errLoaderGoexit
			fail()
		}
	}()
	started := c.now()
	v, pe, err := protect(ctx, load)
	returned = true
	if pe != nil || err != nil {
		cl.pan, cl.err = pe, err
		fail()
		return
	}
	cl.val = v
	e := NewEntry(v, started, rp.ttl)
	// Hand the write to the background before answering, so that a
	// WaitUntil hook learns of it before the caller returns. Until the write
	// ends, new callers of the key share this result.
	if c.onStep != nil {
		c.step(ctx, f.key, Step{Kind: StepFill, Queued: true, Start: time.Now()})
	}
	c.spawn(ctx, rp.waitUntil, func(ctx context.Context) { c.store(ctx, f, rp, e, "") }, retire)
	close(cl.done)
}

// runLeased is runShared with a [Leaser]: one load of a key across
// processes. It takes the key's lease before the loader reads anything, so
// that the write of the result is refused if any process invalidates the
// key in between; when another process holds the lease it waits up to
// LeaseWait for that process's fill instead of loading, and loads on its own
// (storing nothing) when the fill does not come.
//
// A result must also not reach a caller of this process that started after
// an invalidation, in another process, of which this process knows nothing.
// So a value goes only to the callers it vouches for: a value read from the
// database, or polled from the driver, after a caller joined the call, is at
// least as new as every invalidation that ended before that caller started;
// so is a value whose fenced write succeeded, for every caller that joined
// before the write was sent. cl.epoch numbers those steps; a caller that
// joined after the step that vouches for the value loads on its own.
//
// When the lookup that missed had failed in the driver (lookupErr), the
// load runs at once and stores nothing: asking a failing or slow driver for
// a lease would hold the read a second time.
func runLeased[T any](ctx context.Context, c *Cache, cl *call, rp resolved, load func(context.Context) (T, error), check func(T) (T, error), lookupErr error) {
	f := cl.fill
	step := func() int {
		c.mu.Lock()
		defer c.mu.Unlock()
		cl.epoch++
		return cl.epoch
	}
	// leave takes the call out of the table of loads in flight, so that
	// later callers of the key start a load of their own; with end, the
	// load is over too.
	leave := func(end bool) {
		c.mu.Lock()
		if c.calls[f.key] == cl {
			delete(c.calls, f.key)
		}
		if end {
			delete(c.fills, f)
		}
		c.mu.Unlock()
	}
	// answer hands v to the callers that joined below below, and ends the
	// call without a write.
	answer := func(v T, below int) {
		cl.val, cl.readyBelow, cl.validBelow = v, below, below
		leave(true)
		close(cl.ready)
		close(cl.done)
	}
	fail := func() { c.failCall(ctx, cl, true) }
	returned := false
	defer func() {
		if !returned { // load called runtime.Goexit
			cl.err = errLoaderGoexit
			fail()
		}
	}()
	s := step()
	tok := ""
	if l, ok := leaseUnlessFailed(ctx, c, f.key, lookupErr); ok {
		if l.ok {
			if v, ok := usable(c, l.e, check); ok {
				// Filled since this process looked: take it.
				if l.tok != "" {
					c.releaseLater(ctx, rp.waitUntil, f.key, l.tok)
				}
				returned = true
				answer(v, s)
				return
			}
		}
		tok = l.tok
		if tok == "" {
			// abandoned: every caller has left; no one will join either.
			abandoned := func() bool {
				c.mu.Lock()
				defer c.mu.Unlock()
				if cl.waiters > 0 {
					return false
				}
				if c.calls[f.key] == cl {
					delete(c.calls, f.key)
				}
				return true
			}
			var v T
			var got bool
			if v, got, tok, s = pollLease(ctx, c, f.key, step, abandoned, check, rp); got {
				returned = true
				answer(v, s)
				return
			}
			if tok == "" && abandoned() {
				returned = true
				cl.err = context.Canceled
				fail()
				return
			}
		}
	}
	tok = c.indexLeased(ctx, f, rp, tok)
	s = step()
	started := c.now()
	v, pe, err := protect(ctx, load)
	returned = true
	if pe != nil || err != nil {
		if tok != "" {
			c.releaseLater(ctx, rp.waitUntil, f.key, tok)
		}
		cl.pan, cl.err = pe, err
		fail()
		return
	}
	if tok == "" {
		answer(v, s) // no lease, no write
		return
	}
	cl.val, cl.readyBelow, cl.validBelow = v, s, s
	// Callers that come from now on start a load of their own: the write
	// below vouches only for those that joined before it was sent.
	leave(false)
	e := NewEntry(v, started, rp.ttl)
	if c.onStep != nil {
		c.step(ctx, f.key, Step{Kind: StepFill, Queued: true, Start: time.Now()})
	}
	c.spawn(ctx, rp.waitUntil, func(ctx context.Context) {
		if c.store(ctx, f, rp, e, tok) {
			cl.validBelow = maxEpoch
		}
	}, func() {
		leave(true)
		close(cl.done)
	})
	close(cl.ready)
}

// indexLeased indexes a fill's key under its dependency tags once its lease
// tok is taken and before its loader runs, so that from then on a
// [DepIndexer.ClearDeps] of any of them, in any process, voids the lease and
// the fill never lands. The records outlive the lease by the storage TTL.
// When that fails it releases the lease, logs, and returns "": the load then
// stores nothing. Without dependencies it returns tok.
func (c *Cache) indexLeased(ctx context.Context, f *fill, rp resolved, tok string) string {
	if tok == "" || len(f.deps) == 0 {
		return tok
	}
	_, err := callDriver(c, ctx, "indexdeps", c.timeout, func(ctx context.Context) (none, error) {
		if c.depIdx == nil {
			return none{}, errors.ErrUnsupported
		}
		return none{}, c.depIdx.IndexDeps(ctx, f.key, f.deps, rp.storage()+c.leaseTTL)
	})
	if err != nil {
		c.logFailure(ctx, "indexing dependencies", err)
		c.releaseLease(ctx, f.key, tok)
		return ""
	}
	return tok
}

// leaseUnlessFailed asks for the lease of key, unless the lookup that
// missed failed in the driver (lookupErr; bytes that are not an entry are
// no failure: the fill must replace them): ok is false then, and when the
// lease could not be asked for, which it logs. Without a lease the load
// stores nothing.
func leaseUnlessFailed(ctx context.Context, c *Cache, key string, lookupErr error) (leased, bool) {
	var de *DriverError
	if errors.As(lookupErr, &de) && !errors.Is(lookupErr, ErrCorruptEntry) {
		return leased{}, false
	}
	l, err := c.lease(ctx, key)
	if err != nil {
		c.logFailure(ctx, "lease", err)
		return leased{}, false
	}
	return l, true
}

// pollLease waits for another process's fill of key, whose lease that
// process holds, polling the driver with a growing backoff for up to
// LeaseWait, until ctx ends or until every caller has left (abandoned). It returns the value filled, with the step
// that vouches for it (got), or the lease itself when the holder let it go
// (tok != ""), or neither.
func pollLease[T any](ctx context.Context, c *Cache, key string, step func() int, abandoned func() bool, check func(T) (T, error), rp resolved) (v T, got bool, tok string, below int) {
	deadline := time.Now().Add(c.leaseWait)
	wait := minLeasePoll
	for {
		left := time.Until(deadline)
		if left <= 0 || abandoned() {
			return v, false, "", 0
		}
		t := time.NewTimer(min(wait, left))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return v, false, "", 0
		}
		wait = min(2*wait, maxLeasePoll)
		p := step()
		l, err := c.lease(ctx, key)
		if err != nil {
			c.logFailure(ctx, "lease", err)
			return v, false, "", 0
		}
		if l.ok {
			if v, ok := usable(c, l.e, check); ok {
				if l.tok != "" {
					c.releaseLater(ctx, rp.waitUntil, key, l.tok)
				}
				return v, true, "", p
			}
		}
		if l.tok != "" {
			return v, false, l.tok, 0
		}
	}
}

// The backoff of pollLease: from 1ms, doubling up to 32ms.
const (
	minLeasePoll = time.Millisecond
	maxLeasePoll = 32 * time.Millisecond
)

// usable returns the value of e as a T when e is fresh and its value
// decodes and passes check.
func usable[T any](c *Cache, e Entry, check func(T) (T, error)) (T, bool) {
	var zero T
	if c.now().Sub(e.CreatedAt) > e.TTL {
		return zero, false
	}
	v, err := decodeValue[T](c.codec, e.Value)
	if err == nil && check != nil {
		v, err = check(v)
	}
	if err != nil {
		return zero, false
	}
	return v, true
}

// leased is the answer of [Leaser.Lease].
type leased struct {
	tok string
	e   Entry
	ok  bool
}

// lease asks the driver for the lease of key (see [Leaser]).
func (c *Cache) lease(ctx context.Context, key string) (leased, error) {
	return callDriver(c, ctx, "lease", c.timeout, func(ctx context.Context) (leased, error) {
		tok, e, ok, err := c.leaser.Lease(ctx, key, c.leaseTTL)
		return leased{tok, e, ok}, err
	})
}

// releaseLease gives up a lease that will not be used, so that another
// process may take it at once; it logs a failure, after which the lease
// ends with its TTL.
func (c *Cache) releaseLease(ctx context.Context, key, tok string) {
	_, err := callDriver(c, ctx, "release", c.timeout, func(ctx context.Context) (none, error) {
		return none{}, c.leaser.Release(ctx, key, tok)
	})
	if err != nil && !errors.Is(err, ErrBreakerOpen) {
		c.log.LogAttrs(ctx, slog.LevelWarn, "viborm cache: releasing a lease failed", slog.String("driver", c.name), slog.Any("err", err))
	}
}

// releaseLater is releaseLease in the background.
func (c *Cache) releaseLater(ctx context.Context, hook func(context.Context, func(context.Context)), key, tok string) {
	c.spawn(ctx, hook, func(ctx context.Context) { c.releaseLease(ctx, key, tok) }, func() {})
}

// retire remembers the result of a shared load that has left the table of
// loads in flight (see retiredLoad). c.mu must be held.
func (c *Cache) retire(key string, deps []string, val any) {
	seq := c.retireSeq.Load() + 1
	slot := seq % retiredCap
	if old := c.retiredLog[slot]; old != "" {
		if r, ok := c.retired[old]; ok && r.seq+retiredCap == seq {
			delete(c.retired, old)
		}
	}
	c.retiredLog[slot] = key
	c.retired[key] = retiredLoad{seq: seq, val: val, deps: deps}
	c.retireSeq.Store(seq)
}

func loadBypass[T any](ctx context.Context, c *Cache, full string, rp resolved, load func(context.Context) (T, error)) (T, error) {
	c.mu.Lock()
	f := c.addFill(full, rp.deps)
	c.mu.Unlock()
	// With leases, the result is stored only under a lease taken before
	// load ran.
	tok := ""
	if c.leaser != nil {
		if l, err := c.lease(ctx, full); err != nil {
			c.logFailure(ctx, "lease", err)
		} else {
			tok = c.indexLeased(ctx, f, rp, l.tok)
		}
	}
	drop := func() {
		c.mu.Lock()
		delete(c.fills, f)
		c.mu.Unlock()
	}
	handed := false
	defer func() {
		if !handed { // load failed or panicked
			drop()
		}
	}()
	started := c.now()
	v, err := load(ctx)
	if err != nil {
		if tok != "" {
			c.releaseLater(ctx, rp.waitUntil, full, tok)
		}
		c.observeRead(ctx, full, OutcomeError, false, nil, rp, err)
		return v, err
	}
	if c.leaser != nil && tok == "" {
		c.observeRead(ctx, full, OutcomeBypass, false, nil, rp, nil)
		return v, nil // another process is filling the key
	}
	e := NewEntry(v, started, rp.ttl)
	handed = true
	if c.onStep != nil {
		c.step(ctx, full, Step{Kind: StepFill, Queued: true, Start: time.Now()})
	}
	c.spawn(ctx, rp.waitUntil, func(ctx context.Context) { c.store(ctx, f, rp, e, tok) }, drop)
	c.observeRead(ctx, full, OutcomeBypass, false, nil, rp, nil)
	return v, nil
}

// loadUnstored answers a read with [Policy.Deps] from its loader, on the
// caller's goroutine, without looking up or storing anything: the driver
// cannot index the dependencies, so an entry could outlive an invalidation
// of one of them.
func loadUnstored[T any](ctx context.Context, c *Cache, full string, rp resolved, load func(context.Context) (T, error)) (T, error) {
	c.depsWarn.Do(func() {
		c.log.LogAttrs(ctx, slog.LevelWarn, "viborm cache: the driver does not index dependencies (cache.DepIndexer); reads with dependencies are answered but not stored",
			slog.String("driver", c.name))
	})
	v, err := load(ctx)
	if err != nil {
		c.observeRead(ctx, full, OutcomeError, false, nil, rp, err)
		return v, err
	}
	c.observeRead(ctx, full, OutcomeMiss, false, nil, rp, nil)
	return v, nil
}

// refresh schedules a background refresh of a stale key, unless one is in
// flight here already or another process holds the refresh marker.
func (c *Cache) refresh(ctx context.Context, full string, rp resolved, load func(context.Context) (any, error)) {
	c.mu.Lock()
	if c.closed || c.refreshing[full] || c.calls[full] != nil {
		c.mu.Unlock()
		return
	}
	c.refreshing[full] = true
	f := c.addFill(full, rp.deps)
	c.mu.Unlock()
	done := func() {
		c.mu.Lock()
		delete(c.refreshing, full)
		delete(c.fills, f)
		c.mu.Unlock()
	}
	if c.onStep != nil {
		c.step(ctx, full, Step{Kind: StepRefresh, Queued: true, Start: time.Now()})
	}
	c.spawn(ctx, rp.waitUntil, func(ctx context.Context) { c.runRefresh(ctx, f, rp, load) }, done)
}

// runRefresh elects this process as the refresher of a stale key through
// the key's refresh marker, reloads it and stores the result.
func (c *Cache) runRefresh(ctx context.Context, f *fill, rp resolved, load func(context.Context) (any, error)) {
	marker := markerKey(f.key)
	var t0 time.Time
	if c.onStep != nil {
		t0 = time.Now()
	}
	elected, err := c.elect(ctx, marker)
	if err != nil {
		c.logFailure(ctx, "refresh election", err)
		if c.onStep != nil {
			c.stepSince(ctx, f.key, t0, Step{Kind: StepRefresh, Err: err})
		}
		return
	}
	if !elected {
		return
	}
	if c.onStep != nil {
		defer func() { c.stepSince(ctx, f.key, t0, Step{Kind: StepRefresh, Err: err}) }()
	}
	tok := ""
	if c.leaser != nil {
		var l leased
		if l, err = c.lease(ctx, f.key); err != nil {
			c.logFailure(ctx, "refresh lease", err)
			return
		}
		if l.ok && c.now().Sub(l.e.CreatedAt) <= l.e.TTL {
			// Another process has refreshed it already.
			if l.tok != "" {
				c.releaseLease(ctx, f.key, l.tok)
			}
			return
		}
		if l.tok == "" {
			return // another process is filling it
		}
		tok = l.tok
	}
	defer func() {
		_, err := callDriver(c, ctx, "delete", c.timeout, func(ctx context.Context) (none, error) {
			return none{}, c.d.Delete(ctx, []string{marker})
		})
		if err != nil {
			c.log.LogAttrs(ctx, slog.LevelWarn, "viborm cache: removing a refresh marker failed",
				slog.String("driver", c.name), slog.Any("err", err))
		}
	}()
	if tok != "" {
		if tok = c.indexLeased(ctx, f, rp, tok); tok == "" {
			return
		}
	}
	started := c.now()
	v, pe, err := protect(ctx, load)
	if (pe != nil || err != nil) && tok != "" {
		c.releaseLease(ctx, f.key, tok)
	}
	if pe != nil {
		c.logPanic(ctx, "viborm cache: a background refresh's loader panicked; the stale value stays", pe)
		return
	}
	if err != nil {
		c.log.LogAttrs(ctx, slog.LevelWarn, "viborm cache: background refresh failed; the stale value stays",
			slog.String("driver", c.name), slog.Any("err", err))
		return
	}
	c.store(ctx, f, rp, NewEntry(v, started, rp.ttl), tok)
}

// elect takes the refresh marker: atomically with an [Adder], and with a
// best-effort get-then-set otherwise (the refresh still runs once per key in
// this process).
func (c *Cache) elect(ctx context.Context, marker string) (bool, error) {
	e := NewEntry(true, c.now(), c.markerTTL)
	if c.adder != nil {
		return callDriver(c, ctx, "add", c.timeout, func(ctx context.Context) (bool, error) {
			return c.adder.Add(ctx, marker, c.markerTTL, e)
		})
	}
	return callDriver(c, ctx, "set", c.timeout, func(ctx context.Context) (bool, error) {
		if _, ok, err := c.d.Get(ctx, marker); err != nil || ok {
			return false, err
		}
		return true, c.d.Set(ctx, marker, c.markerTTL, e)
	})
}

// Close stops the cache and waits for its work: later calls return
// [ErrClosed]; shared loads, background refreshes and writes in flight run to
// their end (writes are bounded by [Options.Timeout]); then the driver is
// closed if it implements [Closer]. Close is idempotent: every call returns
// the first close's result. [Cache.Shutdown] bounds the wait.
func (c *Cache) Close() error { return c.Shutdown(context.Background()) }

// Shutdown is [Cache.Close] with a bound: when ctx ends before the work in
// flight has finished, that work's contexts are cancelled, Shutdown waits for
// it to return and reports ctx's error.
func (c *Cache) Shutdown(ctx context.Context) error {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		c.closedFlag.Store(true)
		if c.running == 0 {
			close(c.idle)
		}
	}
	c.mu.Unlock()
	var ctxErr error
	select {
	case <-c.idle:
	case <-ctx.Done():
		ctxErr = ctx.Err()
		c.bgCancel()
		<-c.idle
	}
	c.closeOnce.Do(func() {
		c.bgCancel()
		if cl, ok := c.d.(Closer); ok {
			if err := cl.Close(); err != nil {
				c.closeErr = &DriverError{Driver: c.name, Op: "close", Err: err}
			}
		}
	})
	return errors.Join(ctxErr, c.closeErr)
}
