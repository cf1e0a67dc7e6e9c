// Package tiered is a two-tier [cache.Driver]: an in-process L1 (a bounded
// [memorycache.Driver]) in front of a shared L2 (Redis, through
// [github.com/viborm/viborm-go/cache/rediscache], or any driver), kept
// coherent across instances by an invalidation [Bus].
//
// It is opt-in, for deployments that run several instances against one
// Redis and want hits that cost what an in-memory hit costs: no round trip,
// and no decoding, whether this instance stored the value or read it from
// L2 (see Promotion below). Every instance that
// writes to the shared keyspace must use it with the same bus: an
// instance that deletes keys without publishing (a TypeScript VibORM
// service, a script running DEL) leaves other instances' L1 stale until
// their entries expire ([Options.MaxTTL]).
//
// # Reads
//
// An L1 hit returns at once. [cache.Cache] finds it through the optional
// [cache.LocalGetter] ([Driver.GetLocal]) on the reader's goroutine, with
// no timeout, goroutine or allocation of its own, as it calls the memory
// driver. On an L1 miss the entry is read from L2 and copied into L1,
// unless the bus is not subscribed, or an invalidation of the key (or of a
// prefix covering it, or a change of the bus's state) arrived between the
// L2 read and the copy: a fence sequence number is taken before L2 is read
// and checked, under the key's lock, before L1 is written, so the
// invalidation always wins.
//
// # Promotion
//
// An entry read from L2 arrives serialized ([json.RawMessage]), and L1
// keeps those bytes. The first read that decodes them hands the decoded
// value back through the optional [cache.LocalPromoter]
// ([Driver.PromoteLocal]), and L1 keeps that value in place of the bytes,
// so later hits return it without decoding, as a hit on a value this
// instance stored does. The swap happens only if L1 still holds the very
// bytes that read returned and no invalidation is between moving the fence
// and deleting from L1; it keeps the L1 lifetime of the bytes it replaces.
// A promoted value is shared by every later reader, as a value kept by the
// memory driver is ([cache.Cache.SharesChecked]).
//
// L1 holds only fresh entries: an entry stays in L1 no longer than its
// storage TTL, the rest of its freshness (createdAt + ttl) and
// [Options.MaxTTL]. A stale entry is therefore read from L2, where another
// instance may have refreshed it already. L1's memory is bounded by
// [Options.L1] (entries and bytes, [DefaultL1MaxBytes] by default).
//
// # Invalidations
//
// [Driver.Delete] and [Driver.Clear] remove the keys from the local L1 at
// once, then from L2, then from L1 once more (dropping a copy a concurrent
// read of this instance made from L2 in between), and then publish an
// [Invalidation] on the bus. Publishing after L2 is what keeps another
// instance from copying the old value back from L2 after it applied the
// message. A failed publish is returned (matching [ErrPublish]) even when
// L2 succeeded, so the caller retries the invalidation. Other instances
// apply a message by removing the keys from their L1, fenced as above.
//
// [Driver.Set] writes L2, then L1; it is not published (the value it
// replaces was valid when stored, and fills are not invalidations).
// [Driver.Add], which the cache uses for refresh markers, goes to L2 only.
//
// Measured on loopback with two instances on one Redis (the test
// TestInvalidationWindowAcrossInstances and BenchmarkInvalidationWindow),
// the time from a Delete returning on one instance to the other instance's
// L1 having dropped the key is tens of microseconds at the median and well
// under a millisecond at p99.
//
// # Failing safe
//
// L1 serves and stores nothing unless the bus subscription is live. Before
// the first [Handler.Subscribed], and from [Handler.Lost] (a dropped
// connection, a message that cannot be decoded, or a subscription silent
// past its health timeout, which also catches a lagging one) until the next
// Subscribed, every read goes to L2. Lost drops L1 at once; Subscribed starts
// an empty L1, so after a resubscription L1 serves only what was read from
// L2 after it. A message lost without the bus noticing is bounded by
// [Options.MaxTTL].
//
// # The cache's guarantees across the tiers
//
// The tiered driver is a [cache.Driver], so [cache.Cache] runs on top of it
// unchanged:
//
//   - Single flight: concurrent misses of a key in one process share one
//     load, as with any driver; the load's result is stored through
//     [Driver.Set] into both tiers.
//   - Stale-while-revalidate: freshness is judged by the cache from the
//     entry, as before. L1 never answers with a stale entry, so a stale read
//     sees L2's entry, possibly refreshed by another instance; the refresher
//     is elected with [Driver.Add] on L2, once across instances.
//   - Circuit breaker: it counts the tiered driver's calls (so L2's
//     failures). The cache consults L1 only while the breaker is closed:
//     while it is open, reads answer from the loader and invalidations fail
//     fast without reaching the driver, so L1 must not answer either.
//   - Fences: the cache's in-process fence keeps a load that began before an
//     invalidation from reaching [Driver.Set] after it, which covers both
//     tiers. L1 adds its own fence against other instances' invalidations
//     (above).
//   - Leases: when L2 is a [cache.Leaser] (both Redis drivers are), the
//     Driver forwards its leases ([Driver.Lease], [Driver.SetLeased],
//     [Driver.Release]; [Driver.OffersLeases] reports it), so the cache
//     keeps the cross-process fence and the cross-process stampede
//     protection: a fill that began in any instance before an invalidation
//     lands neither in L2 nor in any L1 after it, and instances missing one
//     cold key run its loader once. Lease copies the entry it returns into
//     L1 as Get does; SetLeased writes as Set does, and fills L1 only when
//     L2 stored. Over an L2 without leases, OffersLeases is false, the
//     cache uses none, and the lease methods fail with an error matching
//     [errors.ErrUnsupported].
//
// # Choosing the bus: pub/sub rather than client tracking
//
// [github.com/viborm/viborm-go/cache/rediscache.Bus] is an explicit Redis
// pub/sub channel, not RESP3 client tracking. Tracking would also catch
// keys changed by processes that do not publish, and a lost tracking
// connection flushes by construction; but go-redis, which the Redis driver
// uses, offers tracking only experimentally, without Cluster and with an
// asynchronous drain; BCAST on the key prefix would push every fill by every
// instance to every instance (far more messages than invalidations), while
// the default mode needs the reads to go through the tracking connection
// itself. Pub/sub works with any L2 driver and any client, carries exactly
// the invalidations (prefix clears as one message), works on a Cluster
// (plain PUBLISH is broadcast; BusOptions.Sharded keeps it on
// one shard), and its weakness, at-most-once delivery, is covered by the
// rule above: L1 is off whenever the subscription is not provably live,
// checked with a PING on the subscription's own connection.
package tiered
