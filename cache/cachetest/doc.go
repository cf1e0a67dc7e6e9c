// Package cachetest is the conformance kit for [cache.Driver]
// implementations: the "Testing Your Driver" section of VibORM's custom
// driver guide, grown into a suite that checks every clause of the Driver
// contract. It is modelled on testing/slogtest and gocloud.dev's drivertest.
//
// # Two forms
//
// [Run] runs each check as a subtest of a Go test, with a fresh driver for
// each; [Test] runs the same checks anywhere else (a command, a health
// check) and returns every violation joined. Both use the same checks.
//
//	func TestMyDriver(t *testing.T) {
//		cachetest.Run(t, func(t *testing.T) cache.Driver {
//			return mydriver.New(client)
//		}, nil)
//	}
//
// # What is checked
//
// The seed's three tests, through a [cache.Cache] built on the driver
// (stores and retrieves entries, returns nothing for missing keys, clears by
// prefix), then the driver directly: exact CreatedAt and TTL, storage TTL,
// replacement, Delete of several, none and missing keys, literal prefixes
// (glob and LIKE characters are not special), separator-aware prefixes,
// unusual and long keys, large values, concurrent use, already-cancelled
// contexts, and the optional [cache.Adder] and [cache.BatchGetter] when the
// driver implements them. Each failure is an [*Error] naming the check and
// the contract clause it broke.
//
// # Shared backends
//
// The kit is safe to point at a shared backend such as a Redis server used by
// other tests: every key it writes, and every prefix it clears, lies under a
// namespace made of a random segment chosen for each check
// ("viborm:vcachetest-<random>:"), so it never reads or deletes keys it did
// not write. It does not clean up what it wrote beyond what the checks
// themselves delete; every entry it stores has a storage TTL of at most a
// few minutes.
//
// # Time
//
// Storage TTL checks need time to pass. For a driver with a clock seam, set
// [Options.Advance] and the kit moves the clock instead of waiting. Without
// it the kit waits in real time, using TTLs of a few
// [Options.TTLGranularity] and polling for the expiry with a deadline.
package cachetest
