package sqlgen

import (
	"strconv"

	"github.com/viborm/viborm-go/internal/dialect"
	"github.com/viborm/viborm-go/internal/query"
	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/s"
)

// ---- relation filters ----
//
// A relation filter is a correlated EXISTS subquery on the related table,
// aliased "_r<level>" (and the junction of a many-to-many relation
// "_j<level>"); inside it every column is qualified by that alias, and the
// correlation names the outer row by the enclosing alias, or at the top
// level by the statement's (unaliased) table:
//
//	some / is    EXISTS (SELECT 1 FROM t AS _r1 WHERE <join> AND <where>)
//	none / isNot NOT EXISTS (SELECT 1 FROM t AS _r1 WHERE <join> AND <where>)
//	every        NOT EXISTS (SELECT 1 FROM t AS _r1 WHERE <join> AND (<where>) IS NOT TRUE)
//	is nil       the foreign key IS NULL on the side holding it, else NOT EXISTS (<join>)
//	isNot nil    the foreign key IS NOT NULL, else EXISTS (<join>)

func (b *builder) rel(f *query.RelFilter) {
	r := f.R
	outer := b.qual
	if outer == "" {
		outer = r.Model.Table
	}
	fkHere := r.Def.Kind != s.ManyToManyKind && len(r.Fields) > 0
	if f.Null && fkHere {
		b.s("(")
		for i, fk := range r.Fields {
			if i > 0 {
				if f.Op == query.OpIs {
					b.s(" OR ")
				} else {
					b.s(" AND ")
				}
			}
			b.ident(outer).s(".").ident(fk.Column)
			if f.Op == query.OpIs {
				b.s(" IS NULL")
			} else {
				b.s(" IS NOT NULL")
			}
		}
		b.s(")")
		return
	}
	negate := f.Op == query.OpEvery || f.Op == query.OpNone || f.Op == query.OpIsNot
	if f.Null {
		negate = f.Op == query.OpIs // is nil: no related row
	}
	if f.Op == query.OpEvery && f.Where == nil {
		b.s("1=1") // every row matches no condition
		return
	}
	if negate {
		b.s("NOT ")
	}
	b.s("EXISTS (SELECT 1 FROM ")
	b.lvl++
	lvl := strconv.Itoa(b.lvl)
	alias := "_r" + lvl
	switch {
	case r.Junction != nil:
		j, ja := r.Junction, "_j"+lvl
		b.ident(j.Table).s(" AS ").ident(ja).s(" JOIN ").ident(r.Target.Table).s(" AS ").ident(alias).s(" ON ")
		for i, c := range j.TargetCols {
			if i > 0 {
				b.s(" AND ")
			}
			b.ident(alias).s(".").ident(j.TargetRefs[i].Column).s(" = ").ident(ja).s(".").ident(c)
		}
		b.s(" WHERE ")
		for i, c := range j.SourceCols {
			if i > 0 {
				b.s(" AND ")
			}
			b.ident(ja).s(".").ident(c).s(" = ").ident(outer).s(".").ident(j.SourceRefs[i].Column)
		}
	case fkHere:
		b.ident(r.Target.Table).s(" AS ").ident(alias).s(" WHERE ")
		for i, fk := range r.Fields {
			if i > 0 {
				b.s(" AND ")
			}
			b.ident(alias).s(".").ident(r.Refs[i].Column).s(" = ").ident(outer).s(".").ident(fk.Column)
		}
	default: // the target holds the foreign key: r.Back
		back := r.Back
		b.ident(r.Target.Table).s(" AS ").ident(alias).s(" WHERE ")
		for i, fk := range back.Fields {
			if i > 0 {
				b.s(" AND ")
			}
			b.ident(alias).s(".").ident(fk.Column).s(" = ").ident(outer).s(".").ident(back.Refs[i].Column)
		}
	}
	if f.Where != nil {
		saved := b.qual
		b.qual = alias
		if f.Op == query.OpEvery {
			b.s(" AND (")
			b.expr(f.Where)
			b.s(") IS NOT TRUE")
		} else {
			b.s(" AND ")
			b.expr(f.Where)
		}
		b.qual = saved
	}
	b.lvl--
	b.s(")")
}

// ---- cursor, negative take, distinct ----

// reversed is order backwards: each key's direction and NULL placement
// flipped.
func reversed(order []query.Order) []query.Order {
	out := make([]query.Order, len(order))
	for i, o := range order {
		o.Desc = !o.Desc
		switch o.Nulls {
		case query.NullsFirst:
			o.Nulls = query.NullsLast
		case query.NullsLast:
			o.Nulls = query.NullsFirst
		}
		out[i] = o
	}
	return out
}

// selectPaged is the SELECT of a read with a cursor, a negative take or
// distinct:
//
//	[SELECT sel FROM (]                      -- negative take: restore the order
//	  SELECT cols FROM t [CROSS JOIN <cursor row> AS _k] WHERE where AND <after the cursor>
//	  ORDER BY order' LIMIT/OFFSET
//	[) AS _b ORDER BY order]
//
// where order' is the order reversed for a negative take, and with
// distinct the FROM is
//
//	(SELECT <all columns>, ROW_NUMBER() OVER (PARTITION BY distinct ORDER BY order) AS _rn
//	 FROM t WHERE where) AS _d [CROSS JOIN …] WHERE _rn = 1 AND <after the cursor>
//
// The same emulation serves every dialect (PostgreSQL's DISTINCT ON would
// force the order to start with the distinct fields).
func selectPaged(d dialect.Dialect, md *schema.Model, q *query.Query) Stmt {
	b := newBuilder(d)
	x := q.Ext // set: Select calls this for paged reads only
	order := q.Order
	cols := q.Sel
	if x.Back {
		order = reversed(q.Order)
		cols = withOrderFields(md, q.Sel, q.Order)
		b.s("SELECT ")
		b.columns(q.Sel)
		b.s(" FROM (")
	}
	b.s("SELECT ")
	b.columns(cols)
	if len(x.Distinct) > 0 {
		b.s(" FROM (SELECT ")
		b.columns(md.Fields)
		b.s(", ROW_NUMBER() OVER (PARTITION BY ")
		b.columns(x.Distinct)
		b.orderBy(q.Order)
		b.s(") AS ").ident("_rn").s(" FROM ").ident(md.Table)
		b.where(q.Where)
		b.s(") AS ").ident("_d")
		if x.Cursor != nil {
			b.cursorRow(md, x.Cursor, order)
		}
		b.s(" WHERE ").ident("_rn").s(" = 1")
		if x.Cursor != nil {
			b.s(" AND ")
			b.cursor(order)
		}
	} else {
		b.s(" FROM ").ident(md.Table)
		if x.Cursor != nil {
			b.cursorRow(md, x.Cursor, order)
		}
		if q.Where != nil || x.Cursor != nil {
			b.s(" WHERE ")
		}
		if q.Where != nil {
			b.expr(q.Where)
			if x.Cursor != nil {
				b.s(" AND ")
			}
		}
		if x.Cursor != nil {
			b.cursor(order)
		}
	}
	b.orderBy(order)
	b.page(q)
	if x.Back {
		b.s(") AS ").ident("_b")
		b.orderBy(q.Order)
	}
	return b.stmt()
}

// withOrderFields returns sel with the fields of order it lacks, in model
// order.
func withOrderFields(md *schema.Model, sel []*schema.Field, order []query.Order) []*schema.Field {
	want := make([]bool, len(md.Fields))
	for _, f := range sel {
		want[f.Idx] = true
	}
	n := len(sel)
	for _, o := range order {
		if o.F != nil && !want[o.F.Idx] {
			want[o.F.Idx] = true
			n++
		}
	}
	if n == len(sel) {
		return sel
	}
	out := make([]*schema.Field, 0, n)
	for i, w := range want {
		if w {
			out = append(out, md.Fields[i])
		}
	}
	return out
}

// cursorRow joins the cursor row: "CROSS JOIN (SELECT _c.<key> AS _k0, …
// FROM t AS _c WHERE <cursor>) AS _k", one column per sort key. A cursor
// that pins no row joins nothing, so the page is empty.
func (b *builder) cursorRow(md *schema.Model, cur *query.Expr, order []query.Order) {
	b.s(" CROSS JOIN (SELECT ")
	for i, o := range order {
		if i > 0 {
			b.s(", ")
		}
		b.ident("_c").s(".").ident(o.F.Column).s(" AS ").ident("_k" + strconv.Itoa(i))
	}
	b.s(" FROM ").ident(md.Table).s(" AS ").ident("_c").s(" WHERE ")
	saved := b.qual
	b.qual = "_c"
	b.expr(cur)
	b.qual = saved
	b.s(") AS ").ident("_k")
}

// cursor writes the predicate "the row is the cursor row or comes after it
// in order" against the joined cursor row (cursorRow): for some key i the
// keys before i equal the cursor row's and key i comes after it, or all
// keys equal it. NULLs are placed as the order places them.
func (b *builder) cursor(order []query.Order) {
	val := func(i int, f *schema.Field) {
		if b.decimalText(f) {
			b.s("CAST(")
		}
		b.ident("_k").s(".").ident("_k" + strconv.Itoa(i))
		if b.decimalText(f) {
			b.s(" AS NUMERIC)")
		}
	}
	key := func(f *schema.Field) {
		if b.decimalText(f) {
			b.s("CAST(")
			b.col(f)
			b.s(" AS NUMERIC)")
			return
		}
		b.col(f)
	}
	eq := func(i int, f *schema.Field) {
		if !f.Def.Nullable {
			key(f)
			b.s(" = ")
			val(i, f)
			return
		}
		b.s("(")
		key(f)
		b.s(" = ")
		val(i, f)
		b.s(" OR ")
		b.col(f)
		b.s(" IS NULL AND ")
		val(i, f)
		b.s(" IS NULL)")
	}
	after := func(i int, o query.Order) {
		cmp := " > "
		if o.Desc {
			cmp = " < "
		}
		if !o.F.Def.Nullable {
			key(o.F)
			b.s(cmp)
			val(i, o.F)
			return
		}
		nullsAfter := o.Nulls == query.NullsLast || o.Nulls == query.NullsDefault && b.d.Has(dialect.NullsLargest) != o.Desc
		b.s("(")
		if nullsAfter { // every value comes before NULL
			key(o.F)
			b.s(cmp)
			val(i, o.F)
			b.s(" OR ")
			b.col(o.F)
			b.s(" IS NULL AND ")
			val(i, o.F)
			b.s(" IS NOT NULL)")
			return
		}
		key(o.F) // NULL comes before every value
		b.s(cmp)
		val(i, o.F)
		b.s(" OR ")
		val(i, o.F)
		b.s(" IS NULL AND ")
		b.col(o.F)
		b.s(" IS NOT NULL)")
	}
	b.s("(")
	for i, o := range order {
		if i > 0 {
			b.s(" OR ")
		}
		b.s("(")
		for j, p := range order[:i] {
			eq(j, p.F)
			b.s(" AND ")
		}
		after(i, o)
		b.s(")")
	}
	b.s(" OR (")
	for i, o := range order {
		if i > 0 {
			b.s(" AND ")
		}
		eq(i, o.F)
	}
	b.s("))")
}
