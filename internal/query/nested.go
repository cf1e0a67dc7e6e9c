package query

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/internal/verr"
	"github.com/viborm/viborm-go/s"
)

// MaxNestedDepth is how deep nested creates may nest inside one another.
const MaxNestedDepth = 8

// NestedArgs is a nested write on one relation as the caller gave it (the
// public viborm.Nested, which this package cannot name).
type NestedArgs struct {
	Create     []map[string]any
	Connect    []map[string]any
	Disconnect []map[string]any
	Unset      bool // to-one: disconnect the related row
}

// NestedOf reads the nested write held by v, a value of a Data; ok is
// false when v is not one.
type NestedOf func(v any) (n NestedArgs, ok bool)

// Write is a normalised create or update of one row with its nested writes.
type Write struct {
	Model  *schema.Model
	Items  []Set     // the row's own assignments (see Data)
	Nested []*Nested // in relation name order
}

// Nested is a normalised nested write on the relation Rel of a Write.
type Nested struct {
	Rel        *schema.Relation
	Path       string   // the argument path, "data.posts"
	Create     []*Write // rows of Rel.Target to create and relate
	Connect    []*Expr  // unique wheres of rows of Rel.Target to relate
	Disconnect []*Expr  // to-many: unique wheres of related rows to unrelate
	Unset      bool     // to-one: unrelate the related row
}

// Owning reports whether the parent row holds the foreign key of n's
// relation, so that its target must exist before the parent is written.
func (n *Nested) Owning() bool { return len(n.Rel.Fields) > 0 }

// WriteData normalises the data of a create (create true) or update of md
// whose values may be nested writes on md's relations (rels), read by
// nestedOf. Without nested writes it is Data's result in a Write.
func WriteData(md *schema.Model, rels map[*schema.Model][]*schema.Relation, data map[string]any, create bool, now time.Time, updateOf UpdateOf, nestedOf NestedOf, condOf CondOf) (*Write, error) {
	return writeData(md, rels, data, "data", create, now, updateOf, nestedOf, condOf, 0)
}

// rebase moves the argument path of err from under "data" (or "where") to
// under path.
func rebase(err error, from, path string) error {
	e, ok := err.(*verr.Error)
	if !ok {
		return err
	}
	switch {
	case e.Field == from:
		e.Field = path
	case strings.HasPrefix(e.Field, from+"."), strings.HasPrefix(e.Field, from+"["):
		e.Field = path + e.Field[len(from):]
	case e.Field == "":
		e.Field = path
	}
	return e
}

func relByName(rels []*schema.Relation, name string) *schema.Relation {
	for _, r := range rels {
		if r.Def.Name == name {
			return r
		}
	}
	return nil
}

func writeData(md *schema.Model, rels map[*schema.Model][]*schema.Relation, data map[string]any, path string, create bool, now time.Time, updateOf UpdateOf, nestedOf NestedOf, condOf CondOf, depth int) (*Write, error) {
	if depth > MaxNestedDepth {
		return nil, verr.Validationf(path, "nested writes nest deeper than %d levels", MaxNestedDepth)
	}
	scalars := make(map[string]any, len(data))
	var names []string
	for k, v := range data {
		if md.ByName[k] != nil {
			scalars[k] = v
			continue
		}
		r := relByName(rels[md], k)
		_, isNested := nestedOf(v)
		switch {
		case r == nil && isNested:
			return nil, verr.Validationf(path+"."+k, "unknown relation %q of model %s", k, md.Name)
		case r == nil:
			scalars[k] = v // reported by Data as an unknown field
		case !isNested:
			return nil, verr.Validationf(path+"."+k, "relation %s of model %s takes a nested write (viborm.Connect, viborm.CreateNested, viborm.Nested)", k, md.Name)
		default:
			names = append(names, k)
		}
	}
	items, err := Data(md, scalars, create, now, updateOf)
	if err != nil {
		return nil, rebase(err, "data", path)
	}
	w := &Write{Model: md, Items: items}
	slices.Sort(names)
	for _, k := range names {
		args, _ := nestedOf(data[k])
		n, err := nested(relByName(rels[md], k), rels, args, path+"."+k, create, items, now, updateOf, nestedOf, condOf, depth)
		if err != nil {
			return nil, err
		}
		if n != nil {
			w.Nested = append(w.Nested, n)
		}
	}
	return w, nil
}

func nested(r *schema.Relation, rels map[*schema.Model][]*schema.Relation, a NestedArgs, path string, create bool, parent []Set, now time.Time, updateOf UpdateOf, nestedOf NestedOf, condOf CondOf, depth int) (*Nested, error) {
	n := &Nested{Rel: r, Path: path, Unset: a.Unset}
	toMany := r.IsToMany()
	t := r.Target
	if create && (len(a.Disconnect) > 0 || a.Unset) {
		return nil, verr.Validationf(path, "disconnect is only for updates")
	}
	if !toMany {
		if len(a.Create)+len(a.Connect) > 1 {
			return nil, verr.Validationf(path, "a to-one relation takes one create or one connect")
		}
		if len(a.Disconnect) > 0 {
			return nil, verr.Validationf(path+".disconnect", "a to-one relation is disconnected with viborm.Disconnect() and no where")
		}
		if a.Unset && len(a.Create)+len(a.Connect) > 0 {
			return nil, verr.Validationf(path, "a to-one relation cannot be disconnected and connected at once")
		}
	} else if a.Unset {
		return nil, verr.Validationf(path+".disconnect", "a to-many relation is disconnected row by row: viborm.Disconnect(where...)")
	}
	// The columns the nested write sets.
	var fk []*schema.Field
	switch {
	case r.Def.Kind == s.ManyToManyKind:
		if r.Junction == nil {
			return nil, verr.Validationf(path, "relation %s has no junction table", r.Def.Name)
		}
	case len(r.Fields) > 0:
		fk = r.Fields
		for _, it := range parent {
			if slices.Contains(fk, it.F) {
				return nil, verr.Validationf(path, "the foreign key %s is set both directly and by a nested write", it.F.Name)
			}
		}
	default:
		if r.Back == nil || len(r.Back.Fields) == 0 {
			return nil, verr.Validationf(path, "relation %s of model %s has no inverse relation on %s holding the foreign key", r.Def.Name, r.Model.Name, t.Name)
		}
		fk = r.Back.Fields
	}
	if (a.Unset || len(a.Disconnect) > 0) && fk != nil {
		for _, f := range fk {
			if !f.Def.Nullable {
				return nil, verr.Validationf(path+".disconnect", "the foreign key %s.%s is not nullable: delete the row instead", f.Name, f.Name)
			}
		}
	}
	ix := func(i int) string {
		if toMany {
			return "[" + strconv.Itoa(i) + "]"
		}
		return ""
	}
	for i, d := range a.Create {
		p := path + ".create" + ix(i)
		if fk != nil && len(r.Fields) == 0 {
			for _, f := range fk {
				if _, set := d[f.Name]; set {
					return nil, verr.Validationf(p+"."+f.Name, "set by the nested create from the parent row")
				}
			}
		}
		cw, err := writeData(t, rels, d, p, true, now, updateOf, nestedOf, condOf, depth+1)
		if err != nil {
			return nil, err
		}
		n.Create = append(n.Create, cw)
	}
	for i, w := range a.Connect {
		e, err := UniqueWhere(t, w, condOf)
		if err != nil {
			return nil, rebase(err, "where", path+".connect"+ix(i))
		}
		n.Connect = append(n.Connect, e)
	}
	for i, w := range a.Disconnect {
		e, err := UniqueWhere(t, w, condOf)
		if err != nil {
			return nil, rebase(err, "where", path+".disconnect"+ix(i))
		}
		n.Disconnect = append(n.Disconnect, e)
	}
	if len(n.Create)+len(n.Connect)+len(n.Disconnect) == 0 && !n.Unset {
		return nil, nil
	}
	return n, nil
}

// Deps returns the dependency tokens of the models the write w changes
// (op is that of w's own row): w's model and what its foreign key actions
// change (see schema.Model.WriteDeps), the rows its nested writes create or
// relate, and the junction tables they write, sorted.
func (w *Write) Deps(rels map[*schema.Model][]*schema.Relation, op schema.WriteOp) []string {
	set := map[string]bool{}
	w.deps(rels, op, set)
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func (w *Write) deps(rels map[*schema.Model][]*schema.Relation, op schema.WriteOp, set map[string]bool) {
	var changed []*schema.Field
	for _, it := range w.Items {
		changed = append(changed, it.F)
	}
	for _, n := range w.Nested {
		if n.Owning() {
			changed = append(changed, n.Rel.Fields...)
		}
	}
	if op == schema.WriteUpdate && len(changed) == 0 {
		set[w.Model.Name] = true
	} else {
		for _, k := range w.Model.WriteDeps(rels, op, changed) {
			set[k] = true
		}
	}
	for _, n := range w.Nested {
		for _, c := range n.Create {
			c.deps(rels, schema.WriteCreate, set)
		}
		switch {
		case n.Rel.Junction != nil:
			set[n.Rel.Junction.Table] = true
		case !n.Owning() && (len(n.Connect) > 0 || len(n.Disconnect) > 0 || n.Unset):
			for _, k := range n.Rel.Target.WriteDeps(rels, schema.WriteUpdate, n.Rel.Back.Fields) {
				set[k] = true
			}
		}
	}
}
