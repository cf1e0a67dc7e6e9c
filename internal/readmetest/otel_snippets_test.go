package readmetest

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	viborm "github.com/viborm/viborm-go"
)

func TestReadmeOtelExample(t *testing.T) {
	ctx := context.Background()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer tp.Shutdown(ctx)
	defer mp.Shutdown(ctx)
	db, err := otelExample(tp, mp)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Push(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Users.Count(ctx, db.WithCache(viborm.CacheOptions{}), viborm.Count{}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sp := range spans.Ended() {
		names = append(names, sp.Name())
	}
	if got := strings.Join(names, ","); !strings.Contains(got, "viborm.cache.lookup") || !strings.Contains(got, "SELECT") || !strings.Contains(got, "count ") {
		t.Errorf("spans %s: want the count, its lookup and its SELECT", got)
	}
}

func TestReadmeQueryLogExample(t *testing.T) {
	var buf bytes.Buffer
	db, err := queryLogExample(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.Push(ctx, nil); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if _, err := Users.Count(ctx, db, viborm.Count{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "viborm: query") || !strings.Contains(buf.String(), "operation=count") {
		t.Errorf("query log: %s", buf.String())
	}
}

func TestReadmeOnStepExample(t *testing.T) {
	got, err := onStepExample(context.Background(), 3)
	if err != nil {
		t.Fatal(err)
	}
	if got["user findMany hit"] != 2 || got["user findMany miss"] != 1 {
		t.Errorf("OnStep recorded %v, want 2 hits and 1 miss of user findMany", got)
	}
}
