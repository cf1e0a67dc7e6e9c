package cache

import (
	"context"
	"time"
)

// Driver is the storage backend of a [Cache]: the four operations of VibORM's
// CacheDriver plus a name. Implementations store and return entries; every
// decision about freshness, stale-while-revalidate, keys and invalidation is
// made by [Cache], so a driver stays small.
//
// The contract, which [github.com/viborm/viborm-go/cache/cachetest] checks:
//
//   - Every method must be safe for concurrent use by multiple goroutines.
//   - Every method takes ctx first. A method called with a context that is
//     already done must return that context's error (or an error wrapping it)
//     and should not touch the backend. A method should return promptly once
//     ctx is done.
//   - Keys are non-empty strings of any bytes (including spaces, colons, glob
//     characters such as * ? [ ] \ % _, and UTF-8 text) up to at least 1 KiB.
//     A driver must not add, strip or interpret any part of a key.
//   - Get returns the entry stored under key and ok == true; on a miss it
//     returns ok == false and a nil error. A miss is never an error. An entry
//     whose storage TTL has elapsed must not be returned.
//   - Get must return the entry's CreatedAt and TTL exactly as given to Set
//     (both carry millisecond precision). A driver that keeps values in memory
//     may return the same Value it was given; a driver that serializes may
//     return the value as [json.RawMessage] holding its JSON form (see
//     [MarshalEntry] and [UnmarshalEntry]). The caller must treat a returned
//     Value as read-only.
//   - Set stores entry under key, replacing any previous entry, for at least
//     storageTTL and should not keep it much longer: after storageTTL has
//     elapsed, Get must report a miss. storageTTL is at least one millisecond.
//   - Delete removes every key in keys. An empty keys is a no-op; keys that do
//     not exist are ignored and are not an error. Delete must not retain keys.
//   - Clear removes every key that starts with prefix, compared byte for byte:
//     no character in prefix is special. The caller guarantees prefix is not
//     empty. A key that Get could return before Clear started and that starts
//     with prefix must be a miss after Clear returns nil.
//   - Name returns a short constant name for logs and traces, such as "memory"
//     or "redis".
//
// Optional capabilities are separate interfaces discovered by type assertion:
// [Adder] (set-if-absent), [BatchGetter], [Leaser] (cross-process fences),
// [DepIndexer] (invalidation that follows dependencies), [LocalPromoter]
// and [Closer]; [Nonblocking], [ContextHonorer],
// [LocalGetter] and [LeaseOfferer] tell the cache how a driver may be
// called.
type Driver interface {
	// Name returns the driver's name for logs, such as "redis".
	Name() string
	// Get returns the entry stored under key; ok is false on a miss.
	Get(ctx context.Context, key string) (e Entry, ok bool, err error)
	// Set stores e under key for storageTTL.
	Set(ctx context.Context, key string, storageTTL time.Duration, e Entry) error
	// Delete removes keys; missing keys are ignored.
	Delete(ctx context.Context, keys []string) error
	// Clear removes every key starting with prefix, literally.
	Clear(ctx context.Context, prefix string) error
}

// Adder is implemented by drivers that can store an entry only when its key
// is absent, atomically. [Cache] uses it to elect a single refresher of a
// stale entry across processes; without it the election is atomic only within
// one process.
//
// Add stores e under key for storageTTL if and only if no entry is stored
// under key, and reports whether it stored. Of many concurrent Add calls for
// one absent key, exactly one must report true. An expired entry counts as
// absent.
type Adder interface {
	Add(ctx context.Context, key string, storageTTL time.Duration, e Entry) (added bool, err error)
}

// BatchGetter is implemented by drivers that can fetch several keys in one
// round trip. GetMany returns the entries found, keyed by key; a missing key
// is absent from the map, never an error. Its answers must agree with calling
// Get for each key. The returned map belongs to the caller.
type BatchGetter interface {
	GetMany(ctx context.Context, keys []string) (map[string]Entry, error)
}

// Closer is implemented by drivers that hold resources. [Cache.Close] calls
// Close once, after all of the cache's background work has finished. A driver
// that wraps a client it was given (such as a *redis.Client) must not close
// that client: its owner does.
type Closer interface {
	Close() error
}

// Nonblocking is implemented by drivers that answer from the process's own
// memory and never block on I/O, such as the in-memory driver. [Cache] calls
// such a driver directly on the caller's goroutine, without the goroutine and
// timer it otherwise uses to enforce [Options.Timeout] on drivers that might
// ignore their context.
type Nonblocking interface {
	Nonblocking() bool
}

// ContextHonorer is implemented by drivers whose every method returns
// promptly, with the context's error, once its context is done: a network
// client that applies the context's deadline to its I/O, say. HonorsContext
// reports whether that holds for this driver (it may depend on how a
// wrapped client was configured). [Cache] calls such a driver directly on
// the caller's goroutine and bounds each call with [Options.Timeout] through
// the context alone, saving the goroutine and timer it otherwise spends per
// call to stay safe from drivers that ignore their context.
type ContextHonorer interface {
	HonorsContext() bool
}

// LocalGetter is implemented by drivers that keep a tier in the process's
// own memory in front of a remote one (such as the tiered driver). [Cache]
// calls GetLocal on the reader's goroutine, without a timeout, before any
// bounded Get, and only while its circuit breaker is closed. GetLocal must
// never block, and ok == true must return an entry that Get could return
// at that moment; ok == false is not a miss, only "ask Get".
type LocalGetter interface {
	GetLocal(key string) (e Entry, ok bool)
}

// Leaser is implemented by drivers that several processes share (Redis)
// and that can fence fills across them, after memcached's leases ("Scaling
// Memcache at Facebook", NSDI 2013). [Cache] uses it, unless
// [Options.DisableLeases] is set, so that a load or background refresh
// that began before an invalidation of its key, or of a prefix covering it,
// in any process, never stores its result after that invalidation; and so
// that processes missing one key run its loader once (the lease holder
// loads, the others wait for its fill). A driver that keeps entries in the
// process's own memory needs no leases: the cache's in-process fence covers
// every invalidation it can see.
//
// The contract, which [github.com/viborm/viborm-go/cache/cachetest] checks:
//
//   - Lease takes the lease of key for leaseTTL when no lease of key is
//     held, and returns its token, a non-empty string that no other Lease
//     call returns; when another unexpired lease of key is held it returns
//     token == "". Either way it returns what Get would have returned at
//     the same instant (ok == false on a miss, and for bytes that are not an
//     entry), read atomically with the lease decision.
//   - SetLeased stores e under key for storageTTL, as Set does, if and only
//     if token is key's lease at that moment; it ends the lease either way
//     and reports whether it stored. The check and the write are one atomic
//     step.
//   - Delete voids the leases of its keys, and Clear the leases of every key
//     starting with its prefix: a token taken before either call started is
//     void once the call returns nil, and SetLeased with it stores nothing.
//     A lease also ends when leaseTTL has elapsed.
//   - Release ends key's lease if token still holds it, so that another
//     process may take it at once; a token that is void already is not an
//     error.
type Leaser interface {
	Lease(ctx context.Context, key string, leaseTTL time.Duration) (token string, e Entry, ok bool, err error)
	SetLeased(ctx context.Context, key, token string, storageTTL time.Duration, e Entry) (stored bool, err error)
	Release(ctx context.Context, key, token string) error
}

// LeaseOfferer is implemented by a [Leaser] that can offer leases only in
// some configurations, such as a driver that wraps another and forwards
// leases to it when it has them. [Cache] uses a Leaser's leases only when
// OffersLeases reports true, once, when the cache is made; a Leaser that
// does not implement LeaseOfferer offers them always. A Leaser that does not
// offer leases should fail Lease with an error matching
// [errors.ErrUnsupported].
type LeaseOfferer interface {
	OffersLeases() bool
}

// DepIndexer is an optional capability of a Driver: a dependency index. It
// records, for each dependency tag, the keys whose entries depend on it, so an
// invalidation of the tag removes exactly those entries, at a cost
// proportional to the entries removed.
//
// Tags are full strings built by the core (the cache's key prefix followed by
// a model name or a junction token, e.g. "viborm:v2:post"); they are never
// empty. IndexDeps is called before the entry is stored under key (an index
// record without its entry is harmless; an entry without its record is not),
// and must keep each record at least ttl. ClearDeps deletes every key recorded
// under any of tags — and, for a driver that implements Leaser, voids those
// keys' leases, so a fill in any process that began before the clear never
// lands — then forgets those records. Both must be safe for concurrent use and
// honour ctx. Records whose key is gone may linger until their ttl.
type DepIndexer interface {
	IndexDeps(ctx context.Context, key string, deps []string, ttl time.Duration) error
	ClearDeps(ctx context.Context, tags []string) error
}

// DepOfferer is implemented by a [DepIndexer] that can index dependencies
// only in some configurations, such as a driver that wraps another and
// forwards to it when it has the capability. [Cache] uses a DepIndexer only
// when OffersDeps reports true, once, when the cache is made; a DepIndexer
// that does not implement DepOfferer offers it always. A driver whose
// DepIndexer is not offered is one without the capability: reads with
// [Policy.Deps] are answered and not stored.
type DepOfferer interface {
	OffersDeps() bool
}

// LocalPromoter is implemented by drivers with a tier in the process's own
// memory that keeps entries read from a serializing tier in their
// serialized form (such as the tiered driver, whose L1 holds what Redis
// returned). When a read's lookup returned an entry e whose Value was
// [json.RawMessage], and the cache decoded it, and the reader's check passed
// it, into value, [Cache] calls PromoteLocal(key, e, value) on the reader's
// goroutine, so that later hits answer value from memory without decoding
// again.
//
// PromoteLocal must never block. It replaces the entry of key in its local
// tier by one holding value, with the same CreatedAt and TTL and a local
// lifetime no longer than the replaced one's, if and only if the local tier
// still holds the very entry e that the read returned (the same bytes, not
// an equal copy) and no invalidation that may cover key is under way;
// otherwise it does nothing. From then on Get and GetLocal may return value
// itself in place of the bytes, as a driver that keeps values in memory
// does: value is shared by every later reader and is never modified.
type LocalPromoter interface {
	PromoteLocal(key string, e Entry, value any)
}

// GetMany fetches keys from d, in one call when d implements [BatchGetter] and
// with one Get per key otherwise. A missing key is absent from the result.
func GetMany(ctx context.Context, d Driver, keys []string) (map[string]Entry, error) {
	if bg, ok := d.(BatchGetter); ok {
		return bg.GetMany(ctx, keys)
	}
	out := make(map[string]Entry, len(keys))
	for _, k := range keys {
		e, ok, err := d.Get(ctx, k)
		if err != nil {
			return nil, err
		}
		if ok {
			out[k] = e
		}
	}
	return out, nil
}

func isNonblocking(d Driver) bool {
	nb, ok := d.(Nonblocking)
	return ok && nb.Nonblocking()
}

// offersLeases reports whether a driver that implements [Leaser] offers
// leases (see [LeaseOfferer]).
func offersLeases(d Driver) bool {
	lo, ok := d.(LeaseOfferer)
	return !ok || lo.OffersLeases()
}

// offersDeps reports whether a driver that implements [DepIndexer] offers
// it (see [DepOfferer]).
func offersDeps(d Driver) bool {
	o, ok := d.(DepOfferer)
	return !ok || o.OffersDeps()
}

func honorsContext(d Driver) bool {
	h, ok := d.(ContextHonorer)
	return ok && h.HonorsContext()
}
