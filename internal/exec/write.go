package exec

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/viborm/viborm-go/internal/dialect"
	"github.com/viborm/viborm-go/internal/query"
	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/internal/sqlgen"
	"github.com/viborm/viborm-go/internal/verr"
)

// Querier is a *sql.DB or a *sql.Tx.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Conn runs the statements of one operation.
type Conn interface {
	// Dialect is the database's dialect.
	Dialect() dialect.Dialect
	// Querier is the operation's querier: the pool, or its transaction.
	Querier() Querier
	// Query runs a statement that returns rows on q.
	Query(ctx context.Context, q Querier, st sqlgen.Stmt) (*sql.Rows, error)
	// Exec runs a statement for its effect on q.
	Exec(ctx context.Context, q Querier, st sqlgen.Stmt) (sql.Result, error)
	// InTx runs fn in the operation's transaction, or in a new one.
	InTx(ctx context.Context, fn func(q Querier) error) error
}

// ScanFirst scans the first of rows into dest; found is false when there
// is none.
func ScanFirst(rows *sql.Rows, dest ...any) (found bool, err error) {
	if !rows.Next() {
		return false, rows.Err()
	}
	if err := rows.Scan(dest...); err != nil {
		return false, err
	}
	return true, rows.Close()
}

// ExecCount runs a statement and returns the number of rows it affected.
func ExecCount(ctx context.Context, c Conn, q Querier, st sqlgen.Stmt) (int64, error) {
	res, err := c.Exec(ctx, q, st)
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	return n, nil
}

func notFound(msg string) error { return &verr.Error{Code: verr.CodeNotFound, Message: msg} }

// FindPK returns the primary key of the row w selects (nil if none), locking
// it where the dialect can.
func FindPK(ctx context.Context, c Conn, q Querier, md *schema.Model, w *query.Expr) ([]any, error) {
	return findVals(ctx, c, q, md, w, md.PK)
}

// selectRows runs a select and returns its rows.
func selectRows[T any](ctx context.Context, c Conn, q Querier, md *schema.Model, qu *query.Query, forUpdate bool) ([]T, error) {
	rows, err := c.Query(ctx, q, sqlgen.Select(c.Dialect(), md, qu, forUpdate))
	if err != nil {
		return nil, err
	}
	return ReadRows[T](md, rows, qu.Sel)
}

// ByPK returns the row whose primary key is pk.
func ByPK[T any](ctx context.Context, c Conn, q Querier, md *schema.Model, pk []any, sel []*schema.Field) (T, error) {
	rows, err := selectRows[T](ctx, c, q, md, &query.Query{Where: query.PKExpr(md, pk), Sel: sel}, false)
	var zero T
	if err != nil {
		return zero, err
	}
	if len(rows) == 0 {
		return zero, notFound("no record found")
	}
	return rows[0], nil
}

// InsertOne inserts a row and returns it: through RETURNING, or read back
// by its key.
func InsertOne[T any](ctx context.Context, c Conn, q Querier, md *schema.Model, items []query.Set, sel []*schema.Field) (T, error) {
	var zero T
	d := c.Dialect()
	if d.Has(dialect.Returning) {
		rows, err := c.Query(ctx, q, sqlgen.Insert(d, md, [][]query.Set{items}, sel))
		if err != nil {
			return zero, err
		}
		out, err := ReadRows[T](md, rows, sel)
		if err != nil {
			return zero, err
		}
		if len(out) != 1 {
			return zero, errors.New("viborm: insert returned no row")
		}
		return out[0], nil
	}
	res, err := c.Exec(ctx, q, sqlgen.Insert(d, md, [][]query.Set{items}, nil))
	if err != nil {
		return zero, err
	}
	pk, err := insertedPK(md, items, res)
	if err != nil {
		return zero, err
	}
	return ByPK[T](ctx, c, q, md, pk, sel)
}

// CreateMany inserts rows, grouped by the fields they set, in order, one
// INSERT of at most 500 rows each, in one transaction, and returns how many
// were inserted.
func CreateMany(ctx context.Context, c Conn, md *schema.Model, rows [][]query.Set) (int64, error) {
	var groups [][][]query.Set
	for _, items := range rows {
		placed := false
		for gi, g := range groups {
			if query.SameFields(g[0], items) && len(g) < 500 {
				groups[gi] = append(g, items)
				placed = true
				break
			}
		}
		if !placed {
			groups = append(groups, [][]query.Set{items})
		}
	}
	var n int64
	err := c.InTx(ctx, func(q Querier) error {
		for _, g := range groups {
			k, err := ExecCount(ctx, c, q, sqlgen.Insert(c.Dialect(), md, g, nil))
			if err != nil {
				return err
			}
			n += k
		}
		return nil
	})
	return n, err
}

// UpdateFound updates the row whose primary key is pk and returns it.
func UpdateFound[T any](ctx context.Context, c Conn, q Querier, md *schema.Model, pk []any, items []query.Set, sel []*schema.Field) (T, error) {
	var zero T
	if len(items) > 0 {
		if _, err := c.Exec(ctx, q, sqlgen.Update(c.Dialect(), md, items, query.PKExpr(md, pk))); err != nil {
			return zero, err
		}
	}
	newPK := append([]any(nil), pk...)
	for i, f := range md.PK {
		for _, it := range items {
			if it.F == f && it.Op == 0 {
				newPK[i] = it.V
			}
		}
	}
	return ByPK[T](ctx, c, q, md, newPK, sel)
}

// Upsert runs the upsert of the row wh selects: natively as nu when it is
// not nil (see query.PlanUpsert), otherwise by reading the row with a lock
// and inserting cItems or updating it with uItems. It returns the row.
func Upsert[T any](ctx context.Context, c Conn, md *schema.Model, nu *query.Upsert, wh *query.Expr, cItems, uItems []query.Set, sel []*schema.Field) (T, error) {
	var out T
	d := c.Dialect()
	if nu != nil {
		st := sqlgen.Upsert(d, md, nu, cItems, uItems, sel)
		if sqlgen.ReturnsUpsert(d) {
			// One statement: atomic on its own.
			rows, err := c.Query(ctx, c.Querier(), st)
			if err != nil {
				return out, err
			}
			got, err := ReadRows[T](md, rows, sel)
			if err != nil {
				return out, err
			}
			if len(got) != 1 {
				return out, &verr.Error{Code: verr.CodeDatabase, Message: "upsert returned no row"}
			}
			return got[0], nil
		}
		// The upsert, then the row read back by its key under the lock the
		// upsert holds, in one transaction.
		err := c.InTx(ctx, func(q Querier) error {
			if _, err := c.Exec(ctx, q, st); err != nil {
				return err
			}
			got, err := selectRows[T](ctx, c, q, md, &query.Query{Where: query.KeyExpr(nu.Key, nu.Vals), Sel: sel}, true)
			if err != nil {
				return err
			}
			if len(got) != 1 {
				return &verr.Error{Code: verr.CodeDatabase, Message: "upsert: the row is not found by its key after the write"}
			}
			out = got[0]
			return nil
		})
		return out, err
	}
	err := c.InTx(ctx, func(q Querier) error {
		pk, err := FindPK(ctx, c, q, md, wh)
		if err != nil {
			return err
		}
		if pk == nil {
			out, err = InsertOne[T](ctx, c, q, md, cItems, sel)
			return err
		}
		out, err = UpdateFound[T](ctx, c, q, md, pk, uItems, sel)
		return err
	})
	return out, err
}

// Now is the time of a write: its defaults and updatedAt fields.
func Now() time.Time { return time.Now().UTC() }

// ScanMaps reads rows as maps of column name to value, as the driver gives
// them ([]byte copied); never nil. It is how raw queries return rows.
func ScanMaps(rows *sql.Rows) ([]map[string]any, error) {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	vals := make([]any, len(cols))
	dest := ptrs(vals)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		r := make(map[string]any, len(cols))
		for i, n := range cols {
			if b, ok := vals[i].([]byte); ok {
				r[n] = append([]byte(nil), b...)
			} else {
				r[n] = vals[i]
			}
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Create inserts the row items and returns it (see InsertOne), in a
// transaction.
func Create[T any](ctx context.Context, c Conn, md *schema.Model, items []query.Set, sel []*schema.Field) (out T, err error) {
	err = c.InTx(ctx, func(q Querier) error {
		out, err = InsertOne[T](ctx, c, q, md, items, sel)
		return err
	})
	return out, err
}

// Update updates the row wh selects with items and returns it; an error
// with code NotFound when there is none.
func Update[T any](ctx context.Context, c Conn, md *schema.Model, wh *query.Expr, items []query.Set, sel []*schema.Field) (out T, err error) {
	err = byKey(ctx, c, md, wh, "no record to update", func(q Querier, pk []any) (err error) {
		out, err = UpdateFound[T](ctx, c, q, md, pk, items, sel)
		return err
	})
	return out, err
}

// Delete deletes the row wh selects and returns it as it was; an error
// with code NotFound when there is none.
func Delete[T any](ctx context.Context, c Conn, md *schema.Model, wh *query.Expr, sel []*schema.Field) (out T, err error) {
	err = byKey(ctx, c, md, wh, "no record to delete", func(q Querier, pk []any) (err error) {
		if out, err = ByPK[T](ctx, c, q, md, pk, sel); err != nil {
			return err
		}
		_, err = c.Exec(ctx, q, sqlgen.Delete(c.Dialect(), md, query.PKExpr(md, pk)))
		return err
	})
	return out, err
}

// byKey runs fn in a transaction on the primary key of the row wh selects,
// locked where the dialect can; when there is none it fails with code
// NotFound and notFoundMsg.
func byKey(ctx context.Context, c Conn, md *schema.Model, wh *query.Expr, notFoundMsg string, fn func(q Querier, pk []any) error) error {
	return c.InTx(ctx, func(q Querier) error {
		pk, err := FindPK(ctx, c, q, md, wh)
		if err != nil {
			return err
		}
		if pk == nil {
			return notFound(notFoundMsg)
		}
		return fn(q, pk)
	})
}
