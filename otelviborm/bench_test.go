package otelviborm_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	viborm "github.com/viborm/viborm-go"
	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/memorycache"
	"github.com/viborm/viborm-go/driver/sqlite"
	"github.com/viborm/viborm-go/otelviborm"
	"github.com/viborm/viborm-go/s"
)

type Member struct {
	ID        int64
	Email     string
	Name      string
	Active    bool
	CreatedAt time.Time
}

var Members = viborm.Model[Member]("member",
	s.BigInt("id").ID().Autoincrement(),
	s.String("email").Unique(),
	s.String("name"),
	s.Boolean("active"),
	s.DateTime("createdAt").Now(),
)

// benchHook returns the hook of a mode: nil for "off", one on no-op
// providers for "noop", one on the SDK (every span sampled and exported to a
// discarding exporter through a batcher, metrics aggregated for a manual
// reader) for "sdk".
func benchHook(b *testing.B, mode string) *otelviborm.Hook {
	var o *otelviborm.Options
	switch mode {
	case "off":
		return nil
	case "noop":
		o = &otelviborm.Options{TracerProvider: tracenoop.NewTracerProvider(), MeterProvider: metricnoop.NewMeterProvider()}
	case "sdk":
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		b.Cleanup(func() { tp.Shutdown(context.Background()); mp.Shutdown(context.Background()) })
		o = &otelviborm.Options{TracerProvider: tp, MeterProvider: mp}
	}
	h, err := otelviborm.New(o)
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// BenchmarkCachedHit measures a cached findMany hit of 10 rows (the root
// package's BenchmarkCachedHit) with telemetry off, on no-op providers and
// on the SDK, side by side.
func BenchmarkCachedHit(b *testing.B) {
	ctx := context.Background()
	for _, mode := range []string{"off", "noop", "sdk"} {
		b.Run(fmt.Sprintf("findMany10/%s", mode), func(b *testing.B) {
			h := benchHook(b, mode)
			mem, _ := memorycache.New(nil)
			opts := &cache.Options{}
			var hooks []viborm.Hook
			if h != nil {
				h.InstrumentCache(opts)
				hooks = []viborm.Hook{h}
			}
			kv, _ := cache.New(mem, opts)
			drv, err := sqlite.Open(":memory:")
			if err != nil {
				b.Fatal(err)
			}
			db, err := viborm.NewClient(viborm.Config{Models: []viborm.AnyModel{Members}, Driver: drv, Cache: kv, Hooks: hooks})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Push(ctx, nil); err != nil {
				b.Fatal(err)
			}
			rows := make([]viborm.Data, 10)
			for i := range rows {
				rows[i] = viborm.Data{"email": fmt.Sprintf("m%d@x", i), "name": "Member", "active": true}
			}
			if _, err := Members.CreateMany(ctx, db, viborm.CreateMany{Data: rows}); err != nil {
				b.Fatal(err)
			}
			cached := db.WithCache(viborm.CacheOptions{TTL: time.Hour})
			args := viborm.FindMany{Where: viborm.Where{"active": true}}
			if got, err := Members.FindMany(ctx, cached, args); err != nil || len(got) != 10 {
				b.Fatal(len(got), err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Members.FindMany(ctx, cached, args); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
