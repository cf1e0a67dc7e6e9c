package tiered

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/memorycache"
)

// Defaults used when the corresponding option is zero.
const (
	// DefaultMaxTTL bounds how long an entry stays in L1.
	DefaultMaxTTL = 30 * time.Second
	// DefaultL1MaxBytes is L1's byte bound when [Options.L1] is nil.
	DefaultL1MaxBytes = 64 << 20
)

// Name is what [Driver.Name] returns.
const Name = "tiered"

// ErrPublish is matched by the error of an invalidation whose message could
// not be published: other instances may keep serving the old value from
// their L1 until it expires, so the invalidation should be retried.
var ErrPublish = errors.New("tiered: publishing the invalidation failed")

// Options configures a [Driver]. A nil *Options, and every zero field, means
// the default. [New] copies the options.
type Options struct {
	// L1 configures the in-process tier, a [memorycache.Driver]: its
	// MaxEntries and MaxBytes bound L1's memory. Nil means memorycache's
	// defaults with MaxBytes [DefaultL1MaxBytes]. Its Now, when nil, is
	// Options.Now.
	L1 *memorycache.Options

	// MaxTTL bounds how long an entry stays in L1, whatever its storage
	// TTL: the last resort against a message lost without the bus noticing.
	// Zero means [DefaultMaxTTL]; it must not be negative.
	MaxTTL time.Duration

	// Now is the clock that L1 entries are aged with. Pass the same clock as
	// [cache.Options.Now]. Nil means [time.Now].
	Now func() time.Time

	// Logger receives the bus's state changes (lost, subscribed) and a
	// subscription that ended with an error. Nil means [slog.Default].
	Logger *slog.Logger
}

// Driver is a [cache.Driver] with two tiers: L1, a bounded
// [memorycache.Driver] in this process, in front of L2, a shared driver such
// as [github.com/viborm/viborm-go/cache/rediscache.Driver], kept coherent
// with the other instances' L1 through a [Bus]. Create one with [New]; it is
// safe for concurrent use. See the package documentation for its
// guarantees.
type Driver struct {
	l2     cache.Driver
	l2Add  cache.Adder
	l2L    cache.Leaser // nil when L2 has no leases
	bus    Bus
	id     uint64
	maxTTL time.Duration
	now    func() time.Time
	l1opts memorycache.Options
	log    *slog.Logger
	honors bool

	// l1 is the in-process tier, nil while the bus is not subscribed: then
	// L1 serves nothing and stores nothing.
	l1 atomic.Pointer[memorycache.Driver]

	// Fill fence. Every write to L1 happens under the lock of its key's
	// stripe, after checking that neither the stripe's sequence number nor
	// the global one changed since the token was taken (before L2 was
	// read). Invalidations of keys bump their stripes, invalidations of
	// prefixes and bus state changes bump the global number under every
	// stripe's lock, before they delete from L1: a fill whose L2 read may
	// predate an invalidation never lands after it.
	seed    maphash.Seed
	global  atomic.Uint64
	stripes [stripeCount]stripe
	// dropping counts the invalidations and writes between moving the
	// fence and deleting from L1: a promotion (see PromoteLocal), which
	// replaces an entry it found in L1, must not run meanwhile, or it could
	// put back what the deletion just removed.
	dropping atomic.Int64

	cancel    context.CancelFunc
	done      chan struct{} // closed when the subscription's goroutine ends
	closeOnce sync.Once
	closeErr  error
	closed    atomic.Bool

	// hookApplied, set only by tests, runs on the bus's goroutine after a
	// message from another instance was applied, or after a state change.
	hookApplied func(ev busEvent)
	// hookBumped, set only by tests, runs in bumpKeys once the fence has
	// moved (deleted false) and once L1 has been deleted from (true).
	hookBumped func(deleted bool)
	// hookPromoting, set only by tests, runs in PromoteLocal between
	// finding the entry to replace and replacing it.
	hookPromoting func()
}

const stripeCount = 256

type stripe struct {
	mu  sync.Mutex
	seq uint64
	_   [48]byte // keep stripes' locks on separate cache lines
}

var (
	_ cache.Driver         = (*Driver)(nil)
	_ cache.Adder          = (*Driver)(nil)
	_ cache.BatchGetter    = (*Driver)(nil)
	_ cache.Closer         = (*Driver)(nil)
	_ cache.ContextHonorer = (*Driver)(nil)
	_ cache.LocalGetter    = (*Driver)(nil)
	_ cache.LocalPromoter  = (*Driver)(nil)
	_ cache.Leaser         = (*Driver)(nil)
	_ cache.LeaseOfferer   = (*Driver)(nil)
)

// errNoLeases is the error of the lease methods when L2 has none.
var errNoLeases = fmt.Errorf("tiered: the L2 driver does not implement cache.Leaser: %w", errors.ErrUnsupported)

// New returns a Driver with L2 l2, kept coherent through bus, and starts its
// subscription to bus on a goroutine that [Driver.Close] stops and waits for.
// Until the subscription is live, L1 is off: reads go to l2. The Driver owns
// l2 from then on (Close closes it when it is a [cache.Closer]); bus stays
// the caller's. New reports invalid arguments as a [*cache.ConfigError].
func New(l2 cache.Driver, bus Bus, opts *Options) (*Driver, error) {
	return newDriver(l2, bus, opts, nil)
}

func newDriver(l2 cache.Driver, bus Bus, opts *Options, hook func(busEvent)) (*Driver, error) {
	if l2 == nil {
		return nil, &cache.ConfigError{Field: "tiered.New l2", Reason: "must not be nil"}
	}
	if bus == nil {
		return nil, &cache.ConfigError{Field: "tiered.New bus", Reason: "must not be nil"}
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxTTL < 0 {
		return nil, &cache.ConfigError{Field: "tiered.Options.MaxTTL", Reason: "must not be negative"}
	}
	if o.MaxTTL == 0 {
		o.MaxTTL = DefaultMaxTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	l1opts := memorycache.Options{MaxBytes: DefaultL1MaxBytes}
	if o.L1 != nil {
		l1opts = *o.L1
	}
	if l1opts.Now == nil {
		l1opts.Now = o.Now
	}
	// Validate L1's options once, here, rather than at each resubscription.
	probe, err := memorycache.New(&l1opts)
	if err != nil {
		return nil, err
	}
	probe.Close()
	var idb [8]byte
	rand.Read(idb[:])
	d := &Driver{
		l2:     l2,
		bus:    bus,
		id:     binary.LittleEndian.Uint64(idb[:]),
		maxTTL: o.MaxTTL,
		now:    o.Now,
		l1opts: l1opts,
		log:    o.Logger,
		seed:   maphash.MakeSeed(),
		done:   make(chan struct{}),

		hookApplied: hook,
	}
	d.l2Add, _ = l2.(cache.Adder)
	if l, ok := l2.(cache.Leaser); ok && offersLeases(l2) {
		d.l2L = l
	}
	d.honors = honorsContext(l2) && honorsContext(bus)
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	go d.subscribe(ctx)
	return d, nil
}

func offersLeases(d cache.Driver) bool {
	lo, ok := d.(cache.LeaseOfferer)
	return !ok || lo.OffersLeases()
}

func honorsContext(v any) bool {
	h, ok := v.(cache.ContextHonorer)
	return ok && h.HonorsContext()
}

// Name returns "tiered".
func (d *Driver) Name() string { return Name }

// HonorsContext reports whether both L2 and the bus honor their contexts
// (see [cache.ContextHonorer]); L1 always does.
func (d *Driver) HonorsContext() bool { return d.honors }

// ---- the fill fence ----

// token is what a fill remembers of the fence before it reads L2.
type token struct {
	l1     *memorycache.Driver // nil: L1 is off, do not fill
	global uint64
	stripe *stripe
	seq    uint64
}

func (d *Driver) stripeOf(key string) *stripe {
	return &d.stripes[maphash.String(d.seed, key)%stripeCount]
}

func (d *Driver) take(key string) token {
	s := d.stripeOf(key)
	s.mu.Lock()
	t := token{l1: d.l1.Load(), global: d.global.Load(), stripe: s, seq: s.seq}
	s.mu.Unlock()
	return t
}

// fill stores e under key in L1 for ttl unless the fence moved since t was
// taken.
func (d *Driver) fill(t token, key string, ttl time.Duration, e cache.Entry) {
	if t.l1 == nil || ttl <= 0 {
		return
	}
	s := t.stripe
	s.mu.Lock()
	if s.seq == t.seq && d.global.Load() == t.global {
		// A refused (too large) entry is simply not in L1.
		_ = t.l1.Set(context.Background(), key, ttl, e)
	}
	s.mu.Unlock()
}

// remote is what L1 holds in place of the value of an entry read from L2
// in serialized form: the value as L2 returned it, kept in an interface so
// that GetLocal hands it out without allocating, and when its L1 lifetime
// ends, which a promotion (see PromoteLocal) must not extend.
type remote struct {
	val   any // a json.RawMessage
	until time.Time
}

// fillRead stores e, read from L2, in L1 as fill does, for the rest of its
// freshness bounded by MaxTTL.
func (d *Driver) fillRead(t token, key string, e cache.Entry) {
	ttl := d.l1TTL(0, e)
	if _, raw := e.Value.(json.RawMessage); raw && ttl > 0 {
		e.Value = &remote{val: e.Value, until: d.now().Add(ttl)}
	}
	d.fill(t, key, ttl, e)
}

// l1TTL is how long e may stay in L1: no longer than storageTTL (when
// known), MaxTTL, and the rest of its freshness, since L1 serves only fresh
// entries (a stale one is read from L2, where another instance may have
// refreshed it).
func (d *Driver) l1TTL(storageTTL time.Duration, e cache.Entry) time.Duration {
	ttl := d.maxTTL
	if storageTTL > 0 && storageTTL < ttl {
		ttl = storageTTL
	}
	if fresh := e.CreatedAt.Add(e.TTL).Sub(d.now()); fresh < ttl {
		ttl = fresh
	}
	return ttl
}

// bumpKeys moves the fence of keys, then removes them from L1.
func (d *Driver) bumpKeys(keys []string) {
	d.dropping.Add(1)
	defer d.dropping.Add(-1)
	for _, k := range keys {
		s := d.stripeOf(k)
		s.mu.Lock()
		s.seq++
		s.mu.Unlock()
	}
	if d.hookBumped != nil {
		d.hookBumped(false)
	}
	if l1 := d.l1.Load(); l1 != nil {
		_ = l1.Delete(context.Background(), keys)
	}
	if d.hookBumped != nil {
		d.hookBumped(true)
	}
}

// bumpAll moves the global fence under every stripe's lock and runs f (under
// the locks too), so that no fill is between its check and its write.
func (d *Driver) bumpAll(f func()) {
	for i := range d.stripes {
		d.stripes[i].mu.Lock()
	}
	d.global.Add(1)
	if f != nil {
		f()
	}
	for i := range d.stripes {
		d.stripes[i].mu.Unlock()
	}
}

// bumpPrefixes moves the global fence, then clears prefixes from L1.
func (d *Driver) bumpPrefixes(prefixes []string) {
	d.dropping.Add(1)
	defer d.dropping.Add(-1)
	d.bumpAll(nil)
	if l1 := d.l1.Load(); l1 != nil {
		for _, p := range prefixes {
			_ = l1.Clear(context.Background(), p)
		}
	}
}

// ---- reads ----

// GetLocal returns the entry L1 holds for key, if the bus is subscribed and
// the entry is fresh; ok == false means "ask [Driver.Get]", not a miss. It
// never blocks: [cache.Cache] calls it on the reader's goroutine before
// Get, so an L1 hit costs what a [memorycache.Driver] hit costs.
func (d *Driver) GetLocal(key string) (cache.Entry, bool) {
	l1 := d.l1.Load()
	if l1 == nil {
		return cache.Entry{}, false
	}
	e, ok, _ := l1.Get(context.Background(), key)
	if r, isRemote := e.Value.(*remote); isRemote {
		e.Value = r.val
	}
	return e, ok
}

// PromoteLocal replaces the serialized value that L1 holds for key, read
// from L2, by value, its decoded form, so that later hits need no decoding
// (see [cache.LocalPromoter]). It does so only if L1 still holds the very
// entry e that a read returned, under the same lifetime, and no
// invalidation is between moving the fill fence and deleting from L1;
// otherwise it does nothing. It never blocks on I/O.
func (d *Driver) PromoteLocal(key string, e cache.Entry, value any) {
	raw, ok := e.Value.(json.RawMessage)
	if !ok || len(raw) == 0 {
		return
	}
	s := d.stripeOf(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	l1 := d.l1.Load()
	if l1 == nil || d.dropping.Load() != 0 {
		return
	}
	cur, ok, _ := l1.Get(context.Background(), key)
	if !ok {
		return
	}
	r, ok := cur.Value.(*remote)
	if !ok {
		return
	}
	held, _ := r.val.(json.RawMessage)
	if len(held) != len(raw) || &held[0] != &raw[0] || !cur.CreatedAt.Equal(e.CreatedAt) || cur.TTL != e.TTL {
		return
	}
	ttl := r.until.Sub(d.now())
	if ttl <= 0 {
		return
	}
	if d.hookPromoting != nil {
		d.hookPromoting()
	}
	cur.Value = value
	_ = l1.Set(context.Background(), key, ttl, cur)
}

// Get returns the entry of key from L1 when L1 holds it fresh, and from L2
// otherwise; an entry read from L2 is copied into L1 for the rest of its
// freshness (bounded by [Options.MaxTTL]) unless an invalidation of key
// arrived meanwhile or the bus is not subscribed.
func (d *Driver) Get(ctx context.Context, key string) (cache.Entry, bool, error) {
	if err := ctx.Err(); err != nil {
		return cache.Entry{}, false, err
	}
	if d.closed.Load() {
		return cache.Entry{}, false, cache.ErrClosed
	}
	if e, ok := d.GetLocal(key); ok {
		return e, true, nil
	}
	t := d.take(key)
	e, ok, err := d.l2.Get(ctx, key)
	if err != nil || !ok {
		return e, ok, err
	}
	d.fillRead(t, key, e)
	return e, true, nil
}

// GetMany returns the entries of keys: those L1 holds fresh from L1, the
// others from L2 in one call when L2 is a [cache.BatchGetter], filling L1 as
// [Driver.Get] does.
func (d *Driver) GetMany(ctx context.Context, keys []string) (map[string]cache.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if d.closed.Load() {
		return nil, cache.ErrClosed
	}
	out := make(map[string]cache.Entry, len(keys))
	var rest []string
	var toks []token
	for _, k := range keys {
		if e, ok := d.GetLocal(k); ok {
			out[k] = e
			continue
		}
		rest = append(rest, k)
		toks = append(toks, d.take(k))
	}
	if len(rest) == 0 {
		return out, nil
	}
	got, err := cache.GetMany(ctx, d.l2, rest)
	if err != nil {
		return nil, err
	}
	for i, k := range rest {
		if e, ok := got[k]; ok {
			out[k] = e
			d.fillRead(toks[i], k, e)
		}
	}
	return out, nil
}

// ---- writes ----

// Set stores e under key in L2, then in L1 (unless an invalidation of key
// arrived meanwhile or the bus is not subscribed) for storageTTL bounded by
// the rest of e's freshness and [Options.MaxTTL]. A Set is not published:
// other instances keep what their L1 holds until it expires or is
// invalidated (a Set replaces a value with one at least as new, so theirs
// was still valid when it was stored). A concurrent read's older fill of
// key in this process never overwrites it.
func (d *Driver) Set(ctx context.Context, key string, storageTTL time.Duration, e cache.Entry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d.closed.Load() {
		return cache.ErrClosed
	}
	_, err := d.write(key, storageTTL, e, func() (bool, error) {
		return true, d.l2.Set(ctx, key, storageTTL, e)
	})
	return err
}

// write runs set, a write of e under key to L2, between the steps that keep
// L1 coherent with it: it voids the fills of key that read L2 before, drops
// L1's copy of key, and when set stored, fills L1 with e unless an
// invalidation of key arrived meanwhile.
func (d *Driver) write(key string, storageTTL time.Duration, e cache.Entry, set func() (bool, error)) (bool, error) {
	s := d.stripeOf(key)
	d.dropping.Add(1)
	s.mu.Lock()
	s.seq++ // void fills of key that read L2 before this write
	t := token{l1: d.l1.Load(), global: d.global.Load(), stripe: s, seq: s.seq}
	s.mu.Unlock()
	// The value is being replaced: should this write's own fill be voided
	// (by a concurrent invalidation, or by L2 refusing a leased write), L1
	// must not keep answering the old one.
	if t.l1 != nil {
		_ = t.l1.Delete(context.Background(), []string{key})
	}
	d.dropping.Add(-1)
	stored, err := set()
	if err != nil {
		// What L2 holds is unknown: L1 must not keep an older value.
		d.bumpKeys([]string{key})
		return false, err
	}
	if stored {
		d.fill(t, key, d.l1TTL(storageTTL, e), e)
	}
	return stored, nil
}

// ---- leases ----

// OffersLeases reports whether L2 offers leases (see [cache.Leaser] and
// [cache.LeaseOfferer]): then the Driver forwards them, and a [cache.Cache]
// over it keeps the cross-process fence and stampede protection.
func (d *Driver) OffersLeases() bool { return d.l2L != nil }

// Lease takes key's lease from L2 (see [cache.Leaser]); an entry it returns
// is copied into L1 as [Driver.Get] copies one. Without leases in L2 it
// returns an error matching [errors.ErrUnsupported].
func (d *Driver) Lease(ctx context.Context, key string, leaseTTL time.Duration) (string, cache.Entry, bool, error) {
	if err := d.check(ctx); err != nil {
		return "", cache.Entry{}, false, err
	}
	if d.l2L == nil {
		return "", cache.Entry{}, false, errNoLeases
	}
	t := d.take(key)
	tok, e, ok, err := d.l2L.Lease(ctx, key, leaseTTL)
	if err == nil && ok {
		d.fillRead(t, key, e)
	}
	return tok, e, ok, err
}

// SetLeased stores e under key in L2 if token is still key's lease there,
// and then in L1 as [Driver.Set] does.
func (d *Driver) SetLeased(ctx context.Context, key, token string, storageTTL time.Duration, e cache.Entry) (bool, error) {
	if err := d.check(ctx); err != nil {
		return false, err
	}
	if d.l2L == nil {
		return false, errNoLeases
	}
	return d.write(key, storageTTL, e, func() (bool, error) {
		return d.l2L.SetLeased(ctx, key, token, storageTTL, e)
	})
}

// Release ends key's lease in L2 if token still holds it.
func (d *Driver) Release(ctx context.Context, key, token string) error {
	if err := d.check(ctx); err != nil {
		return err
	}
	if d.l2L == nil {
		return errNoLeases
	}
	return d.l2L.Release(ctx, key, token)
}

func (d *Driver) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d.closed.Load() {
		return cache.ErrClosed
	}
	return nil
}

// Add stores e under key in L2 only if L2 holds nothing there, atomically
// when L2 is a [cache.Adder] (with a get-then-set otherwise). It never
// stores in L1: the cache uses it for refresh markers.
func (d *Driver) Add(ctx context.Context, key string, storageTTL time.Duration, e cache.Entry) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if d.closed.Load() {
		return false, cache.ErrClosed
	}
	var added bool
	var err error
	if d.l2Add != nil {
		added, err = d.l2Add.Add(ctx, key, storageTTL, e)
	} else {
		var ok bool
		if _, ok, err = d.l2.Get(ctx, key); err == nil && !ok {
			err = d.l2.Set(ctx, key, storageTTL, e)
			added = err == nil
		}
	}
	if added {
		d.bumpKeys([]string{key}) // L2 had nothing: neither may L1
	}
	return added, err
}

// ---- invalidations ----

// Delete removes keys from L1 at once, then from L2, then from L1 again
// (dropping what a read of this process copied from L2 in between), then
// publishes them on the bus so that every other instance drops them from
// its L1. The message is published even when L2 failed; a failed publish
// returns an error matching [ErrPublish] (joined with L2's error, if any).
func (d *Driver) Delete(ctx context.Context, keys []string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d.closed.Load() {
		return cache.ErrClosed
	}
	if len(keys) == 0 {
		return nil
	}
	d.bumpKeys(keys)
	err := d.l2.Delete(ctx, keys)
	d.bumpKeys(keys)
	return errors.Join(err, d.publish(ctx, Invalidation{Source: d.id, Keys: keys}))
}

// Clear removes every key starting with prefix as [Driver.Delete] removes
// keys: L1, L2, L1 again, then the bus.
func (d *Driver) Clear(ctx context.Context, prefix string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d.closed.Load() {
		return cache.ErrClosed
	}
	p := []string{prefix}
	d.bumpPrefixes(p)
	err := d.l2.Clear(ctx, prefix)
	d.bumpPrefixes(p)
	return errors.Join(err, d.publish(ctx, Invalidation{Source: d.id, Prefixes: p}))
}

func (d *Driver) publish(ctx context.Context, inv Invalidation) error {
	if err := d.bus.Publish(ctx, inv); err != nil {
		return fmt.Errorf("%w: %w", ErrPublish, err)
	}
	return nil
}

// ---- the subscription ----

// busEvent is what hookApplied receives.
type busEvent struct {
	kind string // "subscribed", "lost", "invalidate"
	inv  Invalidation
	err  error
}

func (d *Driver) subscribe(ctx context.Context) {
	defer close(d.done)
	err := d.bus.Subscribe(ctx, handler{d})
	if err != nil && ctx.Err() == nil {
		d.log.LogAttrs(ctx, slog.LevelError, "viborm cache: the invalidation bus subscription ended; the in-process tier stays off",
			slog.Any("err", err))
	}
	d.off()
}

// off turns L1 off and drops what it holds.
func (d *Driver) off() {
	var old *memorycache.Driver
	d.bumpAll(func() { old = d.l1.Swap(nil) })
	if old != nil {
		old.Close()
	}
}

// handler is the Driver's [Handler]; its methods are not part of the
// Driver's API.
type handler struct{ d *Driver }

func (h handler) Subscribed() {
	d := h.d
	l1, err := memorycache.New(&d.l1opts)
	if err != nil { // cannot happen: New validated the options
		d.log.LogAttrs(context.Background(), slog.LevelError, "viborm cache: the in-process tier cannot be made; it stays off", slog.Any("err", err))
		return
	}
	var old *memorycache.Driver
	d.bumpAll(func() { old = d.l1.Swap(l1) })
	if old != nil {
		old.Close()
	}
	d.log.LogAttrs(context.Background(), slog.LevelInfo, "viborm cache: invalidation bus subscribed; the in-process tier is on")
	if d.hookApplied != nil {
		d.hookApplied(busEvent{kind: "subscribed"})
	}
}

func (h handler) Lost(err error) {
	d := h.d
	d.off()
	if !d.closed.Load() { // a subscription ended by Close is no outage
		d.log.LogAttrs(context.Background(), slog.LevelWarn, "viborm cache: invalidation bus lost; the in-process tier is off until it resubscribes",
			slog.Any("err", err))
	}
	if d.hookApplied != nil {
		d.hookApplied(busEvent{kind: "lost", err: err})
	}
}

func (h handler) Invalidate(inv Invalidation) {
	d := h.d
	if inv.Source == d.id {
		return
	}
	if len(inv.Keys) > 0 {
		d.bumpKeys(inv.Keys)
	}
	if len(inv.Prefixes) > 0 {
		d.bumpPrefixes(inv.Prefixes)
	}
	if d.hookApplied != nil {
		d.hookApplied(busEvent{kind: "invalidate", inv: inv})
	}
}

// Close stops the subscription and waits for its goroutine, drops L1 and
// closes L2 when it is a [cache.Closer]. It does not close the bus. It is
// idempotent; later operations return [cache.ErrClosed].
func (d *Driver) Close() error {
	d.closeOnce.Do(func() {
		d.closed.Store(true)
		d.cancel()
		<-d.done
		if c, ok := d.l2.(cache.Closer); ok {
			d.closeErr = c.Close()
		}
	})
	return d.closeErr
}
