package query

import "slices"

// Deps returns the dependency tokens of the read q: the names of the
// models it reads through includes (recursively), relation counts and
// relation filters, and the junction table of every many-to-many relation
// it goes through. They are sorted and distinct. The read's own model is
// not among them unless a relation leads back to it: Query does not know
// its model, so the caller adds it.
func (q *Query) Deps() []string {
	var out []string
	q.deps(&out)
	if len(out) > 1 {
		slices.Sort(out)
		out = slices.Compact(out)
	}
	return out
}

func (q *Query) deps(out *[]string) {
	if q == nil {
		return
	}
	// The relation filters (relfilter.go) of the where, the having and the
	// cursor; the includes' own are their child queries'.
	*out = relFilterModels(q.Where, *out)
	if q.Aggr != nil {
		*out = relFilterModels(q.Aggr.Having, *out)
	}
	x := q.Ext
	if x == nil {
		return
	}
	*out = relFilterModels(x.Cursor, *out)
	for _, it := range x.Inc {
		*out = append(*out, it.Rel.Target.Name)
		if it.Link.Junction != nil {
			*out = append(*out, it.Link.Junction.Table)
		}
		it.Q.deps(out)
	}
	for _, c := range x.Counts {
		*out = append(*out, c.Rel.Target.Name)
		if c.Link.Junction != nil {
			*out = append(*out, c.Link.Junction.Table)
		}
		*out = relFilterModels(c.Where, *out)
	}
}
