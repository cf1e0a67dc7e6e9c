package query

import (
	"slices"
	"strconv"
	"strings"

	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/internal/verr"
	"github.com/viborm/viborm-go/s"
)

// MaxWhereDepth is how deeply a where may nest: through AND, OR and NOT,
// and through Not conditions on one field. The where itself is level 1.
const MaxWhereDepth = 64

// Cond is a condition on one field: its operators, combined with AND, and
// whether the text comparisons ignore case. viborm.Cond wraps one.
type Cond struct {
	Ops []CondOp
	CI  bool
}

// CondOp is one operator of a [Cond] with its operand as given.
type CondOp struct {
	Op Op
	V  any // for OpIn and OpNotIn a []any; for OpNot possibly a nested condition
}

// CondOf returns the condition held by v, a value of a where (the public
// Cond types, which this package cannot name); ok is false when v is a
// plain value. A nil *Cond is returned for a nil condition.
type CondOf func(v any) (c *Cond, ok bool)

// Where normalises w, a where of md, whose nested wheres have type W or
// []W (or map[string]any). Errors name the path under path ("where").
func Where[W ~map[string]any](md *schema.Model, w W, path string, condOf CondOf) (*Expr, error) {
	return WhereRels(md, nil, w, path, condOf)
}

// WhereRels is [Where] with the client's relations: a key naming a
// relation of md takes a relation filter (relfilter.go).
func WhereRels[W ~map[string]any](md *schema.Model, rels Rels, w W, path string, condOf CondOf) (*Expr, error) {
	n := normaliser[W]{md: md, condOf: condOf, rels: rels}
	e, err := n.where(w, 1)
	if err != nil {
		return nil, verr.UnderPath(err, path)
	}
	return e, nil
}

type normaliser[W ~map[string]any] struct {
	md     *schema.Model
	condOf CondOf
	rels   Rels
}

func depthError() *verr.Error {
	return verr.Validationf("", "the where nests deeper than %d levels (MaxWhereDepth)", MaxWhereDepth)
}

func (n normaliser[W]) where(w W, depth int) (*Expr, error) {
	if len(w) == 0 {
		return nil, nil
	}
	if depth > MaxWhereDepth {
		return nil, depthError()
	}
	keys := make([]string, 0, len(w))
	var only any // the value of the only key: most wheres have one
	for k, v := range w {
		keys = append(keys, k)
		only = v
	}
	if len(keys) > 1 {
		slices.Sort(keys)
	}
	var kids []Expr
	for _, k := range keys {
		v := only
		if len(keys) > 1 {
			v = w[k]
		}
		switch k {
		case "AND", "OR", "NOT":
			var ws []W
			switch x := v.(type) {
			case W:
				ws = []W{x}
			case map[string]any:
				ws = []W{x}
			case []W:
				ws = x
			case nil:
				continue
			default:
				return nil, verr.Validationf(k, "%s takes a Where or a []Where, not %T", k, v)
			}
			var sub []Expr
			for i, x := range ws {
				e, err := n.where(x, depth+1)
				if err != nil {
					return nil, verr.UnderPath(verr.UnderPath(err, "["+strconv.Itoa(i)+"]"), k)
				}
				if e != nil {
					sub = append(sub, *e)
				}
			}
			switch k {
			case "AND":
				kids = append(kids, sub...)
			case "OR":
				if len(sub) == 0 {
					// OR of nothing is false.
					kids = append(kids, Expr{Kind: Or})
				} else {
					kids = append(kids, Expr{Kind: Or, Kids: sub})
				}
			case "NOT":
				if len(sub) > 0 {
					kids = append(kids, Expr{Kind: Not, Kids: []Expr{{Kind: And, Kids: sub}}})
				}
			}
			continue
		}
		var e Expr
		var err error
		if f := n.md.ByName[k]; f != nil {
			e, err = n.cond(f, v, depth)
		} else {
			r := FindRel(n.rels, n.md, k)
			if r == nil {
				return nil, verr.Validationf(k, "unknown field %q of model %s", k, n.md.Name)
			}
			e, err = n.relFilter(r, v, depth)
		}
		if err != nil {
			return nil, verr.UnderPath(err, k)
		}
		if e.Kind == And {
			kids = append(kids, e.Kids...)
		} else {
			kids = append(kids, e)
		}
	}
	if len(kids) == 1 {
		return &kids[0], nil
	}
	if len(kids) == 0 {
		return nil, nil
	}
	return &Expr{Kind: And, Kids: kids}, nil
}

func (n normaliser[W]) cond(f *schema.Field, v any, depth int) (Expr, error) {
	if depth > MaxWhereDepth {
		return Expr{}, depthError()
	}
	c, ok := n.condOf(v)
	if !ok {
		if v == nil {
			if !f.Def.Nullable {
				return Expr{}, verr.Validationf("", "field %s is not nullable", f.Name)
			}
			return Expr{Kind: Cmp, F: f, Op: OpIsNull}, nil
		}
		if f.Kind == s.KindJSON || f.Kind == s.KindBytes {
			return Expr{}, verr.Validationf("", "%s fields can only be compared with nil", f.Kind)
		}
		cv, err := schema.Coerce(f, v)
		if err != nil {
			return Expr{}, verr.Validationf("", "%v", err)
		}
		return Expr{Kind: Cmp, F: f, Op: OpEq, V: cv}, nil
	}
	if c == nil || len(c.Ops) == 0 {
		return Expr{}, verr.Validationf("", "empty condition")
	}
	var kids []Expr
	for _, o := range c.Ops {
		e, err := n.op(f, o, c.CI, depth)
		if err != nil {
			return Expr{}, err
		}
		kids = append(kids, e)
	}
	if len(kids) == 1 {
		return kids[0], nil
	}
	return Expr{Kind: And, Kids: kids}, nil
}

func (n normaliser[W]) op(f *schema.Field, o CondOp, ci bool, depth int) (Expr, error) {
	if o.Op >= OpSome {
		return Expr{}, verr.Validationf("", "%s is a field, not a relation: %s filters relations", f.Name, relOpName(o.Op))
	}
	if ci && !schema.IsText(f.Kind) {
		return Expr{}, verr.Validationf("", "insensitive mode needs a string field")
	}
	if (f.Kind == s.KindJSON || f.Kind == s.KindBytes) && !((o.Op == OpEq || o.Op == OpNot) && o.V == nil) {
		return Expr{}, verr.Validationf("", "%s fields can only be compared with nil", f.Kind)
	}
	e := Expr{Kind: Cmp, F: f, Op: o.Op, CI: ci}
	switch o.Op {
	case OpEq, OpNot:
		if o.Op == OpNot && o.V != nil {
			if _, isCond := n.condOf(o.V); isCond {
				inner, err := n.cond(f, o.V, depth+1)
				if err != nil {
					return Expr{}, err
				}
				return Expr{Kind: Not, Kids: []Expr{inner}}, nil
			}
		}
		if o.V == nil {
			if !f.Def.Nullable {
				return Expr{}, verr.Validationf("", "field %s is not nullable", f.Name)
			}
			if o.Op == OpEq {
				e.Op = OpIsNull
			} else {
				e.Op = OpNotNull
			}
			return e, nil
		}
	case OpIn, OpNotIn:
		vs := o.V.([]any)
		out := make([]any, len(vs))
		for i, v := range vs {
			cv, err := schema.Coerce(f, v)
			if err != nil {
				return Expr{}, verr.Validationf("", "%v", err)
			}
			if cv == nil {
				return Expr{}, verr.Validationf("", "in/notIn cannot hold nil")
			}
			out[i] = cv
		}
		e.V = out
		return e, nil
	case OpContains, OpStartsWith, OpEndsWith:
		if !schema.IsText(f.Kind) {
			return Expr{}, verr.Validationf("", "contains/startsWith/endsWith need a string field")
		}
		e.V = o.V
		return e, nil
	}
	cv, err := schema.Coerce(f, o.V)
	if err != nil {
		return Expr{}, verr.Validationf("", "%v", err)
	}
	if cv == nil {
		return Expr{}, verr.Validationf("", "comparison with nil")
	}
	e.V = cv
	return e, nil
}

// PinsUnique reports whether w pins one row of md: it holds equalities on
// every field of the id or of a unique constraint. The error lists the
// keys that would.
func PinsUnique[W ~map[string]any](md *schema.Model, w W, condOf CondOf) error {
	for _, u := range md.Uniques {
		ok := true
		for _, f := range u {
			v, has := w[f.Name]
			if !has || v == nil {
				ok = false
				break
			}
			if c, isCond := condOf(v); isCond {
				if c == nil || len(c.Ops) != 1 || c.Ops[0].Op != OpEq || c.CI || c.Ops[0].V == nil {
					ok = false
					break
				}
			}
		}
		if ok {
			return nil
		}
	}
	var names []string
	for _, u := range md.Uniques {
		var fs []string
		for _, f := range u {
			fs = append(fs, f.Name)
		}
		names = append(names, strings.Join(fs, "+"))
	}
	return verr.Validationf("where", "must select a unique record by one of: %s", strings.Join(names, ", "))
}
