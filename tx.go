package viborm

import (
	"context"
	"database/sql"

	"github.com/viborm/viborm-go/internal/engine"
)

// Tx is a transaction, a [Reader] and [Writer] for the model methods. Cache
// invalidations requested by its writes run after COMMIT, and not at all on
// rollback.
type Tx struct {
	t *engine.Tx
}

func (t *Tx) conn() *engine.Conn      { return t.t.Conn() }
func (t *Tx) writeConn() *engine.Conn { return t.t.Conn() }

// TxOptions configures a transaction; nil means the driver's defaults.
type TxOptions = sql.TxOptions

// Tx runs fn in a transaction: it commits when fn returns nil and rolls back
// when fn returns an error or panics. Invalidations requested inside run
// after the commit.
func (c *Client) Tx(ctx context.Context, fn func(tx *Tx) error, opts *TxOptions) (err error) {
	et, err := c.e.Begin(ctx, opts)
	if err != nil {
		return public(err)
	}
	defer func() {
		if p := recover(); p != nil {
			et.Rollback()
			panic(p)
		}
	}()
	if err := fn(&Tx{et}); err != nil {
		et.Rollback()
		return err
	}
	return public(et.Commit(ctx))
}

// QueryRaw runs a raw query inside the transaction.
func (t *Tx) QueryRaw(ctx context.Context, query string, args ...any) ([]Row, error) {
	rows, err := t.t.Conn().QueryRaw(ctx, query, args)
	return rows, public(err)
}

// ExecRaw runs a raw statement inside the transaction.
func (t *Tx) ExecRaw(ctx context.Context, query string, args ...any) (int64, error) {
	n, err := t.t.Conn().ExecRaw(ctx, query, args)
	return n, public(err)
}

// QueryRaw runs a raw query with bound arguments, written with '?'
// placeholders on every dialect (rewritten to $n on PostgreSQL). It is never
// cached. Values are returned as the driver gives them ([]byte copied).
func (c *Client) QueryRaw(ctx context.Context, query string, args ...any) ([]Row, error) {
	rows, err := c.conn().QueryRaw(ctx, query, args)
	return rows, public(err)
}

// ExecRaw runs a raw statement and returns the number of affected rows.
func (c *Client) ExecRaw(ctx context.Context, query string, args ...any) (int64, error) {
	n, err := c.conn().ExecRaw(ctx, query, args)
	return n, public(err)
}
