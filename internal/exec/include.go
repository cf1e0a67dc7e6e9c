package exec

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/viborm/viborm-go/internal/query"
	"github.com/viborm/viborm-go/internal/rowcodec"
	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/internal/sqlgen"
)

// This file loads included relations and relation counts (query.Include,
// query.RelCount): one statement per relation and level, never one per
// parent row, and writes, reads and copies their cached form.
//
// Loading. The read's own rows come first; then, per include, the parents'
// keys (distinct, NULLs left out) select the children in one statement
// (chunked by ParamBudget), which are themselves loaded level by level
// before they are stitched into their parents. A to-many include's
// take/skip is per parent, in SQL (ROW_NUMBER() OVER (PARTITION BY the
// foreign key …)); a many-to-many level is two statements (the junction's
// pairs, then the targets) and pages each parent in memory. Relation counts
// are one statement per level with a correlated COUNT(*) per relation. A
// read through the pool runs all its statements on one connection.
//
// The cached form of a level is
//
//	{"r":<the level's rows (rowcodec.AppendRows)>,
//	 "i":{"<relation>":{"p":[<parent index of each child>],"c":<the children's level>}},
//	 "n":{"<relation>":[<count per parent>]}}
//
// read strictly: exactly the read's includes and counts, parent indexes in
// order and in range, at most one child per parent for a to-one relation.

// ParamBudget is how many bound parameters one statement of an include
// level may carry: the smallest limit of the supported databases
// (SQLite's SQLITE_MAX_VARIABLE_NUMBER, 32766; PostgreSQL and MariaDB take
// 65535). Longer key lists are split into several statements.
var ParamBudget = 32766

// rowOps are the typed row functions of one model, for levels whose Go
// type is known only at run time.
type rowOps struct {
	typ    reflect.Type // []T
	scan   func(md *schema.Model, rows *sql.Rows, sel []*schema.Field) (reflect.Value, error)
	decode func(md *schema.Model, sel []*schema.Field, raw []byte) (reflect.Value, error)
	copy   func(md *schema.Model, v reflect.Value) reflect.Value
}

var registry sync.Map // *schema.Model → *rowOps

// RegisterRows records the row functions of md, bound to T, so that md can
// be loaded as an included relation. The root package calls it once per
// model.
func RegisterRows[T any](md *schema.Model) {
	registry.Store(md, &rowOps{
		typ: reflect.TypeFor[[]T](),
		scan: func(md *schema.Model, rows *sql.Rows, sel []*schema.Field) (reflect.Value, error) {
			v, err := ReadRows[T](md, rows, sel)
			return reflect.ValueOf(v), err
		},
		decode: func(md *schema.Model, sel []*schema.Field, raw []byte) (reflect.Value, error) {
			v, err := rowcodec.DecodeRows[T](md.Codec, md.SelIdx(sel), raw)
			return reflect.ValueOf(v), err
		},
		copy: func(md *schema.Model, v reflect.Value) reflect.Value {
			return reflect.ValueOf(rowcodec.CopyRows(md.Codec, v.Interface().([]T)))
		},
	})
}

func opsOf(md *schema.Model) (*rowOps, error) {
	o, ok := registry.Load(md)
	if !ok {
		return nil, fmt.Errorf("viborm: model %s has no registered row type", md.Name)
	}
	return o.(*rowOps), nil
}

// loadRel is the load of a read of rows with includes or counts.
func loadRel[T any](ctx context.Context, c Conn, q Querier, md *schema.Model, qu *query.Query, orErr bool) ([]T, error) {
	if db, ok := q.(*sql.DB); ok {
		conn, err := db.Conn(ctx)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		q = conn
	}
	rows, err := c.Query(ctx, q, SelectRows(c.Dialect(), md, qu))
	if err != nil {
		return nil, err
	}
	out, err := scanRows[T](md, qu, orErr, rows)
	if err != nil {
		return nil, err
	}
	if err := fill(ctx, c, q, md, qu, reflect.ValueOf(out)); err != nil {
		return nil, err
	}
	return out, nil
}

// level is what fill needs to read and write the rows of one level.
type level struct {
	md   *schema.Model
	rows reflect.Value // []T
}

func (l level) row(i int) reflect.Value { return l.rows.Index(i) }

// get returns the canonical value of f in row i.
func (l level) get(i int, f *schema.Field) any {
	rv := l.row(i)
	if l.md.GoType == nil {
		return rv.Interface().(schema.Row)[f.Name]
	}
	v, _ := schema.Coerce(f, rv.Field(f.Bind.Index[0]).Interface())
	return v
}

// appendRowKey appends the key of fs in row i to b (see appendKey); ok is
// false when one of them is NULL. Integer and text fields of a struct are
// read without boxing them.
func (l level) appendRowKey(b []byte, i int, fs []*schema.Field) (_ []byte, ok bool) {
	rv := l.row(i)
	for _, f := range fs {
		if l.md.GoType == nil {
			v := rv.Interface().(schema.Row)[f.Name]
			if v == nil {
				return b, false
			}
			b = appendKey(b, v)
			continue
		}
		fv := rv.Field(f.Bind.Index[0])
		if fv.Kind() == reflect.Pointer {
			if fv.IsNil() {
				return b, false
			}
			fv = fv.Elem()
		}
		switch fv.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			if schema.IsInt(f.Kind) {
				b = strconv.AppendInt(append(b, 'i'), fv.Int(), 10)
				b = append(b, ';')
				continue
			}
		case reflect.String:
			if schema.IsText(f.Kind) {
				str := fv.String()
				b = strconv.AppendInt(append(b, 's'), int64(len(str)), 10)
				b = append(append(append(b, ':'), str...), ';')
				continue
			}
		}
		v := l.get(i, f)
		if v == nil {
			return b, false
		}
		b = appendKey(b, v)
	}
	return b, true
}

// keySet is the distinct keys of a level's rows: their canonical values,
// in row order, and the index of each by its encoding.
type keySet struct {
	vals [][]any
	idx  map[string]int
}

// find returns the index of the key encoded in b, -1 when absent.
func (ks *keySet) find(b []byte) int {
	if k, ok := ks.idx[string(b)]; ok {
		return k
	}
	return -1
}

// distinctKeys returns the distinct non-NULL keys of fs over the level's
// rows and the index of each row's key (-1 for a NULL).
func (l level) distinctKeys(fs []*schema.Field) (ks keySet, per []int) {
	n := l.rows.Len()
	per = make([]int, n)
	ks.idx = make(map[string]int, n)
	var buf []byte
	for i := range n {
		var ok bool
		buf, ok = l.appendRowKey(buf[:0], i, fs)
		if !ok {
			per[i] = -1
			continue
		}
		k := ks.find(buf)
		if k < 0 {
			k = len(ks.vals)
			ks.idx[string(buf)] = k
			vals := make([]any, len(fs))
			for x, f := range fs {
				vals[x] = l.get(i, f)
			}
			ks.vals = append(ks.vals, vals)
		}
		per[i] = k
	}
	return ks, per
}

func appendKey(b []byte, v any) []byte {
	switch x := v.(type) {
	case int64:
		b = strconv.AppendInt(append(b, 'i'), x, 10)
	case string:
		b = strconv.AppendInt(append(b, 's'), int64(len(x)), 10)
		b = append(append(b, ':'), x...)
	case []byte:
		b = strconv.AppendInt(append(b, 'b'), int64(len(x)), 10)
		b = append(append(b, ':'), x...)
	case float64:
		b = strconv.AppendUint(append(b, 'f'), math.Float64bits(x), 16)
	case bool:
		b = strconv.AppendBool(append(b, 'B'), x)
	case time.Time:
		b = x.UTC().AppendFormat(append(b, 'T'), time.RFC3339Nano)
	default:
		b = fmt.Appendf(b, "%T:%v", v, v)
	}
	return append(b, ';')
}

// set stores v, the value of relation name (or "_count"), into row i.
func (l level) set(i int, name string, index []int, v reflect.Value) {
	rv := l.row(i)
	if l.md.GoType == nil {
		m := rv.Interface().(schema.Row)
		if !v.IsValid() || (v.Kind() == reflect.Map || v.Kind() == reflect.Pointer) && v.IsNil() {
			m[name] = nil
		} else {
			m[name] = v.Interface()
		}
		return
	}
	f := rv.FieldByIndex(index)
	if !v.IsValid() {
		f.SetZero()
		return
	}
	f.Set(v)
}

// field returns the value of relation name in row i (invalid when unset).
func (l level) field(i int, name string, index []int) reflect.Value {
	rv := l.row(i)
	if l.md.GoType == nil {
		x, ok := rv.Interface().(schema.Row)[name]
		if !ok || x == nil {
			return reflect.Value{}
		}
		return reflect.ValueOf(x)
	}
	return rv.FieldByIndex(index)
}

// chunks splits keys so that each statement binds at most ParamBudget
// parameters besides extra.
func chunks(keys [][]any, width, extra int) [][][]any {
	per := (ParamBudget - extra) / max(width, 1)
	if per < 1 {
		per = 1
	}
	var out [][][]any
	for len(keys) > per {
		out = append(out, keys[:per])
		keys = keys[per:]
	}
	if len(keys) > 0 {
		out = append(out, keys)
	}
	return out
}

// whereArgs returns how many parameters the where e binds.
func whereArgs(c Conn, md *schema.Model, e *query.Expr) int {
	if e == nil {
		return 0
	}
	return len(sqlgen.Select(c.Dialect(), md, &query.Query{Where: e, Sel: md.PK}, false).Args)
}

// scanLevel runs the statements sts and scans their rows of t into one
// slice.
func scanLevel(ctx context.Context, c Conn, q Querier, t *schema.Model, sel []*schema.Field, sts []sqlgen.Stmt) (reflect.Value, error) {
	ops, err := opsOf(t)
	if err != nil {
		return reflect.Value{}, err
	}
	var all reflect.Value
	for _, st := range sts {
		rows, err := c.Query(ctx, q, st)
		if err != nil {
			return reflect.Value{}, err
		}
		v, err := ops.scan(t, rows, sel)
		if err != nil {
			return reflect.Value{}, err
		}
		if !all.IsValid() {
			all = v
		} else {
			all = reflect.AppendSlice(all, v)
		}
	}
	if !all.IsValid() {
		all = reflect.MakeSlice(ops.typ, 0, 0)
	}
	return all, nil
}

// fill loads the includes and counts of qu into rows, rows of md.
func fill(ctx context.Context, c Conn, q Querier, md *schema.Model, qu *query.Query, rows reflect.Value) error {
	l := level{md: md, rows: rows}
	if rows.Len() == 0 {
		return nil
	}
	inc := qu.Includes()
	for i := range inc {
		if err := fillInclude(ctx, c, q, l, &inc[i]); err != nil {
			return err
		}
	}
	if len(qu.RelCounts()) > 0 {
		return fillCounts(ctx, c, q, l, qu)
	}
	return nil
}

func fillInclude(ctx context.Context, c Conn, q Querier, l level, it *query.Include) error {
	t, link, cq := it.Rel.Target, it.Link, it.Q
	ks, per := l.distinctKeys(link.ParentKeys)
	index := bindIndex(it)
	ops, err := opsOf(t)
	if err != nil {
		return err
	}
	var children reflect.Value
	var groups [][]int // per parent key: the child indexes, in order
	if j := link.Junction; j != nil {
		children, groups, err = loadJunction(ctx, c, q, t, j, cq, &ks)
		if err != nil {
			return err
		}
	} else {
		var sts []sqlgen.Stmt
		if len(ks.vals) > 0 {
			extra := whereArgs(c, t, cq.Where)
			for _, ch := range chunks(ks.vals, len(link.ChildKeys), extra) {
				sts = append(sts, sqlgen.IncludeRows(c.Dialect(), t, cq, link, ch))
			}
		}
		if children, err = scanLevel(ctx, c, q, t, cq.Sel, sts); err != nil {
			return err
		}
		groups = make([][]int, len(ks.vals))
		cl := level{md: t, rows: children}
		var buf []byte
		for k := range children.Len() {
			var ok bool
			if buf, ok = cl.appendRowKey(buf[:0], k, link.ChildKeys); ok {
				if x := ks.find(buf); x >= 0 {
					groups[x] = append(groups[x], k)
				}
			}
		}
	}
	if err := fill(ctx, c, q, t, cq, children); err != nil {
		return err
	}
	if link.Many {
		empty := reflect.MakeSlice(ops.typ, 0, 0)
		for i, k := range per {
			if k < 0 || len(groups[k]) == 0 {
				l.set(i, it.Name, index, empty)
				continue
			}
			l.set(i, it.Name, index, subSlice(children, ops.typ, groups[k]))
		}
		return nil
	}
	used := make([]bool, children.Len())
	for i, k := range per {
		if k < 0 || len(groups[k]) == 0 {
			l.set(i, it.Name, index, reflect.Value{})
			continue
		}
		ci := groups[k][0]
		one := children.Slice3(ci, ci+1, ci+1)
		if used[ci] {
			// Another parent holds this row: each gets its own.
			one = copyLevel(t, cq, one, ops)
		}
		used[ci] = true
		l.set(i, it.Name, index, toOne(t, one))
	}
	return nil
}

// toOne is the value of a to-one relation holding the single row of one: a
// pointer into it, or the Row itself.
func toOne(t *schema.Model, one reflect.Value) reflect.Value {
	if t.GoType == nil {
		return one.Index(0)
	}
	return one.Index(0).Addr()
}

// subSlice returns the rows idx of children: a capacity-limited slice of
// children when they are contiguous, a new slice otherwise.
func subSlice(children reflect.Value, typ reflect.Type, idx []int) reflect.Value {
	a, z := idx[0], idx[len(idx)-1]+1
	if z-a == len(idx) {
		return children.Slice3(a, z, z)
	}
	out := reflect.MakeSlice(typ, len(idx), len(idx))
	for k, ci := range idx {
		out.Index(k).Set(children.Index(ci))
	}
	return out
}

// loadJunction loads a many-to-many level: the junction's pairs of the
// parents' keys ks, then the targets; it returns the targets and, per
// parent key, the indexes of its targets in the targets' order, paged.
func loadJunction(ctx context.Context, c Conn, q Querier, t *schema.Model, j *schema.Junction, cq *query.Query, ks *keySet) (reflect.Value, [][]int, error) {
	pairs := make([][]int, len(ks.vals)) // per parent key: target key indexes
	tks := keySet{idx: map[string]int{}}
	ns, nt := len(j.SourceCols), len(j.TargetCols)
	for _, ch := range chunks(ks.vals, ns, 0) {
		rows, err := c.Query(ctx, q, sqlgen.JunctionPairs(c.Dialect(), j, ch))
		if err != nil {
			return reflect.Value{}, nil, err
		}
		raws := make([]any, ns+nt)
		err = func() error {
			defer rows.Close()
			var sk, tk []byte
			for rows.Next() {
				if err := rows.Scan(ptrs(raws)...); err != nil {
					return err
				}
				sk, tk = sk[:0], tk[:0]
				tv := make([]any, nt)
				for k := range raws {
					var ref *schema.Field
					if k < ns {
						ref = j.SourceRefs[k]
					} else {
						ref = j.TargetRefs[k-ns]
					}
					v, err := rowcodec.FromDB(ref.Kind, raws[k])
					if err != nil {
						return err
					}
					if k < ns {
						sk = appendKey(sk, v)
					} else {
						tv[k-ns] = v
						tk = appendKey(tk, v)
					}
				}
				s := ks.find(sk)
				if s < 0 {
					continue
				}
				x := tks.find(tk)
				if x < 0 {
					x = len(tks.vals)
					tks.idx[string(tk)] = x
					tks.vals = append(tks.vals, tv)
				}
				pairs[s] = append(pairs[s], x)
			}
			return rows.Err()
		}()
		if err != nil {
			return reflect.Value{}, nil, err
		}
	}
	var sts []sqlgen.Stmt
	if len(tks.vals) > 0 {
		extra := whereArgs(c, t, cq.Where)
		for _, ch := range chunks(tks.vals, nt, extra) {
			sts = append(sts, sqlgen.JunctionTargets(c.Dialect(), t, cq, j.TargetRefs, ch))
		}
	}
	children, err := scanLevel(ctx, c, q, t, cq.Sel, sts)
	if err != nil {
		return reflect.Value{}, nil, err
	}
	pos := make([]int, len(tks.vals)) // target key → child index (-1: filtered out)
	for k := range pos {
		pos[k] = -1
	}
	cl := level{md: t, rows: children}
	var buf []byte
	for k := range children.Len() {
		var ok bool
		if buf, ok = cl.appendRowKey(buf[:0], k, j.TargetRefs); ok {
			if x := tks.find(buf); x >= 0 {
				pos[x] = k
			}
		}
	}
	groups := make([][]int, len(ks.vals))
	for s, xs := range pairs {
		var idx []int
		for _, x := range xs {
			if p := pos[x]; p >= 0 {
				idx = append(idx, p)
			}
		}
		slices.Sort(idx)
		idx = slices.Compact(idx)
		if cq.Skip > 0 {
			idx = idx[min(cq.Skip, len(idx)):]
		}
		if cq.HasTake && len(idx) > cq.Take {
			idx = idx[:cq.Take]
		}
		groups[s] = idx
	}
	return children, groups, nil
}

// fillCounts loads the relation counts of qu into the level's rows.
func fillCounts(ctx context.Context, c Conn, q Querier, l level, qu *query.Query) error {
	md := l.md
	ids, per := l.distinctKeys(md.PK)
	counts := make([][]int64, len(ids.vals))
	rcs := qu.RelCounts()
	extra := 0
	for _, rc := range rcs {
		extra += whereArgs(c, rc.Rel.Target, rc.Where)
	}
	for _, ch := range chunks(ids.vals, len(md.PK), extra) {
		rows, err := c.Query(ctx, q, sqlgen.RelCounts(c.Dialect(), md, rcs, ch))
		if err != nil {
			return err
		}
		raws := make([]any, len(md.PK)+len(rcs))
		err = func() error {
			defer rows.Close()
			for rows.Next() {
				if err := rows.Scan(ptrs(raws)...); err != nil {
					return err
				}
				var key []byte
				for k, f := range md.PK {
					v, err := rowcodec.FromDB(f.Kind, raws[k])
					if err != nil {
						return err
					}
					key = appendKey(key, v)
				}
				ns := make([]int64, len(rcs))
				for k := range rcs {
					v, err := rowcodec.FromDB(query.AggKind(query.Agg{Fn: "count"}), raws[len(md.PK)+k])
					if err != nil {
						return err
					}
					ns[k], _ = v.(int64)
				}
				if x := ids.find(key); x >= 0 {
					counts[x] = ns
				}
			}
			return rows.Err()
		}()
		if err != nil {
			return err
		}
	}
	for i, k := range per {
		if k >= 0 {
			setCounts(l, i, rcs, counts[k])
		}
	}
	return nil
}

// setCounts stores ns (nil: all zero), the counts of row i, into its
// _count.
func setCounts(l level, i int, cs []query.RelCount, ns []int64) {
	n := func(k int) int64 {
		if ns == nil {
			return 0
		}
		return ns[k]
	}
	if l.md.GoType == nil {
		m := make(schema.Row, len(cs))
		for k, rc := range cs {
			m[rc.Name] = n(k)
		}
		l.row(i).Interface().(schema.Row)["_count"] = m
		return
	}
	rv := l.row(i)
	for k, rc := range cs {
		rv.FieldByIndex(rc.CountIndex).FieldByIndex(rc.Field).SetInt(n(k))
	}
}

// ---- copies ----

// copyLevel returns a copy of rows (of t, read by cq) that shares nothing
// mutable with it, nested relations included. Each relation's rows are
// gathered from every parent and copied at once, then handed back to their
// parents as capacity-limited slices of the copy.
func copyLevel(t *schema.Model, cq *query.Query, rows reflect.Value, ops *rowOps) reflect.Value {
	out := ops.copy(t, rows)
	if !cq.HasRel() {
		return out
	}
	l := level{md: t, rows: out}
	n := out.Len()
	vals := make([]reflect.Value, n)
	inc := cq.Includes()
	for k := range inc {
		it := &inc[k]
		index := bindIndex(it)
		cops, _ := opsOf(it.Rel.Target)
		total := 0
		for i := range n {
			v := l.field(i, it.Name, index)
			if !v.IsValid() || (v.Kind() == reflect.Slice || v.Kind() == reflect.Pointer || v.Kind() == reflect.Map) && v.IsNil() {
				vals[i] = reflect.Value{}
				continue
			}
			vals[i] = v
			if it.Link.Many {
				total += v.Len()
			} else {
				total++
			}
		}
		flat := reflect.MakeSlice(cops.typ, total, total)
		pos := 0
		for _, v := range vals {
			switch {
			case !v.IsValid():
			case it.Link.Many:
				pos += reflect.Copy(flat.Slice(pos, pos+v.Len()), v)
			case v.Kind() == reflect.Pointer:
				flat.Index(pos).Set(v.Elem())
				pos++
			default:
				flat.Index(pos).Set(v)
				pos++
			}
		}
		cp := copyLevel(it.Rel.Target, it.Q, flat, cops)
		pos = 0
		for i, v := range vals {
			switch {
			case !v.IsValid():
			case it.Link.Many:
				m := v.Len()
				l.set(i, it.Name, index, cp.Slice3(pos, pos+m, pos+m))
				pos += m
			default:
				l.set(i, it.Name, index, toOne(it.Rel.Target, cp.Slice3(pos, pos+1, pos+1)))
				pos++
			}
		}
	}
	if len(cq.RelCounts()) > 0 && t.GoType == nil {
		for i := range n {
			m := l.row(i).Interface().(schema.Row)
			if cm, ok := m["_count"].(schema.Row); ok {
				c := make(schema.Row, len(cm))
				for k, v := range cm {
					c[k] = v
				}
				m["_count"] = c
			}
		}
	}
	return out
}

func copyRel[T any](md *schema.Model, q *query.Query, v []T) []T {
	ops, err := opsOf(md)
	if err != nil {
		return rowcodec.CopyRows(md.Codec, v)
	}
	return copyLevel(md, q, reflect.ValueOf(v), ops).Interface().([]T)
}

// ---- the cached form ----

// appendLevel appends the cached form of rows, rows of md read by q.
func appendLevel(b []byte, md *schema.Model, q *query.Query, rows reflect.Value) []byte {
	inc, counts := q.Includes(), q.RelCounts()
	b = append(b, `{"r":`...)
	b = rowcodec.AppendRows(b, md.Codec, md.SelIdx(q.Sel), rows.Interface())
	l := level{md: md, rows: rows}
	if len(inc) > 0 {
		b = append(b, `,"i":{`...)
		for k := range inc {
			it := &inc[k]
			if k > 0 {
				b = append(b, ',')
			}
			index := bindIndex(it)
			ops, _ := opsOf(it.Rel.Target)
			flat := reflect.MakeSlice(ops.typ, 0, rows.Len())
			var parents []int
			for i := range rows.Len() {
				v := l.field(i, it.Name, index)
				if !v.IsValid() || (v.Kind() == reflect.Slice || v.Kind() == reflect.Pointer || v.Kind() == reflect.Map) && v.IsNil() {
					continue
				}
				switch {
				case it.Link.Many:
					flat = reflect.AppendSlice(flat, v)
					for range v.Len() {
						parents = append(parents, i)
					}
				case v.Kind() == reflect.Pointer:
					flat = reflect.Append(flat, v.Elem())
					parents = append(parents, i)
				default:
					flat = reflect.Append(flat, v)
					parents = append(parents, i)
				}
			}
			b = strconv.AppendQuote(b, it.Name)
			b = append(b, `:{"p":[`...)
			for k, p := range parents {
				if k > 0 {
					b = append(b, ',')
				}
				b = strconv.AppendInt(b, int64(p), 10)
			}
			b = append(b, `],"c":`...)
			b = appendLevel(b, it.Rel.Target, it.Q, flat)
			b = append(b, '}')
		}
		b = append(b, '}')
	}
	if len(counts) > 0 {
		b = append(b, `,"n":{`...)
		for k, rc := range counts {
			if k > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendQuote(b, rc.Name)
			b = append(b, ":["...)
			for i := range rows.Len() {
				if i > 0 {
					b = append(b, ',')
				}
				b = strconv.AppendInt(b, countOf(l, i, rc), 10)
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

func countOf(l level, i int, rc query.RelCount) int64 {
	rv := l.row(i)
	if l.md.GoType == nil {
		m, _ := rv.Interface().(schema.Row)["_count"].(schema.Row)
		n, _ := m[rc.Name].(int64)
		return n
	}
	return rv.FieldByIndex(rc.CountIndex).FieldByIndex(rc.Field).Int()
}

type levelJSON struct {
	R json.RawMessage `json:"r"`
	I map[string]*struct {
		P []int           `json:"p"`
		C json.RawMessage `json:"c"`
	} `json:"i"`
	N map[string][]int64 `json:"n"`
}

var errCachedRel = errors.New("viborm: the cached relations do not match the read's includes")

// decodeLevel reads the cached form of a level of rows of md read by q,
// strictly.
func decodeLevel(md *schema.Model, q *query.Query, raw []byte, depth int) (reflect.Value, error) {
	if depth > query.MaxIncludeDepth+1 {
		return reflect.Value{}, errCachedRel
	}
	ops, err := opsOf(md)
	if err != nil {
		return reflect.Value{}, err
	}
	var j levelJSON
	if err := strictJSON(raw, '{', &j); err != nil {
		return reflect.Value{}, err
	}
	inc, counts := q.Includes(), q.RelCounts()
	if j.R == nil || len(j.I) != len(inc) || len(j.N) != len(counts) || (j.I != nil) != (len(inc) > 0) || (j.N != nil) != (len(counts) > 0) {
		return reflect.Value{}, errCachedRel
	}
	rows, err := ops.decode(md, q.Sel, j.R)
	if err != nil {
		return reflect.Value{}, err
	}
	l := level{md: md, rows: rows}
	n := rows.Len()
	for k := range inc {
		it := &inc[k]
		e := j.I[it.Name]
		if e == nil || e.C == nil {
			return reflect.Value{}, errCachedRel
		}
		children, err := decodeLevel(it.Rel.Target, it.Q, e.C, depth+1)
		if err != nil {
			return reflect.Value{}, err
		}
		if len(e.P) != children.Len() {
			return reflect.Value{}, errCachedRel
		}
		for x, p := range e.P {
			if p < 0 || p >= n || x > 0 && (p < e.P[x-1] || !it.Link.Many && p == e.P[x-1]) {
				return reflect.Value{}, errCachedRel
			}
		}
		index := bindIndex(it)
		cops, _ := opsOf(it.Rel.Target)
		x := 0
		for i := range n {
			a := x
			for x < len(e.P) && e.P[x] == i {
				x++
			}
			switch {
			case it.Link.Many && a == x:
				l.set(i, it.Name, index, reflect.MakeSlice(cops.typ, 0, 0))
			case it.Link.Many:
				l.set(i, it.Name, index, children.Slice3(a, x, x))
			case a == x:
				l.set(i, it.Name, index, reflect.Value{})
			default:
				l.set(i, it.Name, index, toOne(it.Rel.Target, children.Slice3(a, x, x)))
			}
		}
	}
	for _, rc := range counts {
		ns, ok := j.N[rc.Name]
		if !ok || len(ns) != n {
			return reflect.Value{}, errCachedRel
		}
		for _, c := range ns {
			if c < 0 {
				return reflect.Value{}, errCachedRel
			}
		}
	}
	if len(counts) > 0 {
		for i := range n {
			ns := make([]int64, len(counts))
			for k, rc := range counts {
				ns[k] = j.N[rc.Name][i]
			}
			setCounts(l, i, counts, ns)
		}
	}
	return rows, nil
}

func decodeRel[T any](md *schema.Model, q *query.Query, raw []byte) ([]T, error) {
	v, err := decodeLevel(md, q, raw, 1)
	if err != nil {
		return nil, err
	}
	out, ok := v.Interface().([]T)
	if !ok {
		return nil, errCachedShape
	}
	return out, nil
}

// bindIndex is the index of the struct field it is bound to, nil when it
// has none.
func bindIndex(it *query.Include) []int {
	if it.Bind == nil {
		return nil
	}
	return it.Bind.Index
}
