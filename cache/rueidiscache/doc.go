// Package rueidiscache is a [cache.Driver] for Redis built on a
// caller-owned rueidis client (github.com/redis/rueidis): a single node,
// Sentinel or a Redis Cluster. It stores and indexes entries exactly as
// package [github.com/viborm/viborm-go/cache/rediscache] (the go-redis
// driver) does, so the two can share one Redis, and either clears what the
// other stored. It is the faster of the two under concurrency: rueidis
// pipelines the commands of concurrent goroutines on one connection per
// node (auto-pipelining), so 50 goroutines reading through [cache.Load]
// cost far fewer system calls and round trips than with a pool of
// connections.
//
// # Constructing
//
//	client, err := rueidis.NewClient(rueidis.ClientOption{
//		InitAddress:  []string{"127.0.0.1:6379"},
//		DisableCache: true, // this driver does not use client-side caching
//	})
//	...
//	defer client.Close() // the client is yours; the driver never closes it
//	d, err := rueidiscache.New(client, nil)
//	...
//	c, err := cache.New(d, nil)
//
// rueidis.NewClient detects a Cluster by itself: give it one or more of the
// cluster's addresses. For Sentinel set ClientOption.Sentinel.MasterSet.
// [New] reads the client's Mode to choose between the single-node and the
// cluster layout.
//
// # Client options
//
//   - DisableCache: true. The driver sends plain commands (Do, DoMulti),
//     never DoCache; without it every connection still turns on CLIENT
//     TRACKING, which costs server memory and is refused by some managed
//     Redis services.
//   - Leave auto-pipelining on (do not set DisableAutoPipelining): it is
//     where the throughput comes from.
//   - MaxFlushDelay, for services with many concurrent readers: after each
//     write to a connection, the pipeline waits up to this long to gather
//     more commands, so each system call carries more of them (a lone
//     sequential caller is never delayed). On a loaded two-core machine, 50
//     goroutines hitting the cache went from about 1.2–1.5× the throughput
//     of raw go-redis GETs with the default (0) to about 1.8–2.7× with
//     100µs (BenchmarkParallel50). rueidis suggests about 20µs as a start;
//     measure with your network and load.
//   - Dialer.Timeout and ConnWriteTimeout bound how long a dead server
//     takes to notice. Per call, the cache's [cache.Options.Timeout] applies
//     through the context: rueidis returns the context's error as soon as
//     it is done, whether or not Redis has answered, so
//     [Driver.HonorsContext] is true and [cache.Cache] calls the driver
//     directly, without a goroutine per call.
//   - SelectDB picks the database on a single node (a Cluster has only 0).
//
// # Storage and clearing
//
// An entry is stored under its key as the bytes of [cache.MarshalEntry]
// (VibORM's {"value":…,"createdAt":…,"ttl":…}, readable by TypeScript
// VibORM) with SET … PX; [Driver.Add] is SET … NX PX. With the index on
// (the default), a Set is one Lua script that lists the key in a sorted set
// per ':'-terminated prefix (up to [Options.IndexDepth]) and writes it, in
// one atomic step, and a Clear of such a prefix removes the listed keys in
// batches of 1,000 by another script: its cost is proportional to the keys
// removed, not to the size of the database. Other prefixes, and every
// prefix with [Options.NoIndex], are cleared by SCAN with the prefix's glob
// characters escaped. On a Cluster each index lives once per hash slot, in
// that slot (a hash tag chosen for the slot), with a registry of the slots
// per prefix, so no script or command ever spans slots (no CROSSSLOT), and a
// Clear finds every key that existed when it started. Package rediscache's
// documentation, section "Clearing by prefix", explains the guarantees and
// costs in full; they hold here unchanged, since both drivers run the same
// scripts on the same keys (shared in cache/internal/redisindex).
//
// The driver implements [cache.Leaser], the cross-process fence of
// [cache.Cache], with the same lease keys and scripts as package rediscache
// (its documentation, section "Leases", describes them): a lease key per
// missing key, in the key's hash slot, voided by Delete and by Clear.
//
// [Driver.GetMany] is one MGET (one per hash slot on a Cluster, in one
// pipeline) and [Driver.Delete] one DEL per 1,000 keys (one per hash slot on
// a Cluster).
//
// # Failures
//
// The driver returns rueidis's errors as they are; a missing key is a miss,
// never an error, and bytes that are not an entry are the
// [*cache.EntryError] of [cache.UnmarshalEntry] (matching
// [cache.ErrCorruptEntry]). [cache.Cache] bounds every call by its Timeout
// and answers reads from the loader when Redis fails or is slow.
package rueidiscache
