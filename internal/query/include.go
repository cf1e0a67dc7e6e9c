package query

import (
	"maps"
	"slices"

	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/internal/verr"
)

// MaxIncludeDepth is how deeply includes may nest: an include of the read
// is level 1, an include inside it level 2, and so on.
const MaxIncludeDepth = 8

// Include is one included relation, normalised: the relation, how its rows
// are matched with their parents, the struct field that receives them (nil
// for Row parents) and the child read (its where, order, page, selection —
// widened by the keys the match needs — and its own includes and counts).
type Include struct {
	Name string
	Rel  *schema.Relation
	Link schema.Link
	Bind *schema.RelBind
	Q    *Query
}

// RelCount is one relation count (VibORM's _count): the to-many relation
// and an optional where on its rows.
type RelCount struct {
	Name  string
	Rel   *schema.Relation
	Link  schema.Link
	Where *Expr
	// CountIndex is the parent's _count struct field and Field the
	// relation's field in it (both nil for Row parents).
	CountIndex []int
	Field      []int
}

// IncludeArg is one include as given: the relation's read arguments.
type IncludeArg struct {
	Where   map[string]any
	OrderBy []OrderBy
	Take    *int
	Skip    int
	Select  []string
	Omit    []string
	Include map[string]IncludeArg
	Count   map[string]map[string]any
}

// RelEnv is what the normaliser of includes needs from the client: the
// resolved relations of a model and the struct fields bound to them.
type RelEnv struct {
	Rels Rels
	// Where normalises a where of md (the root's normaliser, so that
	// relation filters work inside includes).
	Where func(md *schema.Model, w map[string]any, path string) (*Expr, error)
}

func (env *RelEnv) rel(md *schema.Model, name string) *schema.Relation {
	for _, r := range env.Rels[md] {
		if r.Def.Name == name {
			return r
		}
	}
	return nil
}

// SetIncludes normalises the includes inc and the relation counts counts
// of a read of md into q, whose selection is set: the selection is widened
// by the parent keys the includes need. path is the argument path of the
// includes ("include"), depth their level (1 for a read's own).
func (q *Query) SetIncludes(env *RelEnv, md *schema.Model, inc map[string]IncludeArg, counts map[string]map[string]any, path string, depth int) error {
	if len(inc) == 0 && len(counts) == 0 {
		return nil
	}
	if env == nil || env.Rels == nil || env.Where == nil {
		return verr.Validationf(path, "includes need the client's relations")
	}
	if depth > MaxIncludeDepth {
		return verr.Validationf(path, "includes nest deeper than %d levels (MaxIncludeDepth)", MaxIncludeDepth)
	}
	names := slices.Sorted(maps.Keys(inc))
	for _, n := range names {
		p := path + "." + n
		r := env.rel(md, n)
		if r == nil {
			if md.ByName[n] != nil {
				return verr.Validationf(p, "%q is a scalar field of %s, not a relation", n, md.Name)
			}
			return verr.Validationf(p, "unknown relation %q of model %s", n, md.Name)
		}
		link, err := schema.LinkOf(r)
		if err != nil {
			return verr.Validationf(p, "%v", err)
		}
		it := Include{Name: n, Rel: r, Link: link}
		if md.GoType != nil {
			if it.Bind = schema.RelBindOf(r); it.Bind == nil {
				return verr.Validationf(p, "%s has no field for the relation %q (add one of its relation type, or use Row)", md.GoType, n)
			}
		}
		a := inc[n]
		if it.Q, err = childQuery(env, r.Target, link, a, p, depth); err != nil {
			return err
		}
		x := q.ext()
		x.Inc = append(x.Inc, it)
		q.Sel = widen(md, q.Sel, link.ParentKeys)
	}
	cnames := slices.Sorted(maps.Keys(counts))
	var cb *schema.CountBind
	if md.GoType != nil && len(cnames) > 0 {
		if cb = schema.CountBindOf(md); cb == nil {
			return verr.Validationf(path+"._count", "%s has no `viborm:\"_count\"` field for relation counts", md.GoType)
		}
	}
	for _, n := range cnames {
		p := path + "._count." + n
		r := env.rel(md, n)
		if r == nil || !r.IsToMany() {
			if r == nil && md.ByName[n] == nil {
				return verr.Validationf(p, "unknown relation %q of model %s", n, md.Name)
			}
			return verr.Validationf(p, "%q is not a to-many relation of %s: only to-many relations are counted", n, md.Name)
		}
		link, err := schema.LinkOf(r)
		if err != nil {
			return verr.Validationf(p, "%v", err)
		}
		c := RelCount{Name: n, Rel: r, Link: link}
		if cb != nil {
			c.CountIndex = cb.Index
			if c.Field = cb.Fields[n]; c.Field == nil {
				return verr.Validationf(p, "the count struct of %s has no field for %q", md.GoType, n)
			}
		}
		if c.Where, err = env.Where(r.Target, counts[n], p+".where"); err != nil {
			return err
		}
		x := q.ext()
		x.Counts = append(x.Counts, c)
		q.Sel = widen(md, q.Sel, md.PK)
	}
	return nil
}

func childQuery(env *RelEnv, t *schema.Model, link schema.Link, a IncludeArg, p string, depth int) (*Query, error) {
	cq := &Query{}
	var err error
	if cq.Where, err = env.Where(t, a.Where, p+".where"); err != nil {
		return nil, err
	}
	if !link.Many && (len(a.OrderBy) > 0 || a.Take != nil || a.Skip != 0) {
		return nil, verr.Validationf(p, "orderBy, take and skip apply to to-many relations only")
	}
	if cq.Order, err = Sort(t, a.OrderBy, false); err != nil {
		return nil, verr.UnderPath(err, p)
	}
	if err = cq.Page(a.Take, a.Skip); err != nil {
		return nil, verr.UnderPath(err, p)
	}
	if cq.Sel, err = Select(t, a.Select, a.Omit); err != nil {
		return nil, verr.UnderPath(err, p)
	}
	cq.Sel = widen(t, cq.Sel, link.ChildKeys)
	if link.Junction != nil {
		cq.Sel = widen(t, cq.Sel, link.Junction.TargetRefs)
	}
	if err = cq.SetIncludes(env, t, a.Include, a.Count, p+".include", depth+1); err != nil {
		return nil, err
	}
	return cq, nil
}

// widen returns sel with the fields keys added, in model order.
func widen(md *schema.Model, sel, keys []*schema.Field) []*schema.Field {
	missing := false
	for _, k := range keys {
		if !slices.Contains(sel, k) {
			missing = true
		}
	}
	if !missing {
		return sel
	}
	out := make([]*schema.Field, 0, len(sel)+len(keys))
	for _, f := range md.Fields {
		if slices.Contains(sel, f) || slices.Contains(keys, f) {
			out = append(out, f)
		}
	}
	return out
}

// HasRel reports whether q includes relations or counts them.
func (q *Query) HasRel() bool {
	return q != nil && q.Ext != nil && (len(q.Ext.Inc) > 0 || len(q.Ext.Counts) > 0)
}

// sameRels reports whether a and b include and count the same relations
// with results of the same shape.
func sameRels(a, b *Query) bool {
	ai, bi, ac, bc := a.Includes(), b.Includes(), a.RelCounts(), b.RelCounts()
	if len(ai) != len(bi) || len(ac) != len(bc) {
		return false
	}
	for i := range ai {
		if ai[i].Rel != bi[i].Rel || !SameShape(ai[i].Q, bi[i].Q) {
			return false
		}
	}
	for i := range ac {
		if ac[i].Rel != bc[i].Rel {
			return false
		}
	}
	return true
}
