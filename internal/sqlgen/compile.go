package sqlgen

import (
	"strings"

	"github.com/viborm/viborm-go/internal/dialect"
	"github.com/viborm/viborm-go/internal/query"
	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/s"
)

func likeEscape(s string) string {
	if !strings.ContainsAny(s, "!%_") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '!' || c == '%' || c == '_' {
			b.WriteByte('!')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func globEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*', '?', '[':
			b.WriteByte('[')
			b.WriteByte(c)
			b.WriteByte(']')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func (b *builder) col(f *schema.Field) {
	if b.qual != "" {
		b.ident(b.qual).s(".")
	}
	b.ident(f.Column)
}

// value binds the canonical value v.
func (b *builder) value(v any) { b.arg(b.d.Arg(v)) }

// decimalText reports whether f's values are stored as text that must be
// cast to compare or order them as numbers.
func (b *builder) decimalText(f *schema.Field) bool {
	return f != nil && f.Kind == s.KindDecimal && b.d.Has(dialect.DecimalText)
}

func (b *builder) agg(fn string, f *schema.Field) {
	if fn == "count" && f == nil {
		b.s("COUNT(*)")
		return
	}
	b.s(strings.ToUpper(fn)).s("(")
	if b.decimalText(f) && (fn == "avg" || fn == "sum") {
		b.s("CAST(")
		b.col(f)
		b.s(" AS REAL)")
	} else {
		b.col(f)
	}
	b.s(")")
}

var cmpSQL = [...]string{query.OpEq: " = ", query.OpNot: " <> ", query.OpLt: " < ", query.OpLte: " <= ", query.OpGt: " > ", query.OpGte: " >= "}

func (b *builder) expr(e *query.Expr) {
	switch e.Kind {
	case query.And, query.Or:
		if len(e.Kids) == 0 {
			if e.Kind == query.And {
				b.s("1=1")
			} else {
				b.s("1=0")
			}
			return
		}
		sep := " AND "
		if e.Kind == query.Or {
			sep = " OR "
		}
		b.s("(")
		for i := range e.Kids {
			if i > 0 {
				b.s(sep)
			}
			b.expr(&e.Kids[i])
		}
		b.s(")")
		return
	case query.Not:
		b.s("NOT (")
		b.expr(&e.Kids[0])
		b.s(")")
		return
	case query.Rel:
		b.rel(e.Rel)
		return
	}
	f := e.F
	numCast := e.Agg == "" && b.decimalText(f)
	lhs := func() {
		switch {
		case e.Agg != "":
			b.agg(e.Agg, f)
		case numCast:
			b.s("CAST(")
			b.col(f)
			b.s(" AS NUMERIC)")
		case e.CI:
			b.s("LOWER(")
			b.col(f)
			b.s(")")
		default:
			b.col(f)
		}
	}
	rhs := func(v any) {
		switch {
		case e.Agg != "":
			b.value(v)
		case e.CI:
			b.s("LOWER(")
			b.value(v)
			b.s(")")
		case numCast:
			b.s("CAST(")
			b.value(v)
			b.s(" AS NUMERIC)")
		default:
			b.value(v)
		}
	}
	switch e.Op {
	case query.OpIsNull:
		b.col(f)
		b.s(" IS NULL")
	case query.OpNotNull:
		b.col(f)
		b.s(" IS NOT NULL")
	case query.OpEq, query.OpNot, query.OpLt, query.OpLte, query.OpGt, query.OpGte:
		lhs()
		b.s(cmpSQL[e.Op])
		rhs(e.V)
	case query.OpIn, query.OpNotIn:
		vs := e.V.([]any)
		if len(vs) == 0 {
			if e.Op == query.OpIn {
				b.s("1=0")
			} else {
				b.s("1=1")
			}
			return
		}
		lhs()
		if e.Op == query.OpIn {
			b.s(" IN (")
		} else {
			b.s(" NOT IN (")
		}
		for i, v := range vs {
			if i > 0 {
				b.s(", ")
			}
			rhs(v)
		}
		b.s(")")
	case query.OpContains, query.OpStartsWith, query.OpEndsWith:
		b.match(e)
	}
}

// wrap makes the pattern of a text match from the escaped text pat and the
// wildcard that matches any text.
func wrap(op query.Op, pat, anyText string) string {
	switch op {
	case query.OpContains:
		return anyText + pat + anyText
	case query.OpStartsWith:
		return pat + anyText
	}
	return anyText + pat // OpEndsWith
}

// match compiles contains, startsWith and endsWith: the pattern matches
// the string literally, with the dialect's strategy.
func (b *builder) match(e *query.Expr) {
	str := e.V.(string)
	m := b.d.Match(e.CI)
	if m == dialect.MatchGlob {
		b.col(e.F)
		b.s(" GLOB ").arg(wrap(e.Op, globEscape(str), "*"))
		return
	}
	pat := wrap(e.Op, likeEscape(str), "%")
	switch m {
	case dialect.MatchILike:
		b.col(e.F)
		b.s(" ILIKE ")
	case dialect.MatchLowerLike:
		b.s("LOWER(")
		b.col(e.F)
		b.s(") LIKE ")
		pat = strings.ToLower(pat)
	default: // MatchLike, MatchFoldLike
		b.col(e.F)
		b.s(" LIKE ")
	}
	b.arg(pat).s(" ESCAPE '!'")
}

func (b *builder) where(e *query.Expr) {
	if e == nil {
		return
	}
	b.s(" WHERE ")
	b.expr(e)
}

func (b *builder) orderBy(os []query.Order) {
	if len(os) == 0 {
		return
	}
	native := b.d.Has(dialect.NullsOrdering)
	b.s(" ORDER BY ")
	for i, o := range os {
		if i > 0 {
			b.s(", ")
		}
		term := func() {
			switch {
			case o.Agg != "":
				b.agg(o.Agg, o.F)
			case b.decimalText(o.F):
				b.s("CAST(")
				b.col(o.F)
				b.s(" AS NUMERIC)")
			default:
				b.col(o.F)
			}
		}
		if o.Nulls != query.NullsDefault && !native {
			term()
			if o.Nulls == query.NullsFirst {
				b.s(" IS NULL DESC, ")
			} else {
				b.s(" IS NULL ASC, ")
			}
		}
		term()
		if o.Desc {
			b.s(" DESC")
		} else {
			b.s(" ASC")
		}
		if o.Nulls != query.NullsDefault && native {
			if o.Nulls == query.NullsFirst {
				b.s(" NULLS FIRST")
			} else {
				b.s(" NULLS LAST")
			}
		}
	}
}

func (b *builder) page(q *query.Query) {
	if q.HasTake {
		b.s(" LIMIT ").int(q.Take)
	} else if max := b.d.MaxLimit(); q.Skip > 0 && max != "" {
		b.s(" LIMIT ").s(max)
	}
	if q.Skip > 0 {
		b.s(" OFFSET ").int(q.Skip)
	}
}

func (b *builder) columns(fs []*schema.Field) {
	for i, f := range fs {
		if i > 0 {
			b.s(", ")
		}
		b.col(f)
	}
}

// Select is the SELECT of q's fields; forUpdate locks the rows where the
// dialect can (see [dialect.ForUpdate]).
func Select(d dialect.Dialect, md *schema.Model, q *query.Query, forUpdate bool) Stmt {
	if q.Paged() {
		return selectPaged(d, md, q)
	}
	b := newBuilder(d)
	b.s("SELECT ")
	b.columns(q.Sel)
	b.s(" FROM ").ident(md.Table)
	b.where(q.Where)
	b.orderBy(q.Order)
	b.page(q)
	if forUpdate && d.Has(dialect.ForUpdate) {
		b.s(" FOR UPDATE")
	}
	return b.stmt()
}

// from writes the FROM of a count or an aggregate: the table, or when q is
// paged (or, ordered, sorted) a subquery of its rows selecting inner.
func (b *builder) from(md *schema.Model, q *query.Query, inner string, ordered bool) {
	if !q.HasTake && q.Skip == 0 && !(ordered && len(q.Order) > 0) {
		b.s(" FROM ").ident(md.Table)
		b.where(q.Where)
		return
	}
	b.s(" FROM (SELECT ").s(inner).s(" FROM ").ident(md.Table)
	b.where(q.Where)
	if ordered && q.Backward() {
		b.orderBy(reversed(q.Order))
	} else if ordered {
		b.orderBy(q.Order)
	}
	b.page(q)
	b.s(") ").ident("_sub")
}

// Count counts the rows of q (within its page).
func Count(d dialect.Dialect, md *schema.Model, q *query.Query) Stmt {
	b := newBuilder(d)
	b.s("SELECT COUNT(*)")
	b.from(md, q, "1 AS "+string(d.AppendIdent(nil, "_one")), false)
	return b.stmt()
}

// Exist returns one row when q's where matches one.
func Exist(d dialect.Dialect, md *schema.Model, q *query.Query) Stmt {
	b := newBuilder(d)
	b.s("SELECT 1 FROM ").ident(md.Table)
	b.where(q.Where)
	b.s(" LIMIT 1")
	return b.stmt()
}

// Aggregate computes q's aggregates over its rows (ordered and paged).
func Aggregate(d dialect.Dialect, md *schema.Model, q *query.Query) Stmt {
	b := newBuilder(d)
	b.s("SELECT ")
	for i, a := range q.Aggr.Aggs {
		if i > 0 {
			b.s(", ")
		}
		b.agg(a.Fn, a.F)
	}
	b.from(md, q, "*", true)
	return b.stmt()
}

// GroupBy returns q's groups: the By columns, then the aggregates.
func GroupBy(d dialect.Dialect, md *schema.Model, q *query.Query) Stmt {
	b := newBuilder(d)
	g := q.Aggr
	b.s("SELECT ")
	b.columns(g.By)
	for _, a := range g.Aggs {
		b.s(", ")
		b.agg(a.Fn, a.F)
	}
	b.s(" FROM ").ident(md.Table)
	b.where(q.Where)
	b.s(" GROUP BY ")
	b.columns(g.By)
	if g.Having != nil {
		b.s(" HAVING ")
		b.expr(g.Having)
	}
	b.orderBy(q.Order)
	b.page(q)
	return b.stmt()
}

// Insert inserts rows, which all set the same fields, returning the
// columns returning where the dialect can ([dialect.Returning]; the caller
// passes none otherwise).
func Insert(d dialect.Dialect, md *schema.Model, rows [][]query.Set, returning []*schema.Field) Stmt {
	b := newBuilder(d)
	b.insertInto(md, rows)
	if len(returning) > 0 {
		b.s(" RETURNING ")
		b.columns(returning)
	}
	return b.stmt()
}

// insertInto writes the INSERT of rows, which all set the same fields.
func (b *builder) insertInto(md *schema.Model, rows [][]query.Set) {
	b.s("INSERT INTO ").ident(md.Table)
	if len(rows[0]) == 0 && b.d.Has(dialect.DefaultValues) {
		b.s(" DEFAULT VALUES")
		return
	}
	b.s(" (")
	for i, it := range rows[0] {
		if i > 0 {
			b.s(", ")
		}
		b.col(it.F)
	}
	b.s(") VALUES ")
	for r, row := range rows {
		if r > 0 {
			b.s(", ")
		}
		b.s("(")
		for i, it := range row {
			if i > 0 {
				b.s(", ")
			}
			b.value(it.V)
		}
		b.s(")")
	}
}

// assign writes "col = value" or "col = <existing> op value"; existing
// writes the current value of a column.
func (b *builder) assign(it query.Set, existing func(f *schema.Field)) {
	b.col(it.F)
	b.s(" = ")
	if it.Op == 0 {
		b.value(it.V)
		return
	}
	existing(it.F)
	if div := b.d.IntDiv(); it.Op == '/' && div != "" && schema.IsInt(it.F.Kind) {
		b.s(" " + div + " ")
	} else {
		b.s(" " + string(it.Op) + " ")
	}
	b.value(it.V)
}

// Update assigns set in the rows matching w.
func Update(d dialect.Dialect, md *schema.Model, set []query.Set, w *query.Expr) Stmt {
	b := newBuilder(d)
	b.s("UPDATE ").ident(md.Table).s(" SET ")
	for i, it := range set {
		if i > 0 {
			b.s(", ")
		}
		b.assign(it, b.col)
	}
	b.where(w)
	return b.stmt()
}

// Delete deletes the rows matching w.
func Delete(d dialect.Dialect, md *schema.Model, w *query.Expr) Stmt {
	b := newBuilder(d)
	b.s("DELETE FROM ").ident(md.Table)
	b.where(w)
	return b.stmt()
}

// Upsert is the native upsert nu: the INSERT of cItems with the dialect's
// conflict clause on nu's key assigning uItems (the key to itself when
// uItems is empty, so that the existing row is still returned), and
// RETURNING sel where the dialect can return the row of an upsert.
func Upsert(d dialect.Dialect, md *schema.Model, nu *query.Upsert, cItems, uItems []query.Set, sel []*schema.Field) Stmt {
	b := newBuilder(d)
	b.insertInto(md, [][]query.Set{cItems})
	keyCols := make([]string, len(nu.Key))
	for i, f := range nu.Key {
		keyCols[i] = f.Column
	}
	b.buf = d.AppendUpsert(b.buf, keyCols)
	existing := func(f *schema.Field) { b.buf = d.AppendExisting(b.buf, md.Table, f.Column) }
	if len(uItems) == 0 {
		b.col(nu.Key[0])
		b.s(" = ")
		existing(nu.Key[0])
	}
	for i, it := range uItems {
		if i > 0 {
			b.s(", ")
		}
		b.assign(it, existing)
	}
	if ReturnsUpsert(d) {
		b.s(" RETURNING ")
		b.columns(sel)
	}
	return b.stmt()
}

// ReturnsUpsert reports whether the native upsert of d returns the row;
// otherwise the caller reads it back by its key in the same transaction.
func ReturnsUpsert(d dialect.Dialect) bool {
	return d.Has(dialect.Returning) && !d.Has(dialect.UpsertAnyKey)
}
