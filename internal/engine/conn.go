package engine

import (
	"context"
	"database/sql"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/internal/dialect"
	"github.com/viborm/viborm-go/internal/exec"
	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/internal/sqlgen"
	"github.com/viborm/viborm-go/internal/verr"
)

// Conn is what an operation runs on: the engine, the querier (the pool or
// a transaction) and, for a cached handle, its cache policy. It is the
// exec.Conn of the operation: Query and Exec are the only places where the
// SQL of model operations and raw SQL reaches the database (the DDL of Push
// and CheckSchema runs on the pool directly), and where the hooks see it.
type Conn struct {
	e   *Engine
	q   exec.Querier
	tx  *Tx
	pol *cache.Policy // for cached reads
	err error         // a cached handle's configuration error
	ro  bool          // share row hits (viborm.CacheOptions.ReadOnly)
	run *opRun        // the hooked write this Conn runs, if any
}

// Cached returns a connection on the pool whose reads go through the cache
// with pol; ro shares row hits rather than copying them. A non-nil err
// (a configuration error) is what every operation on it returns.
func (e *Engine) Cached(pol *cache.Policy, ro bool, err error) *Conn {
	return &Conn{e: e, q: e.cfg.DB, pol: pol, ro: ro, err: err}
}

// Engine returns the connection's engine.
func (c *Conn) Engine() *Engine { return c.e }

// Err returns the connection's configuration error.
func (c *Conn) Err() error { return c.err }

// Start checks that an operation on md may run: the connection is valid,
// the engine open, and md one of its models.
func (c *Conn) Start(md *schema.Model) error {
	switch {
	case c.err != nil:
		return c.err
	case md.Err != nil:
		return md.Err
	case c.e.closed.Load():
		return &verr.Error{Code: verr.CodeClosed, Model: md.Name, Message: "the client is closed"}
	case c.e.models[md.Name] != md:
		return &verr.Error{Code: verr.CodeSchema, Model: md.Name, Message: "the model is not in this client's Config.Models"}
	}
	return nil
}

// Dialect returns the engine's dialect.
func (c *Conn) Dialect() dialect.Dialect { return c.e.d }

// Querier returns the operation's querier.
func (c *Conn) Querier() exec.Querier { return c.q }

// Query runs a statement that returns rows.
func (c *Conn) Query(ctx context.Context, q exec.Querier, st sqlgen.Stmt) (*sql.Rows, error) {
	if c.e.cfg.Hook != nil {
		return c.queryHooked(ctx, q, st)
	}
	return q.QueryContext(ctx, st.SQL, st.Args...)
}

// Exec runs a statement for its effect.
func (c *Conn) Exec(ctx context.Context, q exec.Querier, st sqlgen.Stmt) (sql.Result, error) {
	if c.e.cfg.Hook != nil {
		return c.execHooked(ctx, q, st)
	}
	return q.ExecContext(ctx, st.SQL, st.Args...)
}

// InTx runs fn in the connection's transaction, or in a new one.
func (c *Conn) InTx(ctx context.Context, fn func(q exec.Querier) error) error {
	if c.tx != nil {
		return fn(c.q)
	}
	stx, err := c.e.cfg.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(stx); err != nil {
		_ = stx.Rollback()
		return err
	}
	return stx.Commit()
}

// Tx is a transaction: its writes' invalidations wait for Commit.
type Tx struct {
	conn    Conn
	stx     *sql.Tx
	pending []string
}

// Begin starts a transaction.
func (e *Engine) Begin(ctx context.Context, opts *sql.TxOptions) (*Tx, error) {
	if e.closed.Load() {
		return nil, verr.Closed("transaction")
	}
	stx, err := e.cfg.DB.BeginTx(ctx, opts)
	if err != nil {
		return nil, e.DBError(err, nil, "transaction")
	}
	t := &Tx{stx: stx}
	t.conn = Conn{e: e, q: stx, tx: t}
	return t, nil
}

// Conn returns the connection of the transaction's operations.
func (t *Tx) Conn() *Conn { return &t.conn }

// Rollback rolls the transaction back; its invalidations are dropped.
func (t *Tx) Rollback() { _ = t.stx.Rollback() }

// Commit commits the transaction and then runs its writes' invalidations.
func (t *Tx) Commit(ctx context.Context) error {
	if err := t.stx.Commit(); err != nil {
		return t.conn.e.DBError(err, nil, "commit")
	}
	if len(t.pending) > 0 {
		t.conn.e.inv.AfterWrite(ctx, t.pending)
	}
	return nil
}

// rawSQL checks a raw statement and rewrites its placeholders.
func (c *Conn) rawSQL(query string, args []any) (string, error) {
	if c.e.closed.Load() {
		return "", verr.Closed("raw")
	}
	out, n, rewritten := c.e.d.RawSQL(query)
	if rewritten && n != len(args) {
		return "", verr.Validationf("args", "the query has %d placeholders but %d arguments", n, len(args))
	}
	return out, nil
}

// QueryRaw runs a raw query with '?' placeholders and returns its rows as
// maps.
func (c *Conn) QueryRaw(ctx context.Context, query string, args []any) ([]map[string]any, error) {
	q, err := c.rawSQL(query, args)
	if err != nil {
		return nil, err
	}
	rows, err := c.Query(ctx, c.q, sqlgen.Stmt{SQL: q, Args: args})
	if err == nil {
		var out []map[string]any
		if out, err = exec.ScanMaps(rows); err == nil {
			return out, nil
		}
	}
	return nil, c.e.DBError(err, nil, "queryRaw")
}

// ExecRaw runs a raw statement and returns the number of affected rows.
func (c *Conn) ExecRaw(ctx context.Context, query string, args []any) (int64, error) {
	q, err := c.rawSQL(query, args)
	if err != nil {
		return 0, err
	}
	res, err := c.Exec(ctx, c.q, sqlgen.Stmt{SQL: q, Args: args})
	if err != nil {
		return 0, c.e.DBError(err, nil, "executeRaw")
	}
	n, _ := res.RowsAffected()
	return n, nil
}
