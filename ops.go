package viborm

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"slices"
	"time"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/internal/dialect"
	"github.com/viborm/viborm-go/s"
)

// Op names a read operation in cache keys; the names are VibORM's.
type Op string

// The cacheable operations.
const (
	OpFindMany          Op = "findMany"
	OpFindFirst         Op = "findFirst"
	OpFindUnique        Op = "findUnique"
	OpFindUniqueOrThrow Op = "findUniqueOrThrow"
	OpFindFirstOrThrow  Op = "findFirstOrThrow"
	OpCount             Op = "count"
	OpExist             Op = "exist"
	OpAggregate         Op = "aggregate"
	OpGroupBy           Op = "groupBy"
)

func (ex *executor) start(md *model) (*model, error) {
	if ex.err != nil {
		return nil, ex.err
	}
	return ex.model(md)
}

// cacheKey returns the full key of a cached read.
func (ex *executor) cacheKey(md *model, op Op, q *query) (string, error) {
	if ex.pol != nil && ex.pol.Key != "" {
		return ex.c.fullKey(ex.pol.Key), nil
	}
	var buf [128]byte
	k, err := cache.Key(md.name, string(op), string(q.encode(buf[:0])), ex.c.keyOpt)
	if err != nil {
		return "", &Error{Code: CodeInvalidCacheKey, Model: md.name, Op: string(op), Message: "cannot derive a cache key", Err: err}
	}
	return k, nil
}

// errCachedShape rejects a value kept in memory by the cache that is not
// this read's result: one stored under the same custom key by another
// operation, model or selection.
var errCachedShape = errors.New("viborm: the cached value is not the result of this read")

// read runs load through the cache when the executor is a cached handle.
//
// A value found in the cache answers only if it is this read's result: a
// payload kept in memory must be of the same operation kind, model and
// shape (selection, aggregates, groups); bytes from a serializing driver
// must decode strictly into the result (decodeRows for rows, see fromCache).
// Anything else is a miss: the database answers, its result replaces the
// entry, and the cache logs the failure without the key.
func (ex *executor) read(ctx context.Context, md *model, op Op, q *query, kind payloadKind, load func(context.Context, querier) (any, error), rows func(md *model, cols []*field, raw []byte) (any, error)) (payload, error) {
	if ex.pol == nil {
		v, err := load(ctx, ex.q)
		if err != nil {
			return payload{}, withOp(ex.c.dbError(err, md, string(op)), md.name, string(op))
		}
		return payload{kind: kind, md: md, q: q, v: v, own: true}, nil
	}
	key, err := ex.cacheKey(md, op, q)
	if err != nil {
		return payload{}, err
	}
	pol := *ex.pol
	pol.Key = ""
	check := func(p payload) (payload, error) {
		if p.raw == nil {
			if p.kind != kind || p.md != md || !sameShape(p.q, q) {
				return payload{}, errCachedShape
			}
			return p, nil
		}
		v, err := fromCache(kind, md, q, p.raw, rows)
		if err != nil {
			return payload{}, err
		}
		return payload{kind: kind, md: md, q: q, v: v, own: true}, nil
	}
	p, err := cache.LoadChecked(ctx, ex.c.cache, key, pol, func(ctx context.Context) (payload, error) {
		v, err := load(ctx, ex.c.db)
		if err != nil {
			return payload{}, err
		}
		return payload{kind: kind, md: md, q: q, v: v}, nil
	}, check)
	if err != nil {
		var e *Error
		if errors.As(err, &e) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return payload{}, withOp(err, md.name, string(op))
		}
		if errors.Is(err, cache.ErrConfig) || errors.Is(err, cache.ErrInvalidTTL) {
			return payload{}, &Error{Code: CodeInvalidCacheOption, Model: md.name, Op: string(op), Message: "invalid cache options", Err: err}
		}
		if errors.Is(err, cache.ErrInvalidKey) {
			return payload{}, &Error{Code: CodeInvalidCacheKey, Model: md.name, Op: string(op), Message: "invalid cache key", Err: err}
		}
		return payload{}, withOp(ex.c.dbError(err, md, string(op)), md.name, string(op))
	}
	return p, nil
}

// sameShape reports whether two reads return results of the same shape:
// the same selected fields, aggregates and group fields, in order.
func sameShape(a, b *query) bool {
	return a == b || a != nil && b != nil && slices.Equal(a.sel, b.sel) && slices.Equal(a.aggs, b.aggs) && slices.Equal(a.by, b.by)
}

// fromCache decodes the bytes of a cached value of kind into the result of
// the read of q, strictly: anything but exactly that result is an error.
func fromCache(kind payloadKind, md *model, q *query, raw []byte, rows func(*model, []*field, []byte) (any, error)) (any, error) {
	switch kind {
	case pRows:
		return rows(md, q.sel, raw)
	case pCount:
		v, err := decodeScalar(raw)
		if n, ok := v.(int64); err == nil && ok && n >= 0 {
			return n, nil
		}
		return nil, errors.New("viborm: cached count is not a count")
	case pExist:
		switch string(bytes.TrimSpace(raw)) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, errors.New("viborm: cached exist is not a boolean")
	case pAgg:
		return decodeAgg(raw, q.aggs)
	case pGroups:
		return decodeGroups(raw, q)
	}
	return nil, errCachedShape
}

// decodeRowsAny is decodeRows as fromCache takes it.
func decodeRowsAny[T any](md *model, cols []*field, raw []byte) (any, error) {
	return decodeRows[T](md, cols, raw)
}

func selectRows[T any](ctx context.Context, q querier, d *dialect.Dialect, md *model, qu *query) ([]T, error) {
	st := md.compileSelect(d, qu, false)
	rows, err := q.QueryContext(ctx, st.SQL, st.Args...)
	if err != nil {
		return nil, err
	}
	return readRows[T](md, rows, qu.sel)
}

func (m *ModelDef[T]) rows(ctx context.Context, r Reader, op Op, q *query, orErr bool) ([]T, error) {
	ex := r.readExecutor()
	md := m.m
	p, err := ex.read(ctx, md, op, q, pRows, func(ctx context.Context, qr querier) (any, error) {
		rows, err := selectRows[T](ctx, qr, ex.c.d, md, q)
		if err == nil && orErr && len(rows) == 0 {
			return nil, &Error{Code: CodeNotFound, Model: md.name, Op: string(op), Message: "no record found"}
		}
		return rows, err
	}, decodeRowsAny[T])
	if err != nil {
		return nil, err
	}
	src := p.v.([]T)
	if p.own {
		return src, nil
	}
	return copyRows(md, src), nil
}

// FindMany returns the rows matching a.
func (m *ModelDef[T]) FindMany(ctx context.Context, r Reader, a FindMany) ([]T, error) {
	md, err := r.readExecutor().start(m.meta())
	if err != nil {
		return nil, err
	}
	q, err := md.normFindMany(&a)
	if err != nil {
		return nil, withOp(err, md.name, string(OpFindMany))
	}
	return m.rows(ctx, r, OpFindMany, q, false)
}

func (m *ModelDef[T]) first(ctx context.Context, r Reader, a FindMany, op Op) ([]T, error) {
	md, err := r.readExecutor().start(m.meta())
	if err != nil {
		return nil, err
	}
	q, err := md.normFirst(&a)
	if err != nil {
		return nil, withOp(err, md.name, string(op))
	}
	return m.rows(ctx, r, op, q, op == OpFindFirstOrThrow)
}

// FindFirst returns the first row matching a, or nil.
func (m *ModelDef[T]) FindFirst(ctx context.Context, r Reader, a FindMany) (*T, error) {
	rows, err := m.first(ctx, r, a, OpFindFirst)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	return &rows[0], nil
}

// FindFirstOrErr returns the first row matching a, or an error matching
// [ErrNotFound]. Its cache key's operation is VibORM's findFirstOrThrow.
func (m *ModelDef[T]) FindFirstOrErr(ctx context.Context, r Reader, a FindMany) (T, error) {
	rows, err := m.first(ctx, r, a, OpFindFirstOrThrow)
	if err != nil {
		var zero T
		return zero, err
	}
	return rows[0], nil
}

func (m *ModelDef[T]) unique(ctx context.Context, r Reader, a FindUnique, op Op) ([]T, error) {
	md, err := r.readExecutor().start(m.meta())
	if err != nil {
		return nil, err
	}
	q, err := md.normFindUnique(&a)
	if err != nil {
		return nil, withOp(err, md.name, string(op))
	}
	return m.rows(ctx, r, op, q, op == OpFindUniqueOrThrow)
}

// FindUnique returns the row selected by a unique or id field, or nil.
func (m *ModelDef[T]) FindUnique(ctx context.Context, r Reader, a FindUnique) (*T, error) {
	rows, err := m.unique(ctx, r, a, OpFindUnique)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	return &rows[0], nil
}

// FindUniqueOrErr is FindUnique returning an error matching [ErrNotFound]
// when there is no row. Its cache key's operation is findUniqueOrThrow.
func (m *ModelDef[T]) FindUniqueOrErr(ctx context.Context, r Reader, a FindUnique) (T, error) {
	rows, err := m.unique(ctx, r, a, OpFindUniqueOrThrow)
	if err != nil {
		var zero T
		return zero, err
	}
	return rows[0], nil
}

// Count returns the number of rows matching a.
func (m *ModelDef[T]) Count(ctx context.Context, r Reader, a Count) (int64, error) {
	ex := r.readExecutor()
	md, err := ex.start(m.meta())
	if err != nil {
		return 0, err
	}
	q, err := md.normCountArgs(&a)
	if err != nil {
		return 0, withOp(err, md.name, string(OpCount))
	}
	p, err := ex.read(ctx, md, OpCount, q, pCount, func(ctx context.Context, qr querier) (any, error) {
		st := md.compileCount(ex.c.d, q)
		var n int64
		err := qr.QueryRowContext(ctx, st.SQL, st.Args...).Scan(&n)
		return n, err
	}, nil)
	if err != nil {
		return 0, err
	}
	return p.v.(int64), nil
}

// Exist reports whether a row matches where.
func (m *ModelDef[T]) Exist(ctx context.Context, r Reader, where Where) (bool, error) {
	ex := r.readExecutor()
	md, err := ex.start(m.meta())
	if err != nil {
		return false, err
	}
	q, err := md.normExist(where)
	if err != nil {
		return false, withOp(err, md.name, string(OpExist))
	}
	p, err := ex.read(ctx, md, OpExist, q, pExist, func(ctx context.Context, qr querier) (any, error) {
		st := md.compileExist(ex.c.d, q)
		var one int
		err := qr.QueryRowContext(ctx, st.SQL, st.Args...).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		return err == nil, err
	}, nil)
	if err != nil {
		return false, err
	}
	return p.v.(bool), nil
}

// Aggregate computes aggregates over the rows matching a.
func (m *ModelDef[T]) Aggregate(ctx context.Context, r Reader, a Aggregate) (AggregateResult, error) {
	ex := r.readExecutor()
	md, err := ex.start(m.meta())
	if err != nil {
		return AggregateResult{}, err
	}
	q, err := md.normAggregate(&a)
	if err != nil {
		return AggregateResult{}, withOp(err, md.name, string(OpAggregate))
	}
	p, err := ex.read(ctx, md, OpAggregate, q, pAgg, func(ctx context.Context, qr querier) (any, error) {
		st := md.compileAggregate(ex.c.d, q)
		rows, err := qr.QueryContext(ctx, st.SQL, st.Args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		raws := make([]any, len(q.aggs))
		dest := make([]any, len(raws))
		for i := range raws {
			dest[i] = &raws[i]
		}
		if !rows.Next() {
			return nil, errors.Join(rows.Err(), sql.ErrNoRows)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		var res AggregateResult
		if err := fillAggs(&res, q.aggs, raws); err != nil {
			return nil, err
		}
		return res, rows.Err()
	}, nil)
	if err != nil {
		return AggregateResult{}, err
	}
	if p.own {
		return p.v.(AggregateResult), nil
	}
	return copyAgg(p.v.(AggregateResult)), nil
}

func aggKind(a aggItem) s.Kind {
	switch a.fn {
	case "count":
		return s.KindBigInt
	case "avg":
		if a.f.kind == s.KindDecimal {
			return s.KindDecimal
		}
		return s.KindFloat
	}
	return a.f.kind
}

func fillAggs(res *AggregateResult, aggs []aggItem, raws []any) error {
	for i, a := range aggs {
		v, err := fromDB(aggKind(a), raws[i])
		if err != nil {
			return err
		}
		name := "_all"
		if a.f != nil {
			name = a.f.name
		}
		var m *map[string]any
		switch a.fn {
		case "count":
			if res.Count == nil {
				res.Count = map[string]int64{}
			}
			n, _ := v.(int64)
			res.Count[name] = n
			continue
		case "avg":
			m = &res.Avg
		case "sum":
			m = &res.Sum
		case "min":
			m = &res.Min
		case "max":
			m = &res.Max
		}
		if *m == nil {
			*m = map[string]any{}
		}
		(*m)[name] = v
	}
	return nil
}

// GroupBy groups the rows matching a by a.By and computes aggregates per
// group.
func (m *ModelDef[T]) GroupBy(ctx context.Context, r Reader, a GroupBy) ([]GroupRow, error) {
	ex := r.readExecutor()
	md, err := ex.start(m.meta())
	if err != nil {
		return nil, err
	}
	q, err := md.normGroupBy(&a)
	if err != nil {
		return nil, withOp(err, md.name, string(OpGroupBy))
	}
	p, err := ex.read(ctx, md, OpGroupBy, q, pGroups, func(ctx context.Context, qr querier) (any, error) {
		st := md.compileGroupBy(ex.c.d, q)
		rows, err := qr.QueryContext(ctx, st.SQL, st.Args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		n := len(q.by) + len(q.aggs)
		raws := make([]any, n)
		dest := make([]any, n)
		for i := range raws {
			dest[i] = &raws[i]
		}
		out := []GroupRow{}
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				return nil, err
			}
			g := GroupRow{By: make(map[string]any, len(q.by))}
			for i, f := range q.by {
				v, err := fromDB(f.kind, raws[i])
				if err != nil {
					return nil, err
				}
				g.By[f.name] = v
			}
			if err := fillAggs(&g.AggregateResult, q.aggs, raws[len(q.by):]); err != nil {
				return nil, err
			}
			out = append(out, g)
		}
		return out, rows.Err()
	}, nil)
	if err != nil {
		return nil, err
	}
	src := p.v.([]GroupRow)
	if p.own {
		return src, nil
	}
	out := make([]GroupRow, len(src))
	for i, g := range src {
		by := make(map[string]any, len(g.By))
		for k, v := range g.By {
			by[k] = copyCanon(v)
		}
		out[i] = GroupRow{By: by, AggregateResult: copyAgg(g.AggregateResult)}
	}
	return out, nil
}

func decodeScalar(raw []byte) (any, error) {
	var v any
	if err := jsonUnmarshal(raw, &v); err != nil {
		return nil, err
	}
	return untag(v)
}

// CacheKey returns the full key that a cached read of op with args (a
// FindMany, FindUnique, Count, Where for exist, Aggregate or GroupBy value)
// through r would use: the same validation and normalisation as the read
// itself. With a *Cached handle that sets a custom key, that key is returned.
func (m *ModelDef[T]) CacheKey(r Reader, op Op, args any) (string, error) {
	ex := r.readExecutor()
	if ex.c.cache == nil {
		return "", &Error{Code: CodeCacheNotConfigured, Message: "CacheKey needs Config.Cache"}
	}
	md, q, err := m.normRead(ex, op, args)
	if err != nil {
		return "", err
	}
	return ex.cacheKey(md, op, q)
}

// Statement is a SQL statement with its bound arguments.
type Statement struct {
	SQL  string
	Args []any
}

// ReadSQL returns the statement a read of op with args (as for
// [ModelDef.CacheKey]) runs on c's dialect, without running it.
func (m *ModelDef[T]) ReadSQL(c *Client, op Op, args any) (Statement, error) {
	md, q, err := m.normRead(&c.ex, op, args)
	if err != nil {
		return Statement{}, err
	}
	var st stmt
	switch op {
	case OpCount:
		st = md.compileCount(c.d, q)
	case OpExist:
		st = md.compileExist(c.d, q)
	case OpAggregate:
		st = md.compileAggregate(c.d, q)
	case OpGroupBy:
		st = md.compileGroupBy(c.d, q)
	default:
		st = md.compileSelect(c.d, q, false)
	}
	return Statement(st), nil
}

func (m *ModelDef[T]) normRead(ex *executor, op Op, args any) (*model, *query, error) {
	md, err := ex.start(m.meta())
	if err != nil {
		return nil, nil, err
	}
	var q *query
	bad := func() (*model, *query, error) {
		return nil, nil, validationf("args", "%T is not the argument type of %s", args, op)
	}
	switch op {
	case OpFindMany, OpFindFirst, OpFindFirstOrThrow:
		a, ok := args.(FindMany)
		if !ok {
			return bad()
		}
		if op == OpFindMany {
			q, err = md.normFindMany(&a)
		} else {
			q, err = md.normFirst(&a)
		}
	case OpFindUnique, OpFindUniqueOrThrow:
		a, ok := args.(FindUnique)
		if !ok {
			return bad()
		}
		q, err = md.normFindUnique(&a)
	case OpCount:
		a, ok := args.(Count)
		if !ok {
			return bad()
		}
		q, err = md.normCountArgs(&a)
	case OpExist:
		w, ok := args.(Where)
		if !ok {
			return bad()
		}
		q, err = md.normExist(w)
	case OpAggregate:
		a, ok := args.(Aggregate)
		if !ok {
			return bad()
		}
		q, err = md.normAggregate(&a)
	case OpGroupBy:
		a, ok := args.(GroupBy)
		if !ok {
			return bad()
		}
		q, err = md.normGroupBy(&a)
	default:
		return nil, nil, &Error{Code: CodeNotCacheable, Model: md.name, Op: string(op), Message: "not a cacheable operation"}
	}
	if err != nil {
		return nil, nil, withOp(err, md.name, string(op))
	}
	return md, q, nil
}

func (md *model) normCountArgs(a *Count) (*query, error) {
	q := &query{}
	var err error
	if q.where, err = md.normWhere(a.Where, "where"); err != nil {
		return nil, err
	}
	if err = md.normPage(a.Take, a.Skip, q); err != nil {
		return nil, err
	}
	return q, nil
}

// ---- writes ----

func (md *model) buildData(data Data, create bool, now time.Time) ([]setItem, error) {
	names := make([]string, 0, len(data))
	for k := range data {
		names = append(names, k)
	}
	slices.Sort(names)
	var items []setItem
	seen := make([]bool, len(md.fields))
	for _, n := range names {
		f := md.byName[n]
		if f == nil {
			return nil, validationf("data."+n, "unknown field %q of model %s", n, md.name)
		}
		seen[f.idx] = true
		v := data[n]
		if op, ok := v.(UpdateOp); ok {
			if create {
				return nil, validationf("data."+n, "update operators are not allowed in a create")
			}
			if !isNumeric(f.kind) {
				return nil, validationf("data."+n, "update operators need a numeric field")
			}
			cv, err := coerce(f, op.v)
			if err != nil || cv == nil {
				return nil, validationf("data."+n, "bad operand: %v", err)
			}
			if op.op == '/' && (cv == int64(0) || cv == float64(0) || cv == "0") {
				return nil, validationf("data."+n, "division by zero")
			}
			items = append(items, setItem{f: f, op: op.op, v: cv})
			continue
		}
		cv, err := coerce(f, v)
		if err != nil {
			return nil, validationf("data."+n, "%v", err)
		}
		items = append(items, setItem{f: f, v: cv})
	}
	for _, f := range md.fields {
		if seen[f.idx] {
			continue
		}
		var v any
		switch {
		case f.def.UpdatedAt:
			v = now
		case !create:
			continue
		case f.def.Default == s.DefaultValue:
			v, _ = coerce(f, f.def.Value)
		case f.def.Default == s.DefaultNow:
			v = now
		case f.def.Default == s.DefaultUUID:
			v = newUUID()
		case f.def.Default == s.DefaultULID:
			v = newULID(now)
		default:
			continue
		}
		items = append(items, setItem{f: f, v: v})
	}
	slices.SortFunc(items, func(a, b setItem) int { return a.f.idx - b.f.idx })
	return items, nil
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

func newULID(now time.Time) string {
	var b [16]byte
	ms := uint64(now.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	_, _ = rand.Read(b[6:])
	// 128 bits → 26 base32 characters (the first holds 3 bits).
	var out [26]byte
	var acc uint64
	bits := 0
	pos := 25
	for i := 15; i >= 0; i-- {
		acc |= uint64(b[i]) << bits
		bits += 8
		for bits >= 5 && pos >= 0 {
			out[pos] = crockford[acc&31]
			acc >>= 5
			bits -= 5
			pos--
		}
	}
	if pos >= 0 {
		out[pos] = crockford[acc&31]
	}
	return string(out[:])
}

func (ex *executor) now() time.Time { return time.Now().UTC() }

// findPK returns the primary key of the row where selects (nil if none).
func (ex *executor) findPK(ctx context.Context, q querier, md *model, w *expr) ([]any, error) {
	qu := &query{where: w, sel: md.pk, take: 1, hasTake: true}
	st := md.compileSelect(ex.c.d, qu, true)
	rows, err := q.QueryContext(ctx, st.SQL, st.Args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	raws := make([]any, len(md.pk))
	dest := make([]any, len(raws))
	for i := range raws {
		dest[i] = &raws[i]
	}
	if err := rows.Scan(dest...); err != nil {
		return nil, err
	}
	for i, f := range md.pk {
		if raws[i], err = fromDB(f.kind, raws[i]); err != nil {
			return nil, err
		}
	}
	return raws, rows.Err()
}

func (m *ModelDef[T]) byPK(ctx context.Context, ex *executor, q querier, md *model, pk []any, sel []*field) (T, error) {
	rows, err := selectRows[T](ctx, q, ex.c.d, md, &query{where: md.pkExpr(pk), sel: sel})
	var zero T
	if err != nil {
		return zero, err
	}
	if len(rows) == 0 {
		return zero, &Error{Code: CodeNotFound, Model: md.name, Message: "no record found"}
	}
	return rows[0], nil
}

func (m *ModelDef[T]) insertOne(ctx context.Context, ex *executor, q querier, md *model, items []setItem, sel []*field) (T, error) {
	var zero T
	if ex.c.d.Returning {
		st := md.compileInsert(ex.c.d, [][]setItem{items}, sel)
		rows, err := q.QueryContext(ctx, st.SQL, st.Args...)
		if err != nil {
			return zero, err
		}
		out, err := readRows[T](md, rows, sel)
		if err != nil {
			return zero, err
		}
		if len(out) != 1 {
			return zero, errors.New("viborm: insert returned no row")
		}
		return out[0], nil
	}
	st := md.compileInsert(ex.c.d, [][]setItem{items}, nil)
	res, err := q.ExecContext(ctx, st.SQL, st.Args...)
	if err != nil {
		return zero, err
	}
	pk := make([]any, len(md.pk))
	for i, f := range md.pk {
		for _, it := range items {
			if it.f == f {
				pk[i] = it.v
			}
		}
		if pk[i] == nil && f.autoID {
			id, err := res.LastInsertId()
			if err != nil {
				return zero, err
			}
			pk[i] = id
		}
	}
	return m.byPK(ctx, ex, q, md, pk, sel)
}

// Create inserts a row and returns it as stored.
func (m *ModelDef[T]) Create(ctx context.Context, w Writer, a Create) (T, error) {
	ex := w.writeExecutor()
	var zero T
	md, err := ex.start(m.meta())
	if err != nil {
		return zero, err
	}
	items, err := md.buildData(a.Data, true, ex.now())
	if err != nil {
		return zero, withOp(err, md.name, "create")
	}
	sel, err := md.normSelect(a.Select, a.Omit)
	if err != nil {
		return zero, withOp(err, md.name, "create")
	}
	var out T
	err = ex.inTx(ctx, func(q querier) error {
		out, err = m.insertOne(ctx, ex, q, md, items, sel)
		return err
	})
	if err != nil {
		return zero, ex.c.dbError(err, md, "create")
	}
	ex.invalidateAfter(ctx, md, a.Cache)
	return out, nil
}

// CreateMany inserts rows and returns how many were inserted.
func (m *ModelDef[T]) CreateMany(ctx context.Context, w Writer, a CreateMany) (int64, error) {
	ex := w.writeExecutor()
	md, err := ex.start(m.meta())
	if err != nil {
		return 0, err
	}
	if len(a.Data) == 0 {
		return 0, nil
	}
	now := ex.now()
	// Rows are grouped by the fields they set, in order, one INSERT each.
	var groups [][][]setItem
	for i, d := range a.Data {
		items, err := md.buildData(d, true, now)
		if err != nil {
			return 0, withOp(validationf("data["+itoa(i)+"]", "%v", err), md.name, "createMany")
		}
		placed := false
		for gi, g := range groups {
			if sameFields(g[0], items) && len(g) < 500 {
				groups[gi] = append(g, items)
				placed = true
				break
			}
		}
		if !placed {
			groups = append(groups, [][]setItem{items})
		}
	}
	var n int64
	err = ex.inTx(ctx, func(q querier) error {
		for _, g := range groups {
			st := md.compileInsert(ex.c.d, g, nil)
			res, err := q.ExecContext(ctx, st.SQL, st.Args...)
			if err != nil {
				return err
			}
			k, _ := res.RowsAffected()
			n += k
		}
		return nil
	})
	if err != nil {
		return 0, ex.c.dbError(err, md, "createMany")
	}
	ex.invalidateAfter(ctx, md, a.Cache)
	return n, nil
}

func sameFields(a, b []setItem) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].f != b[i].f {
			return false
		}
	}
	return true
}

func (m *ModelDef[T]) updateFound(ctx context.Context, ex *executor, q querier, md *model, pk []any, items []setItem, sel []*field) (T, error) {
	var zero T
	if len(items) > 0 {
		st := md.compileUpdate(ex.c.d, items, md.pkExpr(pk))
		if _, err := q.ExecContext(ctx, st.SQL, st.Args...); err != nil {
			return zero, err
		}
	}
	newPK := slices.Clone(pk)
	for i, f := range md.pk {
		for _, it := range items {
			if it.f == f && it.op == 0 {
				newPK[i] = it.v
			}
		}
	}
	return m.byPK(ctx, ex, q, md, newPK, sel)
}

// Update changes the row selected by a unique where and returns it; it fails
// with [ErrNotFound] when there is none.
func (m *ModelDef[T]) Update(ctx context.Context, w Writer, a Update) (T, error) {
	ex := w.writeExecutor()
	var zero T
	md, err := ex.start(m.meta())
	if err != nil {
		return zero, err
	}
	if err := md.checkUnique(a.Where); err != nil {
		return zero, withOp(err, md.name, "update")
	}
	wh, err := md.normWhere(a.Where, "where")
	if err != nil {
		return zero, withOp(err, md.name, "update")
	}
	items, err := md.buildData(a.Data, false, ex.now())
	if err != nil {
		return zero, withOp(err, md.name, "update")
	}
	sel, err := md.normSelect(a.Select, a.Omit)
	if err != nil {
		return zero, withOp(err, md.name, "update")
	}
	var out T
	err = ex.inTx(ctx, func(q querier) error {
		pk, err := ex.findPK(ctx, q, md, wh)
		if err != nil {
			return err
		}
		if pk == nil {
			return &Error{Code: CodeNotFound, Message: "no record to update"}
		}
		out, err = m.updateFound(ctx, ex, q, md, pk, items, sel)
		return err
	})
	if err != nil {
		return zero, withOp(ex.c.dbError(err, md, "update"), md.name, "update")
	}
	ex.invalidateAfter(ctx, md, a.Cache)
	return out, nil
}

// UpdateMany changes every row matching where and returns how many matched.
func (m *ModelDef[T]) UpdateMany(ctx context.Context, w Writer, a UpdateMany) (int64, error) {
	ex := w.writeExecutor()
	md, err := ex.start(m.meta())
	if err != nil {
		return 0, err
	}
	wh, err := md.normWhere(a.Where, "where")
	if err != nil {
		return 0, withOp(err, md.name, "updateMany")
	}
	items, err := md.buildData(a.Data, false, ex.now())
	if err != nil {
		return 0, withOp(err, md.name, "updateMany")
	}
	if len(items) == 0 {
		return 0, withOp(validationf("data", "nothing to update"), md.name, "updateMany")
	}
	st := md.compileUpdate(ex.c.d, items, wh)
	res, err := ex.q.ExecContext(ctx, st.SQL, st.Args...)
	if err != nil {
		return 0, ex.c.dbError(err, md, "updateMany")
	}
	n, _ := res.RowsAffected()
	ex.invalidateAfter(ctx, md, a.Cache)
	return n, nil
}

// Upsert updates the row selected by a unique where with a.Update, or
// creates a.Create when there is none, and returns the row. An empty
// a.Update leaves an existing row as it is and returns it.
//
// When the where is equalities on one unique key and a.Create sets that key
// to the same values, the upsert is one atomic statement (INSERT … ON
// CONFLICT … DO UPDATE on PostgreSQL and SQLite, INSERT … ON DUPLICATE KEY
// UPDATE on MySQL/MariaDB), so concurrent upserts of one key never fail
// with a unique violation or a deadlock. On MySQL this also needs that no
// other unique key of the created row can conflict and that a.Update does
// not change the key (ON DUPLICATE KEY UPDATE fires on any unique key).
// Other upserts read the row with a lock and then insert or update it; under
// concurrency they can fail with [ErrUniqueViolation] or [ErrSerialization]
// and may be retried.
func (m *ModelDef[T]) Upsert(ctx context.Context, w Writer, a Upsert) (T, error) {
	ex := w.writeExecutor()
	var zero T
	md, err := ex.start(m.meta())
	if err != nil {
		return zero, err
	}
	if err := md.checkUnique(a.Where); err != nil {
		return zero, withOp(err, md.name, "upsert")
	}
	wh, err := md.normWhere(a.Where, "where")
	if err != nil {
		return zero, withOp(err, md.name, "upsert")
	}
	now := ex.now()
	cItems, err := md.buildData(a.Create, true, now)
	if err != nil {
		return zero, withOp(err, md.name, "upsert")
	}
	uItems, err := md.buildData(a.Update, false, now)
	if err != nil {
		return zero, withOp(err, md.name, "upsert")
	}
	sel, err := md.normSelect(a.Select, a.Omit)
	if err != nil {
		return zero, withOp(err, md.name, "upsert")
	}
	var out T
	if nu, ok := md.planNativeUpsert(&a, cItems, uItems, ex.c.d.UpsertAnyKey()); ok {
		out, err = m.upsertNative(ctx, ex, md, nu, cItems, uItems, sel)
		if err != nil {
			return zero, withOp(ex.c.dbError(err, md, "upsert"), md.name, "upsert")
		}
		ex.invalidateAfter(ctx, md, a.Cache)
		return out, nil
	}
	err = ex.inTx(ctx, func(q querier) error {
		pk, err := ex.findPK(ctx, q, md, wh)
		if err != nil {
			return err
		}
		if pk == nil {
			out, err = m.insertOne(ctx, ex, q, md, cItems, sel)
			return err
		}
		out, err = m.updateFound(ctx, ex, q, md, pk, uItems, sel)
		return err
	})
	if err != nil {
		return zero, withOp(ex.c.dbError(err, md, "upsert"), md.name, "upsert")
	}
	ex.invalidateAfter(ctx, md, a.Cache)
	return out, nil
}

// Delete removes the row selected by a unique where and returns it; it fails
// with [ErrNotFound] when there is none.
func (m *ModelDef[T]) Delete(ctx context.Context, w Writer, a Delete) (T, error) {
	ex := w.writeExecutor()
	var zero T
	md, err := ex.start(m.meta())
	if err != nil {
		return zero, err
	}
	if err := md.checkUnique(a.Where); err != nil {
		return zero, withOp(err, md.name, "delete")
	}
	wh, err := md.normWhere(a.Where, "where")
	if err != nil {
		return zero, withOp(err, md.name, "delete")
	}
	sel, err := md.normSelect(a.Select, a.Omit)
	if err != nil {
		return zero, withOp(err, md.name, "delete")
	}
	var out T
	err = ex.inTx(ctx, func(q querier) error {
		pk, err := ex.findPK(ctx, q, md, wh)
		if err != nil {
			return err
		}
		if pk == nil {
			return &Error{Code: CodeNotFound, Message: "no record to delete"}
		}
		if out, err = m.byPK(ctx, ex, q, md, pk, sel); err != nil {
			return err
		}
		st := md.compileDelete(ex.c.d, md.pkExpr(pk))
		_, err = q.ExecContext(ctx, st.SQL, st.Args...)
		return err
	})
	if err != nil {
		return zero, withOp(ex.c.dbError(err, md, "delete"), md.name, "delete")
	}
	ex.invalidateAfter(ctx, md, a.Cache)
	return out, nil
}

// DeleteMany removes every row matching where and returns how many.
func (m *ModelDef[T]) DeleteMany(ctx context.Context, w Writer, a DeleteMany) (int64, error) {
	ex := w.writeExecutor()
	md, err := ex.start(m.meta())
	if err != nil {
		return 0, err
	}
	wh, err := md.normWhere(a.Where, "where")
	if err != nil {
		return 0, withOp(err, md.name, "deleteMany")
	}
	st := md.compileDelete(ex.c.d, wh)
	res, err := ex.q.ExecContext(ctx, st.SQL, st.Args...)
	if err != nil {
		return 0, ex.c.dbError(err, md, "deleteMany")
	}
	n, _ := res.RowsAffected()
	ex.invalidateAfter(ctx, md, a.Cache)
	return n, nil
}
