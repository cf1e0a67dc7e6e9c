package viborm

import (
	"context"
	"database/sql"
	"errors"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/internal/dialect"
	"github.com/viborm/viborm-go/internal/exec"
	"github.com/viborm/viborm-go/internal/query"
	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/internal/sqlgen"
)

// This file runs the pipeline (see ARCHITECTURE.md). runRead is the one path
// of every model read and runWrite of every model write; executor.Query and
// executor.Exec are the only places where the SQL of model operations and
// raw SQL reaches the database (the DDL of Push and CheckSchema runs on the
// pool directly). Hooks (tracing, metrics, query logs) belong in these four
// functions.

// querier is a *sql.DB or a *sql.Tx.
type querier = exec.Querier

// executor is what a [Reader] or [Writer] gives the model methods: the
// client, the querier the operation runs on (the pool, or a transaction),
// and for a cached handle its cache policy. It is the exec.Conn of the
// operation.
type executor struct {
	c   *Client
	q   querier
	tx  *Tx
	pol *cache.Policy // for cached reads
	err error         // a WithCache configuration error
	ro  bool          // CacheOptions.ReadOnly: row hits share the cached rows
	run *opRun        // the hooked write this executor runs, if any (hookrun.go)
}

// Reader runs reads: a *Client, a *Tx or a *Cached.
type Reader interface {
	readExecutor() *executor
}

// Writer runs reads and writes: a *Client or a *Tx. A *Cached is not a
// Writer, so a write through a cached handle does not compile.
type Writer interface {
	Reader
	writeExecutor() *executor
}

// start checks that the operation may run: the handle is valid, the client
// open, and the model one of the client's.
func (ex *executor) start(m AnyModel) (*schema.Model, error) {
	if ex.err != nil {
		return nil, ex.err
	}
	md := m.meta()
	if md.Err != nil {
		return nil, public(md.Err)
	}
	if ex.c.closed.Load() {
		return nil, &Error{Code: CodeClosed, Model: md.Name, Message: "the client is closed"}
	}
	if ex.c.models[md.Name] != md {
		return nil, &Error{Code: CodeSchema, Model: md.Name, Message: "the model is not in this client's Config.Models"}
	}
	return md, nil
}

// Dialect returns the client's dialect.
func (ex *executor) Dialect() dialect.Dialect { return ex.c.d }

// Querier returns the operation's querier.
func (ex *executor) Querier() exec.Querier { return ex.q }

// Query runs a statement that returns rows: every model read, write and raw
// query that returns rows passes here.
func (ex *executor) Query(ctx context.Context, q exec.Querier, st sqlgen.Stmt) (*sql.Rows, error) {
	if ex.c.hook != nil {
		return ex.queryHooked(ctx, q, st)
	}
	return q.QueryContext(ctx, st.SQL, st.Args...)
}

// Exec runs a statement for its effect: every statement run for its effect
// passes here.
func (ex *executor) Exec(ctx context.Context, q exec.Querier, st sqlgen.Stmt) (sql.Result, error) {
	if ex.c.hook != nil {
		return ex.execHooked(ctx, q, st)
	}
	return q.ExecContext(ctx, st.SQL, st.Args...)
}

// InTx runs fn in the executor's transaction, or in a new one.
func (ex *executor) InTx(ctx context.Context, fn func(q exec.Querier) error) error {
	if ex.tx != nil {
		return fn(ex.q)
	}
	stx, err := ex.c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(stx); err != nil {
		_ = stx.Rollback()
		return err
	}
	return stx.Commit()
}

// ---- reads ----

// compileOf returns the statement compiler of op's read.
func compileOf(op Op) func(dialect.Dialect, *schema.Model, *query.Query) sqlgen.Stmt {
	switch op {
	case OpCount:
		return sqlgen.Count
	case OpExist:
		return sqlgen.Exist
	case OpAggregate:
		return sqlgen.Aggregate
	case OpGroupBy:
		return sqlgen.GroupBy
	}
	return exec.SelectRows
}

// runRead is the path of every model read: start, normalise (norm), then
// answer from the cache through a cached handle (see exec.ReadThrough), or
// from the database.
func runRead[R any](ctx context.Context, r Reader, m AnyModel, op Op, norm func(*schema.Model) (*query.Query, error), spec *exec.Spec[R]) (res R, rerr error) {
	var zero R
	ex := r.readExecutor()
	if ex.c.hook != nil {
		var run *opRun
		ctx, run = ex.beginOp(ctx, m, string(op))
		defer func() { run.end(rowCount(res), rerr) }()
	}
	md, err := ex.start(m)
	if err != nil {
		return zero, err
	}
	q, err := norm(md)
	if err != nil {
		return zero, withOp(public(err), md.Name, string(op))
	}
	orErr := op == OpFindFirstOrThrow || op == OpFindUniqueOrThrow
	if ex.pol == nil {
		v, err := exec.Load(ctx, ex, ex.q, md, q, orErr, spec)
		if err != nil {
			return zero, withOp(ex.c.dbError(err, md, string(op)), md.Name, string(op))
		}
		return v, nil
	}
	key, err := ex.cacheKey(md, op, q)
	if err != nil {
		return zero, err
	}
	pol := *ex.pol
	pol.Key = ""
	pol.Deps = readDeps(md, q)
	v, own, err := exec.ReadThrough(ctx, ex, ex.c.cache, key, pol, md, q, orErr, spec)
	if err != nil {
		return zero, ex.c.cacheError(err, md, op)
	}
	switch {
	case own, ex.ro && spec.Kind == exec.Rows && !q.HasRel():
		// The caller's own value, or shared under CacheOptions.ReadOnly.
	default:
		if spec.CopyRel != nil && q.HasRel() {
			v = spec.CopyRel(md, q, v)
		} else {
			v = spec.Copy(md, v)
		}
	}
	return v, nil
}

// cacheKey returns the full key of a cached read.
func (ex *executor) cacheKey(md *schema.Model, op Op, q *query.Query) (string, error) {
	if ex.pol != nil && ex.pol.Key != "" {
		return ex.c.fullKey(ex.pol.Key), nil
	}
	var buf [128]byte
	k, err := cache.Key(md.Name, string(op), string(q.Encode(buf[:0])), ex.c.keyOpt)
	if err != nil {
		return "", &Error{Code: CodeInvalidCacheKey, Model: md.Name, Op: string(op), Message: "cannot derive a cache key", Err: err}
	}
	return k, nil
}

// cacheError maps the error of a read through the cache.
func (c *Client) cacheError(err error, md *schema.Model, op Op) error {
	var e *Error
	switch {
	case errors.As(err, &e) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return withOp(err, md.Name, string(op))
	case errors.Is(err, cache.ErrConfig) || errors.Is(err, cache.ErrInvalidTTL):
		return &Error{Code: CodeInvalidCacheOption, Model: md.Name, Op: string(op), Message: "invalid cache options", Err: err}
	case errors.Is(err, cache.ErrInvalidKey):
		return &Error{Code: CodeInvalidCacheKey, Model: md.Name, Op: string(op), Message: "invalid cache key", Err: err}
	}
	return withOp(c.dbError(err, md, string(op)), md.Name, string(op))
}

// ---- writes ----

// runWrite is the path of every model write: start, run (which normalises
// and executes, in a transaction when it needs one), map the error, and
// once the write has succeeded invalidate what inv asks for (at COMMIT
// inside a transaction).
func runWrite[R any](ctx context.Context, w Writer, m AnyModel, op string, inv *Invalidate, run func(ex *executor, md *schema.Model) (R, error)) (res R, rerr error) {
	var zero R
	ex := w.writeExecutor()
	if ex.c.hook != nil {
		var r *opRun
		ctx, r = ex.beginOp(ctx, m, op)
		ex = ex.withRun(r) // run's statements keep the caller's context
		defer func() { r.end(writeRows(res), rerr) }()
	}
	md, err := ex.start(m)
	if err != nil {
		return zero, err
	}
	out, err := run(ex, md)
	if err != nil {
		return zero, withOp(ex.c.dbError(err, md, op), md.Name, op)
	}
	ex.invalidateAfter(ctx, md, inv)
	return out, nil
}
