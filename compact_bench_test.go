package viborm_test

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	viborm "github.com/viborm/viborm-go"
	"github.com/viborm/viborm-go/cache"
)

// BenchmarkTiersCompact is BenchmarkTiers' PostgreSQL findMany of 10 and
// 100 rows, uncached and as a Redis hit, with the Redis driver's codec
// cache.JSON ("redis", the default: the rows' JSON form) and
// cache.CompactJSON ("redis-compact": the rows' compact form), side by side
// in one run.
func BenchmarkTiersCompact(b *testing.B) {
	for _, n := range []int{10, 100} {
		for _, kind := range []string{"uncached", "redis", "redis-compact", "rawGET-json", "rawGET-compact"} {
			b.Run(fmt.Sprintf("findMany%d/postgres/%s", n, kind), func(b *testing.B) {
				env := newTierEnv(b)
				args := viborm.FindMany{Where: viborm.Where{"active": true}}
				var r viborm.Reader
				switch kind {
				case "uncached":
					db := env.client(nil)
					seedUsers(b, db, n)
					r = db
				case "rawGET-json", "rawGET-compact":
					rawGET(b, env, n, kind == "rawGET-compact")
					return
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

// rawGET measures a go-redis GET of the entry that a Redis hit of the
// benchmark reads (its JSON or compact form): the floor of that hit.
func rawGET(b *testing.B, env *tierEnv, n int, compact bool) {
	ctx := context.Background()
	kind := "redis"
	if compact {
		kind = "redis-compact"
	}
	kv := env.cache(kind)
	db := env.client(kv)
	seedUsers(b, db, n)
	if _, err := Users.FindMany(ctx, db.WithCache(viborm.CacheOptions{TTL: time.Hour}), viborm.FindMany{Where: viborm.Where{"active": true}}); err != nil {
		b.Fatal(err)
	}
	// Closing the cache waits for the fill, which may write in the
	// background.
	if err := kv.Close(); err != nil {
		b.Fatal(err)
	}
	var keys []string
	it := env.rdb.Scan(ctx, 0, "viborm:v"+env.version+":user:findMany:*", 1000).Iterator()
	for it.Next(ctx) {
		keys = append(keys, it.Val())
	}
	if err := it.Err(); err != nil || len(keys) != 1 {
		b.Fatalf("the entry's key: %v, %v", keys, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := env.rdb.Get(ctx, keys[0]).Bytes(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCompactRedisHitReadsTheRowsItWrote reads rows through a Redis cache
// whose codec is cache.CompactJSON: the hit (decoded from the compact form)
// is the rows the miss returned.
func TestCompactRedisHitReadsTheRowsItWrote(t *testing.T) {
	ctx := context.Background()
	env := newTierEnv(t)
	var mu sync.Mutex
	var events []cache.Event
	// Inline: the miss's write is done when the miss returns.
	kv := env.cacheWith("redis-compact", cache.Options{WaitUntil: cache.Inline, Observer: func(e cache.Event) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}})
	db := env.client(kv)
	seedUsers(t, db, 5)
	r := db.WithCache(viborm.CacheOptions{TTL: time.Hour})
	args := viborm.FindMany{Where: viborm.Where{"active": true}, OrderBy: []viborm.Order{viborm.Asc("id")}}
	miss, err := Users.FindMany(ctx, r, args)
	if err != nil || len(miss) != 5 {
		t.Fatalf("miss: %d rows, %v", len(miss), err)
	}
	plain, err := Users.FindMany(ctx, db, args)
	if err != nil {
		t.Fatal(err)
	}
	hit, err := Users.FindMany(ctx, r, args)
	if err != nil || !reflect.DeepEqual(hit, plain) {
		t.Fatalf("hit %+v, %v;\nwant %+v", hit, err, plain)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 2 || events[1].Outcome != cache.OutcomeHit || events[1].DriverErr != nil {
		t.Fatalf("cache events %+v; want a miss, then a hit", events)
	}
}
