package schema

import (
	"slices"
	"strconv"
	"strings"

	"github.com/viborm/viborm-go/internal/verr"
	"github.com/viborm/viborm-go/s"
)

// Junction is the implicit join table of a many-to-many relation, seen
// from the relation's side: Source is the declaring model, Target the
// relation's target. Both sides of a declared pair get their own,
// mirrored, Junction with the same Table.
type Junction struct {
	Table      string   // the table's name, also the dependency token of its rows
	Source     *Model   // the declaring model
	Target     *Model   // the relation's target
	SourceCols []string // the columns holding Source's id, in the order of SourceRefs
	SourceRefs []*Field // Source.PK
	TargetCols []string // the columns holding Target's id, in the order of TargetRefs
	TargetRefs []*Field // Target.PK
	// Link is a model of the junction table itself, for the statements that
	// write it: one field per column, named by the column, typed as the id
	// field it holds; all of them make its primary key. Shared by both sides.
	Link *Model
}

// SourceLink returns Link's fields for SourceCols, in order.
func (j *Junction) SourceLink() []*Field { return j.link(j.SourceCols) }

// TargetLink returns Link's fields for TargetCols, in order.
func (j *Junction) TargetLink() []*Field { return j.link(j.TargetCols) }

func (j *Junction) link(cols []string) []*Field {
	out := make([]*Field, len(cols))
	for i, c := range cols {
		out[i] = j.Link.ByName[c]
	}
	return out
}

// newLink builds the model of a junction table.
func newLink(j *Junction) *Model {
	md := &Model{Name: j.Table, Table: j.Table, ByName: map[string]*Field{}, IsRow: true}
	add := func(cols []string, refs []*Field) {
		for i, c := range cols {
			def := refs[i].Def
			def.Name, def.Column, def.ID, def.Unique, def.Nullable, def.UpdatedAt = c, c, true, false, false, false
			def.Default, def.Value = s.NoDefault, nil
			f := &Field{Def: def, Name: c, Column: c, Kind: def.Kind, Idx: len(md.Fields), Enum: refs[i].Enum}
			md.Fields = append(md.Fields, f)
			md.ByName[c] = f
		}
	}
	add(j.SourceCols, j.SourceRefs)
	add(j.TargetCols, j.TargetRefs)
	md.PK = md.Fields
	md.Uniques = [][]*Field{md.PK}
	return md
}

// Mirror returns the junction seen from the other side.
func (j *Junction) Mirror() *Junction {
	return &Junction{Table: j.Table, Source: j.Target, Target: j.Source, Link: j.Link,
		SourceCols: j.TargetCols, SourceRefs: j.TargetRefs, TargetCols: j.SourceCols, TargetRefs: j.SourceRefs}
}

// IsToMany reports whether the relation holds many rows of its target.
func (r *Relation) IsToMany() bool {
	return r.Def.Kind == s.OneToManyKind || r.Def.Kind == s.ManyToManyKind
}

// junctionBase is VibORM's default junction name: the two lowercased model
// names, sorted, joined by "_".
func junctionBase(a, b string) string {
	n := []string{strings.ToLower(a), strings.ToLower(b)}
	slices.Sort(n)
	return n[0] + "_" + n[1]
}

// junctionCols expands a side token over an id: "<token>Id" for a single
// field, "<token>_1", "<token>_2"… for a compound id (VibORM's rule).
func junctionCols(token string, pk []*Field) []string {
	if len(pk) == 1 {
		return []string{token + "Id"}
	}
	out := make([]string, len(pk))
	for i := range pk {
		out[i] = token + "_" + strconv.Itoa(i+1)
	}
	return out
}

// pairJunctions pairs the many-to-many relations of rels (the two sides of
// a pair share the lowercased model pair and the pair name), names their
// junction tables and sets Relation.Junction.
func pairJunctions(models map[string]*Model, rels map[*Model][]*Relation) error {
	type pair struct{ members []*Relation }
	pairs := map[string]*pair{}
	var keys []string
	names := sortedNames(models)
	for _, n := range names {
		for _, r := range rels[models[n]] {
			if r.Def.Kind != s.ManyToManyKind {
				continue
			}
			k := junctionBase(r.Model.Name, r.Target.Name) + "\x00" + r.Def.PairName
			p := pairs[k]
			if p == nil {
				p = &pair{}
				pairs[k] = p
				keys = append(keys, k)
			}
			for _, o := range p.members {
				if o.Model == r.Model || r.Model == r.Target {
					return verr.Schemaf(r.Model.Name, r.Def.Name, "many-to-many relation %s.%s already uses this junction: give one of them Named(...) or Through(...)", o.Model.Name, o.Def.Name)
				}
			}
			p.members = append(p.members, r)
		}
	}
	tables := map[string]string{}
	for _, md := range models {
		tables[strings.ToLower(md.Table)] = "the table of model " + md.Name
		tables[strings.ToLower(md.Name)] = "the model " + md.Name
	}
	for _, k := range keys {
		p := pairs[k]
		first := p.members[0]
		table := ""
		for _, r := range p.members {
			if r.Def.Through == "" {
				continue
			}
			if table != "" && table != r.Def.Through {
				return verr.Schemaf(r.Model.Name, r.Def.Name, "the two sides of a many-to-many pair name different junction tables (%q, %q)", table, r.Def.Through)
			}
			table = r.Def.Through
		}
		if table == "" {
			table = junctionBase(first.Model.Name, first.Target.Name)
			if first.Def.PairName != "" {
				table += "_" + first.Def.PairName
			}
		}
		if what, ok := tables[strings.ToLower(table)]; ok {
			return verr.Schemaf(first.Model.Name, first.Def.Name, "junction table %q collides with %s: give the pair Through(...) or Named(...)", table, what)
		}
		tables[strings.ToLower(table)] = "the junction of " + first.Model.Name + "." + first.Def.Name
		for _, r := range p.members {
			src, dst := strings.ToLower(r.Model.Name), strings.ToLower(r.Target.Name)
			if r.Model == r.Target {
				src, dst = src+"A", dst+"B"
			}
			for _, f := range append(slices.Clone(r.Model.PK), r.Target.PK...) {
				if f.Def.Kind == s.KindJSON {
					return verr.Schemaf(r.Model.Name, r.Def.Name, "a junction cannot reference the JSON id %s", f.Name)
				}
			}
			r.Junction = &Junction{Table: table, Source: r.Model, Target: r.Target,
				SourceCols: junctionCols(src, r.Model.PK), SourceRefs: r.Model.PK,
				TargetCols: junctionCols(dst, r.Target.PK), TargetRefs: r.Target.PK}
		}
		first.Junction.Link = newLink(first.Junction)
		for _, r := range p.members[1:] {
			r.Junction.Link = first.Junction.Link
		}
	}
	return nil
}

// linkBacks sets Relation.Back: the relation of the target that points back
// at the declaring model (the other end of the same foreign key or
// junction). When several could, the one with the same pair name (Named)
// is taken; when that does not decide, Back stays nil.
func linkBacks(rels map[*Model][]*Relation) {
	for md, rs := range rels {
		for _, r := range rs {
			var cands []*Relation
			for _, o := range rels[r.Target] {
				if o == r || o.Target != md || !backKinds(r, o) {
					continue
				}
				cands = append(cands, o)
			}
			if len(cands) > 1 {
				named := cands[:0:0]
				for _, o := range cands {
					if o.Def.PairName == r.Def.PairName {
						named = append(named, o)
					}
				}
				cands = named
			}
			if len(cands) == 1 {
				r.Back = cands[0]
			}
		}
	}
}

// backKinds reports whether o, on r's target, can be the other end of r.
func backKinds(r, o *Relation) bool {
	switch r.Def.Kind {
	case s.ManyToManyKind:
		return o.Def.Kind == s.ManyToManyKind && o.Junction != nil && r.Junction != nil && o.Junction.Table == r.Junction.Table
	case s.OneToManyKind:
		return o.Def.Kind == s.ManyToOneKind
	case s.ManyToOneKind:
		return o.Def.Kind == s.OneToManyKind || (o.Def.Kind == s.OneToOneKind && len(o.Fields) == 0)
	case s.OneToOneKind:
		if len(r.Fields) > 0 {
			return len(o.Fields) == 0 && (o.Def.Kind == s.OneToOneKind || o.Def.Kind == s.OneToManyKind)
		}
		return len(o.Fields) > 0 && (o.Def.Kind == s.OneToOneKind || o.Def.Kind == s.ManyToOneKind)
	}
	return false
}

// Junctions returns the distinct junction tables of rels, each oriented
// from the side whose model name sorts first (a self-relation from its
// declaring side), sorted by table name.
func Junctions(rels map[*Model][]*Relation) []*Junction {
	seen := map[string]*Junction{}
	for _, rs := range rels {
		for _, r := range rs {
			j := r.Junction
			if j == nil {
				continue
			}
			if j.Source != j.Target && strings.ToLower(j.Source.Name) > strings.ToLower(j.Target.Name) {
				j = j.Mirror()
			}
			if _, ok := seen[j.Table]; !ok {
				seen[j.Table] = j
			}
		}
	}
	out := make([]*Junction, 0, len(seen))
	for _, j := range seen {
		out = append(out, j)
	}
	slices.SortFunc(out, func(a, b *Junction) int { return strings.Compare(a.Table, b.Table) })
	return out
}

func sortedNames(models map[string]*Model) []string {
	names := make([]string, 0, len(models))
	for n := range models {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
