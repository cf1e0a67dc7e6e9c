// Package memorycache is the in-process [cache.Driver]: a bounded map in the
// process's own memory, the default store of a [cache.Cache].
//
// It implements [cache.Driver] and the optional [cache.Adder],
// [cache.BatchGetter], [cache.DepIndexer], [cache.Closer] and
// [cache.Nonblocking], and passes
// the conformance kit in [github.com/viborm/viborm-go/cache/cachetest].
//
// # Values are shared, not copied
//
// The driver stores entries as they are given, without encoding them: a hit
// returns the very Value that Set stored, so reading costs no decoding. The
// flip side is that a cached value is shared by every reader and by the
// code that stored it. Cached values must be treated as read-only: mutating
// a slice, map or pointed-to struct that came out of the cache (or that was
// put into it) changes what every later reader sees.
//
// # Bounds and eviction
//
// The driver holds at most [Options.MaxEntries] entries ([DefaultMaxEntries]
// when zero) and, when [Options.MaxBytes] is set, at most that many
// estimated bytes (see [Options.Sizer]). Keys are spread over up to 64
// shards by hash, and each shard enforces its even share of both bounds.
//
// When a write would exceed its shard's bounds, the driver evicts by sampled
// least-recently-used, like Redis's allkeys-lru: it looks at a few entries of
// the shard and evicts an expired one if it finds one, and otherwise the one
// read or written least recently. It repeats until the new entry fits.
//
// # Expiry without timers
//
// No goroutine or timer is started, per key or otherwise. An entry whose
// storage TTL has elapsed is never returned; its memory is reclaimed when a
// read finds it, when eviction samples it, or by a small sweep that every
// sixteenth write to a shard runs over a sample of that shard. Expired
// entries still count toward the bounds until then, so they never make the
// driver grow past them.
//
// # Clearing by prefix
//
// Each shard keeps its keys in an ordered index (a B-tree) beside its map,
// updated under the same lock by every write, delete, eviction and expiry.
// [Driver.Clear] therefore visits only the keys that start with the prefix,
// compared byte for byte with no special characters: clearing 1,000 keys
// from a driver that holds a million costs the same as from one that holds
// a thousand.
//
// # Dependencies
//
// Beside the entries the driver keeps a dependency index
// ([cache.DepIndexer]): for each tag (a model that cached reads depend on)
// the set of keys recorded under it, and for each key its tags and expiry.
// [Driver.ClearDeps] visits only the records of its tags and deletes their
// entries, so its cost is proportional to the entries it removes. Records
// expire with the TTL they were given and are reclaimed like entries (by a
// sampled sweep every sixteenth IndexDeps); a record whose entry was
// deleted or evicted earlier lingers until then, harmlessly. The index holds
// at most twice MaxEntries records: past that, IndexDeps evicts the sampled
// record that expires first, together with its entry.
package memorycache
