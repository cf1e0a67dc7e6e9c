package schema

import (
	"slices"

	"github.com/viborm/viborm-go/internal/verr"
	"github.com/viborm/viborm-go/s"
)

// Resolve resolves the relations of every model of models (by name)
// against the others. Models are shared between clients, so the result
// belongs to one client.
func Resolve(models map[string]*Model) (map[*Model][]*Relation, error) {
	out := make(map[*Model][]*Relation, len(models))
	for _, md := range models {
		rels, err := resolve(models, md)
		if err != nil {
			return nil, err
		}
		out[md] = rels
	}
	if err := pairJunctions(models, out); err != nil {
		return nil, err
	}
	linkBacks(out)
	return out, nil
}

func resolve(models map[string]*Model, md *Model) ([]*Relation, error) {
	var out []*Relation
	for _, rd := range md.RelDefs {
		t := models[rd.Target]
		if t == nil {
			return nil, verr.Schemaf(md.Name, rd.Name, "relation target %q is not among Config.Models", rd.Target)
		}
		if md.ByName[rd.Name] != nil {
			return nil, verr.Schemaf(md.Name, rd.Name, "a relation has the name of a field")
		}
		r := &Relation{Def: rd, Target: t, Model: md}
		if rd.Kind == s.ManyToManyKind {
			if len(rd.Fields) > 0 || len(rd.References) > 0 {
				return nil, verr.Schemaf(md.Name, rd.Name, "a many-to-many relation has no foreign key fields: its junction table holds them")
			}
			if rd.OnDelete != "" || rd.OnUpdate != "" {
				return nil, verr.Schemaf(md.Name, rd.Name, "a many-to-many relation's junction rows are always deleted with either side (ON DELETE CASCADE)")
			}
			out = append(out, r)
			continue
		}
		if rd.Through != "" {
			return nil, verr.Schemaf(md.Name, rd.Name, "Through is for many-to-many relations")
		}
		if len(rd.Fields) != len(rd.References) {
			return nil, verr.Schemaf(md.Name, rd.Name, "fields and references must have the same length")
		}
		if rd.Kind == s.OneToManyKind && len(rd.Fields) > 0 {
			return nil, verr.Schemaf(md.Name, rd.Name, "a one-to-many relation cannot hold the foreign key; declare it on the many-to-one side")
		}
		if rd.Kind == s.ManyToOneKind && len(rd.Fields) == 0 {
			return nil, verr.Schemaf(md.Name, rd.Name, "a many-to-one relation needs Fields(...) and References(...)")
		}
		for i, n := range rd.Fields {
			f := md.ByName[n]
			if f == nil {
				return nil, verr.Schemaf(md.Name, rd.Name, "unknown foreign key field %q", n)
			}
			ref := t.ByName[rd.References[i]]
			if ref == nil {
				return nil, verr.Schemaf(md.Name, rd.Name, "unknown referenced field %q of %s", rd.References[i], t.Name)
			}
			if ref.Kind != f.Kind && !(IsInt(ref.Kind) && IsInt(f.Kind)) {
				return nil, verr.Schemaf(md.Name, rd.Name, "foreign key %s (%s) does not match %s.%s (%s)", n, f.Kind, t.Name, ref.Name, ref.Kind)
			}
			r.Fields = append(r.Fields, f)
			r.Refs = append(r.Refs, ref)
		}
		if len(r.Refs) > 0 && !t.IsUniqueSet(r.Refs) {
			return nil, verr.Schemaf(md.Name, rd.Name, "the referenced fields of %s are not its id or a unique constraint", t.Name)
		}
		if rd.OnDelete == s.SetNull || rd.OnUpdate == s.SetNull {
			for _, f := range r.Fields {
				if !f.Def.Nullable {
					return nil, verr.Schemaf(md.Name, rd.Name, "SET NULL needs nullable foreign key fields")
				}
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// FKOrder returns models in an order where every model comes after the
// models its foreign keys reference (self-references aside), ties broken
// by name, so that their tables can be created in that order.
func FKOrder(models map[string]*Model, rels map[*Model][]*Relation) []*Model {
	names := make([]string, 0, len(models))
	for n := range models {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []*Model
	state := map[*Model]int{}
	var visit func(md *Model)
	visit = func(md *Model) {
		if state[md] != 0 {
			return
		}
		state[md] = 1
		for _, r := range rels[md] {
			if len(r.Fields) > 0 && r.Target != md {
				visit(r.Target)
			}
		}
		state[md] = 2
		out = append(out, md)
	}
	for _, n := range names {
		visit(models[n])
	}
	return out
}
