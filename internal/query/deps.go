package query

import "slices"

// relFilterDeps returns the dependency tokens named by the relation
// filters of q's own where (not its includes', which Deps visits itself):
// their target models, recursively, and the junction tables of
// many-to-many filters. The relation filters (relfilter.go) set it in an
// init.
var relFilterDeps = func(*Query) []string { return nil }

// Deps returns the dependency tokens of the read q: the names of the
// models it reads through includes (recursively), relation counts and
// relation filters, and the junction table of every many-to-many relation
// it goes through. They are sorted and distinct. The read's own model is
// not among them unless a relation leads back to it: Query does not know
// its model, so the caller adds it.
func (q *Query) Deps() []string {
	var out []string
	q.deps(&out)
	slices.Sort(out)
	return slices.Compact(out)
}

func (q *Query) deps(out *[]string) {
	if q == nil {
		return
	}
	*out = append(*out, relFilterDeps(q)...)
	for _, it := range q.Inc {
		*out = append(*out, it.Rel.Target.Name)
		if it.Link.Junction != nil {
			*out = append(*out, it.Link.Junction.Table)
		}
		it.Q.deps(out)
	}
	for _, c := range q.Counts {
		*out = append(*out, c.Rel.Target.Name)
		if c.Link.Junction != nil {
			*out = append(*out, c.Link.Junction.Table)
		}
		if c.Where != nil {
			*out = append(*out, relFilterDeps(&Query{Where: c.Where})...)
		}
	}
}
