package viborm

import (
	"context"
	"database/sql"

	"github.com/viborm/viborm-go/internal/exec"
	"github.com/viborm/viborm-go/internal/sqlgen"
)

// Tx is a transaction, a [Reader] and [Writer] for the model methods. Cache
// invalidations requested by its writes run after COMMIT, and not at all on
// rollback.
type Tx struct {
	ex      executor
	tx      *sql.Tx
	pending []string
}

func (t *Tx) readExecutor() *executor  { return &t.ex }
func (t *Tx) writeExecutor() *executor { return &t.ex }

// TxOptions configures a transaction; nil means the driver's defaults.
type TxOptions = sql.TxOptions

// Tx runs fn in a transaction: it commits when fn returns nil and rolls back
// when fn returns an error or panics. Invalidations requested inside run
// after the commit.
func (c *Client) Tx(ctx context.Context, fn func(tx *Tx) error, opts *TxOptions) (err error) {
	if c.closed.Load() {
		return closedError("transaction")
	}
	stx, err := c.db.BeginTx(ctx, opts)
	if err != nil {
		return c.dbError(err, nil, "transaction")
	}
	t := &Tx{tx: stx}
	t.ex = executor{c: c, q: stx, tx: t}
	defer func() {
		if p := recover(); p != nil {
			_ = stx.Rollback()
			panic(p)
		}
	}()
	if err := fn(t); err != nil {
		_ = stx.Rollback()
		return err
	}
	if err := stx.Commit(); err != nil {
		return c.dbError(err, nil, "commit")
	}
	if len(t.pending) > 0 {
		c.inv.AfterWrite(ctx, t.pending)
	}
	return nil
}

// QueryRaw runs a raw query inside the transaction.
func (t *Tx) QueryRaw(ctx context.Context, query string, args ...any) ([]Row, error) {
	return t.ex.queryRaw(ctx, query, args)
}

// ExecRaw runs a raw statement inside the transaction.
func (t *Tx) ExecRaw(ctx context.Context, query string, args ...any) (int64, error) {
	return t.ex.execRaw(ctx, query, args)
}

// QueryRaw runs a raw query with bound arguments, written with '?'
// placeholders on every dialect (rewritten to $n on PostgreSQL). It is never
// cached. Values are returned as the driver gives them ([]byte copied).
func (c *Client) QueryRaw(ctx context.Context, query string, args ...any) ([]Row, error) {
	return c.ex.queryRaw(ctx, query, args)
}

// ExecRaw runs a raw statement and returns the number of affected rows.
func (c *Client) ExecRaw(ctx context.Context, query string, args ...any) (int64, error) {
	return c.ex.execRaw(ctx, query, args)
}

func (ex *executor) rawSQL(query string, args []any) (string, error) {
	if ex.c.closed.Load() {
		return "", closedError("raw")
	}
	out, n, rewritten := ex.c.d.RawSQL(query)
	if rewritten && n != len(args) {
		return "", validationf("args", "the query has %d placeholders but %d arguments", n, len(args))
	}
	return out, nil
}

func (ex *executor) queryRaw(ctx context.Context, query string, args []any) ([]Row, error) {
	q, err := ex.rawSQL(query, args)
	if err != nil {
		return nil, err
	}
	rows, err := ex.Query(ctx, ex.q, sqlgen.Stmt{SQL: q, Args: args})
	if err == nil {
		var out []Row
		if out, err = exec.ScanMaps(rows); err == nil {
			return out, nil
		}
	}
	return nil, ex.c.dbError(err, nil, "queryRaw")
}

func (ex *executor) execRaw(ctx context.Context, query string, args []any) (int64, error) {
	q, err := ex.rawSQL(query, args)
	if err != nil {
		return 0, err
	}
	res, err := ex.Exec(ctx, ex.q, sqlgen.Stmt{SQL: q, Args: args})
	if err != nil {
		return 0, ex.c.dbError(err, nil, "executeRaw")
	}
	n, _ := res.RowsAffected()
	return n, nil
}
