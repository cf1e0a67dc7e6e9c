package viborm

import (
	"context"
	"time"

	"github.com/viborm/viborm-go/internal/engine"
)

// Hook observes a client's operations and the SQL statements they run. It is
// the seam for tracing, metrics and query logging: the querylog package logs
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

// hookOf runs a Hook on the engine's events, which mirror OperationEvent
// and QueryEvent field for field: the pointer conversions cost nothing, and
// stop compiling if the two drift apart.
type hookOf struct{ h Hook }

func (a hookOf) BeforeOperation(ctx context.Context, e *engine.OperationEvent) context.Context {
	return a.h.BeforeOperation(ctx, (*OperationEvent)(e))
}

func (a hookOf) AfterOperation(ctx context.Context, e *engine.OperationEvent) {
	a.h.AfterOperation(ctx, (*OperationEvent)(e))
}

func (a hookOf) BeforeQuery(ctx context.Context, e *engine.QueryEvent) context.Context {
	return a.h.BeforeQuery(ctx, (*QueryEvent)(e))
}

func (a hookOf) AfterQuery(ctx context.Context, e *engine.QueryEvent) {
	a.h.AfterQuery(ctx, (*QueryEvent)(e))
}
