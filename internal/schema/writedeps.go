package schema

import (
	"slices"

	"github.com/viborm/viborm-go/s"
)

// WriteOp is the kind of a write, for [Model.WriteDeps].
type WriteOp uint8

// The kinds of write.
const (
	WriteCreate WriteOp = iota + 1
	WriteUpdate
	WriteDelete
)

// WriteDeps returns the dependency tokens of the models whose rows a write
// op on md can change, md included, sorted: for a delete, the models its
// foreign keys' ON DELETE CASCADE / SET NULL / SET DEFAULT actions change
// without a statement of ours, followed transitively (a cascaded delete
// cascades further; a SET NULL is an update of the referencing columns),
// and the junction tables of md's many-to-many relations; for an update,
// the models the ON UPDATE actions of the foreign keys referencing one of
// changed (nil: any field) change, transitively, and the junction tables
// when the id changes. A create changes md alone. The token of a model is
// its name, that of a junction its table (see [Junction]).
func (md *Model) WriteDeps(rels map[*Model][]*Relation, op WriteOp, changed []*Field) []string {
	w := &depWalk{rels: rels, set: map[string]bool{}, deleted: map[*Model]bool{}, updated: map[*Field]bool{}}
	switch op {
	case WriteDelete:
		w.del(md)
	case WriteUpdate:
		if changed == nil {
			changed = md.Fields
		}
		w.upd(md, changed)
	default:
		w.set[md.Name] = true
	}
	out := make([]string, 0, len(w.set))
	for k := range w.set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

type depWalk struct {
	rels    map[*Model][]*Relation
	set     map[string]bool
	deleted map[*Model]bool
	updated map[*Field]bool
}

// referencing calls fn for each relation holding a foreign key to md.
func (w *depWalk) referencing(md *Model, fn func(r *Relation)) {
	for _, rs := range w.rels {
		for _, r := range rs {
			if r.Target == md && len(r.Fields) > 0 {
				fn(r)
			}
		}
	}
}

// junctions calls fn for each junction table holding md's id.
func (w *depWalk) junctions(md *Model, fn func(j *Junction)) {
	for _, rs := range w.rels {
		for _, r := range rs {
			if r.Junction != nil && (r.Model == md || r.Target == md) {
				fn(r.Junction)
			}
		}
	}
}

func (w *depWalk) del(md *Model) {
	if w.deleted[md] {
		return
	}
	w.deleted[md] = true
	w.set[md.Name] = true
	w.junctions(md, func(j *Junction) { w.set[j.Table] = true })
	w.referencing(md, func(r *Relation) {
		switch r.Def.OnDelete {
		case s.Cascade:
			w.del(r.Model)
		case s.SetNull, s.SetDefault:
			w.upd(r.Model, r.Fields)
		}
	})
}

func (w *depWalk) upd(md *Model, fs []*Field) {
	w.set[md.Name] = true
	var fresh []*Field
	for _, f := range fs {
		if !w.updated[f] {
			w.updated[f] = true
			fresh = append(fresh, f)
		}
	}
	if len(fresh) == 0 {
		return
	}
	touches := func(refs []*Field) bool {
		for _, f := range refs {
			if slices.Contains(fresh, f) {
				return true
			}
		}
		return false
	}
	if touches(md.PK) {
		w.junctions(md, func(j *Junction) { w.set[j.Table] = true })
	}
	w.referencing(md, func(r *Relation) {
		if !touches(r.Refs) {
			return
		}
		switch r.Def.OnUpdate {
		case s.Cascade, s.SetNull, s.SetDefault:
			w.upd(r.Model, r.Fields)
		}
	})
}
