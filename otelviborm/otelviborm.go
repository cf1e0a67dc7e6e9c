// Package otelviborm reports VibORM's operations, SQL statements and cache
// steps to OpenTelemetry: traces that follow the database client semantic
// conventions, and metrics.
//
// One [Hook] serves both halves of VibORM: put it in viborm.Config.Hooks for
// operations and statements, and hand it to the cache with
// [Hook.InstrumentCache] (or set cache.Options.OnStep and OnBreakerChange to
// its methods) for cache steps:
//
//	h, err := otelviborm.New(nil) // the global providers
//	opts := &cache.Options{}
//	h.InstrumentCache(opts)
//	c, err := cache.New(memorycache.New(nil), opts)
//	client, err := viborm.NewClient(viborm.Config{Driver: drv, Cache: c, Hooks: []viborm.Hook{h}, Models: models})
//
// # Traces
//
// Each operation is a span named "<operation> <table>" ("findMany users",
// kind internal) with db.system.name, db.operation.name (the ORM operation),
// db.collection.name (the table), viborm.model, viborm.cached,
// viborm.cache.outcome for a cached read (hit, stale, miss, bypass, error)
// and db.response.returned_rows. Each SQL statement is a child span named
// "<SQL verb> <table>" ("SELECT users", kind client) with db.system.name,
// db.operation.name (the verb) and db.collection.name; its text
// (db.query.text) is recorded only with [Options.QueryText], and then with
// every literal value replaced by '?'. Cache steps are child spans named
// viborm.cache.lookup, viborm.cache.fill, viborm.cache.refresh and
// viborm.cache.invalidate, with viborm.cache.outcome on lookups. A failure
// sets the span's status to Error with error.type; the error's message is
// not recorded, since database messages can quote values.
//
// No attribute ever holds a cache key or an argument value: steps reach the
// hook without their key ([cache.Step]), and statement arguments are never
// read.
//
// # Metrics
//
//   - db.client.operation.duration (histogram, s): each SQL statement, by
//     db.system.name, db.operation.name, db.collection.name, error.type.
//   - viborm.operation.duration (histogram, s): each ORM operation, by
//     db.system.name, db.operation.name, db.collection.name,
//     viborm.cache.outcome, error.type.
//   - viborm.cache.reads (counter): cached reads by viborm.model,
//     viborm.operation and viborm.cache.outcome.
//   - viborm.cache.step.duration (histogram, s): cache steps by
//     viborm.cache.step (lookup, fill, refresh, invalidate),
//     viborm.cache.driver, viborm.cache.outcome (lookups) and error.type.
//   - viborm.cache.background.queued and viborm.cache.background.failed
//     (counters): fills and refreshes handed to the background, and those
//     that failed, by viborm.cache.step (and error.type).
//   - viborm.cache.breaker.changes (counter): circuit breaker state changes
//     by viborm.cache.breaker.state and viborm.cache.breaker.previous_state.
package otelviborm

import (
	"context"
	"errors"
	"strings"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	viborm "github.com/viborm/viborm-go"
	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/internal/redact"
)

// ScopeName is the instrumentation scope of the tracer and meter.
const ScopeName = "github.com/viborm/viborm-go/otelviborm"

// Attribute keys of VibORM's own attributes.
const (
	ModelKey                = attribute.Key("viborm.model")
	OperationKey            = attribute.Key("viborm.operation")
	CachedKey               = attribute.Key("viborm.cached")
	CacheOutcomeKey         = attribute.Key("viborm.cache.outcome")
	CacheStepKey            = attribute.Key("viborm.cache.step")
	CacheDriverKey          = attribute.Key("viborm.cache.driver")
	CacheSharedKey          = attribute.Key("viborm.cache.shared")
	RowsAffectedKey         = attribute.Key("viborm.rows_affected")
	BreakerStateKey         = attribute.Key("viborm.cache.breaker.state")
	BreakerPreviousStateKey = attribute.Key("viborm.cache.breaker.previous_state")
)

// Options configures a [Hook]. A nil *Options, and every nil or zero field,
// means the default.
type Options struct {
	// TracerProvider makes the tracer. Nil means otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// MeterProvider makes the meter. Nil means otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
	// QueryText records each statement's SQL as db.query.text, with its
	// placeholders and with every literal value (a LIMIT, a number or a
	// string written into raw SQL) replaced by '?'. Off by default.
	QueryText bool
}

// durationBuckets are the semantic conventions' boundaries for
// db.client.operation.duration, in seconds.
var durationBuckets = []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10}

// Hook reports to OpenTelemetry. It is a viborm.Hook, and its OnStep and
// OnBreakerChange methods are the cache's hooks. It is safe for concurrent
// use.
type Hook struct {
	tracer    trace.Tracer
	queryText bool

	dbDuration    metric.Float64Histogram
	opDuration    metric.Float64Histogram
	stepDuration  metric.Float64Histogram
	reads         metric.Int64Counter
	queued        metric.Int64Counter
	failed        metric.Int64Counter
	breakerChange metric.Int64Counter

	// Attribute sets and span names, memoized by their labels: the hot
	// paths build none.
	mu   sync.RWMutex
	sets map[labelKey]*labelSet
}

var _ viborm.Hook = (*Hook)(nil)

// New returns a Hook. It fails only when the meter provider refuses an
// instrument.
func New(opts *Options) (*Hook, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.TracerProvider == nil {
		o.TracerProvider = otel.GetTracerProvider()
	}
	if o.MeterProvider == nil {
		o.MeterProvider = otel.GetMeterProvider()
	}
	h := &Hook{
		tracer:    o.TracerProvider.Tracer(ScopeName, trace.WithSchemaURL(semconv.SchemaURL)),
		queryText: o.QueryText,
		sets:      map[labelKey]*labelSet{},
	}
	m := o.MeterProvider.Meter(ScopeName, metric.WithSchemaURL(semconv.SchemaURL))
	var err error
	var errs []error
	hist := func(name, desc string) metric.Float64Histogram {
		var x metric.Float64Histogram
		x, err = m.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc), metric.WithExplicitBucketBoundaries(durationBuckets...))
		errs = append(errs, err)
		return x
	}
	count := func(name, unit, desc string) metric.Int64Counter {
		var x metric.Int64Counter
		x, err = m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return x
	}
	h.dbDuration = hist("db.client.operation.duration", "Duration of database client operations.")
	h.opDuration = hist("viborm.operation.duration", "Duration of VibORM operations, cache included.")
	h.stepDuration = hist("viborm.cache.step.duration", "Duration of VibORM cache steps.")
	h.reads = count("viborm.cache.reads", "{read}", "Cached reads by outcome.")
	h.queued = count("viborm.cache.background.queued", "{task}", "Cache fills and refreshes handed to the background.")
	h.failed = count("viborm.cache.background.failed", "{task}", "Cache fills and refreshes that failed.")
	h.breakerChange = count("viborm.cache.breaker.changes", "{change}", "State changes of the cache's circuit breaker.")
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return h, nil
}

// InstrumentCache sets o.OnStep and o.OnBreakerChange to the hook's
// methods, keeping any hook already set (it runs first). Call it before
// cache.New.
func (h *Hook) InstrumentCache(o *cache.Options) {
	if prev := o.OnStep; prev != nil {
		o.OnStep = func(ctx context.Context, s cache.Step) { prev(ctx, s); h.OnStep(ctx, s) }
	} else {
		o.OnStep = h.OnStep
	}
	if prev := o.OnBreakerChange; prev != nil {
		o.OnBreakerChange = func(from, to cache.BreakerState) { prev(from, to); h.OnBreakerChange(from, to) }
	} else {
		o.OnBreakerChange = h.OnBreakerChange
	}
}

// labelKey identifies a combination of labels; which fields mean what
// depends on kind.
type labelKey struct {
	kind          uint8
	a, b, c, d, e string
}

// labelSet is what is derived from a labelKey once: a span name, span
// attributes and a metric attribute set as measurement options.
type labelSet struct {
	name  string
	attrs []attribute.KeyValue
	add   []metric.AddOption
	rec   []metric.RecordOption
}

// The kinds of labelKey.
const (
	kindOpSpan     = iota + 1 // system, operation, table, model
	kindOpMetric              // system, operation, table, outcome, error.type
	kindStmt                  // system, verb, table, model, operation (span)
	kindStmtMetric            // system, verb, table, error.type
	kindRead                  // model, operation, outcome
	kindStep                  // step, driver, model, operation, outcome (span) — metric without model and operation
	kindStepMetric            // step, driver, outcome, error.type
	kindBackground            // step, error.type
)

func newLabelSet(name string, attrs ...attribute.KeyValue) *labelSet {
	opt := metric.WithAttributeSet(attribute.NewSet(attrs...))
	return &labelSet{name: name, attrs: attrs, add: []metric.AddOption{opt}, rec: []metric.RecordOption{opt}}
}

// labels returns the labelSet of k, making it with mk the first time.
func (h *Hook) labels(k labelKey, mk func() *labelSet) *labelSet {
	h.mu.RLock()
	ls := h.sets[k]
	h.mu.RUnlock()
	if ls != nil {
		return ls
	}
	ls = mk()
	h.mu.Lock()
	if old := h.sets[k]; old != nil {
		ls = old
	} else if len(h.sets) < maxLabelSets {
		h.sets[k] = ls
	}
	h.mu.Unlock()
	return ls
}

// Span start options made once.
var (
	internalKind = trace.WithSpanKind(trace.SpanKindInternal)
	clientKind   = trace.WithSpanKind(trace.SpanKindClient)
)

// maxLabelSets bounds the memo; past it label sets are made on each use.
const maxLabelSets = 4096

// opState is a running operation, in its context.
type opState struct {
	span      trace.Span
	recording bool
	model, op string
	system    string
	table     string
	outcome   cache.Outcome // of the cache, set by the read step
}

type opKey struct{}

func opFrom(ctx context.Context) *opState {
	s, _ := ctx.Value(opKey{}).(*opState)
	return s
}

// dbSystem maps a VibORM dialect to db.system.name.
func dbSystem(dialect string) attribute.KeyValue {
	switch dialect {
	case "sqlite":
		return semconv.DBSystemNameSQLite
	case "postgres":
		return semconv.DBSystemNamePostgreSQL
	case "mysql":
		return semconv.DBSystemNameMySQL
	}
	return semconv.DBSystemNameKey.String(dialect)
}

// withError appends error.type to attrs when et is not empty.
func withError(attrs []attribute.KeyValue, et string) []attribute.KeyValue {
	if et != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(et))
	}
	return attrs
}

// BeforeOperation starts the operation's span.
func (h *Hook) BeforeOperation(ctx context.Context, e *viborm.OperationEvent) context.Context {
	ls := h.labels(labelKey{kind: kindOpSpan, a: e.System, b: e.Operation, c: e.Table, d: e.Model}, func() *labelSet {
		name := e.Operation
		if e.Table != "" {
			name += " " + e.Table
		}
		return newLabelSet(name, dbSystem(e.System), semconv.DBOperationNameKey.String(e.Operation),
			semconv.DBCollectionNameKey.String(e.Table), ModelKey.String(e.Model))
	})
	ctx, span := h.tracer.Start(ctx, ls.name, internalKind)
	st := &opState{span: span, recording: span.IsRecording(), model: e.Model, op: e.Operation, system: e.System, table: e.Table}
	if st.recording {
		span.SetAttributes(ls.attrs...)
		span.SetAttributes(CachedKey.Bool(e.Cached))
	}
	return context.WithValue(ctx, opKey{}, st)
}

// AfterOperation ends the operation's span and records its duration.
func (h *Hook) AfterOperation(ctx context.Context, e *viborm.OperationEvent) {
	st := opFrom(ctx)
	if st == nil {
		return
	}
	var et string
	if e.Err != nil {
		et = errorType(e.Err)
	}
	if st.recording {
		if e.Err != nil {
			st.span.SetAttributes(semconv.ErrorTypeKey.String(et))
			st.span.SetStatus(codes.Error, et)
		} else if e.Rows >= 0 {
			st.span.SetAttributes(semconv.DBResponseReturnedRowsKey.Int64(e.Rows))
		}
		st.span.End()
	}
	var outcome string
	if st.outcome != 0 {
		outcome = st.outcome.String()
	}
	ls := h.labels(labelKey{kind: kindOpMetric, a: e.System, b: e.Operation, c: e.Table, d: outcome, e: et}, func() *labelSet {
		attrs := []attribute.KeyValue{dbSystem(e.System), semconv.DBOperationNameKey.String(e.Operation), semconv.DBCollectionNameKey.String(e.Table)}
		if outcome != "" {
			attrs = append(attrs, CacheOutcomeKey.String(outcome))
		}
		return newLabelSet("", withError(attrs, et)...)
	})
	h.opDuration.Record(ctx, e.Duration.Seconds(), ls.rec...)
}

// verb returns the first word of a SQL statement, upper-cased: SELECT,
// INSERT, UPDATE, DELETE, WITH…; empty when it does not start with one.
func verb(query string) string {
	query = strings.TrimLeft(query, " \t\r\n(")
	i := 0
	upper := true
	for i < len(query) && (query[i] >= 'a' && query[i] <= 'z' || query[i] >= 'A' && query[i] <= 'Z') {
		if query[i] >= 'a' {
			upper = false
		}
		i++
	}
	if upper {
		return query[:i]
	}
	return strings.ToUpper(query[:i])
}

// inUnrecorded reports whether ctx is inside an operation whose span is not
// recorded (a no-op tracer, or sampled out): its children are not made.
func inUnrecorded(ctx context.Context) bool {
	st := opFrom(ctx)
	return st != nil && !st.recording
}

// BeforeQuery starts the statement's span.
func (h *Hook) BeforeQuery(ctx context.Context, e *viborm.QueryEvent) context.Context {
	if inUnrecorded(ctx) {
		return ctx
	}
	ls := h.labels(labelKey{kind: kindStmt, a: e.System, b: verb(e.Query), c: e.Table, d: e.Model, e: e.Operation}, func() *labelSet {
		v := verb(e.Query)
		name := v
		if name == "" {
			name = "query"
		}
		attrs := []attribute.KeyValue{dbSystem(e.System)}
		if v != "" {
			attrs = append(attrs, semconv.DBOperationNameKey.String(v))
		}
		if e.Table != "" {
			name += " " + e.Table
			attrs = append(attrs, semconv.DBCollectionNameKey.String(e.Table))
		}
		if e.Model != "" {
			attrs = append(attrs, ModelKey.String(e.Model), OperationKey.String(e.Operation))
		}
		return newLabelSet(name, attrs...)
	})
	ctx, span := h.tracer.Start(ctx, ls.name, clientKind)
	if span.IsRecording() {
		span.SetAttributes(ls.attrs...)
		if h.queryText {
			span.SetAttributes(semconv.DBQueryTextKey.String(redact.SQL(e.Query)))
		}
	}
	return ctx
}

// AfterQuery ends the statement's span and records its duration.
func (h *Hook) AfterQuery(ctx context.Context, e *viborm.QueryEvent) {
	var et string
	if e.Err != nil {
		et = errorType(e.Err)
	}
	if !inUnrecorded(ctx) {
		span := trace.SpanFromContext(ctx)
		if e.Err != nil {
			span.SetAttributes(semconv.ErrorTypeKey.String(et))
			span.SetStatus(codes.Error, et)
		} else if e.Rows >= 0 {
			span.SetAttributes(RowsAffectedKey.Int64(e.Rows))
		}
		span.End()
	}
	v := verb(e.Query)
	ls := h.labels(labelKey{kind: kindStmtMetric, a: e.System, b: v, c: e.Table, d: et}, func() *labelSet {
		attrs := []attribute.KeyValue{dbSystem(e.System)}
		if v != "" {
			attrs = append(attrs, semconv.DBOperationNameKey.String(v))
		}
		if e.Table != "" {
			attrs = append(attrs, semconv.DBCollectionNameKey.String(e.Table))
		}
		return newLabelSet("", withError(attrs, et)...)
	})
	h.dbDuration.Record(ctx, e.Duration.Seconds(), ls.rec...)
}

// OnStep reports a cache step: it is a cache.Options.OnStep.
func (h *Hook) OnStep(ctx context.Context, s cache.Step) {
	model, op := s.Model, s.Operation
	st := opFrom(ctx)
	if st != nil { // the ORM knows, even for a custom key
		model, op = st.model, st.op
	}
	var et string
	if s.Err != nil {
		et = errorType(s.Err)
	}
	step := s.Kind.String()
	switch s.Kind {
	case cache.StepRead:
		outcome := s.Outcome.String()
		if st != nil {
			st.outcome = s.Outcome
			if st.recording {
				st.span.SetAttributes(CacheOutcomeKey.String(outcome))
			}
		}
		ls := h.labels(labelKey{kind: kindRead, a: model, b: op, c: outcome}, func() *labelSet {
			return newLabelSet("", ModelKey.String(model), OperationKey.String(op), CacheOutcomeKey.String(outcome))
		})
		h.reads.Add(ctx, 1, ls.add...)
		return
	case cache.StepFill, cache.StepRefresh:
		if s.Queued || s.Err != nil {
			ls := h.labels(labelKey{kind: kindBackground, a: step, b: et}, func() *labelSet {
				return newLabelSet("", withError([]attribute.KeyValue{CacheStepKey.String(step)}, et)...)
			})
			if s.Queued {
				h.queued.Add(ctx, 1, ls.add...)
				return
			}
			h.failed.Add(ctx, 1, ls.add...)
		}
	}
	var outcome string
	if s.Kind == cache.StepLookup {
		outcome = s.Outcome.String()
	}
	if st == nil || st.recording {
		ls := h.labels(labelKey{kind: kindStep, a: step, b: s.Driver, c: model, d: op, e: outcome}, func() *labelSet {
			attrs := []attribute.KeyValue{CacheDriverKey.String(s.Driver)}
			if model != "" {
				attrs = append(attrs, ModelKey.String(model), OperationKey.String(op))
			}
			if outcome != "" {
				attrs = append(attrs, CacheOutcomeKey.String(outcome))
			}
			return newLabelSet("viborm.cache."+step, attrs...)
		})
		_, span := h.tracer.Start(ctx, ls.name, trace.WithTimestamp(s.Start))
		if span.IsRecording() {
			span.SetAttributes(ls.attrs...)
			if s.Err != nil {
				span.SetAttributes(semconv.ErrorTypeKey.String(et))
				span.SetStatus(codes.Error, et)
			}
			span.End(trace.WithTimestamp(s.Start.Add(s.Duration)))
		}
	}
	ls := h.labels(labelKey{kind: kindStepMetric, a: step, b: s.Driver, c: outcome, d: et}, func() *labelSet {
		attrs := []attribute.KeyValue{CacheStepKey.String(step), CacheDriverKey.String(s.Driver)}
		if outcome != "" {
			attrs = append(attrs, CacheOutcomeKey.String(outcome))
		}
		return newLabelSet("", withError(attrs, et)...)
	})
	h.stepDuration.Record(ctx, s.Duration.Seconds(), ls.rec...)
}

// OnBreakerChange counts a state change of the cache's circuit breaker: it
// is a cache.Options.OnBreakerChange.
func (h *Hook) OnBreakerChange(from, to cache.BreakerState) {
	h.breakerChange.Add(context.Background(), 1, metric.WithAttributes(BreakerStateKey.String(to.String()), BreakerPreviousStateKey.String(from.String())))
}

// errorType returns the error.type of err: a viborm error's code ("V5001"),
// "timeout", "canceled", "breaker_open" or "cache_driver", or the Go type of
// err. It never holds the error's message.
func errorType(err error) string {
	var ve *viborm.Error
	switch {
	case errors.As(err, &ve):
		return string(ve.Code)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, cache.ErrBreakerOpen):
		return "breaker_open"
	case errors.Is(err, cache.ErrDriver):
		return "cache_driver"
	}
	return semconv.ErrorType(err).Value.AsString()
}
