package viborm

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/viborm/viborm-go/s"
)

type cmpOp uint8

const (
	opEq cmpOp = iota + 1
	opNot
	opIn
	opNotIn
	opLt
	opLte
	opGt
	opGte
	opContains
	opStartsWith
	opEndsWith
	opIsNull
	opNotNull
)

type exprKind uint8

const (
	eAnd exprKind = iota + 1
	eOr
	eNot
	eCmp
)

// expr is a normalised boolean condition.
type expr struct {
	kind exprKind
	kids []expr
	f    *field
	agg  string // for having: "count", "avg", "sum", "min", "max"
	op   cmpOp
	v    any // canonical value; []any for in and notIn
	ci   bool
}

type orderItem struct {
	f     *field
	agg   string // groupBy: aggregate ordering ("count" with f nil = _count._all)
	desc  bool
	nulls NullsOrder
}

type aggItem struct {
	fn string // count, avg, sum, min, max
	f  *field // nil for count _all
}

// query is the normalised form of a read's arguments; the cache key is
// derived from it, and the SQL compiled from it.
type query struct {
	where   *expr
	order   []orderItem
	take    int
	hasTake bool
	skip    int
	sel     []*field // the fields returned, in model order
	aggs    []aggItem
	by      []*field
	having  *expr
}

// MaxWhereDepth is how deeply a [Where] may nest: through AND, OR and NOT,
// and through Not conditions on one field. The where itself is level 1.
// A deeper where is rejected with [ErrValidation] naming the path where the
// limit was reached, before anything deeper is looked at.
const MaxWhereDepth = 64

func (md *model) normWhere(w Where, path string) (*expr, error) {
	e, err := md.normWhereAt(w, 1)
	if err != nil {
		return nil, underPath(err, path)
	}
	return e, nil
}

// underPath prefixes the argument path of a validation error with seg on the
// way out of the recursion, so that the path costs nothing unless there is
// an error (and then O(depth) segments, depth ≤ MaxWhereDepth).
func underPath(err error, seg string) error {
	e, ok := err.(*Error)
	if !ok || seg == "" {
		return err
	}
	switch {
	case e.Field == "":
		e.Field = seg
	case e.Field[0] == '[':
		e.Field = seg + e.Field
	default:
		e.Field = seg + "." + e.Field
	}
	return e
}

func depthError() *Error {
	return validationf("", "the where nests deeper than %d levels (MaxWhereDepth)", MaxWhereDepth)
}

func (md *model) normWhereAt(w Where, depth int) (*expr, error) {
	if len(w) == 0 {
		return nil, nil
	}
	if depth > MaxWhereDepth {
		return nil, depthError()
	}
	keys := make([]string, 0, len(w))
	for k := range w {
		keys = append(keys, k)
	}
	if len(keys) > 1 {
		slices.Sort(keys)
	}
	var kids []expr
	for _, k := range keys {
		v := w[k]
		switch k {
		case "AND", "OR", "NOT":
			var ws []Where
			switch x := v.(type) {
			case Where:
				ws = []Where{x}
			case map[string]any:
				ws = []Where{x}
			case []Where:
				ws = x
			case nil:
				continue
			default:
				return nil, validationf(k, "%s takes a Where or a []Where, not %T", k, v)
			}
			var sub []expr
			for i, x := range ws {
				e, err := md.normWhereAt(x, depth+1)
				if err != nil {
					return nil, underPath(underPath(err, "["+itoa(i)+"]"), k)
				}
				if e != nil {
					sub = append(sub, *e)
				}
			}
			switch k {
			case "AND":
				kids = append(kids, sub...)
			case "OR":
				if len(sub) == 0 {
					// OR of nothing is false.
					kids = append(kids, expr{kind: eOr})
				} else {
					kids = append(kids, expr{kind: eOr, kids: sub})
				}
			case "NOT":
				if len(sub) > 0 {
					kids = append(kids, expr{kind: eNot, kids: []expr{{kind: eAnd, kids: sub}}})
				}
			}
			continue
		}
		f := md.byName[k]
		if f == nil {
			return nil, validationf(k, "unknown field %q of model %s", k, md.name)
		}
		e, err := normCond(f, v, depth)
		if err != nil {
			return nil, underPath(err, k)
		}
		if e.kind == eAnd {
			kids = append(kids, e.kids...)
		} else {
			kids = append(kids, e)
		}
	}
	if len(kids) == 1 {
		return &kids[0], nil
	}
	if len(kids) == 0 {
		return nil, nil
	}
	return &expr{kind: eAnd, kids: kids}, nil
}

func itoa(i int) string {
	var b [20]byte
	return string(appendInt(b[:0], int64(i)))
}

func appendInt(b []byte, i int64) []byte {
	if i < 0 {
		b = append(b, '-')
		i = -i
	}
	var t [20]byte
	n := len(t)
	for {
		n--
		t[n] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			break
		}
	}
	return append(b, t[n:]...)
}

func normCond(f *field, v any, depth int) (expr, error) {
	if depth > MaxWhereDepth {
		return expr{}, depthError()
	}
	c, ok := v.(*Cond)
	if !ok {
		if c2, ok2 := v.(Cond); ok2 {
			c, ok = &c2, true
		}
	}
	if !ok {
		if v == nil {
			if !f.def.Nullable {
				return expr{}, validationf("", "field %s is not nullable", f.name)
			}
			return expr{kind: eCmp, f: f, op: opIsNull}, nil
		}
		if f.kind == s.KindJSON || f.kind == s.KindBytes {
			return expr{}, validationf("", "%s fields can only be compared with nil", f.kind)
		}
		cv, err := coerce(f, v)
		if err != nil {
			return expr{}, validationf("", "%v", err)
		}
		return expr{kind: eCmp, f: f, op: opEq, v: cv}, nil
	}
	if c == nil || len(c.ops) == 0 {
		return expr{}, validationf("", "empty condition")
	}
	var kids []expr
	for _, o := range c.ops {
		e, err := normOp(f, o, c.ci, depth)
		if err != nil {
			return expr{}, err
		}
		kids = append(kids, e)
	}
	if len(kids) == 1 {
		return kids[0], nil
	}
	return expr{kind: eAnd, kids: kids}, nil
}

func isText(k s.Kind) bool { return k == s.KindString || k == s.KindEnum }

func normOp(f *field, o condOp, ci bool, depth int) (expr, error) {
	if ci && !isText(f.kind) {
		return expr{}, validationf("", "insensitive mode needs a string field")
	}
	if (f.kind == s.KindJSON || f.kind == s.KindBytes) && !((o.op == opEq || o.op == opNot) && o.v == nil) {
		return expr{}, validationf("", "%s fields can only be compared with nil", f.kind)
	}
	e := expr{kind: eCmp, f: f, op: o.op, ci: ci}
	switch o.op {
	case opEq, opNot:
		if sub, ok := o.v.(*Cond); ok && o.op == opNot {
			inner, err := normCond(f, sub, depth+1)
			if err != nil {
				return expr{}, err
			}
			return expr{kind: eNot, kids: []expr{inner}}, nil
		}
		if o.v == nil {
			if !f.def.Nullable {
				return expr{}, validationf("", "field %s is not nullable", f.name)
			}
			if o.op == opEq {
				e.op = opIsNull
			} else {
				e.op = opNotNull
			}
			return e, nil
		}
	case opIn, opNotIn:
		vs := o.v.([]any)
		out := make([]any, len(vs))
		for i, v := range vs {
			cv, err := coerce(f, v)
			if err != nil {
				return expr{}, validationf("", "%v", err)
			}
			if cv == nil {
				return expr{}, validationf("", "in/notIn cannot hold nil")
			}
			out[i] = cv
		}
		e.v = out
		return e, nil
	case opContains, opStartsWith, opEndsWith:
		if !isText(f.kind) {
			return expr{}, validationf("", "contains/startsWith/endsWith need a string field")
		}
		e.v = o.v
		return e, nil
	}
	cv, err := coerce(f, o.v)
	if err != nil {
		return expr{}, validationf("", "%v", err)
	}
	if cv == nil {
		return expr{}, validationf("", "comparison with nil")
	}
	e.v = cv
	return e, nil
}

func (md *model) normSelect(sel, omit []string) ([]*field, error) {
	if len(sel) == 0 && len(omit) == 0 {
		return md.fields, nil
	}
	if len(sel) > 0 && len(omit) > 0 {
		return nil, validationf("select", "select and omit cannot be combined")
	}
	want := make([]bool, len(md.fields))
	for _, n := range sel {
		f := md.byName[n]
		if f == nil {
			return nil, validationf("select", "unknown field %q", n)
		}
		want[f.idx] = true
	}
	if len(omit) > 0 {
		for i := range want {
			want[i] = true
		}
		for _, n := range omit {
			f := md.byName[n]
			if f == nil {
				return nil, validationf("omit", "unknown field %q", n)
			}
			want[f.idx] = false
		}
	}
	var out []*field
	for i, w := range want {
		if w {
			out = append(out, md.fields[i])
		}
	}
	if len(out) == 0 {
		return nil, validationf("omit", "nothing left to select")
	}
	return out, nil
}

func (md *model) normOrder(os []Order, groupBy bool) ([]orderItem, error) {
	if len(os) == 0 {
		return nil, nil
	}
	out := make([]orderItem, 0, len(os))
	for _, o := range os {
		it := orderItem{desc: o.Desc, nulls: o.Nulls}
		if groupBy && strings.HasPrefix(o.Field, "_") {
			fn, fname, _ := strings.Cut(o.Field[1:], ".")
			if !validAgg(fn) {
				return nil, validationf("orderBy", "unknown aggregate %q", o.Field)
			}
			it.agg = fn
			if fname != "" && fname != "_all" {
				it.f = md.byName[fname]
				if it.f == nil {
					return nil, validationf("orderBy", "unknown field %q", fname)
				}
			} else if fn != "count" {
				return nil, validationf("orderBy", "%s needs a field", o.Field)
			}
		} else {
			it.f = md.byName[o.Field]
			if it.f == nil {
				return nil, validationf("orderBy", "unknown field %q", o.Field)
			}
		}
		if o.Nulls > NullsLast {
			return nil, validationf("orderBy", "bad nulls placement")
		}
		out = append(out, it)
	}
	return out, nil
}

func validAgg(fn string) bool {
	switch fn {
	case "count", "avg", "sum", "min", "max":
		return true
	}
	return false
}

func (md *model) normPage(take *int, skip int, q *query) error {
	if take != nil {
		if *take < 0 {
			return validationf("take", "negative take is not supported")
		}
		q.take, q.hasTake = *take, true
	}
	if skip < 0 {
		return validationf("skip", "skip must not be negative")
	}
	q.skip = skip
	return nil
}

func (md *model) normFindMany(a *FindMany) (*query, error) {
	q := &query{}
	var err error
	if q.where, err = md.normWhere(a.Where, "where"); err != nil {
		return nil, err
	}
	if q.order, err = md.normOrder(a.OrderBy, false); err != nil {
		return nil, err
	}
	if err = md.normPage(a.Take, a.Skip, q); err != nil {
		return nil, err
	}
	if q.sel, err = md.normSelect(a.Select, a.Omit); err != nil {
		return nil, err
	}
	return q, nil
}

// checkUnique verifies that w pins one row: it holds equalities on every
// field of the id or of a unique constraint.
func (md *model) checkUnique(w Where) error {
	for _, u := range md.uniques {
		ok := true
		for _, f := range u {
			v, has := w[f.name]
			if !has || v == nil {
				ok = false
				break
			}
			if c, isCond := v.(*Cond); isCond {
				if len(c.ops) != 1 || c.ops[0].op != opEq || c.ci || c.ops[0].v == nil {
					ok = false
					break
				}
			}
		}
		if ok {
			return nil
		}
	}
	var names []string
	for _, u := range md.uniques {
		var fs []string
		for _, f := range u {
			fs = append(fs, f.name)
		}
		names = append(names, strings.Join(fs, "+"))
	}
	return validationf("where", "must select a unique record by one of: %s", strings.Join(names, ", "))
}

func (md *model) normFindUnique(a *FindUnique) (*query, error) {
	if err := md.checkUnique(a.Where); err != nil {
		return nil, err
	}
	q := &query{}
	var err error
	if q.where, err = md.normWhere(a.Where, "where"); err != nil {
		return nil, err
	}
	if q.sel, err = md.normSelect(a.Select, a.Omit); err != nil {
		return nil, err
	}
	return q, nil
}

func (md *model) normAggs(q *query, count, avg, sum, min, max []string) error {
	add := func(fn string, names []string) error {
		for _, n := range names {
			if n == "_all" && fn == "count" {
				q.aggs = append(q.aggs, aggItem{fn: fn})
				continue
			}
			f := md.byName[n]
			if f == nil {
				return validationf("_"+fn, "unknown field %q", n)
			}
			if (fn == "avg" || fn == "sum") && !isNumeric(f.kind) {
				return validationf("_"+fn, "field %q is not numeric", n)
			}
			if (fn == "min" || fn == "max") && (f.kind == s.KindJSON || f.kind == s.KindBytes || f.kind == s.KindBoolean) {
				return validationf("_"+fn, "field %q cannot be ordered", n)
			}
			q.aggs = append(q.aggs, aggItem{fn: fn, f: f})
		}
		return nil
	}
	for _, x := range []struct {
		fn string
		ns []string
	}{{"count", count}, {"avg", avg}, {"sum", sum}, {"min", min}, {"max", max}} {
		if err := add(x.fn, x.ns); err != nil {
			return err
		}
	}
	// Canonical order: by function, then field, without duplicates.
	slices.SortFunc(q.aggs, func(a, b aggItem) int {
		if c := strings.Compare(a.fn, b.fn); c != 0 {
			return c
		}
		return aggIdx(a) - aggIdx(b)
	})
	q.aggs = slices.CompactFunc(q.aggs, func(a, b aggItem) bool { return a.fn == b.fn && a.f == b.f })
	return nil
}

func aggIdx(a aggItem) int {
	if a.f == nil {
		return -1
	}
	return a.f.idx
}

func isNumeric(k s.Kind) bool {
	return k == s.KindInt || k == s.KindBigInt || k == s.KindFloat || k == s.KindDecimal
}

func (md *model) normAggregate(a *Aggregate) (*query, error) {
	q := &query{}
	var err error
	if q.where, err = md.normWhere(a.Where, "where"); err != nil {
		return nil, err
	}
	if q.order, err = md.normOrder(a.OrderBy, false); err != nil {
		return nil, err
	}
	if err = md.normPage(a.Take, a.Skip, q); err != nil {
		return nil, err
	}
	if err = md.normAggs(q, a.Count, a.Avg, a.Sum, a.Min, a.Max); err != nil {
		return nil, err
	}
	if len(q.aggs) == 0 {
		return nil, validationf("", "aggregate needs at least one of Count, Avg, Sum, Min, Max")
	}
	return q, nil
}

// normFirst normalises the arguments of findFirst and findFirstOrThrow:
// findMany's, limited to one row.
func (md *model) normFirst(a *FindMany) (*query, error) {
	one := 1
	a.Take = &one
	return md.normFindMany(a)
}

// normExist normalises the argument of exist: a where alone.
func (md *model) normExist(w Where) (*query, error) {
	where, err := md.normWhere(w, "where")
	if err != nil {
		return nil, err
	}
	return &query{where: where}, nil
}

func (md *model) normGroupBy(a *GroupBy) (*query, error) {
	q := &query{}
	if len(a.By) == 0 {
		return nil, validationf("by", "groupBy needs at least one field")
	}
	for _, n := range a.By {
		f := md.byName[n]
		if f == nil {
			return nil, validationf("by", "unknown field %q", n)
		}
		if !slices.Contains(q.by, f) {
			q.by = append(q.by, f)
		}
	}
	var err error
	if q.where, err = md.normWhere(a.Where, "where"); err != nil {
		return nil, err
	}
	if q.order, err = md.normOrder(a.OrderBy, true); err != nil {
		return nil, err
	}
	for _, o := range q.order {
		if o.agg == "" && !slices.Contains(q.by, o.f) {
			return nil, validationf("orderBy", "field %q is not in by", o.f.name)
		}
	}
	if err = md.normPage(a.Take, a.Skip, q); err != nil {
		return nil, err
	}
	if err = md.normAggs(q, a.Count, a.Avg, a.Sum, a.Min, a.Max); err != nil {
		return nil, err
	}
	if len(a.Having) > 0 {
		aggs := make([]string, 0, len(a.Having))
		for k := range a.Having {
			aggs = append(aggs, k)
		}
		slices.Sort(aggs)
		var kids []expr
		for _, k := range aggs {
			fn := strings.TrimPrefix(k, "_")
			if !strings.HasPrefix(k, "_") || !validAgg(fn) {
				return nil, validationf("having", "unknown aggregate %q", k)
			}
			m := a.Having[k]
			names := make([]string, 0, len(m))
			for n := range m {
				names = append(names, n)
			}
			slices.Sort(names)
			for _, n := range names {
				var f *field
				if !(n == "_all" && fn == "count") {
					if f = md.byName[n]; f == nil {
						return nil, validationf("having", "unknown field %q", n)
					}
				}
				c := m[n]
				if c == nil || len(c.ops) == 0 {
					return nil, validationf("having", "empty condition")
				}
				for _, o := range c.ops {
					e := expr{kind: eCmp, agg: fn, f: f, op: o.op}
					switch o.op {
					case opEq, opNot, opLt, opLte, opGt, opGte:
					default:
						return nil, validationf("having", "having supports equals, not, lt, lte, gt and gte")
					}
					var cv any
					var err error
					switch {
					case fn == "count":
						cv, err = coerce(&field{kind: s.KindBigInt}, o.v)
					case fn == "avg":
						cv, err = coerce(&field{kind: s.KindFloat}, o.v)
					default:
						cv, err = coerce(f, o.v)
					}
					if err != nil || cv == nil {
						return nil, validationf("having", "bad value %v", o.v)
					}
					e.v = cv
					kids = append(kids, e)
				}
			}
		}
		if len(kids) == 1 {
			q.having = &kids[0]
		} else {
			q.having = &expr{kind: eAnd, kids: kids}
		}
	}
	return q, nil
}

// ---- canonical key encoding ----
//
// Every element is tagged and length-prefixed, so the encoding is injective:
// two queries share an encoding only when they are the same normalised query.

func appendUvarint(b []byte, n uint64) []byte { return binary.AppendUvarint(b, n) }

func appendStr(b []byte, s string) []byte {
	return append(appendUvarint(b, uint64(len(s))), s...)
}

func appendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, 'z')
	case bool:
		if x {
			return append(b, 't')
		}
		return append(b, 'f')
	case int64:
		return binary.AppendVarint(append(b, 'i'), x)
	case float64:
		return binary.BigEndian.AppendUint64(append(b, 'd'), math.Float64bits(x))
	case string:
		return appendStr(append(b, 's'), x)
	case time.Time:
		b = binary.AppendVarint(append(b, 'T'), x.Unix())
		return appendUvarint(b, uint64(x.Nanosecond()))
	case json.RawMessage:
		return appendStr(append(b, 'j'), string(x))
	case []byte:
		return appendStr(append(b, 'b'), string(x))
	case []any:
		b = appendUvarint(append(b, 'l'), uint64(len(x)))
		for _, e := range x {
			b = appendValue(b, e)
		}
		return b
	}
	panic("viborm: unexpected canonical value")
}

func appendExpr(b []byte, e *expr) []byte {
	if e == nil {
		return append(b, '-')
	}
	switch e.kind {
	case eAnd, eOr, eNot:
		b = append(b, "AON"[e.kind-eAnd])
		b = appendUvarint(b, uint64(len(e.kids)))
		for i := range e.kids {
			b = appendExpr(b, &e.kids[i])
		}
		return b
	}
	b = append(b, 'C')
	if e.agg != "" {
		b = appendStr(append(b, 'g'), e.agg)
	}
	if e.f != nil {
		b = appendStr(b, e.f.name)
	} else {
		b = appendStr(b, "")
	}
	ci := byte(0)
	if e.ci {
		ci = 1
	}
	b = append(b, byte(e.op), ci)
	return appendValue(b, e.v)
}

// encode returns the canonical encoding of q, with fields fixing which parts
// the operation uses.
func (q *query) encode(b []byte) []byte {
	b = appendExpr(append(b, 'W'), q.where)
	if len(q.order) > 0 {
		b = appendUvarint(append(b, 'O'), uint64(len(q.order)))
		for _, o := range q.order {
			b = appendStr(b, o.agg)
			if o.f != nil {
				b = appendStr(b, o.f.name)
			} else {
				b = appendStr(b, "")
			}
			d := byte(0)
			if o.desc {
				d = 1
			}
			b = append(b, d, byte(o.nulls))
		}
	}
	if q.hasTake {
		b = appendUvarint(append(b, 'L'), uint64(q.take))
	}
	if q.skip > 0 {
		b = appendUvarint(append(b, 'K'), uint64(q.skip))
	}
	if q.sel != nil {
		// Fields by name, never by position: two deployments whose schemas
		// order the fields differently never share an entry by accident.
		b = appendUvarint(append(b, 'S'), uint64(len(q.sel)))
		for _, f := range q.sel {
			b = appendStr(b, f.name)
		}
	}
	if len(q.aggs) > 0 {
		b = appendUvarint(append(b, 'G'), uint64(len(q.aggs)))
		for _, a := range q.aggs {
			b = appendStr(b, a.fn)
			if a.f == nil {
				b = append(b, 0) // _all: no field name is empty
			} else {
				b = appendStr(b, a.f.name)
			}
		}
	}
	if len(q.by) > 0 {
		b = appendUvarint(append(b, 'B'), uint64(len(q.by)))
		for _, f := range q.by {
			b = appendStr(b, f.name)
		}
	}
	if q.having != nil {
		b = appendExpr(append(b, 'H'), q.having)
	}
	return b
}
