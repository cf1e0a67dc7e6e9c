package sqlgen

import (
	"github.com/viborm/viborm-go/internal/dialect"
	"github.com/viborm/viborm-go/internal/query"
	"github.com/viborm/viborm-go/internal/schema"
)

// KeysIn is the condition "fields match one of keys" (each key a tuple of
// canonical values, one per field): fields IN (…) for one field, an OR of
// ANDs for several.
func KeysIn(fields []*schema.Field, keys [][]any) *query.Expr {
	if len(fields) == 1 {
		vs := make([]any, len(keys))
		for i, k := range keys {
			vs[i] = k[0]
		}
		return &query.Expr{Kind: query.Cmp, F: fields[0], Op: query.OpIn, V: vs}
	}
	or := &query.Expr{Kind: query.Or, Kids: make([]query.Expr, len(keys))}
	for i, k := range keys {
		or.Kids[i] = *query.KeyExpr(fields, k)
	}
	return or
}

func and(a, b *query.Expr) *query.Expr {
	if b == nil {
		return a
	}
	return &query.Expr{Kind: query.And, Kids: []query.Expr{*a, *b}}
}

func ascOf(fs []*schema.Field) []query.Order {
	out := make([]query.Order, len(fs))
	for i, f := range fs {
		out[i] = query.Order{F: f}
	}
	return out
}

// withTiebreak returns order followed by the fields of pk it does not
// already sort by, so that the order is total.
func withTiebreak(order []query.Order, pk []*schema.Field) []query.Order {
	out := append([]query.Order(nil), order...)
outer:
	for _, f := range pk {
		for _, o := range order {
			if o.Agg == "" && o.F == f {
				continue outer
			}
		}
		out = append(out, query.Order{F: f})
	}
	return out
}

// IncludeRows is the statement of one level of an include through a
// foreign key: the rows of the target t of link whose ChildKeys match one
// of keys, filtered by cq's where, in cq's selection. The rows come grouped
// by key; within a key in cq's order (the target's id breaking ties). A
// to-many include with a take or skip pages each key's rows on its own:
// ROW_NUMBER() OVER (PARTITION BY the keys ORDER BY …) within the
// statement.
func IncludeRows(d dialect.Dialect, t *schema.Model, cq *query.Query, link schema.Link, keys [][]any) Stmt {
	where := and(KeysIn(link.ChildKeys, keys), cq.Where)
	if !link.Many {
		return Select(d, t, &query.Query{Where: where, Sel: cq.Sel}, false)
	}
	order := withTiebreak(cq.Order, t.PK)
	if !cq.HasTake && cq.Skip == 0 {
		return Select(d, t, &query.Query{Where: where, Sel: cq.Sel, Order: append(ascOf(link.ChildKeys), order...)}, false)
	}
	b := newBuilder(d)
	b.s("SELECT ")
	b.columns(cq.Sel)
	b.s(" FROM (SELECT ")
	b.columns(cq.Sel)
	b.s(", ROW_NUMBER() OVER (PARTITION BY ")
	b.columns(link.ChildKeys)
	b.orderBy(order)
	b.s(") AS ").ident("_rn").s(" FROM ").ident(t.Table)
	b.where(where)
	b.s(") ").ident("_w").s(" WHERE ").ident("_rn").s(" > ").int(cq.Skip)
	if cq.HasTake {
		b.s(" AND ").ident("_rn").s(" <= ").int(cq.Skip + cq.Take)
	}
	b.s(" ORDER BY ")
	b.columns(link.ChildKeys)
	b.s(", ").ident("_rn")
	return b.stmt()
}

// JunctionPairs is the first statement of a many-to-many level: the pairs
// (source id, target id) of the junction j whose source id is one of keys.
func JunctionPairs(d dialect.Dialect, j *schema.Junction, keys [][]any) Stmt {
	b := newBuilder(d)
	b.s("SELECT ")
	for i, c := range append(append([]string(nil), j.SourceCols...), j.TargetCols...) {
		if i > 0 {
			b.s(", ")
		}
		b.ident(c)
	}
	b.s(" FROM ").ident(j.Table).s(" WHERE ")
	// The junction's columns are not model fields: name them through
	// fields that carry the column and the kind of the ids they hold.
	fs := make([]*schema.Field, len(j.SourceCols))
	for i, c := range j.SourceCols {
		fs[i] = &schema.Field{Name: c, Column: c, Kind: j.SourceRefs[i].Kind}
	}
	b.expr(KeysIn(fs, keys))
	return b.stmt()
}

// JunctionTargets is the second statement of a many-to-many level: the
// rows of the target t whose id is one of ids, filtered by cq's where, in
// cq's order (the id breaking ties). Each parent's page is cut in memory.
func JunctionTargets(d dialect.Dialect, t *schema.Model, cq *query.Query, refs []*schema.Field, ids [][]any) Stmt {
	return Select(d, t, &query.Query{Where: and(KeysIn(refs, ids), cq.Where), Sel: cq.Sel, Order: withTiebreak(cq.Order, t.PK)}, false)
}

// RelCounts is the statement of a level's relation counts: for each row
// of md whose id is one of ids, its id then one correlated COUNT(*) per
// count of counts (VibORM's _count), with its where.
func RelCounts(d dialect.Dialect, md *schema.Model, counts []query.RelCount, ids [][]any) Stmt {
	b := newBuilder(d)
	b.s("SELECT ")
	b.columns(md.PK)
	for _, c := range counts {
		// The counted table keeps its name (the parent is "_p"), so that
		// the where's relation filters correlate with it as at the top.
		b.s(", (SELECT COUNT(*) FROM ")
		t := c.Rel.Target
		l := c.Link
		if j := l.Junction; j != nil {
			alias := j.Table
			b.ident(j.Table)
			if c.Where != nil {
				b.s(" JOIN ").ident(t.Table).s(" ON ")
				for k, col := range j.TargetCols {
					if k > 0 {
						b.s(" AND ")
					}
					b.qcol(t.Table, j.TargetRefs[k].Column)
					b.s(" = ")
					b.qcol(alias, col)
				}
			}
			b.s(" WHERE ")
			for k, col := range j.SourceCols {
				if k > 0 {
					b.s(" AND ")
				}
				b.qcol(alias, col)
				b.s(" = ")
				b.qcol("_p", l.ParentKeys[k].Column)
			}
		} else {
			alias := t.Table
			b.ident(t.Table).s(" WHERE ")
			for k, f := range l.ChildKeys {
				if k > 0 {
					b.s(" AND ")
				}
				b.qcol(alias, f.Column)
				b.s(" = ")
				b.qcol("_p", l.ParentKeys[k].Column)
			}
		}
		if c.Where != nil {
			b.s(" AND ")
			b.expr(c.Where)
		}
		b.s(")")
	}
	b.s(" FROM ").ident(md.Table).s(" ").ident("_p")
	b.where(KeysIn(md.PK, ids))
	return b.stmt()
}

// qcol appends the column col qualified by table (or alias).
func (b *builder) qcol(table, col string) { b.ident(table).s(".").ident(col) }
