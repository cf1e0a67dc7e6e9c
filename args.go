package viborm

import "github.com/viborm/viborm-go/internal/query"

// Where is a filter, Prisma style: field name → a value (equality, nil for
// IS NULL) or a [*Cond]; the keys "AND" and "OR" take a []Where, and "NOT"
// takes a Where or a []Where. The entries of a Where are combined with AND.
// A Where nests at most [MaxWhereDepth] levels deep.
//
//	viborm.Where{"active": true, "age": viborm.Gte(18).Lt(65),
//		"OR": []viborm.Where{{"role": "admin"}, {"email": viborm.EndsWith("@acme.io").Insensitive()}}}
type Where map[string]any

// Data holds the values of a create or update: field name → value. A missing
// key means "not set" and nil means NULL. In an update, a value may be an
// [UpdateOp] such as [Increment].
type Data map[string]any

// NullsOrder places NULLs first or last in an [Order].
type NullsOrder uint8

// The NULL placements. NullsDefault leaves it to the database (PostgreSQL
// sorts NULLs as largest, SQLite and MySQL as smallest).
const (
	NullsDefault NullsOrder = iota
	NullsFirst
	NullsLast
)

// Order is one sort key.
type Order struct {
	Field string // a field; in GroupBy also "_count" or "_avg.<field>" (and _sum, _min, _max)
	Desc  bool
	Nulls NullsOrder
}

// Asc sorts by field ascending.
func Asc(field string) Order { return Order{Field: field} }

// Desc sorts by field descending.
func Desc(field string) Order { return Order{Field: field, Desc: true} }

// NullsFirst returns o placing NULLs first.
func (o Order) NullsFirst() Order { o.Nulls = NullsFirst; return o }

// NullsLast returns o placing NULLs last.
func (o Order) NullsLast() Order { o.Nulls = NullsLast; return o }

// FindMany are the arguments of FindMany and FindFirst.
type FindMany struct {
	Where   Where
	OrderBy []Order
	Take    *int // nil: no limit; new(20); negative: the last rows of the order (made total by the id), in order
	Skip    int
	Select  []string // only these fields (others stay zero in structs, absent in Rows)
	Omit    []string // all fields but these
	// Cursor starts the page at the row it pins (a unique where, like
	// FindUnique's), included; Skip: 1 starts after it. A cursor that
	// matches no row gives an empty page. With a negative Take the page
	// ends at the cursor. The order is made total by appending the id.
	Cursor Where
	// Distinct keeps the first row (in the order) of each combination of
	// these fields' values.
	Distinct []string
	// Include loads relations with the rows (see [Include]); Count counts
	// to-many relations (see [CountRel]).
	Include Include
	Count   CountRel
}

// FindUnique are the arguments of FindUnique: Where must pin a unique or id
// field (or all fields of a compound one) with equality.
type FindUnique struct {
	Where   Where
	Select  []string
	Omit    []string
	Include Include
	Count   CountRel
}

// Count are the arguments of Count.
type Count struct {
	Where Where
	Take  *int
	Skip  int
}

// Aggregate are the arguments of Aggregate. Count takes field names or
// "_all"; the others take numeric fields (Min and Max any comparable field).
type Aggregate struct {
	Where   Where
	OrderBy []Order
	Take    *int
	Skip    int
	Count   []string
	Avg     []string
	Sum     []string
	Min     []string
	Max     []string
}

// Having filters groups: aggregate ("_count", "_avg", "_sum", "_min",
// "_max") → field (or "_all" for _count) → condition.
//
//	viborm.Having{"_count": {"_all": viborm.Gt(1)}, "_avg": {"age": viborm.Gte(30)}}
type Having map[string]map[string]*Cond

// GroupBy are the arguments of GroupBy.
type GroupBy struct {
	By      []string
	Where   Where
	Having  Having
	OrderBy []Order
	Take    *int
	Skip    int
	Count   []string
	Avg     []string
	Sum     []string
	Min     []string
	Max     []string
}

// AggregateResult is what Aggregate returns, VibORM's {_count, _avg, …}:
// aggregate → field → value. Count values are int64; Avg values float64 (a
// decimal string for decimal fields); Sum, Min and Max values have the
// field's canonical type (see [Row]); nil when there were no rows.
type AggregateResult struct {
	Count map[string]int64 `json:"_count,omitempty"`
	Avg   map[string]any   `json:"_avg,omitempty"`
	Sum   map[string]any   `json:"_sum,omitempty"`
	Min   map[string]any   `json:"_min,omitempty"`
	Max   map[string]any   `json:"_max,omitempty"`
}

// GroupRow is one group of a GroupBy: the values of the By fields and the
// group's aggregates.
type GroupRow struct {
	By map[string]any
	AggregateResult
}

// Invalidate is the cache part of a write: what to invalidate once the write
// has succeeded (after COMMIT inside a transaction).
type Invalidate struct {
	// Keys are exact keys ("user:findMany:<hash>", as given by CacheKey) or
	// "prefix*" patterns ("user:*", "user:findMany:*").
	Keys []string
	// Auto clears every cached read of the models the write changed: the
	// written model, those of its nested writes and their junction tables,
	// and those its foreign keys' ON DELETE / ON UPDATE actions change
	// (see [Nested]). Nil means the client's default, [Config.AutoInvalidate].
	Auto *bool
}

// Create are the arguments of Create.
type Create struct {
	Data   Data
	Select []string
	Omit   []string
	Cache  *Invalidate
}

// CreateMany are the arguments of CreateMany.
type CreateMany struct {
	Data  []Data
	Cache *Invalidate
}

// Update are the arguments of Update: Where must pin a unique row.
type Update struct {
	Where  Where
	Data   Data
	Select []string
	Omit   []string
	Cache  *Invalidate
}

// UpdateMany are the arguments of UpdateMany.
type UpdateMany struct {
	Where Where
	Data  Data
	Cache *Invalidate
}

// Upsert are the arguments of Upsert: Where must pin a unique row; Create is
// inserted when there is none, otherwise Update is applied.
type Upsert struct {
	Where  Where
	Create Data
	Update Data
	Select []string
	Omit   []string
	Cache  *Invalidate
}

// Delete are the arguments of Delete: Where must pin a unique row.
type Delete struct {
	Where  Where
	Select []string
	Omit   []string
	Cache  *Invalidate
}

// DeleteMany are the arguments of DeleteMany.
type DeleteMany struct {
	Where Where
	Cache *Invalidate
}

// Cond is a condition on one field, built with [Equals], [Gt], [Contains]…
// and chained: viborm.Gte(1).Lt(10). A Cond is immutable: every method
// returns a new one.
type Cond struct {
	c query.Cond
}

func (c *Cond) with(op query.Op, v any) *Cond {
	n := &Cond{}
	if c != nil {
		n.c.CI = c.c.CI
		n.c.Ops = append(make([]query.CondOp, 0, len(c.c.Ops)+1), c.c.Ops...)
	}
	n.c.Ops = append(n.c.Ops, query.CondOp{Op: op, V: v})
	return n
}

// Equals matches the value (nil: IS NULL).
func Equals(v any) *Cond { return (*Cond)(nil).with(query.OpEq, v) }

// Not matches values other than v (nil: IS NOT NULL); v may be a *Cond, negated.
func Not(v any) *Cond { return (*Cond)(nil).with(query.OpNot, v) }

// In matches any of vs.
func In[V any](vs ...V) *Cond { return (*Cond)(nil).with(query.OpIn, toAnys(vs)) }

// NotIn matches none of vs.
func NotIn[V any](vs ...V) *Cond { return (*Cond)(nil).with(query.OpNotIn, toAnys(vs)) }

// Lt matches values below v.
func Lt(v any) *Cond { return (*Cond)(nil).with(query.OpLt, v) }

// Lte matches values at most v.
func Lte(v any) *Cond { return (*Cond)(nil).with(query.OpLte, v) }

// Gt matches values above v.
func Gt(v any) *Cond { return (*Cond)(nil).with(query.OpGt, v) }

// Gte matches values at least v.
func Gte(v any) *Cond { return (*Cond)(nil).with(query.OpGte, v) }

// Contains matches strings containing s literally (% and _ are not wildcards).
func Contains(s string) *Cond { return (*Cond)(nil).with(query.OpContains, s) }

// StartsWith matches strings starting with s literally.
func StartsWith(s string) *Cond { return (*Cond)(nil).with(query.OpStartsWith, s) }

// EndsWith matches strings ending with s literally.
func EndsWith(s string) *Cond { return (*Cond)(nil).with(query.OpEndsWith, s) }

// Equals adds an equality.
func (c *Cond) Equals(v any) *Cond { return c.with(query.OpEq, v) }

// Not adds an inequality.
func (c *Cond) Not(v any) *Cond { return c.with(query.OpNot, v) }

// Lt adds v > value.
func (c *Cond) Lt(v any) *Cond { return c.with(query.OpLt, v) }

// Lte adds v >= value.
func (c *Cond) Lte(v any) *Cond { return c.with(query.OpLte, v) }

// Gt adds value > v.
func (c *Cond) Gt(v any) *Cond { return c.with(query.OpGt, v) }

// Gte adds value >= v.
func (c *Cond) Gte(v any) *Cond { return c.with(query.OpGte, v) }

// Contains adds a substring match.
func (c *Cond) Contains(s string) *Cond { return c.with(query.OpContains, s) }

// StartsWith adds a prefix match.
func (c *Cond) StartsWith(s string) *Cond { return c.with(query.OpStartsWith, s) }

// EndsWith adds a suffix match.
func (c *Cond) EndsWith(s string) *Cond { return c.with(query.OpEndsWith, s) }

// Insensitive makes the string comparisons of c case-insensitive
// (VibORM's mode: "insensitive").
func (c *Cond) Insensitive() *Cond {
	n := &Cond{c: query.Cond{CI: true}}
	if c != nil {
		n.c.Ops = append([]query.CondOp(nil), c.c.Ops...)
	}
	return n
}

func toAnys[V any](vs []V) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v
	}
	return out
}

// UpdateOp is a numeric update operator for Data values.
type UpdateOp struct {
	op byte // '+', '-', '*', '/'
	v  any
}

// Increment adds n to a numeric field.
func Increment(n any) UpdateOp { return UpdateOp{'+', n} }

// Decrement subtracts n from a numeric field.
func Decrement(n any) UpdateOp { return UpdateOp{'-', n} }

// Multiply multiplies a numeric field by n.
func Multiply(n any) UpdateOp { return UpdateOp{'*', n} }

// Divide divides a numeric field by n (integer division on integer fields).
func Divide(n any) UpdateOp { return UpdateOp{'/', n} }

// And combines filters with AND: Where{"AND": ws}.
func And(ws ...Where) Where { return Where{"AND": ws} }

// Or combines filters with OR: Where{"OR": ws}.
func Or(ws ...Where) Where { return Where{"OR": ws} }

// NoneOf matches the rows that match none of ws: Where{"NOT": w} for one
// filter, Where{"NOT": ws} for several (VibORM's NOT). [Not] is the
// condition on one field.
func NoneOf(ws ...Where) Where {
	if len(ws) == 1 {
		return Where{"NOT": ws[0]}
	}
	return Where{"NOT": ws}
}

// MaxWhereDepth is how deeply a [Where] may nest: through AND, OR and NOT,
// and through Not conditions on one field. The where itself is level 1.
// A deeper where is rejected with [ErrValidation] naming the path where the
// limit was reached, before anything deeper is looked at.
const MaxWhereDepth = query.MaxWhereDepth
