package engine

import (
	"context"
	"database/sql"
	"reflect"
	"time"

	"github.com/viborm/viborm-go/internal/exec"
	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/internal/sqlgen"
)

// Hook observes operations and statements; it is viborm.Hook over this
// package's events, which mirror viborm.OperationEvent and
// viborm.QueryEvent field for field (the public package converts the
// pointers, at no cost). Read and Write report operations; Conn.Query and
// Conn.Exec report statements. Without a hook each costs a nil check.
type Hook interface {
	BeforeOperation(ctx context.Context, e *OperationEvent) context.Context
	AfterOperation(ctx context.Context, e *OperationEvent)
	BeforeQuery(ctx context.Context, e *QueryEvent) context.Context
	AfterQuery(ctx context.Context, e *QueryEvent)
}

// OperationEvent mirrors viborm.OperationEvent, which documents it.
type OperationEvent struct {
	System       string
	Model, Table string
	Operation    string
	Cached       bool
	Start        time.Time
	Duration     time.Duration
	Rows         int64
	Err          error
}

// QueryEvent mirrors viborm.QueryEvent, which documents it.
type QueryEvent struct {
	System                  string
	Model, Table, Operation string
	Query                   string
	Args                    []any
	Exec                    bool
	Start                   time.Time
	Duration                time.Duration
	Rows                    int64
	Err                     error
}

// Join returns one Hook running hooks (nil entries skipped), or nil when
// there is none. With several, Before runs in order and After in reverse
// order, and each hook's After gets the context its own Before returned (so
// a tracer ends its own span, not the next hook's).
func Join(hooks ...Hook) Hook {
	var hs multiHook
	for _, h := range hooks {
		if h != nil {
			hs = append(hs, h)
		}
	}
	switch len(hs) {
	case 0:
		return nil
	case 1:
		return hs[0]
	}
	return hs
}

// multiHook runs several hooks. Before records each hook's context, in
// order, in the context it hands on; After takes them from there.
type multiHook []Hook

// hookCtxs is the context key of a multiHook's hooks' contexts.
type hookCtxs struct{}

func (m multiHook) before(ctx context.Context, call func(Hook, context.Context) context.Context) context.Context {
	ctxs := make([]context.Context, len(m))
	for i, h := range m {
		ctx = call(h, ctx)
		ctxs[i] = ctx
	}
	return context.WithValue(ctx, hookCtxs{}, ctxs)
}

func (m multiHook) after(ctx context.Context, call func(Hook, context.Context)) {
	ctxs, _ := ctx.Value(hookCtxs{}).([]context.Context)
	for i := len(m) - 1; i >= 0; i-- {
		hctx := ctx
		if i < len(ctxs) {
			hctx = ctxs[i]
		}
		call(m[i], hctx)
	}
}

func (m multiHook) BeforeOperation(ctx context.Context, e *OperationEvent) context.Context {
	return m.before(ctx, func(h Hook, ctx context.Context) context.Context { return h.BeforeOperation(ctx, e) })
}

func (m multiHook) AfterOperation(ctx context.Context, e *OperationEvent) {
	m.after(ctx, func(h Hook, ctx context.Context) { h.AfterOperation(ctx, e) })
}

func (m multiHook) BeforeQuery(ctx context.Context, e *QueryEvent) context.Context {
	return m.before(ctx, func(h Hook, ctx context.Context) context.Context { return h.BeforeQuery(ctx, e) })
}

func (m multiHook) AfterQuery(ctx context.Context, e *QueryEvent) {
	m.after(ctx, func(h Hook, ctx context.Context) { h.AfterQuery(ctx, e) })
}

// opKey is the context key under which a running operation's *opRun is
// found by the statements it runs.
type opKey struct{}

// opRun is one hooked operation.
type opRun struct {
	h   Hook
	ctx context.Context // the operation's, as BeforeOperation returned it
	e   OperationEvent
}

// beginOp reports the start of op on md to the hooks and returns the
// operation's context.
func (c *Conn) beginOp(ctx context.Context, md *schema.Model, op string) (context.Context, *opRun) {
	r := &opRun{h: c.e.cfg.Hook, e: OperationEvent{System: c.e.d.Name(), Operation: op, Cached: c.pol != nil, Start: time.Now(), Rows: -1}}
	if md != nil {
		r.e.Model, r.e.Table = md.Name, md.Table
	}
	ctx = context.WithValue(ctx, opKey{}, r)
	ctx = r.h.BeforeOperation(ctx, &r.e)
	r.ctx = ctx
	return ctx, r
}

// end reports the end of the operation; err is the caller's error.
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

// withRun returns a copy of c carrying the hooked operation r, for the
// statements of a write, which run with the caller's context.
func (c *Conn) withRun(r *opRun) *Conn {
	hc := *c
	hc.run = r
	return &hc
}

// beginQuery reports the start of a statement. Its hook context is ctx when
// ctx carries the operation, and the connection's operation's otherwise (a
// write's statements run with the caller's context).
func (c *Conn) beginQuery(ctx context.Context, st sqlgen.Stmt, isExec bool) (context.Context, *QueryEvent) {
	e := &QueryEvent{System: c.e.d.Name(), Query: st.SQL, Args: st.Args, Exec: isExec, Start: time.Now(), Rows: -1}
	r, ok := ctx.Value(opKey{}).(*opRun)
	if !ok && c.run != nil {
		r, ctx = c.run, c.run.ctx
	}
	if r != nil {
		e.Model, e.Table, e.Operation = r.e.Model, r.e.Table, r.e.Operation
	}
	return c.e.cfg.Hook.BeforeQuery(ctx, e), e
}

func (c *Conn) endQuery(hctx context.Context, e *QueryEvent, err error) {
	e.Duration = time.Since(e.Start)
	e.Err = err
	c.e.cfg.Hook.AfterQuery(hctx, e)
}

// queryHooked is Query with hooks. The statement runs with ctx; the hooks
// get their own context.
func (c *Conn) queryHooked(ctx context.Context, q exec.Querier, st sqlgen.Stmt) (*sql.Rows, error) {
	hctx, e := c.beginQuery(ctx, st, false)
	rows, err := q.QueryContext(ctx, st.SQL, st.Args...)
	c.endQuery(hctx, e, err)
	return rows, err
}

// execHooked is Exec with hooks.
func (c *Conn) execHooked(ctx context.Context, q exec.Querier, st sqlgen.Stmt) (sql.Result, error) {
	hctx, e := c.beginQuery(ctx, st, true)
	res, err := q.ExecContext(ctx, st.SQL, st.Args...)
	if err == nil {
		if n, rerr := res.RowsAffected(); rerr == nil {
			e.Rows = n
		}
	}
	c.endQuery(hctx, e, err)
	return res, err
}
