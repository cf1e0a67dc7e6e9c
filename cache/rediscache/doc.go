// Package rediscache is a [cache.Driver] for Redis, built on a caller-owned
// go-redis v9 client (github.com/redis/go-redis/v9): a single node, a
// Sentinel-managed failover client or a Redis Cluster, all through
// redis.UniversalClient. It is the production form of the Redis driver in
// VibORM's custom driver guide.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	defer rdb.Close() // the client is yours; the driver never closes it
//	d, err := rediscache.New(rdb, nil)
//	...
//	c, err := cache.New(d, nil)
//
// # Storage
//
// An entry is stored under its key, unchanged, as the bytes of
// [cache.MarshalEntry]: VibORM's {"value":…,"createdAt":…,"ttl":…}, so a
// TypeScript VibORM service reading the same Redis sees its own format, and
// the other way round. Writes use SET … PX with the storage TTL in
// milliseconds; [Driver.Add], used to elect one refresher of a stale entry,
// is SET … NX PX. A missing key is a miss, never an error; bytes that are not
// an entry are reported as the [*cache.EntryError] of [cache.UnmarshalEntry]
// (matching [cache.ErrCorruptEntry]), which [cache.Cache] logs and treats as
// a miss, so the next fill overwrites them. [Driver.GetMany] is one MGET (one
// per hash slot on a cluster) and [Driver.Delete] one DEL (one per hash slot
// on a cluster, pipelined, so it never fails with CROSSSLOT).
//
// # Clearing by prefix
//
// The seed's recipe, SCAN MATCH "<prefix>*", has two traps, which this
// package avoids: MATCH is a glob, so the prefix is escaped (* ? [ ] \); and
// SCAN walks the whole keyspace, so clearing 1,000 keys among a million
// unrelated ones takes about a second. Instead the driver keeps an index.
//
// For every key, each prefix that ends with ':' (up to [Options.IndexDepth]
// of them: "viborm:", "viborm:user:", "viborm:user:findMany:") has a sorted
// set listing the key, scored by the key's expiry time. A Set is one Lua
// script that adds the key to its indexes and then writes it; a Clear of a
// prefix ending with ':' runs a Lua script that takes up to 1,000 members of
// the prefix's index, UNLINKs them and removes them from the index, until the
// index is empty. Its cost is proportional to the keys removed (about a
// millisecond for 1,000 keys, whatever else Redis holds), not to the size of
// the database. Any other prefix (one that stops inside a segment, such as
// "viborm:user:findMany:ab") is cleared by an escaped SCAN MATCH: correct,
// and as slow as the seed's.
//
// Why a Clear never misses a key that a Get could return: the invariant is
// "every live key written by the driver is a member of the index of each of
// its indexed prefixes". A Set establishes it atomically (its script writes
// the index entries and the key together; an error part way can leave an
// index entry without a key, which is harmless, never the reverse). A Clear
// batch removes keys and their index entries together, atomically, so it
// cannot drop the entry of a key that a concurrent Set is writing. Members
// leave an index otherwise only when their score, the key's expiry on the
// same server's clock plus a second, has passed (trimmed on writes), and an
// index key expires only after its longest-lived member. So a key that
// exists when a Clear starts is in the index the Clear reads, and is
// removed.
//
// On a Redis Cluster the keys of one prefix are spread over hash slots, and a
// script can only touch one slot. So each index exists once per slot that
// holds such keys, in that slot (its name carries a hash tag chosen for the
// slot), and the same scripts keep the invariant within each slot. A small
// set per prefix, the registry, lists the slots that have an index of it.
// Set adds the slot to the registries before it writes the key, and
// registry entries are never removed, only expire, a minute after the
// entries they cover; so a Clear, which reads the registry and then clears
// each listed slot's index (pipelined, every master in parallel), finds
// every slot holding a key that existed when it started. A cluster Set thus
// costs two round trips instead of one. The SCAN fallback visits every
// master.
//
// Costs and limits of the index: each stored key is listed in up to
// [Options.IndexDepth] sorted sets (memory roughly proportional to the key
// length times the depth), writes run a script instead of a plain SET, and
// keys written by other processes (a TypeScript VibORM service, an older
// deployment) are not in the index and are not cleared by prefix. Set
// [Options.NoIndex] for plain SET PX writes and SCAN clears when that
// matters. The index keys start with [Options.IndexPrefix]
// ("viborm-index:"); Clear never removes keys starting with it.
//
// # Leases
//
// The driver implements [cache.Leaser], memcached's leases, with which
// [cache.Cache] fences fills across processes: a load or refresh that began
// before an invalidation of its key, or of a prefix of it, in any process,
// never stores its result after that invalidation; and processes missing
// one key run its query once. On a miss the cache runs a script that reads
// the key and, unless another lease is held, writes a lease key holding a
// random 128-bit token (PX the lease TTL); the loader runs; the result is
// written by a script that stores it only if the lease key still holds the
// token, and deletes the lease. [Driver.Delete] deletes the lease keys of
// its keys (before the keys, in the same DEL when they fit), and a Clear
// unlinks them: so an invalidation voids every lease taken before it, and
// the voided fill's write stores nothing. Processes that find the lease
// held poll the script until the holder's entry appears.
//
// The lease key is "<IndexPrefix>l:<key>" on a single node and
// "<IndexPrefix>l{<tag>}<key>" on a Cluster, where <tag> is the hash tag of
// the key's own slot (see "Clearing by prefix"): every script touches one
// slot, whatever braces the key holds, and the data key keeps VibORM's entry
// format, so a TypeScript VibORM reader never sees a lease. A lease is
// listed in the prefix indexes of its key, like an entry, so the
// index-driven Clear voids it at no extra cost; the SCAN-driven Clear scans
// the lease keys under the prefix first, then the keys. On a Cluster a
// lease registers its slot in the prefixes' registries as a Set does, which
// costs a miss one more pipelined round trip.
//
// What it costs: one more round trip per miss (the lease script, between
// the GET that missed and the query) and a script for the write instead of
// a plain indexed SET; hits are unchanged (BenchmarkMissFill: a miss and its
// write 238µs with leases against 166µs without, on a loaded loopback).
// Writers that do not void leases, such as TypeScript VibORM services or
// older versions, do not fence our fills; set
// [cache.Options.DisableLeases] while they invalidate a shared Redis.
//
// # Failures
//
// The driver returns go-redis's errors as they are; [cache.Cache] bounds
// every driver call by its Timeout and answers reads from the loader when
// Redis fails or is slow. Give the client short DialTimeout, ReadTimeout and
// WriteTimeout so that its connections recover quickly too.
//
// # Decoding faster
//
// Values come back as JSON and are decoded by the cache's [cache.Codec].
// Package [github.com/viborm/viborm-go/cache/gojsoncodec] provides
// one backed by github.com/goccy/go-json, several times faster than
// encoding/json on a 100-row result; pass it as both [cache.Options.Codec]
// and [Options.Codec].
package rediscache
