package viborm

import (
	"slices"

	"github.com/viborm/viborm-go/internal/engine"
	"github.com/viborm/viborm-go/internal/query"
	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/internal/verr"
)

// This file hands the public argument types to internal/query, which
// validates and normalises them: one function per read's arguments, shared
// by the read itself, CacheKey and ReadSQL.

// condOf reads a *Cond (or a Cond) inside a Where for internal/query.
func condOf(v any) (*query.Cond, bool) {
	switch x := v.(type) {
	case *Cond:
		if x == nil {
			return nil, true
		}
		return &x.c, true
	case Cond:
		return &x.c, true
	case RelFilter:
		return x.cond(), true
	}
	return nil, false
}

// updateOf reads an UpdateOp inside a Data for internal/query.
func updateOf(v any) (byte, any, bool) {
	if u, ok := v.(UpdateOp); ok {
		return u.op, u.v, true
	}
	return 0, nil, false
}

func sortKeys(os []Order) []query.OrderBy {
	if len(os) == 0 {
		return nil
	}
	out := make([]query.OrderBy, len(os))
	for i, o := range os {
		out[i] = query.OrderBy{Field: o.Field, Desc: o.Desc, Nulls: query.Nulls(o.Nulls)}
	}
	return out
}

// norm normalises the arguments of findMany.
func (a *FindMany) norm(md *schema.Model, rels query.Rels) (*query.Query, error) {
	q, err := query.Find(md, rels, a.Where, sortKeys(a.OrderBy), a.Take, a.Skip, a.Cursor, a.Distinct, condOf)
	if err == nil {
		q.Sel, err = query.Select(md, a.Select, a.Omit)
	}
	if err == nil {
		err = setIncludes(q, md, rels, a.Include, a.Count)
	}
	return q, err
}

// first normalises the arguments of findFirst and findFirstOrThrow:
// findMany's, limited to one row.
func (a *FindMany) first(md *schema.Model, rels query.Rels) (*query.Query, error) {
	one := 1
	if a.Take != nil && *a.Take < 0 {
		one = -1 // findFirst with a negative take: the last row
	}
	a.Take = &one
	return a.norm(md, rels)
}

func (a *FindUnique) norm(md *schema.Model, rels query.Rels) (*query.Query, error) {
	q := &query.Query{}
	var err error
	if q.Where, err = query.UniqueWhereRels(md, rels, a.Where, condOf); err == nil {
		q.Sel, err = query.Select(md, a.Select, a.Omit)
	}
	if err == nil {
		err = setIncludes(q, md, rels, a.Include, a.Count)
	}
	return q, err
}

func (a *Count) norm(md *schema.Model, rels query.Rels) (*query.Query, error) {
	return query.ListRels(md, rels, a.Where, nil, a.Take, a.Skip, condOf)
}

// exist normalises the argument of exist: a where alone.
func (w Where) exist(md *schema.Model, rels query.Rels) (*query.Query, error) {
	where, err := query.WhereRels(md, rels, w, "where", condOf)
	return &query.Query{Where: where}, err
}

func (a *Aggregate) norm(md *schema.Model, rels query.Rels) (*query.Query, error) {
	return query.AggregateRels(md, rels, a.Where, sortKeys(a.OrderBy), a.Take, a.Skip,
		query.Aggregates{Count: a.Count, Avg: a.Avg, Sum: a.Sum, Min: a.Min, Max: a.Max}, condOf)
}

func (a *GroupBy) norm(md *schema.Model, rels query.Rels) (*query.Query, error) {
	var having map[string]map[string]*query.Cond
	if len(a.Having) > 0 {
		having = make(map[string]map[string]*query.Cond, len(a.Having))
		for k, m := range a.Having {
			conds := make(map[string]*query.Cond, len(m))
			for n, c := range m {
				conds[n], _ = condOf(c)
			}
			having[k] = conds
		}
	}
	return query.GroupByRels(md, rels, a.By, a.Where, sortKeys(a.OrderBy), a.Take, a.Skip,
		query.Aggregates{Count: a.Count, Avg: a.Avg, Sum: a.Sum, Min: a.Min, Max: a.Max}, having, condOf)
}

// normRead starts a read of op on md through c and normalises args, the
// argument value of op, for CacheKey and ReadSQL.
func normRead(c *engine.Conn, md *schema.Model, op Op, args any) (*query.Query, error) {
	if err := c.Start(md); err != nil {
		return nil, public(err)
	}
	var norm engine.Norm
	switch a := args.(type) {
	case FindMany:
		if norm = normFor(op, a.norm, OpFindMany); norm == nil {
			norm = normFor(op, a.first, OpFindFirst, OpFindFirstOrThrow)
		}
	case FindUnique:
		norm = normFor(op, a.norm, OpFindUnique, OpFindUniqueOrThrow)
	case Count:
		norm = normFor(op, a.norm, OpCount)
	case Where:
		norm = normFor(op, a.exist, OpExist)
	case Aggregate:
		norm = normFor(op, a.norm, OpAggregate)
	case GroupBy:
		norm = normFor(op, a.norm, OpGroupBy)
	}
	switch {
	case norm != nil:
	case !slices.Contains(readOps, op):
		return nil, &Error{Code: CodeNotCacheable, Model: md.Name, Op: string(op), Message: "not a cacheable operation"}
	default:
		return nil, validationf("args", "%T is not the argument type of %s", args, op)
	}
	q, err := norm(md, c.Engine().Rels())
	if err != nil {
		return nil, public(verr.WithOp(err, md.Name, string(op)))
	}
	return q, nil
}

// normFor returns norm when op is one of ops, nil otherwise.
func normFor(op Op, norm engine.Norm, ops ...Op) engine.Norm {
	if slices.Contains(ops, op) {
		return norm
	}
	return nil
}
