package viborm_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	viborm "github.com/viborm/viborm-go"
	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/rediscache"
	"github.com/viborm/viborm-go/cache/tiered"
	"github.com/viborm/viborm-go/driver/postgres"
	"github.com/viborm/viborm-go/internal/testenv"
)

// tierEnv is a fresh PostgreSQL schema shared by several clients, each
// standing for an instance of the application, and what their caches need:
// a Redis client, a bus channel and a cache version of the env's own.
type tierEnv struct {
	t       testing.TB
	dsn     string
	rdb     *redis.Client
	channel string
	version string
	kvs     []*cache.Cache
}

func newTierEnv(t testing.TB) *tierEnv {
	t.Helper()
	env := &tierEnv{t: t, channel: "viborm-test:bus:" + suffix(), version: "tb" + suffix()}
	env.dsn = postgresSchemaDSN(t)
	env.rdb = redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t), ContextTimeoutEnabled: true})
	t.Cleanup(func() {
		// Clients close first (their cleanups were registered later), the
		// schema is dropped last (its cleanup was registered earlier).
		for _, kv := range env.kvs {
			if err := kv.Clear(context.Background(), ""); err != nil {
				t.Errorf("cleaning up the cache: %v", err)
			}
		}
		env.rdb.Close()
	})
	return env
}

// cache returns a cache of kind "memory", "redis", "redis-compact" (the
// Redis driver with cache.CompactJSON) or "tiered" (its own L1 and bus
// subscription, live when it returns); nil for "uncached".
func (env *tierEnv) cache(kind string) *cache.Cache { return env.cacheWith(kind, cache.Options{}) }

// cacheWith is cache with options o; their Version is the env's.
func (env *tierEnv) cacheWith(kind string, o cache.Options) *cache.Cache {
	t := env.t
	t.Helper()
	var d cache.Driver
	switch kind {
	case "uncached":
		return nil
	case "memory":
		d = newCacheDriver(t, "memory", newClock())
	case "redis", "redis-compact", "tiered":
		var ro *rediscache.Options
		if kind == "redis-compact" {
			ro = &rediscache.Options{Codec: cache.CompactJSON}
		}
		l2, err := rediscache.New(env.rdb, ro)
		if err != nil {
			t.Fatal(err)
		}
		d = l2
		if kind == "tiered" {
			bus, err := rediscache.NewBus(env.rdb, &rediscache.BusOptions{Channel: env.channel})
			if err != nil {
				t.Fatal(err)
			}
			sig := subscribedSignal{ch: make(chan struct{}), once: new(sync.Once)}
			td, err := tiered.New(l2, bus, &tiered.Options{Logger: slog.New(sig)})
			if err != nil {
				t.Fatal(err)
			}
			select {
			case <-sig.ch:
			case <-time.After(30 * time.Second): // a guard, never reached on a working machine
				t.Fatal("the tiered driver's bus did not subscribe")
			}
			d = td
		}
	default:
		t.Fatalf("unknown cache kind %q", kind)
	}
	o.Version = env.version
	kv, err := cache.New(d, &o)
	if err != nil {
		t.Fatal(err)
	}
	if kind != "memory" {
		// A cache of Redis keys the env clears (for memory: nothing to do).
		cleaner, err := cache.New(newCacheDriverOn(t, env.rdb), &cache.Options{Version: env.version})
		if err != nil {
			t.Fatal(err)
		}
		env.kvs = append(env.kvs, cleaner)
	}
	return kv
}

func newCacheDriverOn(t testing.TB, rdb *redis.Client) cache.Driver {
	d, err := rediscache.New(rdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// subscribedSignal is a slog.Handler that closes ch when the tiered
// driver logs that its bus is subscribed: the completion signal waitL1
// waits for.
type subscribedSignal struct {
	ch   chan struct{}
	once *sync.Once
}

func (h subscribedSignal) Enabled(context.Context, slog.Level) bool { return true }
func (h subscribedSignal) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "in-process tier is on") {
		h.once.Do(func() { close(h.ch) })
	}
	return nil
}
func (h subscribedSignal) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h subscribedSignal) WithGroup(string) slog.Handler      { return h }

// client returns a client on the env's schema with kv (nil: uncached); the
// first client pushes the schema.
func (env *tierEnv) client(kv *cache.Cache) *viborm.Client {
	t := env.t
	t.Helper()
	d, err := postgres.Open(env.dsn)
	if err != nil {
		t.Fatal(err)
	}
	return openClient(t, viborm.Config{Driver: d, Models: allModels, Cache: kv})
}

// TestL1PromotedResultIsCopiedPerRead: instance a fills a findMany in
// Redis; instance b reads it (decoding L2's bytes once, then from its L1):
// every read returns rows of its own, so a caller mutating its result never
// changes what the next read returns.
func TestL1PromotedResultIsCopiedPerRead(t *testing.T) {
	env := newTierEnv(t)
	a := env.client(env.cache("tiered"))
	b := env.client(env.cache("tiered"))
	seedUsers(t, a, 3)
	ctx := context.Background()
	args := viborm.FindMany{Where: viborm.Where{"active": true}, OrderBy: []viborm.Order{viborm.Asc("id")}}
	ca, cb := a.WithCache(viborm.CacheOptions{TTL: time.Hour}), b.WithCache(viborm.CacheOptions{TTL: time.Hour})
	if _, err := Users.FindMany(ctx, ca, args); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		got, err := Users.FindMany(ctx, cb, args)
		if err != nil || len(got) != 3 {
			t.Fatalf("read %d: %d rows, %v", i, len(got), err)
		}
		if got[0].Email != "user000@example.com" || got[0].Name == nil || *got[0].Name != "User 0" {
			t.Fatalf("read %d saw a previous caller's mutation: %+v", i, got[0])
		}
		got[0].Email = "mutated"
		*got[0].Name = "mutated"
	}
}
