// Package readmetest holds every Go code block of the repository's
// README.md as compiled code, so the README cannot show code that does not
// build. Each block is the text between a "// readme:begin NAME" and a
// "// readme:end NAME" line in this package; TestReadmeCodeBlocksAreCompiled
// fails when a ```go block of README.md matches no region (whitespace aside),
// and when a region is shown by no block. The other tests run the blocks.
//
// To change a README code block, change its region here and paste it into
// README.md.
package readmetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	viborm "github.com/viborm/viborm-go"
	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/memorycache"
	"github.com/viborm/viborm-go/cache/rediscache"
	"github.com/viborm/viborm-go/cache/upstashcache"
	"github.com/viborm/viborm-go/driver/sqlite"
	"github.com/viborm/viborm-go/s"
)

// ---- The cache ----

// queryUsers stands for the reader's own query.
func queryUsers(context.Context) ([]User, error) {
	return []User{{ID: 1, Email: "a@acme.io", Active: true}}, nil
}

// cacheExample is the README's cache block. It returns the key it used and
// what the read returned.
func cacheExample(ctx context.Context) (string, []User, error) {
	args := viborm.Where{"active": true}
	// readme:begin cache
	drv, _ := memorycache.New(nil) // or rediscache.New(rdb, nil), upstashcache.FromEnv(nil)
	c, _ := cache.New(drv, &cache.Options{Version: "2"})
	defer c.Close() // waits for background refreshes and writes

	key, _ := c.Key("user", "findMany", args) // viborm:v2:user:findMany:<128-bit hash>
	users, err := cache.Load(ctx, c, key, cache.Policy{TTL: time.Hour, SWR: true},
		func(ctx context.Context) ([]User, error) { return queryUsers(ctx) })

	c.Invalidate(ctx, "user:*", "post:findMany:abc") // prefixes and exact keys
	c.InvalidateModel(ctx, "user")                   // stops at the separator: never touches userProfile
	// readme:end cache
	return key, users, err
}

// observerExample is the README's observer block, followed by reads of one
// key: a miss, then hits.
func observerExample(ctx context.Context, reads int) (hitCount, missCount int64, err error) {
	drv, err := memorycache.New(nil)
	if err != nil {
		return 0, 0, err
	}
	// readme:begin observer
	var hits, misses atomic.Int64
	c, err := cache.New(drv, &cache.Options{
		// Called after each cached read, on the reading goroutine: keep it fast.
		Observer: func(e cache.Event) {
			switch e.Outcome {
			case cache.OutcomeHit, cache.OutcomeStale:
				hits.Add(1)
			case cache.OutcomeMiss:
				misses.Add(1)
			}
		},
	})
	// readme:end observer
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	key, err := c.Key("user", "findMany", nil)
	if err != nil {
		return 0, 0, err
	}
	for range reads {
		if _, err := cache.Load(ctx, c, key, cache.Policy{TTL: time.Hour, WaitUntil: cache.Inline}, queryUsers); err != nil {
			return 0, 0, err
		}
	}
	return hits.Load(), misses.Load(), nil
}

// ---- The ORM client ----

// readme:begin orm-schema
type User struct {
	ID        int64
	Email     string
	Name      *string // nullable
	Active    bool
	CreatedAt time.Time
	Posts     []Post // loaded by Include{"posts": …}
}

type Post struct {
	ID       string
	Title    string
	AuthorID int64
	Author   *User // loaded by Include{"author": …}
}

var Users = viborm.Model[User]("user",
	s.BigInt("id").ID().Autoincrement(),
	s.String("email").Unique(),
	s.String("name").Nullable(),
	s.Boolean("active").Default(true),
	s.DateTime("createdAt").Now(),
	s.OneToMany("posts", "post"), // the inverse side: the foreign key is on post
)

var Posts = viborm.Model[Post]("post",
	s.String("id").ID().ULID(),
	s.String("title"),
	s.BigInt("authorId"),
	// The owning side holds the foreign key: post.authorId → user.id.
	s.ManyToOne("author", "user").Fields("authorId").References("id").OnDelete(s.Cascade),
)

// readme:end orm-schema

// ormExample is the README's ORM block. It runs against app.db in the
// working directory, and hands what the cached read returned to got.
func ormExample(ctx context.Context, got func([]User)) error {
	// readme:begin orm
	drv, err := sqlite.Open("file:app.db") // or postgres.Open(dsn), mysql.Open(dsn), or FromDB(*sql.DB)
	if err != nil {
		return err
	}
	mem, _ := memorycache.New(nil) // or rediscache.New(rdb, nil), upstashcache.FromEnv(nil)
	kv, _ := cache.New(mem, nil)
	db, err := viborm.NewClient(viborm.Config{
		Models: []viborm.AnyModel{Users, Posts},
		Driver: drv,
		Cache:  kv, // the client owns it now
	})
	if err != nil {
		return err
	}
	defer db.Close()                             // waits for background refreshes and writes, closes the cache
	if _, err := db.Push(ctx, nil); err != nil { // CREATE TABLE/INDEX … IF NOT EXISTS; DryRun returns the SQL
		return err
	}

	alice, err := Users.Create(ctx, db, viborm.Create{Data: viborm.Data{"email": "a@acme.io"}})
	if err != nil {
		return err
	}
	_, err = Posts.Create(ctx, db, viborm.Create{Data: viborm.Data{"title": "Hello", "authorId": alice.ID}})
	if err != nil {
		return err
	}

	cached := db.WithCache(viborm.CacheOptions{TTL: time.Hour, SWR: true}) // or TTLString: "5 minutes"
	users, err := Users.FindMany(ctx, cached, viborm.FindMany{
		Where:   viborm.Where{"email": viborm.Contains("@ACME.io").Insensitive()},
		OrderBy: []viborm.Order{viborm.Desc("createdAt")},
		Take:    new(20),
	})
	if err != nil {
		return err
	}
	// Users.Create(ctx, cached, …) does not compile: *viborm.Cached is a Reader, not a Writer.
	_, err = Users.Update(ctx, db, viborm.Update{
		Where: viborm.Where{"email": "a@acme.io"},
		Data:  viborm.Data{"name": "Alice"},
		Cache: &viborm.Invalidate{Auto: new(true), Keys: []string{"post:findMany:*"}},
	})
	if err != nil {
		return err
	}
	if err := db.Invalidate(ctx, "user:*"); err != nil {
		return err
	}
	// readme:end orm
	got(users)
	return nil
}

// ---- Writing a driver ----

// readme:begin driver-interface
type Driver interface {
	Name() string                                                            // for logs: "redis"
	Get(ctx context.Context, key string) (e cache.Entry, ok bool, err error) // ok == false on a miss
	Set(ctx context.Context, key string, storageTTL time.Duration, e cache.Entry) error
	Delete(ctx context.Context, keys []string) error // none is a no-op; missing keys ignored
	Clear(ctx context.Context, prefix string) error  // every key starting with prefix, literally
}

// readme:end driver-interface

// The README's Driver has exactly the methods of cache.Driver.
var (
	_ cache.Driver = Driver(nil)
	_ Driver       = cache.Driver(nil)
)

// readme:begin driver-entry
type Entry struct {
	Value     any           // the cached data
	CreatedAt time.Time     // when it was produced (millisecond precision)
	TTL       time.Duration // its freshness, in milliseconds
}

// readme:end driver-entry

// The README's Entry has exactly the fields of cache.Entry.
var _ = cache.Entry(Entry{})

// readme:begin redis-driver
type RedisCache struct{ rdb *redis.Client }

func (RedisCache) Name() string { return "redis" }

func (r RedisCache) Get(ctx context.Context, key string) (cache.Entry, bool, error) {
	data, err := r.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return cache.Entry{}, false, nil // a miss, not an error
	}
	if err != nil {
		return cache.Entry{}, false, err
	}
	e, err := cache.UnmarshalEntry(data)
	return e, err == nil, err
}

func (r RedisCache) Set(ctx context.Context, key string, storageTTL time.Duration, e cache.Entry) error {
	data, err := cache.MarshalEntry(e, nil)
	if err != nil {
		return err
	}
	return r.rdb.Set(ctx, key, data, storageTTL).Err() // PX: milliseconds
}

func (r RedisCache) Delete(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	return r.rdb.Del(ctx, keys...).Err()
}

func (r RedisCache) Clear(ctx context.Context, prefix string) error {
	// MATCH is a glob: MatchPrefix escapes * ? [ ] \ so the prefix stays literal.
	iter := r.rdb.Scan(ctx, 0, rediscache.MatchPrefix(prefix), 100).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return err
	}
	return r.Delete(ctx, keys)
}

// readme:end redis-driver

var _ cache.Driver = RedisCache{}

// redisUsage is the README's block using RedisCache.
func redisUsage() error {
	// readme:begin redis-usage
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	defer rdb.Close() // the caller owns the client
	c, err := cache.New(RedisCache{rdb}, nil)
	// readme:end redis-usage
	if err != nil {
		return err
	}
	return c.Close()
}

// upstashUsage is the README's Upstash block.
func upstashUsage() error {
	// readme:begin upstash
	drv, err := upstashcache.FromEnv(nil) // UPSTASH_REDIS_REST_URL, UPSTASH_REDIS_REST_TOKEN
	if err != nil {
		return err
	}
	var pending sync.WaitGroup // one per request
	c, err := cache.New(drv, &cache.Options{
		WaitUntil: func(ctx context.Context, task func(context.Context)) { pending.Go(func() { task(ctx) }) },
	})
	// … and before the handler returns: pending.Wait()
	// readme:end upstash
	if err != nil {
		return err
	}
	pending.Wait()
	return c.Close()
}
