// Package query is the second stage of the ORM: the normalised query. The
// root package's argument values (Where, FindMany, Data, …) are validated
// against a schema.Model and normalised into a [Query] — conditions sorted
// and flattened, values coerced to their canonical form, selections in
// model order — so that two arguments meaning the same read give the same
// Query. [Query.Encode] is the one canonical encoding of a read; cache keys
// hash it (with the model and operation names). internal/sqlgen compiles a
// Query into SQL.
//
// Validation errors are *verr.Error with code V4001 and the argument path
// ("where.AND[1].age") in Field.
package query

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"slices"
	"time"

	"github.com/viborm/viborm-go/internal/schema"
)

// Op is a comparison operator.
type Op uint8

// The operators.
const (
	OpEq Op = iota + 1
	OpNot
	OpIn
	OpNotIn
	OpLt
	OpLte
	OpGt
	OpGte
	OpContains
	OpStartsWith
	OpEndsWith
	OpIsNull
	OpNotNull
)

// ExprKind is the kind of an [Expr].
type ExprKind uint8

// The expression kinds.
const (
	And ExprKind = iota + 1
	Or
	Not
	Cmp
	Rel // a relation filter, in Rel (relfilter.go)
)

// Expr is a normalised boolean condition: And/Or of Kids (an empty And is
// true, an empty Or false), Not of Kids[0], or a comparison of a field (or,
// in a having, of an aggregate of a field) with a canonical value.
type Expr struct {
	Kind ExprKind
	Kids []Expr
	F    *schema.Field // nil for _count._all in a having
	Agg  string        // in a having: "count", "avg", "sum", "min", "max"
	Op   Op
	V    any // canonical value; []any for OpIn and OpNotIn; the plain string for the text matches
	CI   bool
	Rel  *RelFilter // for Kind Rel
}

// Nulls places NULLs in an ordering; the values are viborm.NullsOrder's.
type Nulls uint8

// The NULL placements.
const (
	NullsDefault Nulls = iota
	NullsFirst
	NullsLast
)

// Order is one sort key: a field, or in a groupBy an aggregate (F nil with
// Agg "count" for _count._all).
type Order struct {
	F     *schema.Field
	Agg   string
	Desc  bool
	Nulls Nulls
}

// Agg is one aggregate: Fn of F (F nil: count(*)).
type Agg struct {
	Fn string // count, avg, sum, min, max
	F  *schema.Field
}

// Query is the normalised form of a read's arguments. Every read
// allocates one, cached hits included, so the parts a plain read does not
// use live behind two pointers, nil unless used: a plain read's Query is
// 96 B (TestQuerySize).
type Query struct {
	Where   *Expr
	Order   []Order
	Take    int
	HasTake bool
	Skip    int
	Sel     []*schema.Field // the fields returned, in model order
	Aggr    *Aggregation    // aggregate and groupBy only
	Ext     *Ext            // cursor, negative take, distinct, includes and counts
}

// Aggregation holds the parts of an aggregate or a groupBy. Their
// normalisers always set it.
type Aggregation struct {
	Aggs   []Agg
	By     []*schema.Field
	Having *Expr
}

// Ext holds the rarer parts of a read of rows.
type Ext struct {
	// Cursor pagination, negative take and distinct (relfilter.go): the
	// page starts at the row Cursor pins (a unique where); Back (a negative
	// take) takes the page from the end of the order, Take rows; Distinct
	// keeps the first row of each combination of these fields.
	Cursor   *Expr
	Back     bool
	Distinct []*schema.Field

	// Included relations and relation counts (include.go), sorted by name.
	Inc    []Include
	Counts []RelCount
}

// aggr returns q.Aggr, allocated if q has none yet.
func (q *Query) aggr() *Aggregation {
	if q.Aggr == nil {
		q.Aggr = &Aggregation{}
	}
	return q.Aggr
}

// ext returns q.Ext, allocated if q has none yet: the normalisers call it
// only when they set a part of it.
func (q *Query) ext() *Ext {
	if q.Ext == nil {
		q.Ext = &Ext{}
	}
	return q.Ext
}

// Paged reports whether q has a cursor, a negative take or distinct
// fields: whether its rows are selected by the paged form of the SELECT.
func (q *Query) Paged() bool {
	x := q.Ext
	return x != nil && (x.Cursor != nil || x.Back || len(x.Distinct) > 0)
}

// Backward reports whether q takes its page from the end of its order (a
// negative take).
func (q *Query) Backward() bool { return q.Ext != nil && q.Ext.Back }

// Includes returns q's included relations, sorted by name (nil for none).
func (q *Query) Includes() []Include {
	if q == nil || q.Ext == nil {
		return nil
	}
	return q.Ext.Inc
}

// RelCounts returns q's relation counts, sorted by name (nil for none).
func (q *Query) RelCounts() []RelCount {
	if q == nil || q.Ext == nil {
		return nil
	}
	return q.Ext.Counts
}

// ---- the canonical encoding ----
//
// Every element is tagged and length-prefixed, so the encoding is injective:
// two queries share an encoding only when they are the same normalised
// query. Fields are written by name, never by position: two deployments
// whose schemas order the fields differently never share an entry by
// accident. The encoding is part of the cache key format: changing it
// changes every key.

func appendUvarint(b []byte, n uint64) []byte { return binary.AppendUvarint(b, n) }

func appendStr(b []byte, s string) []byte {
	return append(appendUvarint(b, uint64(len(s))), s...)
}

func appendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, 'z')
	case bool:
		if x {
			return append(b, 't')
		}
		return append(b, 'f')
	case int64:
		return binary.AppendVarint(append(b, 'i'), x)
	case float64:
		return binary.BigEndian.AppendUint64(append(b, 'd'), math.Float64bits(x))
	case string:
		return appendStr(append(b, 's'), x)
	case time.Time:
		b = binary.AppendVarint(append(b, 'T'), x.Unix())
		return appendUvarint(b, uint64(x.Nanosecond()))
	case json.RawMessage:
		return appendStr(append(b, 'j'), string(x))
	case []byte:
		return appendStr(append(b, 'b'), string(x))
	case []any:
		b = appendUvarint(append(b, 'l'), uint64(len(x)))
		for _, e := range x {
			b = appendValue(b, e)
		}
		return b
	}
	panic("viborm: unexpected canonical value")
}

// appendField writes the name of f, "" for none.
func appendField(b []byte, f *schema.Field) []byte {
	if f == nil {
		return appendStr(b, "")
	}
	return appendStr(b, f.Name)
}

func flag(x bool) byte {
	if x {
		return 1
	}
	return 0
}

func appendExpr(b []byte, e *Expr) []byte {
	if e == nil {
		return append(b, '-')
	}
	switch e.Kind {
	case Rel:
		// Inline, not a call to a helper: a cycle through another function
		// makes the compiler assume b escapes, and the key buffer would be
		// allocated on every cached read.
		f := e.Rel
		b = appendStr(append(b, 'R'), f.R.Def.Name)
		b = append(b, byte(f.Op), flag(f.Null))
		return appendExpr(b, f.Where)
	case And, Or, Not:
		b = append(b, "AON"[e.Kind-And])
		b = appendUvarint(b, uint64(len(e.Kids)))
		for i := range e.Kids {
			b = appendExpr(b, &e.Kids[i])
		}
		return b
	}
	b = append(b, 'C')
	if e.Agg != "" {
		b = appendStr(append(b, 'g'), e.Agg)
	}
	b = appendField(b, e.F)
	b = append(b, byte(e.Op), flag(e.CI))
	return appendValue(b, e.V)
}

// Encode appends the canonical encoding of q to b.
func (q *Query) Encode(b []byte) []byte {
	b = appendExpr(append(b, 'W'), q.Where)
	if len(q.Order) > 0 {
		b = appendUvarint(append(b, 'O'), uint64(len(q.Order)))
		for _, o := range q.Order {
			b = appendField(appendStr(b, o.Agg), o.F)
			b = append(b, flag(o.Desc), byte(o.Nulls))
		}
	}
	if q.HasTake {
		b = appendUvarint(append(b, 'L'), uint64(q.Take))
	}
	if q.Skip > 0 {
		b = appendUvarint(append(b, 'K'), uint64(q.Skip))
	}
	if q.Sel != nil {
		b = appendUvarint(append(b, 'S'), uint64(len(q.Sel)))
		for _, f := range q.Sel {
			b = appendStr(b, f.Name)
		}
	}
	if g := q.Aggr; g != nil {
		if len(g.Aggs) > 0 {
			b = appendUvarint(append(b, 'G'), uint64(len(g.Aggs)))
			for _, a := range g.Aggs {
				b = appendStr(b, a.Fn)
				if a.F == nil {
					b = append(b, 0) // _all: no field name is empty
				} else {
					b = appendStr(b, a.F.Name)
				}
			}
		}
		if len(g.By) > 0 {
			b = appendUvarint(append(b, 'B'), uint64(len(g.By)))
			for _, f := range g.By {
				b = appendStr(b, f.Name)
			}
		}
		if g.Having != nil {
			b = appendExpr(append(b, 'H'), g.Having)
		}
	}
	if x := q.Ext; x != nil {
		b = appendPaging(b, x)
		// Includes and counts, inline for the same reason as relation
		// filters in appendExpr: each by name, with its child query's whole
		// encoding.
		if len(x.Inc) > 0 {
			b = appendUvarint(append(b, 'I'), uint64(len(x.Inc)))
			for _, it := range x.Inc {
				b = appendStr(b, it.Name)
				b = appendStr(b, string(it.Q.Encode(nil)))
			}
		}
		if len(x.Counts) > 0 {
			b = appendUvarint(append(b, 'N'), uint64(len(x.Counts)))
			for _, c := range x.Counts {
				b = appendStr(b, c.Name)
				b = appendExpr(b, c.Where)
			}
		}
	}
	return b
}

// SameShape reports whether two reads return results of the same shape:
// the same selected fields, aggregates and group fields, in order.
func SameShape(a, b *Query) bool {
	return a == b || a != nil && b != nil && slices.Equal(a.Sel, b.Sel) && sameAggr(a.Aggr, b.Aggr) && sameRels(a, b)
}

func sameAggr(a, b *Aggregation) bool {
	var none Aggregation
	if a == nil {
		a = &none
	}
	if b == nil {
		b = &none
	}
	return slices.Equal(a.Aggs, b.Aggs) && slices.Equal(a.By, b.By)
}

// PKExpr is the condition "primary key = vals" on md.
func PKExpr(md *schema.Model, vals []any) *Expr {
	return KeyExpr(md.PK, vals)
}

// KeyExpr is the condition "fields = vals", field by field.
func KeyExpr(fields []*schema.Field, vals []any) *Expr {
	kids := make([]Expr, len(fields))
	for i, f := range fields {
		kids[i] = Expr{Kind: Cmp, F: f, Op: OpEq, V: vals[i]}
	}
	if len(kids) == 1 {
		return &kids[0]
	}
	return &Expr{Kind: And, Kids: kids}
}
