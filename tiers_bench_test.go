package viborm_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	viborm "github.com/viborm/viborm-go"
)

// BenchmarkTiers compares, side by side in one run, a PostgreSQL findMany
// of 10 and 100 rows ({where: {active: true}}) through the whole client:
//
//   - uncached: the query;
//   - redis: a hit in Redis through the go-redis driver (a round trip and
//     a decode);
//   - tiered: an L1 hit of the two-tier cache (L1 in front of Redis) on an
//     entry this instance filled;
//   - tiered-fromL2: an L1 hit on an entry another instance filled, which
//     this one read from Redis once, decoded and kept decoded in L1;
//   - memory: a hit in the memory driver.
//
// Every cached read includes argument validation, key hashing and the copy
// of the result that the caller may mutate.
func BenchmarkTiers(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{10, 100} {
		for _, kind := range []string{"uncached", "redis", "tiered", "tiered-fromL2", "memory"} {
			b.Run(fmt.Sprintf("findMany%d/postgres/%s", n, kind), func(b *testing.B) {
				env := newTierEnv(b)
				args := viborm.FindMany{Where: viborm.Where{"active": true}}
				var r viborm.Reader
				switch kind {
				case "uncached":
					db := env.client(nil)
					seedUsers(b, db, n)
					r = db
				case "tiered-fromL2":
					filler := env.client(env.cache("tiered"))
					seedUsers(b, filler, n)
					if got, err := Users.FindMany(ctx, filler.WithCache(viborm.CacheOptions{TTL: time.Hour}), args); err != nil || len(got) != n {
						b.Fatalf("filling: %d rows, %v", len(got), err)
					}
					r = env.client(env.cache("tiered")).WithCache(viborm.CacheOptions{TTL: time.Hour})
				default:
					db := env.client(env.cache(kind))
					seedUsers(b, db, n)
					r = db.WithCache(viborm.CacheOptions{TTL: time.Hour})
				}
				benchFindUsers(b, r, args, n)
			})
		}
	}
}
