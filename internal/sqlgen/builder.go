// Package sqlgen is the third stage of the ORM: it compiles a normalised
// query (internal/query) on a model (internal/schema) into the SQL
// statement of one operation — select, count, exist, aggregate, groupBy,
// insert, update, delete, upsert — and the DDL of a model, for one
// dialect (internal/dialect). It asks the dialect about every difference
// between databases and never compares dialects itself. Values are bound as
// arguments, never written into the SQL text.
package sqlgen

import (
	"strconv"

	"github.com/viborm/viborm-go/internal/dialect"
)

// Stmt is one SQL statement with its arguments.
type Stmt struct {
	SQL  string
	Args []any
}

// builder accumulates a statement's text and arguments.
type builder struct {
	d    dialect.Dialect
	buf  []byte
	args []any
	qual string // the alias qualifying columns inside a relation filter ("" outside)
	lvl  int    // how deeply relation filters nest here (relfilter.go)
}

func newBuilder(d dialect.Dialect) *builder { return &builder{d: d, buf: make([]byte, 0, 128)} }

// s appends SQL text.
func (b *builder) s(s string) *builder { b.buf = append(b.buf, s...); return b }

// ident appends a quoted identifier.
func (b *builder) ident(name string) *builder { b.buf = b.d.AppendIdent(b.buf, name); return b }

// arg binds v (a value already converted for the driver) and appends its
// placeholder.
func (b *builder) arg(v any) *builder {
	b.args = append(b.args, v)
	b.buf = b.d.AppendPlaceholder(b.buf, len(b.args))
	return b
}

// int appends a number written into the text (LIMIT, OFFSET).
func (b *builder) int(n int) *builder { b.buf = strconv.AppendInt(b.buf, int64(n), 10); return b }

func (b *builder) stmt() Stmt { return Stmt{SQL: string(b.buf), Args: b.args} }
