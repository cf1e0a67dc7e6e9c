package otelviborm_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	viborm "github.com/viborm/viborm-go"
	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/memorycache"
	"github.com/viborm/viborm-go/cache/rediscache"
	"github.com/viborm/viborm-go/driver/postgres"
	"github.com/viborm/viborm-go/driver/sqlite"
	"github.com/viborm/viborm-go/internal/testenv"
	"github.com/viborm/viborm-go/otelviborm"
	"github.com/viborm/viborm-go/querylog"
	"github.com/viborm/viborm-go/s"
)

type Widget struct {
	ID     int64
	Name   string
	Secret string
}

var Widgets = viborm.Model[Widget]("widget",
	s.BigInt("id").ID().Autoincrement(),
	s.String("name"),
	s.String("secret"),
	s.Table("widgets"),
)

// Distinctive values that must never reach an attribute or a log record.
const (
	secretArg  = "S3CR3T-ARG-VALUE-7e1f"
	secretName = "N4ME-ARG-VALUE-c0de"
	customKey  = "CUSTOM-KEY-9d2c"
	secretTake = 7391 // a LIMIT inlined into the SQL
)

func suffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// telemetry is an SDK wired to in-memory exporters.
type telemetry struct {
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
	hook   *otelviborm.Hook
}

func newTelemetry(t testing.TB, queryText bool) *telemetry {
	t.Helper()
	tel := &telemetry{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tel.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader))
	t.Cleanup(func() { tp.Shutdown(context.Background()); mp.Shutdown(context.Background()) })
	h, err := otelviborm.New(&otelviborm.Options{TracerProvider: tp, MeterProvider: mp, QueryText: queryText})
	if err != nil {
		t.Fatal(err)
	}
	tel.hook = h
	return tel
}

func (tel *telemetry) metrics(t testing.TB) map[string]metricdata.Aggregation {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := tel.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Aggregation{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m.Data
		}
	}
	return out
}

type stack struct {
	client *viborm.Client
	kv     *cache.Cache
	logs   *testenv.Buffer
	system string
}

// newStack returns a client on dialect ("sqlite" or "postgres") with a cache
// on kind ("memory" or "redis"), instrumented by tel, with a querylog.Logger and
// every logger writing into logs.
func newStack(t *testing.T, tel *telemetry, dialect, kind string) *stack {
	t.Helper()
	st := &stack{logs: &testenv.Buffer{}}
	logger := slog.New(slog.NewJSONHandler(st.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var cd cache.Driver
	switch kind {
	case "memory":
		m, err := memorycache.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		cd = m
	case "redis":
		rc := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t)})
		t.Cleanup(func() { rc.Close() })
		d, err := rediscache.New(rc, nil)
		if err != nil {
			t.Fatal(err)
		}
		cd = d
	}
	opts := &cache.Options{Version: "otel" + suffix(), WaitUntil: cache.Inline, Logger: logger}
	tel.hook.InstrumentCache(opts)
	kv, err := cache.New(cd, opts)
	if err != nil {
		t.Fatal(err)
	}
	st.kv = kv
	var drv viborm.Driver
	switch dialect {
	case "sqlite":
		st.system = "sqlite"
		drv, err = sqlite.Open(":memory:")
		if err != nil {
			t.Fatal(err)
		}
	case "postgres":
		st.system = "postgresql"
		dsn := testenv.PostgresDSN(t)
		admin, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		schema := "viborm_otel_" + suffix()
		if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			admin.Exec("DROP SCHEMA " + schema + " CASCADE")
			admin.Close()
		})
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		drv, err = postgres.Open(dsn + sep + "search_path=" + schema)
		if err != nil {
			t.Fatal(err)
		}
	}
	client, err := viborm.NewClient(viborm.Config{
		Models: []viborm.AnyModel{Widgets}, Driver: drv, Cache: kv, Logger: logger,
		Hooks: []viborm.Hook{tel.hook, querylog.New(logger, nil)},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		kv.Clear(context.Background(), "") // only this test's version
		client.Close()
	})
	if _, err := client.Push(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	st.client = client
	return st
}

func attrs(kvs []attribute.KeyValue) map[attribute.Key]string {
	m := map[attribute.Key]string{}
	for _, kv := range kvs {
		m[kv.Key] = kv.Value.String()
	}
	return m
}

// TestTelemetry runs a cached read's miss and hit, a custom key, a write
// with auto-invalidation and a failing read, and checks the spans, their
// structure and attributes, the metrics and the logs, on SQLite with the
// memory cache and on PostgreSQL with Redis.
func TestTelemetry(t *testing.T) {
	for _, tc := range []struct{ dialect, kind string }{{"sqlite", "memory"}, {"postgres", "redis"}} {
		t.Run(tc.dialect+"+"+tc.kind, func(t *testing.T) {
			tel := newTelemetry(t, true)
			st := newStack(t, tel, tc.dialect, tc.kind)
			ctx := context.Background()
			db := st.client
			if _, err := Widgets.Create(ctx, db, viborm.Create{Data: viborm.Data{"name": secretName, "secret": secretArg}}); err != nil {
				t.Fatal(err)
			}
			cached := db.WithCache(viborm.CacheOptions{TTL: time.Hour})
			args := viborm.FindMany{Where: viborm.Where{"secret": secretArg}, Take: new(secretTake)}
			for range 2 { // a miss, then a hit
				got, err := Widgets.FindMany(ctx, cached, args)
				if err != nil || len(got) != 1 {
					t.Fatal(got, err)
				}
			}
			custom := db.WithCache(viborm.CacheOptions{TTL: time.Hour, Key: customKey})
			for range 2 {
				if _, err := Widgets.FindFirst(ctx, custom, viborm.FindMany{Where: viborm.Where{"name": secretName}}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := Widgets.Update(ctx, db, viborm.Update{Where: viborm.Where{"id": 1}, Data: viborm.Data{"name": secretName + "2"},
				Cache: &viborm.Invalidate{Auto: new(true)}}); err != nil {
				t.Fatal(err)
			}
			_, err := Widgets.FindUniqueOrErr(ctx, cached, viborm.FindUnique{Where: viborm.Where{"id": 424242}})
			if !errors.Is(err, viborm.ErrNotFound) {
				t.Fatalf("FindUniqueOrErr: %v, want ErrNotFound", err)
			}
			fullKey, err := Widgets.CacheKey(cached, viborm.OpFindMany, args)
			if err != nil {
				t.Fatal(err)
			}

			spans := tel.spans.Ended()
			byID := map[string]sdktrace.ReadOnlySpan{}
			var names []string
			for _, sp := range spans {
				byID[sp.SpanContext().SpanID().String()] = sp
				names = append(names, sp.Name())
			}
			t.Logf("spans: %v", names)
			parent := func(sp sdktrace.ReadOnlySpan) sdktrace.ReadOnlySpan { return byID[sp.Parent().SpanID().String()] }
			children := func(p sdktrace.ReadOnlySpan) []string {
				var out []string
				for _, sp := range spans {
					if parent(sp) == p {
						out = append(out, sp.Name())
					}
				}
				return out
			}
			ops := func(name string) []sdktrace.ReadOnlySpan {
				var out []sdktrace.ReadOnlySpan
				for _, sp := range spans {
					if sp.Name() == name {
						out = append(out, sp)
					}
				}
				return out
			}

			// findMany: a miss (lookup, SELECT, fill queued and done), then a hit.
			fm := ops("findMany widgets")
			if len(fm) != 2 {
				t.Fatalf("findMany spans: %d, want 2", len(fm))
			}
			wantOp := map[attribute.Key]string{"db.system.name": st.system, "db.operation.name": "findMany", "db.collection.name": "widgets", "viborm.model": "widget", "viborm.cached": "true"}
			for i, outcome := range []string{"miss", "hit"} {
				a := attrs(fm[i].Attributes())
				for k, v := range wantOp {
					if a[k] != v {
						t.Errorf("findMany #%d: %s = %q, want %q", i, k, a[k], v)
					}
				}
				if a["viborm.cache.outcome"] != outcome {
					t.Errorf("findMany #%d: outcome %q, want %q", i, a["viborm.cache.outcome"], outcome)
				}
				if a["db.response.returned_rows"] != "1" {
					t.Errorf("findMany #%d: returned rows %q, want 1", i, a["db.response.returned_rows"])
				}
				if fm[i].Parent().IsValid() {
					t.Errorf("findMany #%d has a parent", i)
				}
			}
			if got, want := strings.Join(children(fm[0]), ","), "viborm.cache.lookup,SELECT widgets,viborm.cache.fill"; got != want {
				t.Errorf("children of the miss: %s, want %s", got, want)
			}
			if got, want := strings.Join(children(fm[1]), ","), "viborm.cache.lookup"; got != want {
				t.Errorf("children of the hit: %s, want %s", got, want)
			}
			for i, want := range []string{"miss", "hit"} {
				for _, sp := range spans {
					if parent(sp) == fm[i] && sp.Name() == "viborm.cache.lookup" {
						a := attrs(sp.Attributes())
						if a["viborm.cache.outcome"] != want || a["viborm.model"] != "widget" || a["viborm.operation"] != "findMany" || a["viborm.cache.driver"] == "" {
							t.Errorf("lookup #%d attributes %v", i, a)
						}
					}
				}
			}
			for _, sp := range spans {
				if parent(sp) == fm[0] && sp.Name() == "SELECT widgets" {
					a := attrs(sp.Attributes())
					if sp.SpanKind().String() != "client" || a["db.operation.name"] != "SELECT" || a["db.collection.name"] != "widgets" || a["db.system.name"] != st.system {
						t.Errorf("SELECT span: kind %v, attributes %v", sp.SpanKind(), a)
					}
					qt := a["db.query.text"]
					if !strings.Contains(qt, "widgets") || !strings.Contains(qt, "LIMIT ?") {
						t.Errorf("db.query.text %q: want the SQL with its LIMIT elided", qt)
					}
				}
			}

			// The custom key: labels come from the operation, not the key.
			ff := ops("findFirst widgets")
			if len(ff) != 2 || attrs(ff[0].Attributes())["viborm.cache.outcome"] != "miss" || attrs(ff[1].Attributes())["viborm.cache.outcome"] != "hit" {
				t.Errorf("findFirst spans with a custom key: %d", len(ff))
			}

			// update: its statements, then the invalidation.
			up := ops("update widgets")
			if len(up) != 1 {
				t.Fatalf("update spans: %d", len(up))
			}
			ch := children(up[0])
			if len(ch) < 3 || ch[0] != "SELECT widgets" || ch[len(ch)-1] != "viborm.cache.invalidate" || !strings.Contains(strings.Join(ch, ","), "UPDATE widgets") {
				t.Errorf("children of update: %v", ch)
			}
			if len(ops("create widgets")) != 1 || len(children(ops("create widgets")[0])) == 0 {
				t.Errorf("create: want one span with statements")
			}

			// The failed read: status Error with the code as error.type.
			fu := ops("findUniqueOrThrow widgets")
			if len(fu) != 1 {
				t.Fatalf("findUniqueOrThrow spans: %d", len(fu))
			}
			if fu[0].Status().Code != codes.Error || attrs(fu[0].Attributes())["error.type"] != string(viborm.CodeNotFound) {
				t.Errorf("failed read: status %v, attributes %v", fu[0].Status(), attrs(fu[0].Attributes()))
			}

			// Metrics.
			ms := tel.metrics(t)
			reads := map[string]int64{}
			for _, dp := range ms["viborm.cache.reads"].(metricdata.Sum[int64]).DataPoints {
				m, _ := dp.Attributes.Value("viborm.model")
				o, _ := dp.Attributes.Value("viborm.operation")
				oc, _ := dp.Attributes.Value("viborm.cache.outcome")
				reads[m.AsString()+"/"+o.AsString()+"/"+oc.AsString()] += dp.Value
			}
			want := map[string]int64{"widget/findMany/miss": 1, "widget/findMany/hit": 1, "widget/findFirst/miss": 1, "widget/findFirst/hit": 1, "widget/findUniqueOrThrow/error": 1}
			for k, v := range want {
				if reads[k] != v {
					t.Errorf("viborm.cache.reads %s = %d, want %d (all: %v)", k, reads[k], v, reads)
				}
			}
			var selects uint64
			for _, dp := range ms["db.client.operation.duration"].(metricdata.Histogram[float64]).DataPoints {
				sys, _ := dp.Attributes.Value("db.system.name")
				op, _ := dp.Attributes.Value("db.operation.name")
				if sys.AsString() != st.system {
					t.Errorf("db.client.operation.duration: db.system.name %q", sys.AsString())
				}
				if op.AsString() == "SELECT" {
					selects += dp.Count
				}
			}
			if selects < 4 { // two misses, the update's lookup and re-read, the failed read
				t.Errorf("db.client.operation.duration: %d SELECTs recorded", selects)
			}
			steps := map[string]uint64{}
			for _, dp := range ms["viborm.cache.step.duration"].(metricdata.Histogram[float64]).DataPoints {
				v, _ := dp.Attributes.Value("viborm.cache.step")
				steps[v.AsString()] += dp.Count
			}
			if steps["lookup"] != 5 || steps["fill"] != 2 || steps["invalidate"] != 1 {
				t.Errorf("viborm.cache.step.duration counts %v, want 5 lookups, 2 fills, 1 invalidation", steps)
			}
			var queued int64
			for _, dp := range ms["viborm.cache.background.queued"].(metricdata.Sum[int64]).DataPoints {
				queued += dp.Value
			}
			if queued != 2 {
				t.Errorf("viborm.cache.background.queued = %d, want 2", queued)
			}
			var opHits uint64
			for _, dp := range ms["viborm.operation.duration"].(metricdata.Histogram[float64]).DataPoints {
				if v, _ := dp.Attributes.Value("viborm.cache.outcome"); v.AsString() == "hit" {
					opHits += dp.Count
				}
			}
			if opHits != 2 {
				t.Errorf("viborm.operation.duration with outcome hit: %d, want 2", opHits)
			}

			// Logs: the query logger wrote the statements.
			logs := st.logs.String()
			if !strings.Contains(logs, `"msg":"viborm: query"`) || !strings.Contains(logs, `"model":"widget"`) || !strings.Contains(logs, `"operation":"findMany"`) {
				t.Errorf("query log lacks its records:\n%s", logs)
			}

			// Nothing secret anywhere.
			secrets := []string{secretArg, secretName, customKey, fullKey, fullKey[strings.LastIndexByte(fullKey, ':')+1:], fmt.Sprint(secretTake)}
			checkNoSecret(t, spans, ms, tel, logs, secrets)
		})
	}
}

// checkNoSecret fails when any secret appears in a span's name, attributes,
// events or status, a metric data point's attributes, or the logs.
func checkNoSecret(t *testing.T, spans []sdktrace.ReadOnlySpan, _ map[string]metricdata.Aggregation, tel *telemetry, logs string, secrets []string) {
	t.Helper()
	var texts []string
	for _, sp := range spans {
		texts = append(texts, sp.Name(), sp.Status().Description)
		for _, kv := range sp.Attributes() {
			texts = append(texts, string(kv.Key)+"="+kv.Value.String())
		}
		for _, ev := range sp.Events() {
			texts = append(texts, ev.Name)
			for _, kv := range ev.Attributes {
				texts = append(texts, string(kv.Key)+"="+kv.Value.String())
			}
		}
	}
	var rm metricdata.ResourceMetrics
	if err := tel.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			texts = append(texts, m.Name)
			var sets []attribute.Set
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					sets = append(sets, dp.Attributes)
				}
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					sets = append(sets, dp.Attributes)
				}
			default:
				t.Errorf("metric %s: unexpected data %T", m.Name, m.Data)
			}
			for _, set := range sets {
				for _, kv := range set.ToSlice() {
					texts = append(texts, string(kv.Key)+"="+kv.Value.String())
				}
			}
		}
	}
	texts = append(texts, logs)
	if len(texts) < 50 {
		t.Fatalf("only %d texts to scan: the telemetry is missing", len(texts))
	}
	for _, txt := range texts {
		for _, s := range secrets {
			if strings.Contains(txt, s) {
				t.Errorf("secret %q leaked into %q", s, txt)
			}
		}
	}
}

// failingDriver fails every call.
type failingDriver struct{}

var errDown = errors.New("backend down")

func (failingDriver) Name() string { return "failing" }
func (failingDriver) Get(context.Context, string) (cache.Entry, bool, error) {
	return cache.Entry{}, false, errDown
}
func (failingDriver) Set(context.Context, string, time.Duration, cache.Entry) error { return errDown }
func (failingDriver) Delete(context.Context, []string) error                        { return errDown }
func (failingDriver) Clear(context.Context, string) error                           { return errDown }

// TestBreakerAndBackgroundMetrics checks the counters of breaker state
// changes and of failed background work, and the error status of failed
// cache steps.
func TestBreakerAndBackgroundMetrics(t *testing.T) {
	tel := newTelemetry(t, false)
	opts := &cache.Options{WaitUntil: cache.Inline, Breaker: &cache.BreakerOptions{Failures: 2, CoolDown: time.Hour},
		Logger: slog.New(slog.DiscardHandler)}
	tel.hook.InstrumentCache(opts)
	kv, err := cache.New(failingDriver{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer kv.Close()
	ctx := context.Background()
	key, _ := kv.Key("widget", "count", nil)
	// Read 1: the lookup fails (1), the fill fails (2): the breaker opens.
	// Read 2: the breaker refuses the lookup; the fill is skipped.
	for range 2 {
		if v, err := cache.Load(ctx, kv, key, cache.Policy{}, func(context.Context) (int, error) { return 7, nil }); err != nil || v != 7 {
			t.Fatal(v, err)
		}
	}
	if kv.BreakerState() != cache.BreakerOpen {
		t.Fatalf("breaker %v, want open", kv.BreakerState())
	}
	ms := tel.metrics(t)
	changes := ms["viborm.cache.breaker.changes"].(metricdata.Sum[int64]).DataPoints
	if len(changes) != 1 || changes[0].Value != 1 {
		t.Fatalf("breaker changes: %+v", changes)
	}
	if to, _ := changes[0].Attributes.Value("viborm.cache.breaker.state"); to.AsString() != "open" {
		t.Errorf("breaker change to %q, want open", to.AsString())
	}
	if from, _ := changes[0].Attributes.Value("viborm.cache.breaker.previous_state"); from.AsString() != "closed" {
		t.Errorf("breaker change from %q, want closed", from.AsString())
	}
	var failed int64
	for _, dp := range ms["viborm.cache.background.failed"].(metricdata.Sum[int64]).DataPoints {
		if s, _ := dp.Attributes.Value("viborm.cache.step"); s.AsString() != "fill" {
			t.Errorf("failed step %q", s.AsString())
		}
		failed += dp.Value
	}
	if failed != 2 {
		t.Errorf("viborm.cache.background.failed = %d, want 2 (a failed write, a write the breaker refused)", failed)
	}
	reads := map[string]int64{}
	for _, dp := range ms["viborm.cache.reads"].(metricdata.Sum[int64]).DataPoints {
		oc, _ := dp.Attributes.Value("viborm.cache.outcome")
		m, _ := dp.Attributes.Value("viborm.model")
		reads[m.AsString()+"/"+oc.AsString()] += dp.Value
	}
	if reads["widget/miss"] != 2 {
		t.Errorf("reads %v, want 2 misses labelled from the key", reads)
	}
	var lookups int
	for _, sp := range tel.spans.Ended() {
		if sp.Name() == "viborm.cache.lookup" {
			lookups++
			a := attrs(sp.Attributes())
			if sp.Status().Code != codes.Error || a["viborm.cache.outcome"] != "error" || a["viborm.model"] != "widget" || a["viborm.operation"] != "count" {
				t.Errorf("failed lookup: status %v, attributes %v", sp.Status(), a)
			}
		}
	}
	if lookups != 2 {
		t.Errorf("%d lookup spans, want 2", lookups)
	}
	if a := attrs(tel.spans.Ended()[1].Attributes()); a["error.type"] == "" {
		t.Errorf("a failed step without error.type: %v", a)
	}
}
