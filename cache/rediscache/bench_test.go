package rediscache_test

// Run every benchmark of the package in one invocation:
//
//	go test -run '^$' -bench . -benchmem ./cache/rediscache/
//
// The benchmarks run against Redis servers they start themselves (see
// servers_test.go), never the shared one: BenchmarkClear1000Among1M loads a
// million unrelated keys into a server of its own, killed when it ends.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/gojsoncodec"
	"github.com/viborm/viborm-go/cache/rediscache"
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

func benchRows(n int) []benchRow {
	rows := make([]benchRow, n)
	for i := range rows {
		rows[i] = benchRow{int64(i), fmt.Sprintf("user%d@example.com", i), fmt.Sprintf("User %d", i), float64(i) * 1.5, i%2 == 0, time.UnixMilli(1700000000000 + int64(i)).UTC()}
	}
	return rows
}

// benchHit prepares a cache holding one small warmed entry, and returns the
// client, the cache and the entry's full key.
func benchHit(b *testing.B, codec cache.Codec) (*redis.Client, *cache.Cache, string) {
	// ContextTimeoutEnabled lets the cache call the driver directly; see
	// Driver.HonorsContext.
	client := redis.NewClient(&redis.Options{Addr: singleAddr(b), PoolSize: 64, ContextTimeoutEnabled: true})
	b.Cleanup(func() { client.Close() })
	d := newDriver(b, client, &rediscache.Options{Codec: codec})
	c, err := cache.New(d, &cache.Options{WaitUntil: cache.Inline, Logger: slog.New(slog.DiscardHandler), Codec: codec})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	ctx := context.Background()
	if _, err := cache.Load(ctx, c, "user:findUnique:bench", cache.Policy{TTL: time.Hour}, loadOne); err != nil {
		b.Fatal(err)
	}
	return client, c, c.FullKey("user:findUnique:bench")
}

func loadOne(context.Context) (benchRow, error) { return benchRows(1)[0], nil }

func failLoad(context.Context) (benchRow, error) { panic("benchmark read missed") }

// BenchmarkHit compares a cached hit through cache.Load with a raw go-redis
// GET of the same bytes, on one goroutine. Target: Load ≤ 1.3× GET.
func BenchmarkHit(b *testing.B) {
	b.Run("raw-GET", func(b *testing.B) {
		client, _, key := benchHit(b, nil)
		ctx := context.Background()
		for b.Loop() {
			if _, err := client.Get(ctx, key).Bytes(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("driver-Get", func(b *testing.B) {
		client, _, key := benchHit(b, nil)
		d := newDriver(b, client, nil)
		ctx := context.Background()
		for b.Loop() {
			if _, ok, err := d.Get(ctx, key); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("cache.Load", func(b *testing.B) {
		_, c, _ := benchHit(b, nil)
		ctx := context.Background()
		for b.Loop() {
			if _, err := cache.Load(ctx, c, "user:findUnique:bench", cache.Policy{TTL: time.Hour}, failLoad); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkParallel50 compares throughput at about 50 goroutines. Target:
// Load ≥ 0.9× GET.
func BenchmarkParallel50(b *testing.B) {
	par := (50 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0)
	b.Run("raw-GET", func(b *testing.B) {
		client, _, key := benchHit(b, nil)
		ctx := context.Background()
		b.SetParallelism(par)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := client.Get(ctx, key).Bytes(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	for _, codec := range []struct {
		name  string
		codec cache.Codec
	}{{"cache.Load", nil}, {"cache.Load-gojson", gojsoncodec.Codec}} {
		b.Run(codec.name, func(b *testing.B) {
			_, c, _ := benchHit(b, codec.codec)
			ctx := context.Background()
			b.SetParallelism(par)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := cache.Load(ctx, c, "user:findUnique:bench", cache.Policy{TTL: time.Hour}, failLoad); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkDecode100Rows decodes a cached 100-row result with each codec.
func BenchmarkDecode100Rows(b *testing.B) {
	data, err := cache.MarshalEntry(cache.NewEntry(benchRows(100), time.Now(), time.Minute), nil)
	if err != nil {
		b.Fatal(err)
	}
	e, err := cache.UnmarshalEntry(data)
	if err != nil {
		b.Fatal(err)
	}
	raw := e.Value.(json.RawMessage)
	for _, tc := range []struct {
		name  string
		codec cache.Codec
	}{{"encoding-json", cache.JSON}, {"goccy-go-json", gojsoncodec.Codec}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				var rows []benchRow
				if err := tc.codec.Unmarshal(raw, &rows); err != nil || len(rows) != 100 {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkClear1000Among1M clears 1,000 keys while Redis holds 1,000,000
// unrelated ones. Target: ≤ 2 ms for the index. The SCAN fallback (what
// the seed does, escaped) is measured for comparison.
func BenchmarkClear1000Among1M(b *testing.B) {
	srv := testenv.StartPrivateRedis(b)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	b.Cleanup(func() { client.Close() })
	ctx := context.Background()
	const unrelated = 1_000_000
	for i := 0; i < unrelated; i += 100_000 {
		_, err := client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for j := i; j < i+100_000; j += 1000 {
				kv := make([]any, 0, 2000)
				for k := j; k < j+1000; k++ {
					kv = append(kv, fmt.Sprintf("unrelated:%d", k), "x")
				}
				p.MSet(ctx, kv...)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprintf("viborm:user:findMany:%d", i)
	}
	e := cache.NewEntry(benchRows(1), time.Now(), time.Hour)
	for _, tc := range []struct {
		name string
		opts *rediscache.Options
	}{{"index", nil}, {"scan", &rediscache.Options{NoIndex: true}}} {
		b.Run(tc.name, func(b *testing.B) {
			d := newDriver(b, client, tc.opts)
			for b.Loop() {
				b.StopTimer()
				if err := d.SetPipelined(ctx, keys, time.Hour, e); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if err := d.Clear(ctx, "viborm:user:"); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if n, _ := client.Exists(ctx, keys[:10]...).Result(); n != 0 {
				b.Fatalf("%d keys survived Clear", n)
			}
			if n, _ := client.DBSize(ctx).Result(); n < unrelated {
				b.Fatalf("DBSIZE = %d: unrelated keys were removed", n)
			}
		})
	}
}

var missSeq atomic.Int64

// BenchmarkMissFill is a miss and its fill (Inline, so the write is in the
// measurement), with and without the cross-process fence: GET, then the
// lease script, the loader, and the fenced write; or GET, the loader and a
// plain indexed write.
func BenchmarkMissFill(b *testing.B) {
	client := redis.NewClient(&redis.Options{Addr: singleAddr(b), PoolSize: 64, ContextTimeoutEnabled: true})
	b.Cleanup(func() { client.Close() })
	d := newDriver(b, client, nil)
	for _, tc := range []struct {
		name string
		off  bool
	}{{"leases", false}, {"noLeases", true}} {
		b.Run(tc.name, func(b *testing.B) {
			c, err := cache.New(d, &cache.Options{WaitUntil: cache.Inline, Logger: slog.New(slog.DiscardHandler), DisableLeases: tc.off})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				// A key no run has used: every read misses.
				k := fmt.Sprintf("user:findUnique:%s%d", tc.name, missSeq.Add(1))
				if _, err := cache.Load(ctx, c, k, cache.Policy{TTL: time.Minute}, loadOne); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
