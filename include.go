package viborm

import (
	"github.com/viborm/viborm-go/internal/query"
	"github.com/viborm/viborm-go/internal/schema"
)

// Include loads relations with a read (VibORM's include): relation name →
// the relation's own read arguments. Rel{} loads every related row
// (VibORM's `true`).
//
//	Users.FindMany(ctx, db, viborm.FindMany{Include: viborm.Include{
//		"posts": {Where: viborm.Where{"published": true}, OrderBy: []viborm.Order{viborm.Desc("id")}, Take: new(3)},
//	}})
//
// A to-many relation lands in a slice field of the row's struct
// (`Posts []Post`): an empty, non-nil slice when there are no related rows.
// A to-one relation lands in a pointer field (`Author *User`), nil when
// there is none (a NULL foreign key). The fields are matched to relations
// by name like scalar fields (or tagged `viborm:"posts"`) and checked by
// [NewClient]; a struct without the field cannot include the relation (an
// [ErrValidation]). A [Row] gets the related rows under the relation's
// name: a []T or *T of the target's Go type ([]Row / Row for a Row target,
// nil for a missing to-one). The selection of a read is widened by the key
// fields its includes need to match rows.
//
// Take and Skip page each parent's rows on its own. Includes nest at most
// [MaxIncludeDepth] levels.
type Include map[string]Rel

// Rel are the read arguments of an included relation. OrderBy, Take and
// Skip apply to to-many relations only.
type Rel struct {
	Where   Where
	OrderBy []Order
	Take    *int
	Skip    int
	Select  []string
	Omit    []string
	Include Include
	Count   CountRel
}

// CountRel selects relation counts (VibORM's _count): to-many relation
// name → a where on its rows, nil to count them all. A struct receives
// them in a field tagged viborm:"_count" whose type is a struct of int64
// fields named after the relations, as in
//
//	Count struct{ Posts int64 } `viborm:"_count"`
//
// and a Row under "_count", as a Row of int64.
type CountRel map[string]Where

// MaxIncludeDepth is how deeply includes may nest: the read's includes are
// level 1.
const MaxIncludeDepth = query.MaxIncludeDepth

func includeArgs(inc Include) map[string]query.IncludeArg {
	if len(inc) == 0 {
		return nil
	}
	out := make(map[string]query.IncludeArg, len(inc))
	for n, r := range inc {
		out[n] = query.IncludeArg{Where: r.Where, OrderBy: sortKeys(r.OrderBy), Take: r.Take, Skip: r.Skip,
			Select: r.Select, Omit: r.Omit, Include: includeArgs(r.Include), Count: countArgs(r.Count)}
	}
	return out
}

func countArgs(c CountRel) map[string]map[string]any {
	if len(c) == 0 {
		return nil
	}
	out := make(map[string]map[string]any, len(c))
	for n, w := range c {
		out[n] = w
	}
	return out
}

// setIncludes normalises the includes and counts of a read of md into q.
func setIncludes(q *query.Query, md *schema.Model, rels query.Rels, inc Include, counts CountRel) error {
	if len(inc) == 0 && len(counts) == 0 {
		return nil
	}
	env := &query.RelEnv{Rels: rels, Where: func(t *schema.Model, w map[string]any, path string) (*query.Expr, error) {
		return query.WhereRels(t, rels, Where(w), path, condOf)
	}}
	return q.SetIncludes(env, md, includeArgs(inc), countArgs(counts), "include", 1)
}
