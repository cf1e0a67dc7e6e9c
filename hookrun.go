package viborm

import (
	"context"
	"database/sql"
	"reflect"
	"time"

	"github.com/viborm/viborm-go/internal/exec"
	"github.com/viborm/viborm-go/internal/sqlgen"
)

// This file holds what runs the [Hook]s at the pipeline's four points (see
// run.go): runRead and runWrite report operations (beginOp, opRun.end),
// executor.Query and executor.Exec report statements (queryHooked,
// execHooked). Without a hook each costs a nil check.

// opKey is the context key under which a running operation's *opRun is
// found by the statements it runs.
type opKey struct{}

// opRun is one hooked operation.
type opRun struct {
	h   Hook
	ctx context.Context // the operation's, as BeforeOperation returned it
	e   OperationEvent
}

// beginOp reports the start of op on m to the hooks and returns the
// operation's context.
func (ex *executor) beginOp(ctx context.Context, m AnyModel, op string) (context.Context, *opRun) {
	r := &opRun{h: ex.c.hook, e: OperationEvent{System: ex.c.d.Name(), Operation: op, Cached: ex.pol != nil, Start: time.Now(), Rows: -1}}
	if md := m.meta(); md != nil {
		r.e.Model, r.e.Table = md.Name, md.Table
	}
	ctx = context.WithValue(ctx, opKey{}, r)
	ctx = r.h.BeforeOperation(ctx, &r.e)
	r.ctx = ctx
	return ctx, r
}

// end reports the end of the operation.
func (r *opRun) end(rows int64, err error) {
	r.e.Duration = time.Since(r.e.Start)
	if err == nil {
		r.e.Rows = rows
	}
	r.e.Err = err
	r.h.AfterOperation(r.ctx, &r.e)
}

// rowCount is the number of rows in a read's result, or -1 when it is not
// rows.
func rowCount(v any) int64 {
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice {
		return int64(rv.Len())
	}
	return -1
}

// writeRows is the number of rows of a write's result: the count of a
// *Many write, 1 otherwise.
func writeRows(v any) int64 {
	if n, ok := v.(int64); ok {
		return n
	}
	return 1
}

// withRun returns a copy of ex carrying the hooked operation r, for the
// statements of a write, which run with the caller's context.
func (ex *executor) withRun(r *opRun) *executor {
	hx := *ex
	hx.run = r
	return &hx
}

// beginQuery reports the start of a statement. Its hook context is ctx when
// ctx carries the operation, and the executor's operation's otherwise (a
// write's statements run with the caller's context).
func (ex *executor) beginQuery(ctx context.Context, st sqlgen.Stmt, isExec bool) (context.Context, *QueryEvent) {
	e := &QueryEvent{System: ex.c.d.Name(), Query: st.SQL, Args: st.Args, Exec: isExec, Start: time.Now(), Rows: -1}
	r, ok := ctx.Value(opKey{}).(*opRun)
	if !ok && ex.run != nil {
		r, ctx = ex.run, ex.run.ctx
	}
	if r != nil {
		e.Model, e.Table, e.Operation = r.e.Model, r.e.Table, r.e.Operation
	}
	return ex.c.hook.BeforeQuery(ctx, e), e
}

func (ex *executor) endQuery(hctx context.Context, e *QueryEvent, err error) {
	e.Duration = time.Since(e.Start)
	e.Err = err
	ex.c.hook.AfterQuery(hctx, e)
}

// queryHooked is executor.Query with hooks. The statement runs with ctx;
// the hooks get their own context.
func (ex *executor) queryHooked(ctx context.Context, q exec.Querier, st sqlgen.Stmt) (*sql.Rows, error) {
	hctx, e := ex.beginQuery(ctx, st, false)
	rows, err := q.QueryContext(ctx, st.SQL, st.Args...)
	ex.endQuery(hctx, e, err)
	return rows, err
}

// execHooked is executor.Exec with hooks.
func (ex *executor) execHooked(ctx context.Context, q exec.Querier, st sqlgen.Stmt) (sql.Result, error) {
	hctx, e := ex.beginQuery(ctx, st, true)
	res, err := q.ExecContext(ctx, st.SQL, st.Args...)
	if err == nil {
		if n, rerr := res.RowsAffected(); rerr == nil {
			e.Rows = n
		}
	}
	ex.endQuery(hctx, e, err)
	return res, err
}
