package viborm

import (
	"context"
	"time"
)

// Hook observes a client's operations and the SQL statements they run. It is
// the seam for tracing, metrics and query logging: [QueryLogger] logs
// statements with log/slog, and the otelviborm package turns both into
// OpenTelemetry spans and metrics. Set hooks in [Config.Hooks].
//
// BeforeOperation and BeforeQuery run before the work and return the context
// it runs with: a tracer returns one holding its span, any other hook returns
// ctx itself. AfterOperation and AfterQuery run exactly once for each Before,
// with the context that Before returned, once the event's results (Duration,
// Rows, Err) are filled in. Statements run inside an operation get the
// operation's context, so their spans are its children. Raw SQL
// ([Client.QueryRaw], [Client.ExecRaw]) and the statements of [Client.Push]
// and [Client.CheckSchema] are reported as statements without an operation;
// transaction control (BEGIN, COMMIT) is not reported.
//
// Hooks must be safe for concurrent use, must be fast and must not block.
// They must not keep an event after After returns, nor change its fields
// other than to read them. [QueryEvent.Args] holds the statement's argument
// values, which can be user data: do not record them unless the user asked.
type Hook interface {
	BeforeOperation(ctx context.Context, e *OperationEvent) context.Context
	AfterOperation(ctx context.Context, e *OperationEvent)
	BeforeQuery(ctx context.Context, e *QueryEvent) context.Context
	AfterQuery(ctx context.Context, e *QueryEvent)
}

// OperationEvent describes one ORM operation (a model read or write), for a
// [Hook]. Every operation is reported from its start, one that fails
// validation included.
type OperationEvent struct {
	// System is the database's dialect: "sqlite", "postgres" or "mysql".
	System string
	// Model is the model's name and Table its table.
	Model, Table string
	// Operation is VibORM's name of the operation: "findMany", "count",
	// "create", "updateMany"…
	Operation string
	// Cached is true for a read through a [Cached] handle: the cache may
	// answer it without a statement.
	Cached bool
	// Start is when the operation began.
	Start time.Time

	// Set before AfterOperation:

	// Duration is how long the operation took.
	Duration time.Duration
	// Rows is the number of rows returned by a read of rows, or affected by
	// a write; -1 when it does not apply (count, exist, aggregate).
	Rows int64
	// Err is the operation's error, nil on success.
	Err error
}

// QueryEvent describes one SQL statement, for a [Hook].
type QueryEvent struct {
	// System is the database's dialect: "sqlite", "postgres" or "mysql".
	System string
	// Model, Table and Operation are those of the operation that runs the
	// statement; all are empty for raw SQL ([Client.QueryRaw],
	// [Client.ExecRaw]).
	Model, Table, Operation string
	// Query is the SQL text with placeholders: argument values are never
	// part of it.
	Query string
	// Args are the argument values bound to the placeholders. They can be
	// user data: hooks must not record them unless the user asked.
	Args []any
	// Exec is true for a statement run for its effect (INSERT, UPDATE,
	// DELETE without RETURNING), false for a query that returns rows.
	Exec bool
	// Start is when the statement was sent.
	Start time.Time

	// Set before AfterQuery:

	// Duration is how long the database took to answer: until the
	// statement's result was returned (for a query, until its first rows
	// were ready, not until they were all read).
	Duration time.Duration
	// Rows is the number of rows affected by an Exec statement when the
	// driver reports it, and -1 otherwise (the rows a query returns are on
	// its [OperationEvent]).
	Rows int64
	// Err is the statement's error, nil on success.
	Err error
}

// multiHook runs several hooks: Before in order, After in reverse order.
// Each hook's After gets the context its own Before returned (so a tracer
// ends its own span, not the next hook's): Before records them, in order,
// in the context it hands on.
type multiHook []Hook

// hookCtxs is the context key under which multiHook keeps its hooks'
// contexts between Before and After.
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

// joinHooks returns one Hook running hooks, or nil when there is none.
func joinHooks(hooks []Hook) Hook {
	var hs []Hook
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
	return multiHook(hs)
}
