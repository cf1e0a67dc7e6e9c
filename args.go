package viborm

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
	Take    *int // nil: no limit; new(20)
	Skip    int
	Select  []string // only these fields (others stay zero in structs, absent in Rows)
	Omit    []string // all fields but these
}

// FindUnique are the arguments of FindUnique: Where must pin a unique or id
// field (or all fields of a compound one) with equality.
type FindUnique struct {
	Where  Where
	Select []string
	Omit   []string
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
	// Auto clears every cached read of the written model. Nil means the
	// client's default, [Config.AutoInvalidate].
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
	ops []condOp
	ci  bool
}

type condOp struct {
	op cmpOp
	v  any
}

func (c *Cond) with(op cmpOp, v any) *Cond {
	n := &Cond{ci: false}
	if c != nil {
		n.ci = c.ci
		n.ops = append(make([]condOp, 0, len(c.ops)+1), c.ops...)
	}
	n.ops = append(n.ops, condOp{op, v})
	return n
}

// Equals matches the value (nil: IS NULL).
func Equals(v any) *Cond { return (*Cond)(nil).with(opEq, v) }

// Not matches values other than v (nil: IS NOT NULL); v may be a *Cond, negated.
func Not(v any) *Cond { return (*Cond)(nil).with(opNot, v) }

// In matches any of vs.
func In[V any](vs ...V) *Cond { return (*Cond)(nil).with(opIn, toAnys(vs)) }

// NotIn matches none of vs.
func NotIn[V any](vs ...V) *Cond { return (*Cond)(nil).with(opNotIn, toAnys(vs)) }

// Lt matches values below v.
func Lt(v any) *Cond { return (*Cond)(nil).with(opLt, v) }

// Lte matches values at most v.
func Lte(v any) *Cond { return (*Cond)(nil).with(opLte, v) }

// Gt matches values above v.
func Gt(v any) *Cond { return (*Cond)(nil).with(opGt, v) }

// Gte matches values at least v.
func Gte(v any) *Cond { return (*Cond)(nil).with(opGte, v) }

// Contains matches strings containing s literally (% and _ are not wildcards).
func Contains(s string) *Cond { return (*Cond)(nil).with(opContains, s) }

// StartsWith matches strings starting with s literally.
func StartsWith(s string) *Cond { return (*Cond)(nil).with(opStartsWith, s) }

// EndsWith matches strings ending with s literally.
func EndsWith(s string) *Cond { return (*Cond)(nil).with(opEndsWith, s) }

// Equals adds an equality.
func (c *Cond) Equals(v any) *Cond { return c.with(opEq, v) }

// Not adds an inequality.
func (c *Cond) Not(v any) *Cond { return c.with(opNot, v) }

// Lt adds v > value.
func (c *Cond) Lt(v any) *Cond { return c.with(opLt, v) }

// Lte adds v >= value.
func (c *Cond) Lte(v any) *Cond { return c.with(opLte, v) }

// Gt adds value > v.
func (c *Cond) Gt(v any) *Cond { return c.with(opGt, v) }

// Gte adds value >= v.
func (c *Cond) Gte(v any) *Cond { return c.with(opGte, v) }

// Contains adds a substring match.
func (c *Cond) Contains(s string) *Cond { return c.with(opContains, s) }

// StartsWith adds a prefix match.
func (c *Cond) StartsWith(s string) *Cond { return c.with(opStartsWith, s) }

// EndsWith adds a suffix match.
func (c *Cond) EndsWith(s string) *Cond { return c.with(opEndsWith, s) }

// Insensitive makes the string comparisons of c case-insensitive
// (VibORM's mode: "insensitive").
func (c *Cond) Insensitive() *Cond {
	n := &Cond{ci: true}
	if c != nil {
		n.ops = append([]condOp(nil), c.ops...)
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

// AND combines filters with AND.
func AND(ws ...Where) Where { return Where{"AND": ws} }

// OR combines filters with OR.
func OR(ws ...Where) Where { return Where{"OR": ws} }

// NOT negates a filter.
func NOT(w Where) Where { return Where{"NOT": w} }
