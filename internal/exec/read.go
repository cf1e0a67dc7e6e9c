// Package exec is the last stage of the ORM: it runs the statements of an
// operation and reads their results. A [Spec] says, for each kind of read,
// which statement it compiles, how it scans the rows into a result, how
// the result is decoded strictly from the cache's bytes and how a result the
// cache keeps in memory is copied for a caller; the write algorithms
// (insert and read back, update by key, native or locking upsert) run
// through a [Conn]. internal/engine's Conn implements it: its Query and
// Exec are the one place where a model operation's SQL reaches the
// database.
package exec

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"

	"github.com/viborm/viborm-go/internal/dialect"
	"github.com/viborm/viborm-go/internal/query"
	"github.com/viborm/viborm-go/internal/rowcodec"
	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/internal/sqlgen"
	"github.com/viborm/viborm-go/internal/verr"
)

// Spec is what one kind of read, of result R, adds to the runner. The
// specs are values made once (a package variable, or per model and Go type
// for rows): the runner takes them by pointer.
type Spec[R any] struct {
	Kind Kind
	// Compile returns the read's statement.
	Compile func(d dialect.Dialect, md *schema.Model, q *query.Query) sqlgen.Stmt
	// Scan reads the result from the statement's rows; orErr makes an empty
	// result an error (the OrErr reads).
	Scan func(md *schema.Model, q *query.Query, orErr bool, rows *sql.Rows) (R, error)
	// Decode reads a cached result strictly: anything but exactly the
	// result of q is an error (and the read a miss).
	Decode func(md *schema.Model, q *query.Query, raw []byte) (R, error)
	// Copy returns a result that shares nothing mutable with v.
	Copy func(md *schema.Model, v R) R
	// LoadRel and CopyRel replace the load and the copy of a read with
	// includes or relation counts (query.Query.HasRel; include.go); nil for
	// the reads that have none.
	LoadRel func(ctx context.Context, c Conn, q Querier, md *schema.Model, qu *query.Query, orErr bool) (R, error)
	CopyRel func(md *schema.Model, q *query.Query, v R) R
}

// Aggregates is the result of an aggregate: viborm.AggregateResult, which
// converts to and from it.
type Aggregates struct {
	Count map[string]int64
	Avg   map[string]any
	Sum   map[string]any
	Min   map[string]any
	Max   map[string]any
}

// Group is one group of a groupBy: the values of its By fields and its
// aggregates.
type Group struct {
	By   map[string]any
	Aggs Aggregates
}

// ReadRows scans rows into []T, converting each column to the canonical form
// of its field.
func ReadRows[T any](md *schema.Model, rows *sql.Rows, cols []*schema.Field) ([]T, error) {
	return rowcodec.ScanRows[T](md.Codec, rows, md.SelIdx(cols))
}

// RowsRead returns the spec of the reads of rows of T. Each call makes new
// function values: keep the result.
func RowsRead[T any]() Spec[[]T] {
	return Spec[[]T]{Kind: Rows, Compile: SelectRows, Scan: scanRows[T], Decode: decodeRows[T], Copy: copyRows[T],
		LoadRel: loadRel[T], CopyRel: copyRel[T]}
}

// SelectRows is the statement of a read of rows.
func SelectRows(d dialect.Dialect, md *schema.Model, q *query.Query) sqlgen.Stmt {
	return sqlgen.Select(d, md, q, false)
}

func scanRows[T any](md *schema.Model, q *query.Query, orErr bool, rows *sql.Rows) ([]T, error) {
	out, err := ReadRows[T](md, rows, q.Sel)
	if err == nil && len(out) == 0 && orErr {
		return nil, &verr.Error{Code: verr.CodeNotFound, Message: "no record found"}
	}
	return out, err
}

// decodeRows reads cached rows whose columns must be exactly the read's
// selection, in order (see rowcodec.DecodeRows).
func decodeRows[T any](md *schema.Model, q *query.Query, raw []byte) ([]T, error) {
	if q.HasRel() {
		return decodeRel[T](md, q, raw)
	}
	if rowcodec.IsCompact(raw) {
		return rowcodec.DecodeRowsCompact[T](md.Codec, md.SelIdx(q.Sel), raw)
	}
	return rowcodec.DecodeRows[T](md.Codec, md.SelIdx(q.Sel), raw)
}

func copyRows[T any](md *schema.Model, v []T) []T { return rowcodec.CopyRows(md.Codec, v) }

func same[R any](_ *schema.Model, v R) R { return v }

// CountRead is the spec of count.
var CountRead = Spec[int64]{Kind: Count, Compile: sqlgen.Count, Copy: same[int64],
	Scan: func(_ *schema.Model, _ *query.Query, _ bool, rows *sql.Rows) (int64, error) {
		var n int64
		found, err := ScanFirst(rows, &n)
		if err == nil && !found {
			err = sql.ErrNoRows
		}
		return n, err
	},
	Decode: func(_ *schema.Model, _ *query.Query, raw []byte) (int64, error) {
		var v any
		if err := json.Unmarshal(raw, &v); err == nil {
			if u, err := rowcodec.Untag(v); err == nil {
				if n, ok := u.(int64); ok && n >= 0 {
					return n, nil
				}
			}
		}
		return 0, errors.New("viborm: cached count is not a count")
	},
}

// ExistRead is the spec of exist.
var ExistRead = Spec[bool]{Kind: Exist, Compile: sqlgen.Exist, Copy: same[bool],
	Scan: func(_ *schema.Model, _ *query.Query, _ bool, rows *sql.Rows) (bool, error) {
		var one int
		return ScanFirst(rows, &one)
	},
	Decode: func(_ *schema.Model, _ *query.Query, raw []byte) (bool, error) {
		switch string(bytes.TrimSpace(raw)) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return false, errors.New("viborm: cached exist is not a boolean")
	},
}

// AggregateRead is the spec of aggregate.
var AggregateRead = Spec[Aggregates]{Kind: Agg, Compile: sqlgen.Aggregate,
	Scan: func(_ *schema.Model, q *query.Query, _ bool, rows *sql.Rows) (Aggregates, error) {
		raws := make([]any, len(q.Aggr.Aggs))
		found, err := ScanFirst(rows, ptrs(raws)...)
		if err == nil && !found {
			err = sql.ErrNoRows
		}
		var res Aggregates
		if err == nil {
			err = fillAggs(&res, q.Aggr.Aggs, raws)
		}
		return res, err
	},
	Decode: func(_ *schema.Model, q *query.Query, raw []byte) (Aggregates, error) {
		var j aggJSON
		if err := strictJSON(raw, '{', &j); err != nil {
			return Aggregates{}, err
		}
		return j.decode(q.Aggr.Aggs)
	},
	Copy: func(_ *schema.Model, v Aggregates) Aggregates { return copyAgg(v) },
}

// GroupByRead is the spec of groupBy.
var GroupByRead = Spec[[]Group]{Kind: Groups, Compile: sqlgen.GroupBy,
	Scan: func(_ *schema.Model, q *query.Query, _ bool, rows *sql.Rows) ([]Group, error) {
		by, aggs := q.Aggr.By, q.Aggr.Aggs
		raws := make([]any, len(by)+len(aggs))
		dest := ptrs(raws)
		out := []Group{}
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				return nil, err
			}
			g := Group{By: make(map[string]any, len(by))}
			for i, f := range by {
				v, err := rowcodec.FromDB(f.Kind, raws[i])
				if err != nil {
					return nil, err
				}
				g.By[f.Name] = v
			}
			if err := fillAggs(&g.Aggs, aggs, raws[len(by):]); err != nil {
				return nil, err
			}
			out = append(out, g)
		}
		return out, rows.Err()
	},
	Decode: func(_ *schema.Model, q *query.Query, raw []byte) ([]Group, error) { return decodeGroups(raw, q) },
	Copy: func(_ *schema.Model, src []Group) []Group {
		out := make([]Group, len(src))
		for i, g := range src {
			by := make(map[string]any, len(g.By))
			for k, v := range g.By {
				by[k] = rowcodec.CopyValue(v)
			}
			out[i] = Group{By: by, Aggs: copyAgg(g.Aggs)}
		}
		return out
	},
}

// ptrs returns pointers to each of raws, as Scan destinations.
func ptrs(raws []any) []any {
	dest := make([]any, len(raws))
	for i := range raws {
		dest[i] = &raws[i]
	}
	return dest
}

func fillAggs(res *Aggregates, aggs []query.Agg, raws []any) error {
	for i, a := range aggs {
		v, err := rowcodec.FromDB(query.AggKind(a), raws[i])
		if err != nil {
			return err
		}
		name := "_all"
		if a.F != nil {
			name = a.F.Name
		}
		if a.Fn == "count" {
			if res.Count == nil {
				res.Count = map[string]int64{}
			}
			n, _ := v.(int64)
			res.Count[name] = n
			continue
		}
		m := res.section(a.Fn)
		if *m == nil {
			*m = map[string]any{}
		}
		(*m)[name] = v
	}
	return nil
}

func copyAgg(a Aggregates) Aggregates {
	cp := func(m map[string]any) map[string]any {
		if m == nil {
			return nil
		}
		n := make(map[string]any, len(m))
		for k, v := range m {
			n[k] = rowcodec.CopyValue(v)
		}
		return n
	}
	var out Aggregates
	if a.Count != nil {
		out.Count = make(map[string]int64, len(a.Count))
		for k, v := range a.Count {
			out.Count[k] = v
		}
	}
	out.Avg, out.Sum, out.Min, out.Max = cp(a.Avg), cp(a.Sum), cp(a.Min), cp(a.Max)
	return out
}

// ---- the cached form ----

// Kind is the kind of a read's result.
type Kind uint8

// The kinds of results.
const (
	Rows Kind = iota + 1
	Count
	Exist
	Agg
	Groups
)

// Payload is what the client stores in the cache. With an in-memory driver
// the cache keeps the payload itself: v is never handed out, every hit
// returns a copy. With a serializing driver the payload is written with
// MarshalJSON (a tagged form that round-trips every scalar type exactly) and
// read back into raw, which the read decodes strictly before it counts as a
// hit (see Spec.Decode): a value that is not the read's result is a miss.
type Payload struct {
	Kind Kind
	MD   *schema.Model
	Q    *query.Query // the read's normalised query: its selection, aggregates and groups
	V    any
	Raw  []byte
	Own  bool // V was decoded for this read alone: no copy needed
}

// MarshalJSON writes the payload in its tagged JSON form.
func (p Payload) MarshalJSON() ([]byte, error) {
	var b []byte
	switch p.Kind {
	case Rows:
		if p.Q.HasRel() {
			b = appendLevel(b, p.MD, p.Q, reflect.ValueOf(p.V))
			break
		}
		b = rowcodec.AppendRows(b, p.MD.Codec, p.MD.SelIdx(p.Q.Sel), p.V)
	case Count:
		b = rowcodec.AppendTagged(b, p.V)
	case Exist:
		b = strconv.AppendBool(b, p.V.(bool))
	case Agg:
		b = appendAgg(b, p.V.(Aggregates))
	case Groups:
		b = append(b, '[')
		for i, g := range p.V.([]Group) {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"by":`...)
			b = appendTaggedMap(b, g.By)
			b = append(b, `,"a":`...)
			b = appendAgg(b, g.Aggs)
			b = append(b, '}')
		}
		b = append(b, ']')
	default:
		return nil, fmt.Errorf("viborm: empty payload")
	}
	return b, nil
}

// UnmarshalJSON keeps the JSON form; it is decoded by the reading operation.
// Raw aliases b, without the copy the json.Unmarshaler contract asks of a
// value that keeps its input: the cache hands it the entry's value, which
// is read-only and never reused, and the read's check decodes Raw and drops
// it before the read returns (see ReadThrough).
func (p *Payload) UnmarshalJSON(b []byte) error {
	p.Raw = b
	return nil
}

func appendAgg(b []byte, a Aggregates) []byte {
	b = append(b, '{')
	first := true
	sect := func(name string, m map[string]any) {
		if m == nil {
			return
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = strconv.AppendQuote(b, name)
		b = append(b, ':')
		b = appendTaggedMap(b, m)
	}
	if a.Count != nil {
		m := make(map[string]any, len(a.Count))
		for k, v := range a.Count {
			m[k] = v
		}
		sect("_count", m)
	}
	sect("_avg", a.Avg)
	sect("_sum", a.Sum)
	sect("_min", a.Min)
	sect("_max", a.Max)
	return append(b, '}')
}

func appendTaggedMap(b []byte, m map[string]any) []byte {
	b = append(b, '{')
	first := true
	for k, v := range m {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = strconv.AppendQuote(b, k)
		b = append(b, ':')
		b = rowcodec.AppendTagged(b, v)
	}
	return append(b, '}')
}

type aggJSON struct {
	Count map[string]any `json:"_count"`
	Avg   map[string]any `json:"_avg"`
	Sum   map[string]any `json:"_sum"`
	Min   map[string]any `json:"_min"`
	Max   map[string]any `json:"_max"`
}

func (a *aggJSON) section(fn string) map[string]any {
	switch fn {
	case "count":
		return a.Count
	case "avg":
		return a.Avg
	case "sum":
		return a.Sum
	case "min":
		return a.Min
	}
	return a.Max
}

// decode returns the aggregates of aggs, strictly: each section holds
// exactly the fields that aggs names, every value of its aggregate's type.
func (a *aggJSON) decode(aggs []query.Agg) (Aggregates, error) {
	var out Aggregates
	want := map[string]int{}
	for _, it := range aggs {
		name := "_all"
		if it.F != nil {
			name = it.F.Name
		}
		want[it.Fn]++
		v, ok := a.section(it.Fn)[name]
		if !ok {
			return out, fmt.Errorf("viborm: cached aggregates lack _%s.%s", it.Fn, name)
		}
		u, err := rowcodec.Untag(v)
		if err != nil {
			return out, err
		}
		if it.Fn == "count" {
			n, ok := u.(int64)
			if !ok || n < 0 {
				return out, errors.New("viborm: bad cached count")
			}
			if out.Count == nil {
				out.Count = map[string]int64{}
			}
			out.Count[name] = n
			continue
		}
		if u, err = rowcodec.FixKind(query.AggKind(it), u); err != nil {
			return out, err
		}
		m := out.section(it.Fn)
		if *m == nil {
			*m = map[string]any{}
		}
		(*m)[name] = u
	}
	for _, fn := range []string{"count", "avg", "sum", "min", "max"} {
		if m := a.section(fn); (m == nil) != (want[fn] == 0) || len(m) != want[fn] {
			return out, fmt.Errorf("viborm: cached aggregates do not match the read's _%s", fn)
		}
	}
	return out, nil
}

func (r *Aggregates) section(fn string) *map[string]any {
	switch fn {
	case "avg":
		return &r.Avg
	case "sum":
		return &r.Sum
	case "min":
		return &r.Min
	}
	return &r.Max
}

// strictJSON decodes raw, which must open with open ('{' or '['), into v,
// refusing unknown members and anything after the value.
func strictJSON(raw []byte, open byte, v any) error {
	if b := bytes.TrimLeft(raw, " \t\r\n"); len(b) == 0 || b[0] != open {
		return errors.New("viborm: cached value has the wrong shape")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("viborm: data after the cached value")
	}
	return nil
}

// decodeGroups reads cached groups: each with exactly the group fields of
// q, each value of its field's type, and exactly its aggregates.
func decodeGroups(raw []byte, q *query.Query) ([]Group, error) {
	var j []struct {
		By map[string]any `json:"by"`
		A  aggJSON        `json:"a"`
	}
	if err := strictJSON(raw, '[', &j); err != nil {
		return nil, err
	}
	qb, qa := q.Aggr.By, q.Aggr.Aggs
	out := make([]Group, len(j))
	for i, g := range j {
		if len(g.By) != len(qb) {
			return nil, errors.New("viborm: cached groups do not match the read's by")
		}
		by := make(map[string]any, len(qb))
		for _, f := range qb {
			v, ok := g.By[f.Name]
			if !ok {
				return nil, errors.New("viborm: cached groups do not match the read's by")
			}
			u, err := rowcodec.Untag(v)
			if err != nil {
				return nil, err
			}
			if by[f.Name], err = rowcodec.FixKind(f.Kind, u); err != nil {
				return nil, err
			}
		}
		a, err := g.A.decode(qa)
		if err != nil {
			return nil, err
		}
		out[i] = Group{By: by, Aggs: a}
	}
	return out, nil
}
