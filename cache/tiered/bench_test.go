package tiered_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/memorycache"
	"github.com/viborm/viborm-go/cache/rediscache"
	"github.com/viborm/viborm-go/cache/tiered"
)

type benchRow struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

func benchRows(n int) []benchRow {
	rows := make([]benchRow, n)
	for i := range rows {
		rows[i] = benchRow{ID: int64(i), Name: "name", Email: "someone@example.com"}
	}
	return rows
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// BenchmarkHit compares, side by side, a cached read answered by the
// memory driver, by the tiered driver's L1, and by Redis alone, all through
// cache.Load with a 10-row value.
func BenchmarkHit(b *testing.B) {
	rows := benchRows(10)
	load := func(context.Context) ([]benchRow, error) { return rows, nil }
	// run reads one key through a cache over d: prime, when set, stores it
	// first from elsewhere; then one read fills, and the loop hits.
	run := func(b *testing.B, d cache.Driver, ready func(), prime func(key string)) {
		c, err := cache.New(d, &cache.Options{WaitUntil: cache.Inline, Logger: quiet, Timeout: 5 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		key := randomName("bench:hit:")
		defer c.Delete(ctx, key)
		if ready != nil {
			ready()
		}
		if prime != nil {
			prime(key)
		}
		if _, err := cache.Load(ctx, c, key, cache.Policy{TTL: time.Hour}, load); err != nil {
			b.Fatal(err)
		}
		miss := func(context.Context) ([]benchRow, error) { b.Fatal("benchmark read missed"); return nil, nil }
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, err := cache.Load(ctx, c, key, cache.Policy{TTL: time.Hour}, miss); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("driver=memory", func(b *testing.B) {
		d, _ := memorycache.New(nil)
		run(b, d, nil, nil)
	})
	b.Run("driver=tiered-L1", func(b *testing.B) {
		c := sharedClient(b)
		in := newInstance(b, c, randomName("viborm-bench:bus:"), nil, &tiered.Options{Logger: quiet})
		run(b, noCloseDriver{in.Driver}, func() { in.await(b, "subscribed") }, nil)
	})
	// An L1 hit on an entry this instance copied from L2 (filled by
	// another instance): L1 holds the JSON, decoded on every hit.
	b.Run("driver=tiered-L1-fromL2", func(b *testing.B) {
		c := sharedClient(b)
		ch := randomName("viborm-bench:bus:")
		other := newInstance(b, c, ch, nil, &tiered.Options{Logger: quiet})
		in := newInstance(b, c, ch, nil, &tiered.Options{Logger: quiet})
		oc, _ := cache.New(noCloseDriver{other.Driver}, &cache.Options{WaitUntil: cache.Inline, Logger: quiet})
		defer oc.Close()
		run(b, noCloseDriver{in.Driver}, func() { in.await(b, "subscribed") }, func(key string) {
			if _, err := cache.Load(ctx, oc, key, cache.Policy{TTL: time.Hour}, load); err != nil {
				b.Fatal(err)
			}
		})
	})
	// The same without the cache.LocalGetter capability: every hit goes
	// through the cache's bounded driver call.
	b.Run("driver=tiered-L1-noLocalGetter", func(b *testing.B) {
		c := sharedClient(b)
		in := newInstance(b, c, randomName("viborm-bench:bus:"), nil, &tiered.Options{Logger: quiet})
		run(b, withoutLocal{in.Driver}, func() { in.await(b, "subscribed") }, nil)
	})
	b.Run("driver=redis", func(b *testing.B) {
		d, _ := rediscache.New(sharedClient(b), nil)
		run(b, d, nil, nil)
	})
}

// BenchmarkDriverGet compares the drivers' own hit paths, without the
// cache: memorycache.Get against the tiered driver's GetLocal and Get.
func BenchmarkDriverGet(b *testing.B) {
	e := cache.NewEntry(benchRows(10), time.Now(), time.Hour)
	b.Run("driver=memory/Get", func(b *testing.B) {
		d, _ := memorycache.New(nil)
		d.Set(ctx, "k", time.Hour, e)
		for b.Loop() {
			if _, ok, _ := d.Get(ctx, "k"); !ok {
				b.Fatal("miss")
			}
		}
	})
	c := sharedClient(b)
	in := newInstance(b, c, randomName("viborm-bench:bus:"), nil, &tiered.Options{Logger: quiet})
	in.await(b, "subscribed")
	key := randomName("bench:get:")
	defer in.Delete(ctx, []string{key})
	in.Set(ctx, key, time.Hour, e)
	b.Run("driver=tiered/GetLocal", func(b *testing.B) {
		for b.Loop() {
			if _, ok := in.GetLocal(key); !ok {
				b.Fatal("miss")
			}
		}
	})
	b.Run("driver=tiered/Get", func(b *testing.B) {
		for b.Loop() {
			if _, ok, _ := in.Get(ctx, key); !ok {
				b.Fatal("miss")
			}
		}
	})
}

// BenchmarkInvalidationWindow reports how long after a Delete returns on
// one instance another instance's L1 still serves the key, on the shared
// Redis over loopback (p50, p99 and max over the rounds of each run).
func BenchmarkInvalidationWindow(b *testing.B) {
	c := sharedClient(b)
	ch := randomName("viborm-bench:bus:")
	a := newInstance(b, c, ch, nil, &tiered.Options{Logger: quiet})
	bb := newInstance(b, c, ch, nil, &tiered.Options{Logger: quiet})
	a.await(b, "subscribed")
	bb.await(b, "subscribed")
	prefix := randomName("viborm-bench:window:") + ":"
	defer a.Clear(ctx, prefix)
	rounds := 0
	var all []time.Duration
	for b.Loop() {
		all = append(all, windowRounds(b, a, bb, prefix, 1)...)
		rounds++
	}
	slices.Sort(all)
	b.ReportMetric(float64(pct(all, 50).Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(pct(all, 99).Nanoseconds())/1e3, "p99-µs")
	b.ReportMetric(float64(all[len(all)-1].Nanoseconds())/1e3, "max-µs")
}

// withoutLocal is the tiered driver without its GetLocal and Close.
type withoutLocal struct{ d *tiered.Driver }

func (w withoutLocal) Name() string { return w.d.Name() }
func (w withoutLocal) Get(ctx context.Context, key string) (cache.Entry, bool, error) {
	return w.d.Get(ctx, key)
}
func (w withoutLocal) Set(ctx context.Context, key string, ttl time.Duration, e cache.Entry) error {
	return w.d.Set(ctx, key, ttl, e)
}
func (w withoutLocal) Delete(ctx context.Context, keys []string) error { return w.d.Delete(ctx, keys) }
func (w withoutLocal) Clear(ctx context.Context, prefix string) error  { return w.d.Clear(ctx, prefix) }
func (w withoutLocal) HonorsContext() bool                             { return w.d.HonorsContext() }
