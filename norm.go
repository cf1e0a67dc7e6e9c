package viborm

import (
	"strconv"
	"time"

	"github.com/viborm/viborm-go/internal/query"
	"github.com/viborm/viborm-go/internal/schema"
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

// relsOf returns the resolved relations of r's client, for relation
// filters and includes.
func relsOf(r Reader) query.Rels { return r.readExecutor().c.rels }

// updateOf reads an UpdateOp inside a Data for internal/query.
func updateOf(v any) (byte, any, bool) {
	if u, ok := v.(UpdateOp); ok {
		return u.op, u.v, true
	}
	return 0, nil, false
}

func normWhere(md *schema.Model, rels query.Rels, w Where) (*query.Expr, error) {
	return query.WhereRels(md, rels, w, "where", condOf)
}

// normUniqueWhere normalises the where of a write that must pin one row.
func normUniqueWhere(md *schema.Model, rels query.Rels, w Where) (*query.Expr, error) {
	return query.UniqueWhereRels(md, rels, w, condOf)
}

func normData(md *schema.Model, d Data, create bool, now time.Time) ([]query.Set, error) {
	return query.Data(md, d, create, now, updateOf)
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

func normFindMany(md *schema.Model, rels query.Rels, a *FindMany) (*query.Query, error) {
	q, err := query.Find(md, rels, a.Where, sortKeys(a.OrderBy), a.Take, a.Skip, a.Cursor, a.Distinct, condOf)
	if err == nil {
		q.Sel, err = query.Select(md, a.Select, a.Omit)
	}
	if err == nil {
		err = setIncludes(q, md, rels, a.Include, a.Count)
	}
	return q, err
}

// normFirst normalises the arguments of findFirst and findFirstOrThrow:
// findMany's, limited to one row.
func normFirst(md *schema.Model, rels query.Rels, a *FindMany) (*query.Query, error) {
	one := 1
	if a.Take != nil && *a.Take < 0 {
		one = -1 // findFirst with a negative take: the last row
	}
	a.Take = &one
	return normFindMany(md, rels, a)
}

func normFindUnique(md *schema.Model, rels query.Rels, a *FindUnique) (*query.Query, error) {
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

func normCount(md *schema.Model, rels query.Rels, a *Count) (*query.Query, error) {
	return query.ListRels(md, rels, a.Where, nil, a.Take, a.Skip, condOf)
}

// normExist normalises the argument of exist: a where alone.
func normExist(md *schema.Model, rels query.Rels, w Where) (*query.Query, error) {
	where, err := query.WhereRels(md, rels, w, "where", condOf)
	return &query.Query{Where: where}, err
}

func normAggregate(md *schema.Model, rels query.Rels, a *Aggregate) (*query.Query, error) {
	return query.AggregateRels(md, rels, a.Where, sortKeys(a.OrderBy), a.Take, a.Skip,
		query.Aggregates{Count: a.Count, Avg: a.Avg, Sum: a.Sum, Min: a.Min, Max: a.Max}, condOf)
}

func normGroupBy(md *schema.Model, rels query.Rels, a *GroupBy) (*query.Query, error) {
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

// normRead starts a read of op through ex and normalises args, the
// argument value of op, for CacheKey and ReadSQL.
func normRead(ex *executor, m AnyModel, op Op, args any) (*schema.Model, *query.Query, error) {
	md, err := ex.start(m)
	if err != nil {
		return nil, nil, err
	}
	var q *query.Query
	bad := func() (*schema.Model, *query.Query, error) {
		return nil, nil, validationf("args", "%T is not the argument type of %s", args, op)
	}
	switch op {
	case OpFindMany, OpFindFirst, OpFindFirstOrThrow:
		a, ok := args.(FindMany)
		if !ok {
			return bad()
		}
		if op == OpFindMany {
			q, err = normFindMany(md, ex.c.rels, &a)
		} else {
			q, err = normFirst(md, ex.c.rels, &a)
		}
	case OpFindUnique, OpFindUniqueOrThrow:
		a, ok := args.(FindUnique)
		if !ok {
			return bad()
		}
		q, err = normFindUnique(md, ex.c.rels, &a)
	case OpCount:
		a, ok := args.(Count)
		if !ok {
			return bad()
		}
		q, err = normCount(md, ex.c.rels, &a)
	case OpExist:
		w, ok := args.(Where)
		if !ok {
			return bad()
		}
		q, err = normExist(md, ex.c.rels, w)
	case OpAggregate:
		a, ok := args.(Aggregate)
		if !ok {
			return bad()
		}
		q, err = normAggregate(md, ex.c.rels, &a)
	case OpGroupBy:
		a, ok := args.(GroupBy)
		if !ok {
			return bad()
		}
		q, err = normGroupBy(md, ex.c.rels, &a)
	default:
		return nil, nil, &Error{Code: CodeNotCacheable, Model: md.Name, Op: string(op), Message: "not a cacheable operation"}
	}
	if err != nil {
		return nil, nil, withOp(public(err), md.Name, string(op))
	}
	return md, q, nil
}

// dataRowError is the error of row i of a createMany.
func dataRowError(i int, err error) error {
	return validationf("data["+strconv.Itoa(i)+"]", "%v", public(err))
}
