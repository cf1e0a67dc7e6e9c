package query

import (
	"slices"
	"strings"

	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/internal/verr"
	"github.com/viborm/viborm-go/s"
)

// OrderBy is one sort key as given: a field name (in a groupBy also
// "_count" or "_avg.<field>"…), the direction and the NULL placement.
type OrderBy struct {
	Field string
	Desc  bool
	Nulls Nulls
}

// Select returns the fields a read returns: sel, or all but omit, or all,
// in model order.
func Select(md *schema.Model, sel, omit []string) ([]*schema.Field, error) {
	if len(sel) == 0 && len(omit) == 0 {
		return md.Fields, nil
	}
	if len(sel) > 0 && len(omit) > 0 {
		return nil, verr.Validationf("select", "select and omit cannot be combined")
	}
	want := make([]bool, len(md.Fields))
	for _, n := range sel {
		f := md.ByName[n]
		if f == nil {
			return nil, verr.Validationf("select", "unknown field %q", n)
		}
		want[f.Idx] = true
	}
	if len(omit) > 0 {
		for i := range want {
			want[i] = true
		}
		for _, n := range omit {
			f := md.ByName[n]
			if f == nil {
				return nil, verr.Validationf("omit", "unknown field %q", n)
			}
			want[f.Idx] = false
		}
	}
	var out []*schema.Field
	for i, w := range want {
		if w {
			out = append(out, md.Fields[i])
		}
	}
	if len(out) == 0 {
		return nil, verr.Validationf("omit", "nothing left to select")
	}
	return out, nil
}

// Sort normalises the sort keys os; groupBy allows aggregates.
func Sort(md *schema.Model, os []OrderBy, groupBy bool) ([]Order, error) {
	if len(os) == 0 {
		return nil, nil
	}
	out := make([]Order, 0, len(os))
	for _, o := range os {
		it := Order{Desc: o.Desc, Nulls: o.Nulls}
		if groupBy && strings.HasPrefix(o.Field, "_") {
			fn, fname, _ := strings.Cut(o.Field[1:], ".")
			if !validAgg(fn) {
				return nil, verr.Validationf("orderBy", "unknown aggregate %q", o.Field)
			}
			it.Agg = fn
			if fname != "" && fname != "_all" {
				it.F = md.ByName[fname]
				if it.F == nil {
					return nil, verr.Validationf("orderBy", "unknown field %q", fname)
				}
			} else if fn != "count" {
				return nil, verr.Validationf("orderBy", "%s needs a field", o.Field)
			}
		} else {
			it.F = md.ByName[o.Field]
			if it.F == nil {
				return nil, verr.Validationf("orderBy", "unknown field %q", o.Field)
			}
		}
		if o.Nulls > NullsLast {
			return nil, verr.Validationf("orderBy", "bad nulls placement")
		}
		out = append(out, it)
	}
	return out, nil
}

func validAgg(fn string) bool {
	switch fn {
	case "count", "avg", "sum", "min", "max":
		return true
	}
	return false
}

// Page sets q's take and skip.
func (q *Query) Page(take *int, skip int) error {
	if take != nil {
		if *take < 0 {
			return verr.Validationf("take", "negative take is not supported")
		}
		q.Take, q.HasTake = *take, true
	}
	if skip < 0 {
		return verr.Validationf("skip", "skip must not be negative")
	}
	q.Skip = skip
	return nil
}

// Aggregates are the aggregates of an aggregate or groupBy as given: field
// names per function ("_all" for count(*)).
type Aggregates struct {
	Count, Avg, Sum, Min, Max []string
}

// SetAggs sets q's aggregates, in canonical order: by function, then field,
// without duplicates.
func (q *Query) SetAggs(md *schema.Model, a Aggregates) error {
	x := q.aggr()
	add := func(fn string, names []string) error {
		for _, n := range names {
			if n == "_all" && fn == "count" {
				x.Aggs = append(x.Aggs, Agg{Fn: fn})
				continue
			}
			f := md.ByName[n]
			if f == nil {
				return verr.Validationf("_"+fn, "unknown field %q", n)
			}
			if (fn == "avg" || fn == "sum") && !schema.IsNumeric(f.Kind) {
				return verr.Validationf("_"+fn, "field %q is not numeric", n)
			}
			if (fn == "min" || fn == "max") && (f.Kind == s.KindJSON || f.Kind == s.KindBytes || f.Kind == s.KindBoolean) {
				return verr.Validationf("_"+fn, "field %q cannot be ordered", n)
			}
			x.Aggs = append(x.Aggs, Agg{Fn: fn, F: f})
		}
		return nil
	}
	for _, x := range []struct {
		fn string
		ns []string
	}{{"count", a.Count}, {"avg", a.Avg}, {"sum", a.Sum}, {"min", a.Min}, {"max", a.Max}} {
		if err := add(x.fn, x.ns); err != nil {
			return err
		}
	}
	slices.SortFunc(x.Aggs, func(a, b Agg) int {
		if c := strings.Compare(a.Fn, b.Fn); c != 0 {
			return c
		}
		return aggIdx(a) - aggIdx(b)
	})
	x.Aggs = slices.CompactFunc(x.Aggs, func(a, b Agg) bool { return a == b })
	return nil
}

func aggIdx(a Agg) int {
	if a.F == nil {
		return -1
	}
	return a.F.Idx
}

// AggKind is the kind of an aggregate's values: count is a bigint, avg a
// float (a decimal for decimal fields), the others their field's kind.
func AggKind(a Agg) s.Kind {
	switch a.Fn {
	case "count":
		return s.KindBigInt
	case "avg":
		if a.F.Kind == s.KindDecimal {
			return s.KindDecimal
		}
		return s.KindFloat
	}
	return a.F.Kind
}

// Group sets q's group fields; the sort keys already set must be among
// them or aggregates.
func (q *Query) Group(md *schema.Model, by []string) error {
	if len(by) == 0 {
		return verr.Validationf("by", "groupBy needs at least one field")
	}
	x := q.aggr()
	for _, n := range by {
		f := md.ByName[n]
		if f == nil {
			return verr.Validationf("by", "unknown field %q", n)
		}
		if !slices.Contains(x.By, f) {
			x.By = append(x.By, f)
		}
	}
	return nil
}

// CheckGroupOrder checks that q's field sort keys are among its groups.
func (q *Query) CheckGroupOrder() error {
	var by []*schema.Field
	if q.Aggr != nil {
		by = q.Aggr.By
	}
	for _, o := range q.Order {
		if o.Agg == "" && !slices.Contains(by, o.F) {
			return verr.Validationf("orderBy", "field %q is not in by", o.F.Name)
		}
	}
	return nil
}

// SetHaving normalises a groupBy's having: aggregate ("_count", …) → field
// (or "_all" for _count) → condition.
func (q *Query) SetHaving(md *schema.Model, having map[string]map[string]*Cond) error {
	if len(having) == 0 {
		return nil
	}
	aggs := make([]string, 0, len(having))
	for k := range having {
		aggs = append(aggs, k)
	}
	slices.Sort(aggs)
	var kids []Expr
	for _, k := range aggs {
		fn := strings.TrimPrefix(k, "_")
		if !strings.HasPrefix(k, "_") || !validAgg(fn) {
			return verr.Validationf("having", "unknown aggregate %q", k)
		}
		m := having[k]
		names := make([]string, 0, len(m))
		for n := range m {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			var f *schema.Field
			if !(n == "_all" && fn == "count") {
				if f = md.ByName[n]; f == nil {
					return verr.Validationf("having", "unknown field %q", n)
				}
			}
			c := m[n]
			if c == nil || len(c.Ops) == 0 {
				return verr.Validationf("having", "empty condition")
			}
			for _, o := range c.Ops {
				e := Expr{Kind: Cmp, Agg: fn, F: f, Op: o.Op}
				switch o.Op {
				case OpEq, OpNot, OpLt, OpLte, OpGt, OpGte:
				default:
					return verr.Validationf("having", "having supports equals, not, lt, lte, gt and gte")
				}
				var cv any
				var err error
				switch {
				case fn == "count":
					cv, err = schema.Coerce(&schema.Field{Kind: s.KindBigInt}, o.V)
				case fn == "avg":
					cv, err = schema.Coerce(&schema.Field{Kind: s.KindFloat}, o.V)
				default:
					cv, err = schema.Coerce(f, o.V)
				}
				if err != nil || cv == nil {
					return verr.Validationf("having", "bad value %v", o.V)
				}
				e.V = cv
				kids = append(kids, e)
			}
		}
	}
	if len(kids) == 1 {
		q.aggr().Having = &kids[0]
	} else {
		q.aggr().Having = &Expr{Kind: And, Kids: kids}
	}
	return nil
}

// List normalises the where, order and page of a read of rows or
// aggregates.
func List[W ~map[string]any](md *schema.Model, w W, order []OrderBy, take *int, skip int, condOf CondOf) (*Query, error) {
	return ListRels(md, nil, w, order, take, skip, condOf)
}

// ListRels is [List] with the client's relations, for relation filters.
func ListRels[W ~map[string]any](md *schema.Model, rels Rels, w W, order []OrderBy, take *int, skip int, condOf CondOf) (*Query, error) {
	q, err := whereOrder(md, rels, w, order, condOf)
	if err != nil {
		return nil, err
	}
	if err = q.Page(take, skip); err != nil {
		return nil, err
	}
	return q, nil
}

// whereOrder is the query of a read with its where and order normalised,
// the start of [ListRels] and [Find].
func whereOrder[W ~map[string]any](md *schema.Model, rels Rels, w W, order []OrderBy, condOf CondOf) (*Query, error) {
	q := &Query{}
	var err error
	if q.Where, err = WhereRels(md, rels, w, "where", condOf); err != nil {
		return nil, err
	}
	if q.Order, err = Sort(md, order, false); err != nil {
		return nil, err
	}
	return q, nil
}

// UniqueWhere normalises the where of a read or write that must pin one
// row (see PinsUnique).
func UniqueWhere[W ~map[string]any](md *schema.Model, w W, condOf CondOf) (*Expr, error) {
	return UniqueWhereRels(md, nil, w, condOf)
}

// UniqueWhereRels is [UniqueWhere] with the client's relations.
func UniqueWhereRels[W ~map[string]any](md *schema.Model, rels Rels, w W, condOf CondOf) (*Expr, error) {
	if err := PinsUnique(md, w, condOf); err != nil {
		return nil, err
	}
	return WhereRels(md, rels, w, "where", condOf)
}

// Aggregate normalises the arguments of an aggregate.
func Aggregate[W ~map[string]any](md *schema.Model, w W, order []OrderBy, take *int, skip int, aggs Aggregates, condOf CondOf) (*Query, error) {
	return AggregateRels(md, nil, w, order, take, skip, aggs, condOf)
}

// AggregateRels is [Aggregate] with the client's relations.
func AggregateRels[W ~map[string]any](md *schema.Model, rels Rels, w W, order []OrderBy, take *int, skip int, aggs Aggregates, condOf CondOf) (*Query, error) {
	q, err := ListRels(md, rels, w, order, take, skip, condOf)
	if err != nil {
		return nil, err
	}
	if err = q.SetAggs(md, aggs); err != nil {
		return nil, err
	}
	if q.Aggr == nil || len(q.Aggr.Aggs) == 0 {
		return nil, verr.Validationf("", "aggregate needs at least one of Count, Avg, Sum, Min, Max")
	}
	return q, nil
}

// GroupBy normalises the arguments of a groupBy.
func GroupBy[W ~map[string]any](md *schema.Model, by []string, w W, order []OrderBy, take *int, skip int, aggs Aggregates, having map[string]map[string]*Cond, condOf CondOf) (*Query, error) {
	return GroupByRels(md, nil, by, w, order, take, skip, aggs, having, condOf)
}

// GroupByRels is [GroupBy] with the client's relations.
func GroupByRels[W ~map[string]any](md *schema.Model, rels Rels, by []string, w W, order []OrderBy, take *int, skip int, aggs Aggregates, having map[string]map[string]*Cond, condOf CondOf) (*Query, error) {
	q := &Query{}
	err := q.Group(md, by)
	if err != nil {
		return nil, err
	}
	if q.Where, err = WhereRels(md, rels, w, "where", condOf); err != nil {
		return nil, err
	}
	if q.Order, err = Sort(md, order, true); err != nil {
		return nil, err
	}
	if err = q.CheckGroupOrder(); err != nil {
		return nil, err
	}
	if err = q.Page(take, skip); err != nil {
		return nil, err
	}
	if err = q.SetAggs(md, aggs); err != nil {
		return nil, err
	}
	if err = q.SetHaving(md, having); err != nil {
		return nil, err
	}
	return q, nil
}
