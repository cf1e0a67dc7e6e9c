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
// [Adder] (set-if-absent), [BatchGetter] and [Closer]; [Nonblocking] and
// [ContextHonorer] tell the cache how a driver may be called.
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

func honorsContext(d Driver) bool {
	h, ok := d.(ContextHonorer)
	return ok && h.HonorsContext()
}
