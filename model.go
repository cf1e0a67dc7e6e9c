package viborm

import (
	"context"
	"reflect"
	"sync"

	"github.com/viborm/viborm-go/internal/dialect"
	"github.com/viborm/viborm-go/internal/exec"
	"github.com/viborm/viborm-go/internal/query"
	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/internal/sqlgen"
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

// ---- reads: each normalises its arguments and hands them to runRead ----

// FindMany returns the rows matching a.
func (m *ModelDef[T]) FindMany(ctx context.Context, r Reader, a FindMany) ([]T, error) {
	return runRead[[]T](ctx, r, m, OpFindMany, func(md *schema.Model) (*query.Query, error) { return normFindMany(md, relsOf(r), &a) }, &m.rows)
}

// FindFirst returns the first row matching a, or nil.
func (m *ModelDef[T]) FindFirst(ctx context.Context, r Reader, a FindMany) (*T, error) {
	return first(runRead(ctx, r, m, OpFindFirst, func(md *schema.Model) (*query.Query, error) { return normFirst(md, relsOf(r), &a) }, &m.rows))
}

// FindFirstOrErr returns the first row matching a, or an error matching
// [ErrNotFound]. Its cache key's operation is VibORM's findFirstOrThrow.
func (m *ModelDef[T]) FindFirstOrErr(ctx context.Context, r Reader, a FindMany) (T, error) {
	return one(runRead(ctx, r, m, OpFindFirstOrThrow, func(md *schema.Model) (*query.Query, error) { return normFirst(md, relsOf(r), &a) }, &m.rows))
}

// FindUnique returns the row selected by a unique or id field, or nil.
func (m *ModelDef[T]) FindUnique(ctx context.Context, r Reader, a FindUnique) (*T, error) {
	return first(runRead(ctx, r, m, OpFindUnique, func(md *schema.Model) (*query.Query, error) { return normFindUnique(md, relsOf(r), &a) }, &m.rows))
}

// FindUniqueOrErr is FindUnique returning an error matching [ErrNotFound]
// when there is no row. Its cache key's operation is findUniqueOrThrow.
func (m *ModelDef[T]) FindUniqueOrErr(ctx context.Context, r Reader, a FindUnique) (T, error) {
	return one(runRead(ctx, r, m, OpFindUniqueOrThrow, func(md *schema.Model) (*query.Query, error) { return normFindUnique(md, relsOf(r), &a) }, &m.rows))
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
	return runRead[int64](ctx, r, m, OpCount, func(md *schema.Model) (*query.Query, error) { return normCount(md, relsOf(r), &a) }, &exec.CountRead)
}

// Exist reports whether a row matches where.
func (m *ModelDef[T]) Exist(ctx context.Context, r Reader, where Where) (bool, error) {
	return runRead[bool](ctx, r, m, OpExist, func(md *schema.Model) (*query.Query, error) { return normExist(md, relsOf(r), where) }, &exec.ExistRead)
}

// Aggregate computes aggregates over the rows matching a.
func (m *ModelDef[T]) Aggregate(ctx context.Context, r Reader, a Aggregate) (AggregateResult, error) {
	res, err := runRead[exec.Aggregates](ctx, r, m, OpAggregate, func(md *schema.Model) (*query.Query, error) { return normAggregate(md, relsOf(r), &a) }, &exec.AggregateRead)
	return AggregateResult(res), err
}

// GroupBy groups the rows matching a by a.By and computes aggregates per
// group.
func (m *ModelDef[T]) GroupBy(ctx context.Context, r Reader, a GroupBy) ([]GroupRow, error) {
	groups, err := runRead[[]exec.Group](ctx, r, m, OpGroupBy, func(md *schema.Model) (*query.Query, error) { return normGroupBy(md, relsOf(r), &a) }, &exec.GroupByRead)
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
	ex := r.readExecutor()
	if ex.c.cache == nil {
		return "", &Error{Code: CodeCacheNotConfigured, Message: "CacheKey needs Config.Cache"}
	}
	md, q, err := normRead(ex, m, op, args)
	if err != nil {
		return "", err
	}
	return ex.cacheKey(md, op, q)
}

// Statement is a SQL statement with its bound arguments.
type Statement struct {
	SQL  string
	Args []any
}

// ReadSQL returns the statement a read of op with args (as for
// [ModelDef.CacheKey]) runs on c's dialect, without running it.
func (m *ModelDef[T]) ReadSQL(c *Client, op Op, args any) (Statement, error) {
	md, q, err := normRead(&c.ex, m, op, args)
	if err != nil {
		return Statement{}, err
	}
	return Statement(compileOf(op)(c.d, md, q)), nil
}

// ---- writes: each normalises its arguments and runs in runWrite ----

// Create inserts a row and returns it as stored.
func (m *ModelDef[T]) Create(ctx context.Context, w Writer, a Create) (T, error) {
	ctx, wd := withWriteDeps(ctx)
	return runWrite(ctx, w, m, "create", a.Cache, func(ex *executor, md *schema.Model) (T, error) {
		var zero T
		if hasNested(a.Data) { // nested create / connect: see nested.go
			return createNested[T](ctx, ex, md, wd, &a)
		}
		items, err := normData(md, a.Data, true, exec.Now())
		if err != nil {
			return zero, err
		}
		sel, err := query.Select(md, a.Select, a.Omit)
		if err != nil {
			return zero, err
		}
		return exec.Create[T](ctx, ex, md, items, sel)
	})
}

// CreateMany inserts rows and returns how many were inserted.
func (m *ModelDef[T]) CreateMany(ctx context.Context, w Writer, a CreateMany) (int64, error) {
	return runWrite(ctx, w, m, "createMany", a.Cache, func(ex *executor, md *schema.Model) (int64, error) {
		rows := make([][]query.Set, len(a.Data))
		now := exec.Now()
		for i, d := range a.Data {
			if hasNested(d) {
				return 0, dataRowError(i, validationf("data", "nested writes are not supported in createMany: use Create"))
			}
			items, err := normData(md, d, true, now)
			if err != nil {
				return 0, dataRowError(i, err)
			}
			rows[i] = items
		}
		if len(rows) == 0 {
			return 0, nil
		}
		return exec.CreateMany(ctx, ex, md, rows)
	})
}

// Update changes the row selected by a unique where and returns it; it fails
// with [ErrNotFound] when there is none.
func (m *ModelDef[T]) Update(ctx context.Context, w Writer, a Update) (T, error) {
	ctx, wd := withWriteDeps(ctx)
	return runWrite(ctx, w, m, "update", a.Cache, func(ex *executor, md *schema.Model) (T, error) {
		var out T
		wh, err := normUniqueWhere(md, ex.c.rels, a.Where)
		if err != nil {
			return out, err
		}
		if hasNested(a.Data) { // nested writes: see nested.go
			return updateNested[T](ctx, ex, md, wd, wh, &a)
		}
		items, err := normData(md, a.Data, false, exec.Now())
		if err != nil {
			return out, err
		}
		wd.tokens = md.WriteDeps(ex.c.rels, schema.WriteUpdate, setFields(items))
		sel, err := query.Select(md, a.Select, a.Omit)
		if err != nil {
			return out, err
		}
		return exec.Update[T](ctx, ex, md, wh, items, sel)
	})
}

// UpdateMany changes every row matching where and returns how many matched.
func (m *ModelDef[T]) UpdateMany(ctx context.Context, w Writer, a UpdateMany) (int64, error) {
	ctx, wd := withWriteDeps(ctx)
	return runWrite(ctx, w, m, "updateMany", a.Cache, func(ex *executor, md *schema.Model) (int64, error) {
		wh, err := normWhere(md, ex.c.rels, a.Where)
		if err != nil {
			return 0, err
		}
		items, err := normData(md, a.Data, false, exec.Now())
		if err != nil {
			return 0, err
		}
		if len(items) == 0 {
			return 0, validationf("data", "nothing to update")
		}
		wd.tokens = md.WriteDeps(ex.c.rels, schema.WriteUpdate, setFields(items))
		return exec.ExecCount(ctx, ex, ex.q, sqlgen.Update(ex.c.d, md, items, wh))
	})
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
	ctx, wd := withWriteDeps(ctx)
	return runWrite(ctx, w, m, "upsert", a.Cache, func(ex *executor, md *schema.Model) (T, error) {
		wd.tokens = md.WriteDeps(ex.c.rels, schema.WriteUpdate, nil)
		if hasNested(a.Create) || hasNested(a.Update) {
			var zero T
			return zero, validationf("data", "nested writes are not supported in upsert: use Create or Update")
		}
		return upsert[T](ctx, ex, md, &a)
	})
}

// Delete removes the row selected by a unique where and returns it; it fails
// with [ErrNotFound] when there is none.
func (m *ModelDef[T]) Delete(ctx context.Context, w Writer, a Delete) (T, error) {
	ctx, wd := withWriteDeps(ctx)
	return runWrite(ctx, w, m, "delete", a.Cache, func(ex *executor, md *schema.Model) (T, error) {
		var out T
		wd.tokens = md.WriteDeps(ex.c.rels, schema.WriteDelete, nil)
		wh, err := normUniqueWhere(md, ex.c.rels, a.Where)
		if err != nil {
			return out, err
		}
		sel, err := query.Select(md, a.Select, a.Omit)
		if err != nil {
			return out, err
		}
		return exec.Delete[T](ctx, ex, md, wh, sel)
	})
}

// DeleteMany removes every row matching where and returns how many.
func (m *ModelDef[T]) DeleteMany(ctx context.Context, w Writer, a DeleteMany) (int64, error) {
	ctx, wd := withWriteDeps(ctx)
	return runWrite(ctx, w, m, "deleteMany", a.Cache, func(ex *executor, md *schema.Model) (int64, error) {
		wd.tokens = md.WriteDeps(ex.c.rels, schema.WriteDelete, nil)
		wh, err := normWhere(md, ex.c.rels, a.Where)
		if err != nil {
			return 0, err
		}
		return exec.ExecCount(ctx, ex, ex.q, sqlgen.Delete(ex.c.d, md, wh))
	})
}

// upsert normalises an upsert and runs it (see exec.Upsert).
func upsert[T any](ctx context.Context, ex *executor, md *schema.Model, a *Upsert) (T, error) {
	var zero T
	wh, err := normUniqueWhere(md, ex.c.rels, a.Where)
	if err != nil {
		return zero, err
	}
	now := exec.Now()
	cItems, err := normData(md, a.Create, true, now)
	if err != nil {
		return zero, err
	}
	uItems, err := normData(md, a.Update, false, now)
	if err != nil {
		return zero, err
	}
	sel, err := query.Select(md, a.Select, a.Omit)
	if err != nil {
		return zero, err
	}
	nu, _ := query.PlanUpsert(md, a.Where, a.Create, cItems, uItems, ex.c.d.Has(dialect.UpsertAnyKey), condOf)
	return exec.Upsert[T](ctx, ex, md, nu, wh, cItems, uItems, sel)
}
