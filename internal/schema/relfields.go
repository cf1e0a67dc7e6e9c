package schema

import (
	"reflect"
	"sync"

	"github.com/viborm/viborm-go/internal/verr"
	"github.com/viborm/viborm-go/s"
)

// Link is how the rows of a relation's target are matched with the rows of
// the model that declares it: a parent row's ParentKeys values equal its
// children's ChildKeys values. For a many-to-many relation the match goes
// through Junction: ParentKeys are the parent's id, and the junction's
// SourceCols hold them; its TargetCols hold the target's TargetRefs.
type Link struct {
	Many       bool     // the relation holds many rows (to-many, many-to-many)
	ParentKeys []*Field // fields of the declaring model
	ChildKeys  []*Field // fields of the target (nil for many-to-many)
	Junction   *Junction
}

// LinkOf returns how r's rows are matched, or a schema error when r cannot
// be loaded (an inverse relation whose owning side is missing or
// ambiguous).
func LinkOf(r *Relation) (Link, error) {
	if r.Junction != nil {
		return Link{Many: true, ParentKeys: r.Junction.SourceRefs, Junction: r.Junction}, nil
	}
	if len(r.Fields) > 0 {
		return Link{ParentKeys: r.Fields, ChildKeys: r.Refs}, nil
	}
	b := r.Back
	if b == nil || len(b.Fields) == 0 {
		return Link{}, verr.Schemaf(r.Model.Name, r.Def.Name, "the relation has no owning side on %s (a many-to-one or one-to-one with Fields pointing back)", r.Target.Name)
	}
	return Link{Many: r.Def.Kind == s.OneToManyKind, ParentKeys: b.Refs, ChildKeys: b.Fields}, nil
}

// RelBind ties a relation to the struct field of its declaring model's Go
// type that receives the included rows: a []E for a to-many relation, a
// *E for a to-one relation (E the target's Go type), or for a target bound
// to Row a []Row or a Row.
type RelBind struct {
	Index []int
	Type  reflect.Type
}

// CountBind ties the relation counts of a model to its `viborm:"_count"`
// struct field: a struct whose int64 (or int) fields are named after
// to-many relations.
type CountBind struct {
	Index  []int
	Fields map[string][]int // relation name → index of its field in the count struct
}

// The bindings, recorded by BindRelations. Relations are resolved per
// client, but a binding depends only on the declaring model, the
// relation's name and its target (their Go types), so it is kept per such
// triple: the maps stay as small as the set of models, however many
// clients are made. A model's count binding depends only on its Go type
// and declaration.
var (
	relBinds   sync.Map // relKey → *RelBind
	countBinds sync.Map // *Model → *CountBind
)

type relKey struct {
	md, target *Model
	name       string
}

func keyOf(r *Relation) relKey { return relKey{md: r.Model, target: r.Target, name: r.Def.Name} }

// RelBindOf returns the struct field bound to r, nil when there is none (a
// Row model, or a struct without the field: r cannot be included into it).
func RelBindOf(r *Relation) *RelBind {
	if b, ok := relBinds.Load(keyOf(r)); ok {
		return b.(*RelBind)
	}
	return nil
}

// CountBindOf returns the _count field of md, nil when there is none.
func CountBindOf(md *Model) *CountBind {
	if b, ok := countBinds.Load(md); ok {
		return b.(*CountBind)
	}
	return nil
}

// BindRelations binds the relation fields of every struct model of rels.
// A struct field that names a relation (by tag, or by name ignoring case
// and underscores) must have the type the relation's rows need; a
// `viborm:"_count"` field must be a struct of int64 fields naming to-many
// relations. A relation without a field can still be included into Row
// models; a struct model without the field cannot include it (a validation
// error naming the include, at the read).
func BindRelations(rels map[*Model][]*Relation) error {
	for md, rs := range rels {
		if md.GoType == nil {
			continue
		}
		byTag := map[string]reflect.StructField{}
		byNorm := map[string][]reflect.StructField{}
		var count *reflect.StructField
		for _, sf := range reflect.VisibleFields(md.GoType) {
			if !sf.IsExported() || sf.Anonymous || len(sf.Index) > 1 {
				continue
			}
			tag := sf.Tag.Get("viborm")
			switch tag {
			case "-":
				continue
			case "_count":
				c := sf
				count = &c
				continue
			case "":
				n := normName(sf.Name)
				byNorm[n] = append(byNorm[n], sf)
			default:
				byTag[tag] = sf
			}
		}
		toMany := map[string]*Relation{}
		for _, r := range rs {
			if r.IsToMany() {
				toMany[normName(r.Def.Name)] = r
			}
			sf, ok := byTag[r.Def.Name]
			if !ok {
				c := byNorm[normName(r.Def.Name)]
				if len(c) == 0 {
					continue
				}
				if len(c) > 1 {
					return verr.Schemaf(md.Name, r.Def.Name, "several fields of %s match the relation: %s and %s", md.GoType, c[0].Name, c[1].Name)
				}
				sf = c[0]
			}
			want := relFieldType(r)
			if sf.Type != want {
				return verr.Schemaf(md.Name, r.Def.Name, "Go field %s.%s of type %s cannot hold the relation: use %s", md.GoType, sf.Name, sf.Type, want)
			}
			relBinds.Store(keyOf(r), &RelBind{Index: sf.Index, Type: sf.Type})
		}
		if count == nil {
			continue
		}
		if count.Type.Kind() != reflect.Struct {
			return verr.Schemaf(md.Name, "_count", "Go field %s.%s must be a struct of int64 fields named after to-many relations", md.GoType, count.Name)
		}
		cb := &CountBind{Index: count.Index, Fields: map[string][]int{}}
		for _, sf := range reflect.VisibleFields(count.Type) {
			if !sf.IsExported() || sf.Anonymous || len(sf.Index) > 1 {
				continue
			}
			name := sf.Tag.Get("viborm")
			if name == "-" {
				continue
			}
			var r *Relation
			if name == "" {
				r = toMany[normName(sf.Name)]
			} else {
				r = toMany[normName(name)]
				if r != nil && r.Def.Name != name {
					r = nil
				}
			}
			if r == nil {
				return verr.Schemaf(md.Name, "_count", "field %s of the count struct %s names no to-many relation", sf.Name, count.Type)
			}
			if k := sf.Type.Kind(); k != reflect.Int64 && k != reflect.Int {
				return verr.Schemaf(md.Name, "_count", "field %s of the count struct %s must be an int64", sf.Name, count.Type)
			}
			cb.Fields[r.Def.Name] = sf.Index
		}
		countBinds.Store(md, cb)
	}
	return nil
}

// relFieldType is the Go type of the struct field that receives r's rows.
func relFieldType(r *Relation) reflect.Type {
	el := r.Target.GoType
	if r.Target.IsRow {
		el = rowType
	}
	if r.IsToMany() {
		return reflect.SliceOf(el)
	}
	if r.Target.IsRow {
		return rowType
	}
	return reflect.PointerTo(el)
}
