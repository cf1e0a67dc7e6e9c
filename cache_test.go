package viborm_test

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	viborm "github.com/viborm/viborm-go"
	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/memorycache"
	"github.com/viborm/viborm-go/cache/rediscache"
	"github.com/viborm/viborm-go/internal/testenv"
)

// clock is a controllable clock for cache.Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// recorder collects the outcomes of cached reads.
type recorder struct {
	mu  sync.Mutex
	out []string
}

func (r *recorder) observe(e cache.Event) {
	r.mu.Lock()
	r.out = append(r.out, e.Outcome.String())
	r.mu.Unlock()
}

// take returns and clears the recorded outcomes.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.out
	r.out = nil
	return out
}

type cacheEnv struct {
	db    *viborm.Client
	clock *clock
	rec   *recorder
}

// newCacheDriver returns a fresh cache driver of kind "memory" or "redis".
func newCacheDriver(t testing.TB, kind string, clk *clock) cache.Driver {
	t.Helper()
	switch kind {
	case "memory":
		d, err := memorycache.New(&memorycache.Options{Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		return d
	case "redis":
		rdb := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t), ContextTimeoutEnabled: true})
		t.Cleanup(func() { rdb.Close() })
		d, err := rediscache.New(rdb, nil)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	t.Fatalf("unknown cache driver %q", kind)
	return nil
}

// newCacheEnv returns a SQLite client with a cache on driver kind, a
// controllable clock, inline background work and a unique version (so
// Redis keys of parallel tests never meet).
func newCacheEnv(t testing.TB, dialect, kind string, cfg viborm.Config) *cacheEnv {
	t.Helper()
	env := &cacheEnv{clock: newClock(), rec: &recorder{}}
	kv, err := cache.New(newCacheDriver(t, kind, env.clock), &cache.Options{
		Version:   "t" + suffix(),
		Now:       env.clock.Now,
		WaitUntil: cache.Inline,
		Observer:  env.rec.observe,
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Cache = kv
	env.db = newClient(t, dialect, cfg)
	return env
}

var cacheDrivers = []string{"memory", "redis"}

func TestCachedReadsEveryOperation(t *testing.T) {
	for _, kind := range cacheDrivers {
		for _, dialect := range []string{"sqlite", "postgres"} {
			t.Run(kind+"/"+dialect, func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				env := newCacheEnv(t, dialect, kind, viborm.Config{})
				db := env.db
				us := seed(t, db)
				born := time.Date(1999, 12, 31, 23, 59, 59, 123456000, time.UTC)
				_, err := Users.Update(ctx, db, viborm.Update{Where: viborm.Where{"id": us[0].ID}, Data: viborm.Data{
					"meta": `{"k":[1,2,{"x":null}]}`, "avatar": []byte{0, 255, 10}, "big": int64(-9007199254740993), "born": born}})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := Tags.Create(ctx, db, viborm.Create{Data: viborm.Data{"ns": "a", "name": "b", "at": born, "blob": []byte{}, "price": "12.50"}}); err != nil {
					t.Fatal(err)
				}
				cached := db.WithCache(viborm.CacheOptions{TTL: time.Minute})
				order := []viborm.Order{viborm.Asc("email")}
				ops := []struct {
					name string
					run  func(r viborm.Reader) (any, error)
				}{
					{"findMany", func(r viborm.Reader) (any, error) {
						return Users.FindMany(ctx, r, viborm.FindMany{OrderBy: order})
					}},
					{"findMany select", func(r viborm.Reader) (any, error) {
						return Users.FindMany(ctx, r, viborm.FindMany{OrderBy: order, Select: []string{"email", "name"}})
					}},
					{"findFirst", func(r viborm.Reader) (any, error) {
						return Users.FindFirst(ctx, r, viborm.FindMany{Where: viborm.Where{"role": "admin"}, OrderBy: order})
					}},
					{"findFirst none", func(r viborm.Reader) (any, error) {
						return Users.FindFirst(ctx, r, viborm.FindMany{Where: viborm.Where{"age": 1000}})
					}},
					{"findFirstOrThrow", func(r viborm.Reader) (any, error) {
						return Users.FindFirstOrErr(ctx, r, viborm.FindMany{Where: viborm.Where{"role": "guest"}})
					}},
					{"findUnique", func(r viborm.Reader) (any, error) {
						return Users.FindUnique(ctx, r, viborm.FindUnique{Where: viborm.Where{"id": us[0].ID}})
					}},
					{"findUnique none", func(r viborm.Reader) (any, error) {
						return Users.FindUnique(ctx, r, viborm.FindUnique{Where: viborm.Where{"id": 12345}})
					}},
					{"findUniqueOrThrow", func(r viborm.Reader) (any, error) {
						return Users.FindUniqueOrErr(ctx, r, viborm.FindUnique{Where: viborm.Where{"email": "bob@example.com"}})
					}},
					{"count", func(r viborm.Reader) (any, error) {
						return Users.Count(ctx, r, viborm.Count{Where: viborm.Where{"active": true}})
					}},
					{"exist", func(r viborm.Reader) (any, error) { return Users.Exist(ctx, r, viborm.Where{"role": "guest"}) }},
					{"aggregate", func(r viborm.Reader) (any, error) {
						return Users.Aggregate(ctx, r, viborm.Aggregate{Count: []string{"_all"}, Avg: []string{"score"}, Sum: []string{"big", "balance"},
							Min: []string{"born", "email"}, Max: []string{"createdAt", "balance"}})
					}},
					{"groupBy", func(r viborm.Reader) (any, error) {
						return Users.GroupBy(ctx, r, viborm.GroupBy{By: []string{"role", "active"}, Count: []string{"_all"}, Max: []string{"born"},
							OrderBy: []viborm.Order{viborm.Asc("role"), viborm.Asc("active")}})
					}},
					{"rows", func(r viborm.Reader) (any, error) { return Tags.FindMany(ctx, r, viborm.FindMany{}) }},
				}
				for _, op := range ops {
					want, err := op.run(db)
					if err != nil {
						t.Fatalf("%s uncached: %v", op.name, err)
					}
					env.rec.take()
					miss, err := op.run(cached)
					if err != nil {
						t.Fatalf("%s miss: %v", op.name, err)
					}
					hit, err := op.run(cached)
					if err != nil {
						t.Fatalf("%s hit: %v", op.name, err)
					}
					if got := env.rec.take(); !reflect.DeepEqual(got, []string{"miss", "hit"}) {
						t.Errorf("%s: outcomes %v, want [miss hit]", op.name, got)
					}
					if !reflect.DeepEqual(miss, want) {
						t.Errorf("%s: miss differs from the uncached read:\n got %#v\nwant %#v", op.name, miss, want)
					}
					if !reflect.DeepEqual(hit, miss) {
						t.Errorf("%s: hit differs from miss:\n got %#v\nwant %#v", op.name, hit, miss)
					}
				}
				// The cache answers, not the database: a row added behind its
				// back is not seen until invalidation.
				if _, err := db.ExecRaw(ctx, "DELETE FROM posts"); err != nil {
					t.Fatal(err)
				}
				if _, err := db.ExecRaw(ctx, "UPDATE users SET age = 99"); err != nil {
					t.Fatal(err)
				}
				got, _ := Users.FindMany(ctx, cached, viborm.FindMany{OrderBy: order})
				if got[0].Age == 99 {
					t.Fatal("a hit read the database")
				}
				if err := db.Invalidate(ctx, "user:*"); err != nil {
					t.Fatal(err)
				}
				got, _ = Users.FindMany(ctx, cached, viborm.FindMany{OrderBy: order})
				if got[0].Age != 99 {
					t.Fatal("invalidation did not clear the entry")
				}
			})
		}
	}
}

func TestCachedHitsAreIsolatedFromMutation(t *testing.T) {
	for _, kind := range cacheDrivers {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			env := newCacheEnv(t, "sqlite", kind, viborm.Config{})
			seed(t, env.db)
			if _, err := Users.Update(ctx, env.db, viborm.Update{Where: viborm.Where{"email": "ada@example.com"}, Data: viborm.Data{"avatar": []byte("abc"), "meta": `{"a":1}`, "born": time.Unix(0, 0)}}); err != nil {
				t.Fatal(err)
			}
			if _, err := Tags.Create(ctx, env.db, viborm.Create{Data: viborm.Data{"ns": "a", "name": "b", "blob": []byte("xyz")}}); err != nil {
				t.Fatal(err)
			}
			cached := env.db.WithCache(viborm.CacheOptions{})
			args := viborm.FindMany{OrderBy: []viborm.Order{viborm.Asc("id")}}
			first, err := Users.FindMany(ctx, cached, args)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := Users.FindMany(ctx, env.db, args)
			// Mutate everything reachable.
			first[0].Email = "x"
			*first[0].Name = "mutated"
			first[0].Avatar[0] = 'Z'
			first[0].Meta[0] = ' '
			*first[0].Born = time.Time{}
			first = append(first[:1], first[2:]...)
			_ = first
			for range 2 {
				hit, err := Users.FindMany(ctx, cached, args)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(hit, want) {
					t.Fatalf("a mutated result leaked into the cache:\n got %#v\nwant %#v", hit, want)
				}
				hit[0].Email = "y"
			}
			rows, _ := Tags.FindMany(ctx, cached, viborm.FindMany{})
			rows[0]["blob"].([]byte)[0] = 'Q'
			rows[0]["name"] = "changed"
			rows, _ = Tags.FindMany(ctx, cached, viborm.FindMany{})
			if string(rows[0]["blob"].([]byte)) != "xyz" || rows[0]["name"] != "b" {
				t.Fatalf("row mutation leaked: %v", rows[0])
			}
			one, _ := Users.FindUnique(ctx, cached, viborm.FindUnique{Where: viborm.Where{"email": "ada@example.com"}})
			one.Age = -1
			one, _ = Users.FindUnique(ctx, cached, viborm.FindUnique{Where: viborm.Where{"email": "ada@example.com"}})
			if one.Age != 36 {
				t.Fatal("findUnique mutation leaked")
			}
			agg, _ := Users.Aggregate(ctx, cached, viborm.Aggregate{Count: []string{"_all"}, Max: []string{"age"}})
			agg.Count["_all"] = 0
			agg.Max["age"] = "x"
			agg, _ = Users.Aggregate(ctx, cached, viborm.Aggregate{Count: []string{"_all"}, Max: []string{"age"}})
			if agg.Count["_all"] != 5 || agg.Max["age"] != int64(41) {
				t.Fatalf("aggregate mutation leaked: %#v", agg)
			}
		})
	}
}

func TestCacheTTLAndSWR(t *testing.T) {
	for _, kind := range cacheDrivers {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			env := newCacheEnv(t, "sqlite", kind, viborm.Config{})
			db := env.db
			mustCreateUser(t, db, viborm.Data{"email": "a@x", "age": 1})
			setAge := func(n int) {
				t.Helper()
				if _, err := db.ExecRaw(ctx, "UPDATE users SET age = ?", n); err != nil {
					t.Fatal(err)
				}
			}
			read := func(c *viborm.Cached) int {
				t.Helper()
				u, err := Users.FindFirstOrErr(ctx, c, viborm.FindMany{})
				if err != nil {
					t.Fatal(err)
				}
				return u.Age
			}
			check := func(name string, got, want int, outcomes ...string) {
				t.Helper()
				if rec := env.rec.take(); got != want || !reflect.DeepEqual(rec, outcomes) {
					t.Fatalf("%s: got %d %v, want %d %v", name, got, rec, want, outcomes)
				}
			}
			// TTL as a string, no SWR: fresh until 2 minutes, then a miss.
			plain := db.WithCache(viborm.CacheOptions{TTLString: "2 minutes"})
			check("first", read(plain), 1, "miss")
			setAge(2)
			env.clock.Add(2*time.Minute - time.Millisecond)
			check("before ttl", read(plain), 1, "hit")
			env.clock.Add(2 * time.Millisecond)
			check("expired", read(plain), 2, "miss")

			// SWR with the default window (= TTL): stale served, refreshed.
			db.Invalidate(ctx, "user:*")
			swr := db.WithCache(viborm.CacheOptions{TTL: time.Minute, SWR: true})
			check("swr first", read(swr), 2, "miss")
			setAge(3)
			env.clock.Add(90 * time.Second)
			check("stale", read(swr), 2, "stale")
			check("refreshed", read(swr), 3, "hit")
			setAge(4)
			env.clock.Add(3 * time.Minute) // beyond TTL + window
			check("beyond window", read(swr), 4, "miss")

			// An explicit window.
			db.Invalidate(ctx, "user:*")
			win := db.WithCache(viborm.CacheOptions{TTL: time.Minute, StaleWindow: 10 * time.Second})
			check("window first", read(win), 4, "miss")
			setAge(5)
			env.clock.Add(65 * time.Second)
			check("in window", read(win), 4, "stale")
			setAge(6)
			env.clock.Add(80 * time.Second)
			check("after window", read(win), 6, "miss")

			// Bypass skips the read but still stores.
			setAge(7)
			by := db.WithCache(viborm.CacheOptions{TTL: time.Minute, Bypass: true})
			check("bypass", read(by), 7, "bypass")
			setAge(8)
			normal := db.WithCache(viborm.CacheOptions{TTL: time.Minute, StaleWindow: 10 * time.Second})
			check("after bypass", read(normal), 7, "hit")
		})
	}
}

func TestCacheKeys(t *testing.T) {
	ctx := context.Background()
	env := newCacheEnv(t, "sqlite", "memory", viborm.Config{})
	db := env.db
	cached := db.WithCache(viborm.CacheOptions{})
	key := func(op viborm.Op, args any) string {
		t.Helper()
		k, err := Users.CacheKey(cached, op, args)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	base := key(viborm.OpFindMany, viborm.FindMany{Where: viborm.Where{"age": 3, "active": true}})
	same := []any{
		viborm.FindMany{Where: viborm.Where{"active": true, "age": int64(3)}},
		viborm.FindMany{Where: viborm.Where{"active": viborm.Equals(true), "age": uint8(3)}},
		viborm.FindMany{Where: viborm.Where{"AND": []viborm.Where{{"active": true}, {"age": 3}}}},
		viborm.FindMany{Where: viborm.Where{"active": true, "age": 3}, Omit: []string{}},
	}
	for i, a := range same {
		if k := key(viborm.OpFindMany, a); k != base {
			t.Errorf("same query %d: key %s, want %s", i, k, base)
		}
	}
	if k1, k2 := key(viborm.OpFindMany, viborm.FindMany{Select: []string{"email", "id"}}), key(viborm.OpFindMany, viborm.FindMany{Select: []string{"id", "email"}}); k1 != k2 {
		t.Error("select order changed the key")
	}
	seen := map[string]string{base: "base"}
	different := map[string]any{
		"age 4":       viborm.FindMany{Where: viborm.Where{"age": 4, "active": true}},
		"age gt":      viborm.FindMany{Where: viborm.Where{"age": viborm.Gt(3), "active": true}},
		"or":          viborm.FindMany{Where: viborm.Where{"OR": []viborm.Where{{"age": 3}, {"active": true}}}},
		"take":        viborm.FindMany{Where: viborm.Where{"age": 3, "active": true}, Take: ptr(1)},
		"skip":        viborm.FindMany{Where: viborm.Where{"age": 3, "active": true}, Skip: 1},
		"order":       viborm.FindMany{Where: viborm.Where{"age": 3, "active": true}, OrderBy: []viborm.Order{viborm.Asc("age")}},
		"order desc":  viborm.FindMany{Where: viborm.Where{"age": 3, "active": true}, OrderBy: []viborm.Order{viborm.Desc("age")}},
		"select":      viborm.FindMany{Where: viborm.Where{"age": 3, "active": true}, Select: []string{"id"}},
		"string 3":    viborm.FindMany{Where: viborm.Where{"email": "3", "active": true}},
		"insensitive": viborm.FindMany{Where: viborm.Where{"email": viborm.Equals("3").Insensitive(), "active": true}},
		"contains":    viborm.FindMany{Where: viborm.Where{"email": viborm.Contains("a%")}},
		"contains2":   viborm.FindMany{Where: viborm.Where{"email": viborm.Contains("a_")}},
		"null":        viborm.FindMany{Where: viborm.Where{"name": nil}},
		"not null":    viborm.FindMany{Where: viborm.Where{"name": viborm.Not(nil)}},
	}
	for name, a := range different {
		k := key(viborm.OpFindMany, a)
		if prev, ok := seen[k]; ok {
			t.Errorf("%s shares a key with %s", name, prev)
		}
		seen[k] = name
	}
	// The operation name is part of the key, with VibORM's names.
	for _, op := range []viborm.Op{viborm.OpFindFirst, viborm.OpFindFirstOrThrow} {
		k := key(op, viborm.FindMany{})
		if !contains(k, ":user:"+string(op)+":") {
			t.Errorf("key %s lacks op %s", k, op)
		}
	}
	if k := key(viborm.OpFindUniqueOrThrow, viborm.FindUnique{Where: viborm.Where{"id": 1}}); !contains(k, ":user:findUniqueOrThrow:") {
		t.Errorf("key %s", k)
	}
	// Invalid arguments are validation errors, as in the read.
	if _, err := Users.CacheKey(cached, viborm.OpFindMany, viborm.FindMany{Where: viborm.Where{"nope": 1}}); !errors.Is(err, viborm.ErrValidation) {
		t.Errorf("bad args: %v", err)
	}
	// CacheKey refuses what the read refuses: an aggregate of nothing.
	if _, err := Users.CacheKey(cached, viborm.OpAggregate, viborm.Aggregate{}); !errors.Is(err, viborm.ErrValidation) {
		t.Errorf("empty aggregate: %v, want the read's validation error", err)
	}
	if _, err := Users.Aggregate(context.Background(), cached, viborm.Aggregate{}); !errors.Is(err, viborm.ErrValidation) {
		t.Errorf("empty aggregate read: %v", err)
	}
	// A custom key is used as given (prefixed).
	custom := db.WithCache(viborm.CacheOptions{Key: "all-users"})
	k, _ := Users.CacheKey(custom, viborm.OpFindMany, viborm.FindMany{})
	if !contains(k, ":all-users") || !contains(k, "viborm:v") {
		t.Errorf("custom key %s", k)
	}
	mustCreateUser(t, db, viborm.Data{"email": "a@x"})
	if _, err := Users.FindMany(ctx, custom, viborm.FindMany{}); err != nil {
		t.Fatal(err)
	}
	if err := db.Invalidate(ctx, "all-users"); err != nil {
		t.Fatal(err)
	}
	env.rec.take()
	Users.FindMany(ctx, custom, viborm.FindMany{})
	if got := env.rec.take(); !reflect.DeepEqual(got, []string{"miss"}) {
		t.Errorf("custom key invalidation: %v", got)
	}
}

func TestCacheInvalidation(t *testing.T) {
	for _, kind := range cacheDrivers {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			env := newCacheEnv(t, "sqlite", kind, viborm.Config{})
			db := env.db
			u := mustCreateUser(t, db, viborm.Data{"email": "a@x"})
			cached := db.WithCache(viborm.CacheOptions{TTL: time.Hour})
			users := func() { Users.FindMany(ctx, cached, viborm.FindMany{}) }
			count := func() { Users.Count(ctx, cached, viborm.Count{}) }
			posts := func() { Posts.FindMany(ctx, cached, viborm.FindMany{}) }
			warm := func() {
				users()
				count()
				posts()
				env.rec.take()
			}
			expect := func(name string, want ...string) {
				t.Helper()
				users()
				count()
				posts()
				if got := env.rec.take(); !reflect.DeepEqual(got, want) {
					t.Errorf("%s: %v, want %v", name, got, want)
				}
			}
			warm()
			// No invalidation by default (VibORM's autoInvalidate is off).
			mustCreateUser(t, db, viborm.Data{"email": "b@x"})
			expect("default", "hit", "hit", "hit")
			// Auto clears the model's reads, not other models'.
			Users.Update(ctx, db, viborm.Update{Where: viborm.Where{"id": u.ID}, Data: viborm.Data{"age": 1}, Cache: &viborm.Invalidate{Auto: ptr(true)}})
			expect("auto", "miss", "miss", "hit")
			// An exact key.
			key, _ := Users.CacheKey(cached, viborm.OpCount, viborm.Count{})
			Users.UpdateMany(ctx, db, viborm.UpdateMany{Data: viborm.Data{"age": 2}, Cache: &viborm.Invalidate{Keys: []string{key}}})
			expect("key", "hit", "miss", "hit")
			// A prefix pattern.
			Users.DeleteMany(ctx, db, viborm.DeleteMany{Where: viborm.Where{"email": "b@x"}, Cache: &viborm.Invalidate{Keys: []string{"user:findMany:*"}}})
			expect("prefix", "miss", "hit", "hit")
			// Client.Invalidate.
			if err := db.Invalidate(ctx, "post:*", "user:count:*"); err != nil {
				t.Fatal(err)
			}
			expect("client", "hit", "miss", "miss")
			// Transactions: after COMMIT, not on rollback.
			err := db.Tx(ctx, func(tx *viborm.Tx) error {
				_, err := Users.Create(ctx, tx, viborm.Create{Data: viborm.Data{"email": "c@x"}, Cache: &viborm.Invalidate{Auto: ptr(true)}})
				if err != nil {
					return err
				}
				// Not yet invalidated inside the transaction.
				count()
				if got := env.rec.take(); !reflect.DeepEqual(got, []string{"hit"}) {
					t.Errorf("inside tx: %v", got)
				}
				return nil
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			expect("after commit", "miss", "miss", "hit")
			db.Tx(ctx, func(tx *viborm.Tx) error {
				Users.Create(ctx, tx, viborm.Create{Data: viborm.Data{"email": "d@x"}, Cache: &viborm.Invalidate{Auto: ptr(true)}})
				return errors.New("rollback")
			}, nil)
			expect("after rollback", "hit", "hit", "hit")
		})
	}
}

func TestClientAutoInvalidateDefault(t *testing.T) {
	ctx := context.Background()
	env := newCacheEnv(t, "sqlite", "memory", viborm.Config{AutoInvalidate: true})
	cached := env.db.WithCache(viborm.CacheOptions{})
	Users.Count(ctx, cached, viborm.Count{})
	mustCreateUser(t, env.db, viborm.Data{"email": "a@x"})
	n, _ := Users.Count(ctx, cached, viborm.Count{})
	if n != 1 {
		t.Fatalf("count after auto-invalidated write: %d", n)
	}
	// A write can opt out.
	Users.Create(ctx, env.db, viborm.Create{Data: viborm.Data{"email": "b@x"}, Cache: &viborm.Invalidate{Auto: ptr(false)}})
	if n, _ = Users.Count(ctx, cached, viborm.Count{}); n != 1 {
		t.Fatalf("opted-out write invalidated: %d", n)
	}
}

func TestCacheVersionsIsolate(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	// Two caches of different versions over one store: the client takes
	// its version from its cache (cache.Options.Version).
	store := newCacheDriver(t, "memory", clk)
	kv1, err := cache.New(store, &cache.Options{Now: clk.Now, Version: "1"})
	if err != nil {
		t.Fatal(err)
	}
	kv2, err := cache.New(store, &cache.Options{Now: clk.Now, Version: "2"})
	if err != nil {
		t.Fatal(err)
	}
	drv := openDriver(t, "sqlite")
	v1, err := viborm.NewClient(viborm.Config{Models: allModels, Driver: drv, Cache: kv1})
	if err != nil {
		t.Fatal(err)
	}
	v2, err := viborm.NewClient(viborm.Config{Models: allModels, Driver: drv, Cache: kv2})
	if err != nil {
		t.Fatal(err)
	}
	defer v1.Close()
	if _, err := v1.Push(ctx, nil); err != nil {
		t.Fatal(err)
	}
	n1, _ := Users.Count(ctx, v1.WithCache(viborm.CacheOptions{}), viborm.Count{})
	mustCreateUser(t, v1, viborm.Data{"email": "a@x"})
	n2, _ := Users.Count(ctx, v2.WithCache(viborm.CacheOptions{}), viborm.Count{})
	n1b, _ := Users.Count(ctx, v1.WithCache(viborm.CacheOptions{}), viborm.Count{})
	if n1 != 0 || n2 != 1 || n1b != 0 {
		t.Fatalf("versions share entries: v1 %d, v2 %d, v1 again %d", n1, n2, n1b)
	}
	k1, _ := Users.CacheKey(v1.WithCache(viborm.CacheOptions{}), viborm.OpCount, viborm.Count{})
	if !contains(k1, "viborm:v1:user:count:") {
		t.Fatalf("key %s", k1)
	}
	// Invalidating one version leaves the other.
	v2.Invalidate(ctx, "user:*")
	if n, _ := Users.Count(ctx, v1.WithCache(viborm.CacheOptions{}), viborm.Count{}); n != 0 {
		t.Fatal("v2's invalidation cleared v1")
	}
}

func TestCacheConfigurationErrors(t *testing.T) {
	ctx := context.Background()
	plain := newClient(t, "sqlite", viborm.Config{})
	_, err := Users.FindMany(ctx, plain.WithCache(viborm.CacheOptions{}), viborm.FindMany{})
	if !errors.Is(err, viborm.ErrCacheNotConfigured) {
		t.Errorf("no cache: %v", err)
	}
	if err := plain.Invalidate(ctx, "user:*"); !errors.Is(err, viborm.ErrCacheNotConfigured) {
		t.Errorf("invalidate without cache: %v", err)
	}
	env := newCacheEnv(t, "sqlite", "memory", viborm.Config{})
	bad := []viborm.CacheOptions{
		{TTL: -time.Second},
		{TTLString: "5 parsecs"},
		{TTLString: "soon"},
		{TTL: time.Second, TTLString: "1s"},
		{StaleWindow: -1},
	}
	for _, o := range bad {
		c := env.db.WithCache(o)
		_, err := Users.Count(ctx, c, viborm.Count{})
		var e *viborm.Error
		if !errors.Is(err, viborm.ErrInvalidCacheOption) || !errors.As(err, &e) || e.Code != viborm.CodeInvalidCacheOption || c.Err() == nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
	if err := env.db.WithCache(viborm.CacheOptions{TTLString: "bogus"}).Err(); !errors.Is(err, cache.ErrInvalidTTL) {
		t.Errorf("TTL error does not unwrap to cache.ErrInvalidTTL: %v", err)
	}
	// The cached handle is a Reader, not a Writer: a write through it does
	// not compile (Users.Create(ctx, cached, …) is a type error).
	var r viborm.Reader = env.db.WithCache(viborm.CacheOptions{})
	if _, ok := r.(viborm.Writer); ok {
		t.Error("*Cached implements Writer")
	}
}

func TestOrThrowNotFoundIsNotCached(t *testing.T) {
	ctx := context.Background()
	env := newCacheEnv(t, "sqlite", "memory", viborm.Config{})
	cached := env.db.WithCache(viborm.CacheOptions{})
	args := viborm.FindUnique{Where: viborm.Where{"email": "a@x"}}
	for range 2 {
		if _, err := Users.FindUniqueOrErr(ctx, cached, args); !errors.Is(err, viborm.ErrNotFound) {
			t.Fatalf("missing: %v", err)
		}
	}
	if _, err := Users.FindFirstOrErr(ctx, cached, viborm.FindMany{}); !errors.Is(err, viborm.ErrNotFound) {
		t.Fatal(err)
	}
	if got := env.rec.take(); !reflect.DeepEqual(got, []string{"error", "error", "error"}) && !reflect.DeepEqual(got, []string{"miss", "miss", "miss"}) {
		t.Errorf("outcomes %v", got)
	}
	// FindUnique caches its nil like any result.
	if u, _ := Users.FindUnique(ctx, cached, args); u != nil {
		t.Fatal(u)
	}
	mustCreateUser(t, env.db, viborm.Data{"email": "a@x"})
	if u, _ := Users.FindUnique(ctx, cached, args); u != nil {
		t.Fatal("nil was not cached")
	}
	u, err := Users.FindUniqueOrErr(ctx, cached, args)
	if err != nil || u.Email != "a@x" {
		t.Fatalf("after create: %v %v", u, err)
	}
	env.rec.take()
	if _, err := Users.FindUniqueOrErr(ctx, cached, args); err != nil {
		t.Fatal(err)
	}
	if got := env.rec.take(); !reflect.DeepEqual(got, []string{"hit"}) {
		t.Errorf("OrErr found value not cached: %v", got)
	}
}

// failingDriver is a cache driver whose deletes fail, to check that a
// committed write survives a failed invalidation.
type failingDriver struct {
	cache.Driver
	mu    sync.Mutex
	fails int
}

func (d *failingDriver) fail() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fails++
	return errors.New("cache down")
}

func (d *failingDriver) Delete(ctx context.Context, keys []string) error { return d.fail() }
func (d *failingDriver) Clear(ctx context.Context, prefix string) error  { return d.fail() }

func TestFailedInvalidationNeverFailsCommittedWrite(t *testing.T) {
	ctx := context.Background()
	mem, _ := memorycache.New(nil)
	fd := &failingDriver{Driver: mem}
	kv, err := cache.New(fd, nil)
	if err != nil {
		t.Fatal(err)
	}
	reported := make(chan error, 1)
	db := newClient(t, "sqlite", viborm.Config{Cache: kv, InvalidateRetry: time.Millisecond, Logger: slog.New(slog.DiscardHandler),
		OnInvalidateError: func(err error) { reported <- err }})
	u, err := Users.Create(ctx, db, viborm.Create{Data: viborm.Data{"email": "a@x"}, Cache: &viborm.Invalidate{Auto: ptr(true)}})
	if err != nil {
		t.Fatalf("the write failed because the cache did: %v", err)
	}
	if n, _ := Users.Count(ctx, db, viborm.Count{}); n != 1 || u.Email != "a@x" {
		t.Fatal("write not committed")
	}
	err = <-reported
	if !errors.Is(err, viborm.ErrCacheInvalidation) {
		t.Fatalf("reported %v", err)
	}
}

func TestCloseDrainsBackgroundWork(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	gate := make(chan struct{})
	var handed sync.WaitGroup
	var mu sync.Mutex
	n := 0
	// Background tasks wait at a gate, so Close has work in flight.
	wait := func(ctx context.Context, task func(context.Context)) {
		mu.Lock()
		n++
		mu.Unlock()
		handed.Add(1)
		go func() {
			defer handed.Done()
			<-gate
			task(ctx)
		}()
	}
	kv, err := cache.New(newCacheDriver(t, "memory", clk), &cache.Options{Now: clk.Now, WaitUntil: wait})
	if err != nil {
		t.Fatal(err)
	}
	db, err := viborm.NewClient(viborm.Config{Models: allModels, Driver: openDriver(t, "sqlite"), Cache: kv})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Push(ctx, nil); err != nil {
		t.Fatal(err)
	}
	swr := db.WithCache(viborm.CacheOptions{TTL: time.Minute, SWR: true})
	for i := range 3 {
		Users.Count(ctx, swr, viborm.Count{Skip: i})
	}
	clk.Add(90 * time.Second)
	for i := range 3 {
		Users.Count(ctx, swr, viborm.Count{Skip: i}) // stale: refreshed in the background
	}
	mu.Lock()
	if n == 0 {
		t.Fatal("no background work was scheduled")
	}
	mu.Unlock()
	closed := make(chan error)
	go func() { closed <- db.Close() }()
	select {
	case <-closed:
		t.Fatal("Close returned while background work was blocked")
	default:
	}
	close(gate)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	handed.Wait()
}

// cache.Options.WaitUntil is VibORM's waitUntil, the one background-work
// hook: the background work of the client's cached reads (the write after a
// miss) is handed to it before the read returns.
func TestWaitUntilSchedulesCacheWork(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	var tasks []func(context.Context)
	hook := func(ctx context.Context, task func(context.Context)) {
		mu.Lock()
		tasks = append(tasks, task)
		mu.Unlock()
	}
	clk := newClock()
	kv, err := cache.New(newCacheDriver(t, "memory", clk), &cache.Options{Now: clk.Now, WaitUntil: hook})
	if err != nil {
		t.Fatal(err)
	}
	db := newClient(t, "sqlite", viborm.Config{Cache: kv})
	seed(t, db)
	cached := db.WithCache(viborm.CacheOptions{TTL: time.Minute})
	if _, err := Users.Count(ctx, cached, viborm.Count{}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	pending := tasks
	tasks = nil
	mu.Unlock()
	if len(pending) != 1 {
		t.Fatalf("the hook got %d tasks, want the write after the miss", len(pending))
	}
	key, err := Users.CacheKey(cached, viborm.OpCount, viborm.Count{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := kv.Get(ctx, key); ok {
		t.Fatal("stored before the hook ran the task")
	}
	pending[0](ctx)
	if _, ok, _ := kv.Get(ctx, key); !ok {
		t.Fatal("running the task did not store the result")
	}
}

// TestCacheKeysAreStable pins whole keys: a release that changes them makes
// every cached entry unreachable, so a change here must be deliberate (and
// in the CHANGELOG).
func TestCacheKeysAreStable(t *testing.T) {
	kv, err := cache.New(newCacheDriver(t, "memory", newClock()), nil)
	if err != nil {
		t.Fatal(err)
	}
	cached := newClient(t, "sqlite", viborm.Config{Cache: kv}).WithCache(viborm.CacheOptions{})
	cases := []struct {
		op   viborm.Op
		args any
		want string
	}{
		{viborm.OpFindMany, viborm.FindMany{Where: viborm.Where{"age": viborm.Gte(18), "active": true}, OrderBy: []viborm.Order{viborm.Desc("age")}, Take: ptr(10)}, "user:findMany:80ac78620c37b8ae9a9cef6199d26a7f"},
		{viborm.OpFindUnique, viborm.FindUnique{Where: viborm.Where{"id": 7}, Select: []string{"id", "email"}}, "user:findUnique:6bcea2aa403af2b8093bd577e1babd61"},
		{viborm.OpCount, viborm.Count{Where: viborm.Where{"email": viborm.Contains("@example.com")}}, "user:count:879d6e89696c27ce9578ce2cab617ec8"},
	}
	for _, c := range cases {
		k, err := Users.CacheKey(cached, c.op, c.args)
		if err != nil {
			t.Fatal(err)
		}
		if want := "viborm:" + c.want; k != want {
			t.Errorf("%s key %q, want %q", c.op, k, want)
		}
	}
}
