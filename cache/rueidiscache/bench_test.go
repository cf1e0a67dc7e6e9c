package rueidiscache_test

// The issue 10 throughput comparison, side by side in one run:
//
//	go test -run '^$' -bench Parallel50 -benchmem -count 6 ./cache/rueidiscache/
//
// It uses database 11 of the shared Redis, a random cache version and an
// index prefix of its own per sub-benchmark, and deletes exactly the keys it
// wrote when it ends; it never flushes.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/internal/redisindex"
	"github.com/viborm/viborm-go/cache/rediscache"
	"github.com/viborm/viborm-go/cache/rueidiscache"
	"github.com/viborm/viborm-go/internal/testenv"
)

// benchRow is a typical row: six fields.
type benchRow struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Score     float64   `json:"score"`
	Active    bool      `json:"active"`
	CreatedAt time.Time `json:"createdAt"`
}

func loadOne(context.Context) (benchRow, error) {
	return benchRow{1, "user1@example.com", "User 1", 1.5, true, time.UnixMilli(1700000000001).UTC()}, nil
}

// misses counts the benchmark reads that reached the loader: a driver call
// that failed or outlived the cache's Timeout (the machine is shared).
// Reported as misses/op; it should be 0.
var misses atomic.Int64

func countMiss(ctx context.Context) (benchRow, error) {
	misses.Add(1)
	return loadOne(ctx)
}

const benchKey = "user:findUnique:bench"

// benchCache returns a cache over d holding one warmed entry under benchKey
// (through cache.Load, as an application would fill it), and its full key.
// When b ends it deletes that key and its index keys, named with
// indexPrefix, which is the benchmark's own.
func benchCache(b *testing.B, d cache.Driver, indexPrefix string, del func(keys []string) error) (*cache.Cache, string) {
	var v [8]byte
	rand.Read(v[:])
	// A generous Timeout: on a loaded machine the default 250ms would send
	// some reads to the loader (see misses).
	c, err := cache.New(d, &cache.Options{Version: "bench" + hex.EncodeToString(v[:]), Timeout: 5 * time.Second,
		WaitUntil: cache.Inline, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	key := c.FullKey(benchKey)
	keys, _, _ := redisindex.Layout{NS: indexPrefix, Depth: redisindex.DefaultDepth}.SetKeys(key)
	b.Cleanup(func() {
		if err := del(keys); err != nil {
			b.Errorf("deleting the benchmark's keys: %v", err)
		}
	})
	if _, err := cache.Load(context.Background(), c, benchKey, cache.Policy{TTL: time.Hour}, loadOne); err != nil {
		b.Fatal(err)
	}
	return c, key
}

// randomIndexPrefix returns an index prefix no one else uses.
func randomIndexPrefix() string {
	var v [8]byte
	rand.Read(v[:])
	return "viborm-index-bench" + hex.EncodeToString(v[:]) + ":"
}

// goRedisClient is configured as in package rediscache's benchmarks.
func goRedisClient(b *testing.B) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(b), DB: testDB, PoolSize: 64, ContextTimeoutEnabled: true})
	b.Cleanup(func() { c.Close() })
	return c
}

func goRedisCache(b *testing.B) (*redis.Client, *cache.Cache, string) {
	client := goRedisClient(b)
	ip := randomIndexPrefix()
	d, err := rediscache.New(client, &rediscache.Options{IndexPrefix: ip})
	if err != nil {
		b.Fatal(err)
	}
	c, key := benchCache(b, d, ip, func(keys []string) error { return client.Del(context.Background(), keys...).Err() })
	return client, c, key
}

// runParallel50 runs op on 50 goroutines (GOMAXPROCS × parallelism, rounded
// up).
func runParallel50(b *testing.B, op func(ctx context.Context) error) {
	par := (50 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0)
	b.SetParallelism(par)
	ctx := context.Background()
	misses.Store(0)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(misses.Load())/float64(b.N), "misses/op")
}

// BenchmarkParallel50 compares throughput at 50 goroutines: a raw go-redis
// GET of an entry's bytes (go-redis configured as in package rediscache's
// benchmarks: PoolSize 64), a hit through cache.Load on the go-redis
// driver, and the same hit on this driver. Target (issue 10): cache.Load on
// the rueidis driver at least 1.3× as fast as goredis-raw-GET.
func BenchmarkParallel50(b *testing.B) {
	b.Run("goredis-raw-GET", func(b *testing.B) {
		client, _, key := goRedisCache(b)
		runParallel50(b, func(ctx context.Context) error { return client.Get(ctx, key).Err() })
	})
	b.Run("goredis-cache.Load", func(b *testing.B) {
		_, c, _ := goRedisCache(b)
		runParallel50(b, func(ctx context.Context) error {
			_, err := cache.Load(ctx, c, benchKey, cache.Policy{TTL: time.Hour}, countMiss)
			return err
		})
	})
	// The rueidis rows: a GET without the driver, the driver's Get, and
	// cache.Load, with the client's default options (auto-pipelining on);
	// then cache.Load with MaxFlushDelay, which lets each pipeline gather
	// more commands per write (see the package documentation).
	def := rueidis.ClientOption{}
	b.Run("rueidis-raw-GET", func(b *testing.B) {
		client, _, _, key := rueidisCache(b, def)
		runParallel50(b, func(ctx context.Context) error { return client.Do(ctx, client.B().Get().Key(key).Build()).Error() })
	})
	b.Run("rueidis-driver.Get", func(b *testing.B) {
		_, d, _, key := rueidisCache(b, def)
		runParallel50(b, func(ctx context.Context) error { _, _, err := d.Get(ctx, key); return err })
	})
	for _, tc := range []struct {
		name string
		opt  rueidis.ClientOption
	}{
		{"rueidis-cache.Load", def},
		{"rueidis-cache.Load-MaxFlushDelay100us", rueidis.ClientOption{MaxFlushDelay: 100 * time.Microsecond}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			_, _, c, _ := rueidisCache(b, tc.opt)
			runParallel50(b, func(ctx context.Context) error {
				_, err := cache.Load(ctx, c, benchKey, cache.Policy{TTL: time.Hour}, countMiss)
				return err
			})
		})
	}
}

// rueidisCache returns a client of the shared Redis made with opt (plus
// DisableCache), a driver over it, a warmed cache over the driver, and the
// entry's full key.
func rueidisCache(b *testing.B, opt rueidis.ClientOption) (rueidis.Client, *rueidiscache.Driver, *cache.Cache, string) {
	opt.InitAddress, opt.SelectDB = []string{testenv.RedisAddr(b)}, testDB
	client := newClient(b, opt)
	ip := randomIndexPrefix()
	d, err := rueidiscache.New(client, &rueidiscache.Options{IndexPrefix: ip})
	if err != nil {
		b.Fatal(err)
	}
	c, key := benchCache(b, d, ip, func(keys []string) error { return d.Delete(context.Background(), keys) })
	return client, d, c, key
}
