package query

import (
	"slices"
	"strconv"

	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/internal/verr"
	"github.com/viborm/viborm-go/s"
)

// Rels are the resolved relations of a client's models (schema.Resolve).
// A where names a relation by its name; without Rels no name is one.
type Rels = map[*schema.Model][]*schema.Relation

// The relation filter operators, carried in a [CondOp] like the scalar
// ones (the public constructors viborm.Some… build a Cond of one of
// them): some/every/none on a to-many relation, is/isNot on a to-one.
const (
	OpSome Op = 64 + iota
	OpEvery
	OpNone
	OpIs
	OpIsNot
)

var relOpNames = map[string]Op{"some": OpSome, "every": OpEvery, "none": OpNone, "is": OpIs, "isNot": OpIsNot}

func relOpName(op Op) string {
	for k, v := range relOpNames {
		if v == op {
			return k
		}
	}
	return "?"
}

// RelFilter is a normalised relation filter: rows of R.Model with some,
// every, no (Op) related row of R.Target matching Where (nil: any row);
// Null (is/isNot nil) tests whether a to-one relation is absent (is) or
// present (isNot).
type RelFilter struct {
	R     *schema.Relation
	Op    Op
	Where *Expr
	Null  bool
}

// FindRel returns the relation name of md among rels, nil when none.
func FindRel(rels Rels, md *schema.Model, name string) *schema.Relation {
	for _, r := range rels[md] {
		if r.Def.Name == name {
			return r
		}
	}
	return nil
}

// relFilter normalises v, the value of the relation r in a where: a
// relation filter (a Cond of relation operators), a map of them ("some",
// "every", "none", "is", "isNot"), nil (is: nil), or on a to-one relation
// a where on its target (is).
func (n normaliser[W]) relFilter(r *schema.Relation, v any, depth int) (Expr, error) {
	if depth+1 > MaxWhereDepth {
		return Expr{}, depthError()
	}
	type item struct {
		name string
		op   Op
		v    any
	}
	var items []item
	if c, ok := n.condOf(v); ok {
		if c == nil || len(c.Ops) == 0 {
			return Expr{}, verr.Validationf("", "empty condition")
		}
		for _, o := range c.Ops {
			if o.Op < OpSome {
				return Expr{}, verr.Validationf("", "%s is a relation: filter it with some, every, none, is or isNot", r.Def.Name)
			}
			items = append(items, item{relOpName(o.Op), o.Op, o.V})
		}
	} else {
		m, isMap := asMap[W](v)
		switch {
		case v == nil:
			items = append(items, item{"is", OpIs, nil})
		case !isMap:
			return Expr{}, verr.Validationf("", "%s is a relation: filter it with some, every, none, is or isNot, not %T", r.Def.Name, v)
		default:
			allOps := len(m) > 0
			for k := range m {
				if _, ok := relOpNames[k]; !ok {
					allOps = false
				}
			}
			if allOps {
				keys := make([]string, 0, len(m))
				for k := range m {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				for _, k := range keys {
					items = append(items, item{k, relOpNames[k], m[k]})
				}
			} else if r.IsToMany() {
				return Expr{}, verr.Validationf("", "%s is a to-many relation: filter it with some, every or none", r.Def.Name)
			} else {
				items = append(items, item{"is", OpIs, W(m)})
			}
		}
	}
	var kids []Expr
	for _, it := range items {
		e, err := n.relOne(r, it.op, it.v, depth)
		if err != nil {
			return Expr{}, verr.UnderPath(err, it.name)
		}
		kids = append(kids, e)
	}
	if len(kids) == 1 {
		return kids[0], nil
	}
	return Expr{Kind: And, Kids: kids}, nil
}

// asMap reads a nested where: a W or a map[string]any; a nil one is
// reported as a map (nil).
func asMap[W ~map[string]any](v any) (map[string]any, bool) {
	switch x := v.(type) {
	case W:
		return x, true
	case map[string]any:
		return x, true
	}
	return nil, false
}

func (n normaliser[W]) relOne(r *schema.Relation, op Op, v any, depth int) (Expr, error) {
	toMany := r.IsToMany()
	switch op {
	case OpSome, OpEvery, OpNone:
		if !toMany {
			return Expr{}, verr.Validationf("", "%s is a to-one relation: filter it with is or isNot, not %s", r.Def.Name, relOpName(op))
		}
	case OpIs, OpIsNot:
		if toMany {
			return Expr{}, verr.Validationf("", "%s is a to-many relation: filter it with some, every or none, not %s", r.Def.Name, relOpName(op))
		}
	default:
		return Expr{}, verr.Validationf("", "unknown relation filter")
	}
	if r.Def.Kind != s.ManyToManyKind && len(r.Fields) == 0 && r.Back == nil {
		return Expr{}, verr.Validationf("", "relation %s of %s has no foreign key on either side (declare the inverse relation with Fields and References)", r.Def.Name, n.md.Name)
	}
	f := &RelFilter{R: r, Op: op}
	m, isMap := asMap[W](v)
	switch {
	case v == nil || isMap && m == nil:
		// is: nil / isNot: nil test the relation's absence; some/every/none
		// of nothing hold any row.
		f.Null = op == OpIs || op == OpIsNot
	case isMap:
		sub := normaliser[W]{md: r.Target, condOf: n.condOf, rels: n.rels}
		e, err := sub.where(W(m), depth+1)
		if err != nil {
			return Expr{}, err
		}
		f.Where = e
	default:
		return Expr{}, verr.Validationf("", "%s takes a Where, not %T", relOpName(op), v)
	}
	return Expr{Kind: Rel, Rel: f}, nil
}

// ---- cursor, negative take, distinct ----

// Find normalises the arguments of findMany and findFirst: where, order,
// page (a negative take counts from the end), cursor and distinct.
func Find[W ~map[string]any](md *schema.Model, rels Rels, w W, order []OrderBy, take *int, skip int, cursor W, distinct []string, condOf CondOf) (*Query, error) {
	q, err := whereOrder(md, rels, w, order, condOf)
	if err != nil {
		return nil, err
	}
	if err = q.PageBack(take, skip); err != nil {
		return nil, err
	}
	if len(cursor) > 0 {
		if err := PinsUnique(md, cursor, condOf); err != nil {
			return nil, verr.UnderPath(verr.Validationf("", "%s", err.(*verr.Error).Message), "cursor")
		}
		if q.ext().Cursor, err = Where(md, cursor, "cursor", condOf); err != nil {
			return nil, err
		}
	}
	if err = q.SetDistinct(md, distinct); err != nil {
		return nil, err
	}
	q.Tiebreak(md)
	return q, nil
}

// PageBack sets q's take and skip; a negative take takes |take| rows from
// the end of the order (q.Ext.Back).
func (q *Query) PageBack(take *int, skip int) error {
	if take != nil && *take < 0 {
		t := -*take
		if t < 0 {
			return verr.Validationf("take", "take out of range")
		}
		if err := q.Page(&t, skip); err != nil {
			return err
		}
		q.ext().Back = true
		return nil
	}
	return q.Page(take, skip)
}

// SetDistinct sets q's distinct fields, in model order without duplicates.
func (q *Query) SetDistinct(md *schema.Model, names []string) error {
	if len(names) == 0 {
		return nil
	}
	x := q.ext()
	for i, n := range names {
		f := md.ByName[n]
		if f == nil {
			return verr.Validationf("distinct["+strconv.Itoa(i)+"]", "unknown field %q", n)
		}
		if f.Kind == s.KindJSON {
			return verr.Validationf("distinct["+strconv.Itoa(i)+"]", "json field %q cannot be distinct", n)
		}
		if !slices.Contains(x.Distinct, f) {
			x.Distinct = append(x.Distinct, f)
		}
	}
	slices.SortFunc(x.Distinct, func(a, b *schema.Field) int { return a.Idx - b.Idx })
	return nil
}

// Tiebreak makes the order of a cursor, back or distinct read total: the
// primary key is appended (its fields not yet sorted on) unless the sort
// keys already hold every field of a unique constraint of non-nullable
// fields.
func (q *Query) Tiebreak(md *schema.Model) {
	if !q.Paged() {
		return
	}
	in := func(f *schema.Field) bool {
		for _, o := range q.Order {
			if o.Agg == "" && o.F == f {
				return true
			}
		}
		return false
	}
	for _, u := range md.Uniques {
		ok := true
		for _, f := range u {
			if f.Def.Nullable || !in(f) {
				ok = false
				break
			}
		}
		if ok {
			return
		}
	}
	for _, f := range md.PK {
		if !in(f) {
			q.Order = append(q.Order, Order{F: f})
		}
	}
}

func appendPaging(b []byte, x *Ext) []byte {
	if x.Cursor != nil {
		b = appendExpr(append(b, 'U'), x.Cursor)
	}
	if x.Back {
		b = append(b, 'V')
	}
	if len(x.Distinct) > 0 {
		b = appendUvarint(append(b, 'D'), uint64(len(x.Distinct)))
		for _, f := range x.Distinct {
			b = appendStr(b, f.Name)
		}
	}
	return b
}

// ---- dependencies ----

// relFilterModels appends to out the models (and junction tables) named
// by the relation filters of e, recursively.
func relFilterModels(e *Expr, out []string) []string {
	if e == nil {
		return out
	}
	if e.Kind == Rel {
		f := e.Rel
		out = append(out, f.R.Target.Name)
		if f.R.Junction != nil {
			out = append(out, f.R.Junction.Table)
		}
		return relFilterModels(f.Where, out)
	}
	for i := range e.Kids {
		out = relFilterModels(&e.Kids[i], out)
	}
	return out
}
