package viborm

import (
	"strings"

	"github.com/viborm/viborm-go/internal/dialect"
	"github.com/viborm/viborm-go/internal/sqlb"
	"github.com/viborm/viborm-go/s"
)

// stmt is one SQL statement with its arguments.
type stmt struct {
	SQL  string
	Args []any
}

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

func col(b *sqlb.Builder, f *field) { b.Ident(f.column) }

func arg(b *sqlb.Builder, f *field, v any) { b.Arg(toDB(b.D, f.kind, v)) }

func aggSQL(b *sqlb.Builder, fn string, f *field) {
	if fn == "count" && f == nil {
		b.S("COUNT(*)")
		return
	}
	b.S(strings.ToUpper(fn)).S("(")
	if b.D == dialect.SQLite && f.kind == s.KindDecimal && (fn == "avg" || fn == "sum") {
		b.S("CAST(")
		col(b, f)
		b.S(" AS REAL)")
	} else {
		col(b, f)
	}
	b.S(")")
}

func compileExpr(b *sqlb.Builder, e *expr) {
	switch e.kind {
	case eAnd, eOr:
		if len(e.kids) == 0 {
			if e.kind == eAnd {
				b.S("1=1")
			} else {
				b.S("1=0")
			}
			return
		}
		sep := " AND "
		if e.kind == eOr {
			sep = " OR "
		}
		b.S("(")
		for i := range e.kids {
			if i > 0 {
				b.S(sep)
			}
			compileExpr(b, &e.kids[i])
		}
		b.S(")")
		return
	case eNot:
		b.S("NOT (")
		compileExpr(b, &e.kids[0])
		b.S(")")
		return
	}
	f := e.f
	// SQLite stores decimals as exact text; compare them as numbers.
	numCast := b.D == dialect.SQLite && e.agg == "" && f.kind == s.KindDecimal
	lhs := func() {
		if e.agg != "" {
			aggSQL(b, e.agg, f)
			return
		}
		if numCast {
			b.S("CAST(")
			col(b, f)
			b.S(" AS NUMERIC)")
			return
		}
		if e.ci {
			b.S("LOWER(")
			col(b, f)
			b.S(")")
			return
		}
		col(b, f)
	}
	rhs := func(v any) {
		if e.agg != "" {
			b.Arg(toDB(b.D, 0, v))
			return
		}
		if e.ci {
			b.S("LOWER(")
			arg(b, f, v)
			b.S(")")
			return
		}
		if numCast {
			b.S("CAST(")
			arg(b, f, v)
			b.S(" AS NUMERIC)")
			return
		}
		arg(b, f, v)
	}
	switch e.op {
	case opIsNull:
		col(b, f)
		b.S(" IS NULL")
	case opNotNull:
		col(b, f)
		b.S(" IS NOT NULL")
	case opEq, opNot, opLt, opLte, opGt, opGte:
		lhs()
		b.S([...]string{opEq: " = ", opNot: " <> ", opLt: " < ", opLte: " <= ", opGt: " > ", opGte: " >= "}[e.op])
		rhs(e.v)
	case opIn, opNotIn:
		vs := e.v.([]any)
		if len(vs) == 0 {
			if e.op == opIn {
				b.S("1=0")
			} else {
				b.S("1=1")
			}
			return
		}
		lhs()
		if e.op == opIn {
			b.S(" IN (")
		} else {
			b.S(" NOT IN (")
		}
		for i, v := range vs {
			if i > 0 {
				b.S(", ")
			}
			rhs(v)
		}
		b.S(")")
	case opContains, opStartsWith, opEndsWith:
		str := e.v.(string)
		if b.D == dialect.SQLite && !e.ci {
			pat := globEscape(str)
			switch e.op {
			case opContains:
				pat = "*" + pat + "*"
			case opStartsWith:
				pat += "*"
			case opEndsWith:
				pat = "*" + pat
			}
			col(b, f)
			b.S(" GLOB ").Arg(pat)
			return
		}
		pat := likeEscape(str)
		switch e.op {
		case opContains:
			pat = "%" + pat + "%"
		case opStartsWith:
			pat += "%"
		case opEndsWith:
			pat = "%" + pat
		}
		switch {
		case !e.ci:
			col(b, f)
			b.S(" LIKE ")
		case b.D.ILike:
			col(b, f)
			b.S(" ILIKE ")
		case b.D == dialect.SQLite: // LIKE is case-insensitive for ASCII
			col(b, f)
			b.S(" LIKE ")
		default:
			b.S("LOWER(")
			col(b, f)
			b.S(") LIKE ")
			pat = strings.ToLower(pat)
		}
		b.Arg(pat).S(" ESCAPE '!'")
	}
}

func where(b *sqlb.Builder, e *expr) {
	if e == nil {
		return
	}
	b.S(" WHERE ")
	compileExpr(b, e)
}

func orderBy(b *sqlb.Builder, os []orderItem) {
	if len(os) == 0 {
		return
	}
	b.S(" ORDER BY ")
	for i, o := range os {
		if i > 0 {
			b.S(", ")
		}
		term := func() {
			if o.agg != "" {
				aggSQL(b, o.agg, o.f)
			} else if b.D == dialect.SQLite && o.f.kind == s.KindDecimal {
				b.S("CAST(")
				col(b, o.f)
				b.S(" AS NUMERIC)")
			} else {
				col(b, o.f)
			}
		}
		if o.nulls != NullsDefault && !b.D.NullsSort {
			term()
			if o.nulls == NullsFirst {
				b.S(" IS NULL DESC, ")
			} else {
				b.S(" IS NULL ASC, ")
			}
		}
		term()
		if o.desc {
			b.S(" DESC")
		} else {
			b.S(" ASC")
		}
		if o.nulls != NullsDefault && b.D.NullsSort {
			if o.nulls == NullsFirst {
				b.S(" NULLS FIRST")
			} else {
				b.S(" NULLS LAST")
			}
		}
	}
}

func page(b *sqlb.Builder, q *query) {
	if q.hasTake {
		b.S(" LIMIT ").S(itoa(q.take))
	} else if q.skip > 0 && b.D.MaxLimit != "" {
		b.S(" LIMIT ").S(b.D.MaxLimit)
	}
	if q.skip > 0 {
		b.S(" OFFSET ").S(itoa(q.skip))
	}
}

func columns(b *sqlb.Builder, fs []*field) {
	for i, f := range fs {
		if i > 0 {
			b.S(", ")
		}
		col(b, f)
	}
}

func (md *model) compileSelect(d *dialect.Dialect, q *query, forUpdate bool) stmt {
	b := sqlb.New(d)
	b.S("SELECT ")
	columns(b, q.sel)
	b.S(" FROM ").Ident(md.table)
	where(b, q.where)
	orderBy(b, q.order)
	page(b, q)
	if forUpdate && d != dialect.SQLite {
		b.S(" FOR UPDATE")
	}
	return stmt{b.SQL(), b.Args()}
}

func (md *model) compileCount(d *dialect.Dialect, q *query) stmt {
	b := sqlb.New(d)
	if q.hasTake || q.skip > 0 {
		b.S("SELECT COUNT(*) FROM (SELECT 1 AS ").Ident("_one").S(" FROM ").Ident(md.table)
		where(b, q.where)
		page(b, q)
		b.S(") ").Ident("_sub")
	} else {
		b.S("SELECT COUNT(*) FROM ").Ident(md.table)
		where(b, q.where)
	}
	return stmt{b.SQL(), b.Args()}
}

func (md *model) compileExist(d *dialect.Dialect, q *query) stmt {
	b := sqlb.New(d)
	b.S("SELECT 1 FROM ").Ident(md.table)
	where(b, q.where)
	b.S(" LIMIT 1")
	return stmt{b.SQL(), b.Args()}
}

func (md *model) compileAggregate(d *dialect.Dialect, q *query) stmt {
	b := sqlb.New(d)
	b.S("SELECT ")
	for i, a := range q.aggs {
		if i > 0 {
			b.S(", ")
		}
		aggSQL(b, a.fn, a.f)
	}
	if q.hasTake || q.skip > 0 || len(q.order) > 0 {
		b.S(" FROM (SELECT * FROM ").Ident(md.table)
		where(b, q.where)
		orderBy(b, q.order)
		page(b, q)
		b.S(") ").Ident("_sub")
	} else {
		b.S(" FROM ").Ident(md.table)
		where(b, q.where)
	}
	return stmt{b.SQL(), b.Args()}
}

func (md *model) compileGroupBy(d *dialect.Dialect, q *query) stmt {
	b := sqlb.New(d)
	b.S("SELECT ")
	columns(b, q.by)
	for _, a := range q.aggs {
		b.S(", ")
		aggSQL(b, a.fn, a.f)
	}
	b.S(" FROM ").Ident(md.table)
	where(b, q.where)
	b.S(" GROUP BY ")
	columns(b, q.by)
	if q.having != nil {
		b.S(" HAVING ")
		compileExpr(b, q.having)
	}
	orderBy(b, q.order)
	page(b, q)
	return stmt{b.SQL(), b.Args()}
}

// setItem is one assignment of an insert or update.
type setItem struct {
	f  *field
	op byte // 0 for a plain value
	v  any
}

func (md *model) compileInsert(d *dialect.Dialect, rows [][]setItem, returning []*field) stmt {
	b := sqlb.New(d)
	b.S("INSERT INTO ").Ident(md.table).S(" (")
	for i, it := range rows[0] {
		if i > 0 {
			b.S(", ")
		}
		col(b, it.f)
	}
	b.S(") VALUES ")
	if len(rows[0]) == 0 && d != dialect.MySQL {
		b.Truncate(b.Len() - len(" () VALUES "))
		b.S(" DEFAULT VALUES")
	} else {
		for r, row := range rows {
			if r > 0 {
				b.S(", ")
			}
			b.S("(")
			for i, it := range row {
				if i > 0 {
					b.S(", ")
				}
				arg(b, it.f, it.v)
			}
			b.S(")")
		}
	}
	if len(returning) > 0 {
		b.S(" RETURNING ")
		columns(b, returning)
	}
	return stmt{b.SQL(), b.Args()}
}

func (md *model) compileUpdate(d *dialect.Dialect, set []setItem, w *expr) stmt {
	b := sqlb.New(d)
	b.S("UPDATE ").Ident(md.table).S(" SET ")
	for i, it := range set {
		if i > 0 {
			b.S(", ")
		}
		col(b, it.f)
		b.S(" = ")
		if it.op == 0 {
			arg(b, it.f, it.v)
			continue
		}
		if it.op == '/' && d == dialect.MySQL && (it.f.kind == s.KindInt || it.f.kind == s.KindBigInt) {
			col(b, it.f)
			b.S(" DIV ")
			arg(b, it.f, it.v)
			continue
		}
		col(b, it.f)
		b.S(" " + string(it.op) + " ")
		arg(b, it.f, it.v)
	}
	where(b, w)
	return stmt{b.SQL(), b.Args()}
}

func (md *model) compileDelete(d *dialect.Dialect, w *expr) stmt {
	b := sqlb.New(d)
	b.S("DELETE FROM ").Ident(md.table)
	where(b, w)
	return stmt{b.SQL(), b.Args()}
}

// pkExpr is the condition "primary key = values".
func (md *model) pkExpr(vals []any) *expr {
	kids := make([]expr, len(md.pk))
	for i, f := range md.pk {
		kids[i] = expr{kind: eCmp, f: f, op: opEq, v: vals[i]}
	}
	if len(kids) == 1 {
		return &kids[0]
	}
	return &expr{kind: eAnd, kids: kids}
}
