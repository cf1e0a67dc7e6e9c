package viborm

import (
	"context"
	"reflect"
	"sync"

	"github.com/viborm/viborm-go/internal/engine"
	"github.com/viborm/viborm-go/internal/exec"
	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/s"
)

// Row is a dynamic row: field name → value. A Model[Row] returns rows as
// maps holding canonical values: string, int64, float64, bool, time.Time
// (UTC), []byte, json.RawMessage, a decimal as a string, or nil for NULL.
type Row = map[string]any

// AnyModel is a model of any row type, for [Config.Models].
type AnyModel interface {
	meta() *schema.Model
}

// ModelDef is a model bound to the Go type T: a struct whose fields match the
// model's scalar fields, or [Row]. Its methods run the model's operations
// through a [Reader] or [Writer]: a *Client, a *Tx or (reads only) a *Cached.
//
// A ModelDef is usually a package-level variable shared by every client; the
// clients it is used with must list it in [Config.Models].
type ModelDef[T any] struct {
	name string
	opts []s.Option
	once sync.Once
	m    *schema.Model
	rows exec.Spec[[]T] // how its reads of rows run, made once
}

// Model declares a model named name (the name used in cache keys and
// relations) bound to T. Errors in the declaration are reported by
// [NewClient].
func Model[T any](name string, opts ...s.Option) *ModelDef[T] {
	return &ModelDef[T]{name: name, opts: opts}
}

// Name returns the model's name.
func (m *ModelDef[T]) Name() string { return m.name }

func (m *ModelDef[T]) meta() *schema.Model {
	m.once.Do(func() {
		m.m = schema.Build(m.name, m.opts, reflect.TypeFor[T]())
		m.rows = exec.RowsRead[T]()
		exec.RegisterRows[T](m.m)
	})
	return m.m
}

// Op names a read operation in cache keys; the names are VibORM's.
type Op string

// The cacheable operations.
const (
	OpFindMany          Op = "findMany"
	OpFindFirst         Op = "findFirst"
	OpFindUnique        Op = "findUnique"
	OpFindUniqueOrThrow Op = "findUniqueOrThrow"
	OpFindFirstOrThrow  Op = "findFirstOrThrow"
	OpCount             Op = "count"
	OpExist             Op = "exist"
	OpAggregate         Op = "aggregate"
	OpGroupBy           Op = "groupBy"
)

// readOps are the cacheable operations.
var readOps = []Op{OpFindMany, OpFindFirst, OpFindUnique, OpFindUniqueOrThrow, OpFindFirstOrThrow, OpCount, OpExist, OpAggregate, OpGroupBy}

// Reader runs reads: a *Client, a *Tx or a *Cached.
type Reader interface {
	conn() *engine.Conn
}

// Writer runs reads and writes: a *Client or a *Tx. A *Cached is not a
// Writer, so a write through a cached handle does not compile.
type Writer interface {
	Reader
	writeConn() *engine.Conn
}

// ---- reads: engine.Read runs each with its normalisation (norm.go) ----

// FindMany returns the rows matching a.
func (m *ModelDef[T]) FindMany(ctx context.Context, r Reader, a FindMany) ([]T, error) {
	return engine.Read(ctx, r.conn(), m.meta(), string(OpFindMany), a.norm, &m.rows)
}

// FindFirst returns the first row matching a, or nil.
func (m *ModelDef[T]) FindFirst(ctx context.Context, r Reader, a FindMany) (*T, error) {
	return first(engine.Read(ctx, r.conn(), m.meta(), string(OpFindFirst), a.first, &m.rows))
}

// FindFirstOrErr returns the first row matching a, or an error matching
// [ErrNotFound]. Its cache key's operation is VibORM's findFirstOrThrow.
func (m *ModelDef[T]) FindFirstOrErr(ctx context.Context, r Reader, a FindMany) (T, error) {
	return one(engine.Read(ctx, r.conn(), m.meta(), string(OpFindFirstOrThrow), a.first, &m.rows))
}

// FindUnique returns the row selected by a unique or id field, or nil.
func (m *ModelDef[T]) FindUnique(ctx context.Context, r Reader, a FindUnique) (*T, error) {
	return first(engine.Read(ctx, r.conn(), m.meta(), string(OpFindUnique), a.norm, &m.rows))
}

// FindUniqueOrErr is FindUnique returning an error matching [ErrNotFound]
// when there is no row. Its cache key's operation is findUniqueOrThrow.
func (m *ModelDef[T]) FindUniqueOrErr(ctx context.Context, r Reader, a FindUnique) (T, error) {
	return one(engine.Read(ctx, r.conn(), m.meta(), string(OpFindUniqueOrThrow), a.norm, &m.rows))
}

// first returns the first of rows, nil when there is none.
func first[T any](rows []T, err error) (*T, error) {
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	return &rows[0], nil
}

// one returns the first of rows of an OrErr read, which fails when there is
// none.
func one[T any](rows []T, err error) (T, error) {
	if err != nil {
		var zero T
		return zero, err
	}
	return rows[0], nil
}

// Count returns the number of rows matching a.
func (m *ModelDef[T]) Count(ctx context.Context, r Reader, a Count) (int64, error) {
	return engine.Read(ctx, r.conn(), m.meta(), string(OpCount), a.norm, &exec.CountRead)
}

// Exist reports whether a row matches where.
func (m *ModelDef[T]) Exist(ctx context.Context, r Reader, where Where) (bool, error) {
	return engine.Read(ctx, r.conn(), m.meta(), string(OpExist), where.exist, &exec.ExistRead)
}

// Aggregate computes aggregates over the rows matching a.
func (m *ModelDef[T]) Aggregate(ctx context.Context, r Reader, a Aggregate) (AggregateResult, error) {
	res, err := engine.Read(ctx, r.conn(), m.meta(), string(OpAggregate), a.norm, &exec.AggregateRead)
	return AggregateResult(res), err
}

// GroupBy groups the rows matching a by a.By and computes aggregates per
// group.
func (m *ModelDef[T]) GroupBy(ctx context.Context, r Reader, a GroupBy) ([]GroupRow, error) {
	groups, err := engine.Read(ctx, r.conn(), m.meta(), string(OpGroupBy), a.norm, &exec.GroupByRead)
	if err != nil {
		return nil, err
	}
	out := make([]GroupRow, len(groups))
	for i, g := range groups {
		out[i] = GroupRow{By: g.By, AggregateResult: AggregateResult(g.Aggs)}
	}
	return out, nil
}

// CacheKey returns the full key that a cached read of op with args (a
// FindMany, FindUnique, Count, Where for exist, Aggregate or GroupBy value)
// through r would use: the same validation and normalisation as the read
// itself. With a *Cached handle that sets a custom key, that key is returned.
func (m *ModelDef[T]) CacheKey(r Reader, op Op, args any) (string, error) {
	c, md := r.conn(), m.meta()
	if c.Engine().Cache() == nil {
		return "", &Error{Code: CodeCacheNotConfigured, Message: "CacheKey needs Config.Cache"}
	}
	q, err := normRead(c, md, op, args)
	if err != nil {
		return "", err
	}
	k, err := c.CacheKey(md, string(op), q)
	return k, public(err)
}

// Statement is a SQL statement with its bound arguments.
type Statement struct {
	SQL  string
	Args []any
}

// ReadSQL returns the statement a read of op with args (as for
// [ModelDef.CacheKey]) runs on c's dialect, without running it.
func (m *ModelDef[T]) ReadSQL(c *Client, op Op, args any) (Statement, error) {
	md := m.meta()
	q, err := normRead(c.conn(), md, op, args)
	if err != nil {
		return Statement{}, err
	}
	return Statement(engine.Compile(c.e.Dialect(), string(op), md, q)), nil
}

// ---- writes: each runs in engine.Write (internal/engine/write.go) ----

// Create inserts a row and returns it as stored.
func (m *ModelDef[T]) Create(ctx context.Context, w Writer, a Create) (T, error) {
	return engine.Create[T](ctx, w.writeConn(), m.meta(), a.Cache.inval(), a.Data, a.Select, a.Omit)
}

// CreateMany inserts rows and returns how many were inserted.
func (m *ModelDef[T]) CreateMany(ctx context.Context, w Writer, a CreateMany) (int64, error) {
	return engine.CreateMany(ctx, w.writeConn(), m.meta(), a.Cache.inval(), a.Data)
}

// Update changes the row selected by a unique where and returns it; it fails
// with [ErrNotFound] when there is none.
func (m *ModelDef[T]) Update(ctx context.Context, w Writer, a Update) (T, error) {
	return engine.Update[T](ctx, w.writeConn(), m.meta(), a.Cache.inval(), a.Where, a.Data, a.Select, a.Omit)
}

// UpdateMany changes every row matching where and returns how many matched.
func (m *ModelDef[T]) UpdateMany(ctx context.Context, w Writer, a UpdateMany) (int64, error) {
	return engine.UpdateMany(ctx, w.writeConn(), m.meta(), a.Cache.inval(), a.Where, a.Data)
}

// Upsert updates the row selected by a unique where with a.Update, or
// creates a.Create when there is none, and returns the row. An empty
// a.Update leaves an existing row as it is and returns it.
//
// When the where is equalities on one unique key and a.Create sets that key
// to the same values, the upsert is one atomic statement (INSERT … ON
// CONFLICT … DO UPDATE on PostgreSQL and SQLite, INSERT … ON DUPLICATE KEY
// UPDATE on MySQL/MariaDB), so concurrent upserts of one key never fail
// with a unique violation or a deadlock. On MySQL this also needs that no
// other unique key of the created row can conflict and that a.Update does
// not change the key (ON DUPLICATE KEY UPDATE fires on any unique key).
// Other upserts read the row with a lock and then insert or update it; under
// concurrency they can fail with [ErrUniqueViolation] or [ErrSerialization]
// and may be retried.
func (m *ModelDef[T]) Upsert(ctx context.Context, w Writer, a Upsert) (T, error) {
	return engine.Upsert[T](ctx, w.writeConn(), m.meta(), a.Cache.inval(), a.Where, a.Create, a.Update, a.Select, a.Omit)
}

// Delete removes the row selected by a unique where and returns it; it fails
// with [ErrNotFound] when there is none.
func (m *ModelDef[T]) Delete(ctx context.Context, w Writer, a Delete) (T, error) {
	return engine.Delete[T](ctx, w.writeConn(), m.meta(), a.Cache.inval(), a.Where, a.Select, a.Omit)
}

// DeleteMany removes every row matching where and returns how many.
func (m *ModelDef[T]) DeleteMany(ctx context.Context, w Writer, a DeleteMany) (int64, error) {
	return engine.DeleteMany(ctx, w.writeConn(), m.meta(), a.Cache.inval(), a.Where)
}
