package readmetest

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	viborm "github.com/viborm/viborm-go"
	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/memorycache"
	"github.com/viborm/viborm-go/driver/sqlite"
	"github.com/viborm/viborm-go/otelviborm"
	"github.com/viborm/viborm-go/querylog"
)

// ---- Observability ----

// otelExample is the README's OpenTelemetry block: a client on SQLite and
// the memory cache reporting to tp and mp.
func otelExample(tp trace.TracerProvider, mp metric.MeterProvider) (*viborm.Client, error) {
	drv, err := memorycache.New(nil)
	if err != nil {
		return nil, err
	}
	db, err := sqlite.Open(":memory:")
	if err != nil {
		return nil, err
	}
	models := []viborm.AnyModel{Users, Posts}
	// readme:begin otel
	h, err := otelviborm.New(&otelviborm.Options{
		TracerProvider: tp,   // nil: otel.GetTracerProvider()
		MeterProvider:  mp,   // nil: otel.GetMeterProvider()
		QueryText:      true, // db.query.text, literal values elided; off by default
	})
	if err != nil {
		return nil, err
	}
	opts := &cache.Options{}
	h.InstrumentCache(opts) // cache steps and circuit breaker changes
	kv, err := cache.New(drv, opts)
	if err != nil {
		return nil, err
	}
	client, err := viborm.NewClient(viborm.Config{
		Models: models, Driver: db, Cache: kv,
		Hooks: []viborm.Hook{h}, // operations and SQL statements
	})
	// readme:end otel
	return client, err
}

// queryLogExample is the README's query logging block.
func queryLogExample(logger *slog.Logger) (*viborm.Client, error) {
	drv, err := sqlite.Open(":memory:")
	if err != nil {
		return nil, err
	}
	models := []viborm.AnyModel{Users, Posts}
	// readme:begin querylog
	client, err := viborm.NewClient(viborm.Config{
		Models: models, Driver: drv,
		Hooks: []viborm.Hook{querylog.New(logger, &querylog.Options{
			SlowThreshold: 200 * time.Millisecond, // logged at Warn
			// Args: true would log argument values and the SQL as sent.
		})},
	})
	// readme:end querylog
	return client, err
}

// stepStats collects what the README's OnStep block records.
type stepStats struct {
	mu    sync.Mutex
	count map[string]int
}

func (s *stepStats) record(model, op, outcome string, _ time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count[model+" "+op+" "+outcome]++
}

// onStepExample is the README's OnStep block, followed by reads of one key:
// a miss, then hits.
func onStepExample(ctx context.Context, reads int) (map[string]int, error) {
	drv, err := memorycache.New(nil)
	if err != nil {
		return nil, err
	}
	stats := &stepStats{count: map[string]int{}}
	// readme:begin onstep
	c, err := cache.New(drv, &cache.Options{
		// Called after each step (lookup, read, fill, refresh, invalidate)
		// with the step's context. A Step never holds the key.
		OnStep: func(ctx context.Context, s cache.Step) {
			if s.Kind == cache.StepRead {
				stats.record(s.Model, s.Operation, s.Outcome.String(), s.Duration)
			}
		},
	})
	// readme:end onstep
	if err != nil {
		return nil, err
	}
	defer c.Close()
	key, err := c.Key("user", "findMany", nil)
	if err != nil {
		return nil, err
	}
	for range reads {
		if _, err := cache.Load(ctx, c, key, cache.Policy{TTL: time.Hour, WaitUntil: cache.Inline}, queryUsers); err != nil {
			return nil, err
		}
	}
	return stats.count, nil
}
