// Package cache is VibORM's query-result cache: a [Cache] that users hold,
// on top of a small [Driver] that any backend can implement.
//
// It depends on the standard library only. Drivers live in their own
// packages: [github.com/viborm/viborm-go/cache/memorycache] (the embedded
// default), [github.com/viborm/viborm-go/cache/rediscache] (Redis standalone,
// Sentinel and Cluster) and [github.com/viborm/viborm-go/cache/upstashcache]
// (Upstash REST). [github.com/viborm/viborm-go/cache/cachetest] checks that a
// driver keeps the [Driver] contract.
//
// # Keys
//
// Keys read "viborm[:v<version>]:<model>:<operation>:<hash>". [Key] and
// [Cache.Key] build them from Go arguments; the default hash is the first 128
// bits of a SHA-256 over a type-tagged encoding, and [KeyOptions.Compat]
// reproduces the TypeScript VibORM keys; [StringKey] is Key of arguments
// already encoded to bytes, without copying them. A key that already starts
// with "viborm:" is used as it is; any other key is prefixed.
//
// # Reads
//
// [Load] is the cached read over a loader: a fresh hit answers from the
// cache; a stale hit with stale-while-revalidate answers at once and refreshes
// in the background, one refresher per key; a miss runs the loader once for
// all concurrent callers of the key and stores the result. [Policy] carries
// the per-read settings: TTL ([ParseTTL] reads "5 minutes"), SWR and its
// window, bypass and a custom key. [LoadChecked] adds a check that every
// value found in the cache passes, and [LoadFrom] takes both as a [Source]
// value, so that a hit allocates neither.
//
// # Invalidation
//
// [Cache.Invalidate] takes exact keys and "prefix*" patterns;
// [Cache.InvalidateModel] clears every entry of a model and stops at the
// separator, so "user" never touches "userProfile". A load that started
// before an invalidation of its key never stores its result after it.
//
// A read can depend on models besides its key's own ([Policy.Deps]: the ORM
// passes the models of its includes and relation filters). The cache indexes
// its entry under each of them through the driver's [DepIndexer] before
// storing it, and [Cache.InvalidateModel] of any of them removes it, at a
// cost proportional to the entries removed; the fence above covers
// dependencies too. Every bundled driver indexes dependencies; with a driver
// that does not, a read with dependencies is answered by its loader and not
// stored, which is logged once.
//
// # Across processes
//
// The fence above sees the invalidations of this process only. With a
// driver shared by several processes that implements [Leaser] (the Redis
// drivers do), the cache takes a lease on each miss before its loader runs
// and writes the result only under that lease, which any process's
// invalidation of the key, or of a prefix of it, voids: a fill that began
// before an invalidation in any process never lands after it. The lease
// also stops stampedes across processes: a process that finds the lease
// held waits up to [Options.LeaseWait] for the holder's fill, polling the
// driver, then loads on its own without storing. Background refreshes and
// bypass reads store under a lease too. A process's concurrent callers of
// one key still share one load, but a caller that joined a load after that
// load began reading is given its result only if the fenced write then
// succeeds; otherwise it loads again. [Options.DisableLeases] turns all of
// this off. The in-memory driver needs none of it: one process sees every
// invalidation. A driver that wraps a shared one (the tiered driver) offers
// leases when the wrapped one does ([LeaseOfferer]).
//
// # Failure
//
// The cache never fails a read because of its backend: a driver error, a
// driver slower than [Options.Timeout] or an entry that cannot be decoded
// makes the read answer from the loader, and the failure is logged with
// [log/slog] (keys are never logged). Invalidation errors are returned, and
// an invalidation waits at most [Options.InvalidateTimeout]: a timed-out or
// failed invalidation still keeps every load in flight of its keys from
// storing, and the caller should retry it.
//
// A circuit breaker ([BreakerOptions]) skips a backend that keeps failing:
// after 5 consecutive failures or timeouts the driver is not called for 5
// seconds (reads answer from the loader at once, writes are skipped,
// invalidations fail fast with [ErrBreakerOpen]), then one probe call decides
// whether it closes. Each state change is logged once and reported to
// [Options.OnBreakerChange]; [Cache.BreakerState] tells the current state.
//
// # Background work
//
// Writes after a miss and stale refreshes run in the background, through
// [Options.WaitUntil] when set (the Go form of VibORM's waitUntil) and on the
// cache's own goroutines otherwise. [Cache.Close] waits for all of it.
package cache
