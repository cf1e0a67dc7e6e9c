package viborm

import (
	"bytes"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"time"
	"unsafe"

	"github.com/viborm/viborm-go/s"
)

// readRows scans rows into []T, converting each column to the canonical form
// of its field.
func readRows[T any](md *model, rows *sql.Rows, cols []*field) ([]T, error) {
	defer rows.Close()
	raws := make([]any, len(cols))
	dest := make([]any, len(cols))
	for i := range raws {
		dest[i] = &raws[i]
	}
	var out []T
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		var t T
		if md.isRow {
			row := make(Row, len(cols))
			for i, f := range cols {
				v, err := fromDB(f.kind, raws[i])
				if err != nil {
					return nil, fmt.Errorf("field %s: %w", f.name, err)
				}
				row[f.name] = v
			}
			*(*Row)(unsafe.Pointer(&t)) = row
		} else {
			rv := reflect.ValueOf(&t).Elem()
			for i, f := range cols {
				v, err := fromDB(f.kind, raws[i])
				if err != nil {
					return nil, fmt.Errorf("field %s: %w", f.name, err)
				}
				if v != nil {
					if err := setField(f, rv, v); err != nil {
						return nil, err
					}
				}
			}
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if out == nil {
		out = []T{}
	}
	return out, nil
}

// copyRows returns a copy of src that shares nothing mutable with it.
func copyRows[T any](md *model, src []T) []T {
	out := make([]T, len(src))
	copy(out, src)
	if md.isRow {
		for i := range out {
			p := (*Row)(unsafe.Pointer(&out[i]))
			*p = copyRow(*p)
		}
		return out
	}
	if len(md.deep) > 0 && len(out) > 0 {
		base, size := unsafe.Pointer(&out[0]), unsafe.Sizeof(out[0])
		for _, step := range md.deep {
			step(base, size, len(out))
		}
	}
	return out
}

func copyRow(r Row) Row {
	n := make(Row, len(r))
	for k, v := range r {
		n[k] = copyCanon(v)
	}
	return n
}

func copyCanon(v any) any {
	switch x := v.(type) {
	case []byte:
		return bytes.Clone(x)
	case json.RawMessage:
		return json.RawMessage(bytes.Clone(x))
	}
	return v
}

func copyAgg(a AggregateResult) AggregateResult {
	cp := func(m map[string]any) map[string]any {
		if m == nil {
			return nil
		}
		n := make(map[string]any, len(m))
		for k, v := range m {
			n[k] = copyCanon(v)
		}
		return n
	}
	var out AggregateResult
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

type payloadKind uint8

const (
	pRows payloadKind = iota + 1
	pCount
	pExist
	pAgg
	pGroups
)

// payload is what the client stores in the cache. With an in-memory driver
// the cache keeps the payload itself: v is never handed out, every hit
// returns a copy. With a serializing driver the payload is written with
// MarshalJSON (a tagged form that round-trips every scalar type exactly) and
// read back into raw, which the read decodes strictly before it counts as a
// hit (see executor.read): a value that is not the read's result is a miss.
type payload struct {
	kind payloadKind
	md   *model
	q    *query // the read's normalised query: its selection, aggregates and groups
	v    any
	raw  []byte
	own  bool // v was decoded for this read alone: no copy needed
}

// MarshalJSON writes the payload in its tagged JSON form.
func (p payload) MarshalJSON() ([]byte, error) {
	var b []byte
	switch p.kind {
	case pRows:
		b = append(b, `{"c":[`...)
		for i, f := range p.q.sel {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendQuote(b, f.name)
		}
		b = append(b, `],"r":[`...)
		rv := reflect.ValueOf(p.v)
		for i := 0; i < rv.Len(); i++ {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '[')
			e := rv.Index(i)
			for j, f := range p.q.sel {
				if j > 0 {
					b = append(b, ',')
				}
				var v any
				if p.md.isRow {
					v = e.Interface().(Row)[f.name]
				} else {
					v = getField(f, e)
				}
				b = appendTagged(b, v)
			}
			b = append(b, ']')
		}
		b = append(b, "]}"...)
	case pCount:
		b = appendTagged(b, p.v)
	case pExist:
		b = strconv.AppendBool(b, p.v.(bool))
	case pAgg:
		b = appendAgg(b, p.v.(AggregateResult))
	case pGroups:
		b = append(b, '[')
		for i, g := range p.v.([]GroupRow) {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"by":`...)
			b = appendTaggedMap(b, g.By)
			b = append(b, `,"a":`...)
			b = appendAgg(b, g.AggregateResult)
			b = append(b, '}')
		}
		b = append(b, ']')
	default:
		return nil, fmt.Errorf("viborm: empty payload")
	}
	return b, nil
}

// UnmarshalJSON keeps the JSON form; it is decoded by the reading operation.
func (p *payload) UnmarshalJSON(b []byte) error {
	p.raw = bytes.Clone(b)
	return nil
}

func appendAgg(b []byte, a AggregateResult) []byte {
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
		b = appendTagged(b, v)
	}
	return append(b, '}')
}

// appendTagged writes a canonical value: null, true/false, or a string whose
// first byte names the type.
func appendTagged(b []byte, v any) []byte {
	var s string
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, x)
	case int64:
		s = "i" + strconv.FormatInt(x, 10)
	case float64:
		s = "f" + strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		s = "s" + x
	case time.Time:
		s = "t" + x.UTC().Format(time.RFC3339Nano)
	case json.RawMessage:
		s = "j" + string(x)
	case []byte:
		s = "b" + base64.StdEncoding.EncodeToString(x)
	default:
		s = "s" + fmt.Sprint(x)
	}
	out, _ := json.Marshal(s)
	return append(b, out...)
}

// untag returns the canonical value of a tagged value decoded by
// encoding/json: nil, a bool, or a tagged string (see untagBytes).
func untag(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool:
		return x, nil
	case string:
		if x != "" {
			return untagBytes(x[0], []byte(x[1:]))
		}
	}
	return nil, fmt.Errorf("viborm: bad cached value %v", v)
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
func (a *aggJSON) decode(aggs []aggItem) (AggregateResult, error) {
	var out AggregateResult
	want := map[string]int{}
	for _, it := range aggs {
		name := "_all"
		if it.f != nil {
			name = it.f.name
		}
		want[it.fn]++
		v, ok := a.section(it.fn)[name]
		if !ok {
			return out, fmt.Errorf("viborm: cached aggregates lack _%s.%s", it.fn, name)
		}
		u, err := untag(v)
		if err != nil {
			return out, err
		}
		if it.fn == "count" {
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
		if u, err = fixKind(aggKind(it), u); err != nil {
			return out, err
		}
		m := out.section(it.fn)
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

func (r *AggregateResult) section(fn string) *map[string]any {
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

// fixKind checks that a decoded value has the type its field's kind needs.
func fixKind(k s.Kind, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	ok := false
	switch k {
	case s.KindString, s.KindEnum, s.KindDecimal:
		_, ok = v.(string)
	case s.KindInt, s.KindBigInt:
		_, ok = v.(int64)
	case s.KindFloat:
		_, ok = v.(float64)
	case s.KindBoolean:
		_, ok = v.(bool)
	case s.KindDateTime:
		_, ok = v.(time.Time)
	case s.KindJSON:
		_, ok = v.(json.RawMessage)
	case s.KindBytes:
		_, ok = v.([]byte)
	}
	if !ok {
		return nil, fmt.Errorf("viborm: cached value %T does not fit a %s field", v, k)
	}
	return v, nil
}

// decodeAgg reads a cached aggregate result: exactly the aggregates aggs.
func decodeAgg(raw []byte, aggs []aggItem) (AggregateResult, error) {
	var j aggJSON
	if err := strictJSON(raw, '{', &j); err != nil {
		return AggregateResult{}, err
	}
	return j.decode(aggs)
}

// decodeGroups reads cached groups: each with exactly the fields of q.by,
// each value of its field's type, and exactly the aggregates of q.aggs.
func decodeGroups(raw []byte, q *query) ([]GroupRow, error) {
	var j []struct {
		By map[string]any `json:"by"`
		A  aggJSON        `json:"a"`
	}
	if err := strictJSON(raw, '[', &j); err != nil {
		return nil, err
	}
	out := make([]GroupRow, len(j))
	for i, g := range j {
		if len(g.By) != len(q.by) {
			return nil, errors.New("viborm: cached groups do not match the read's by")
		}
		by := make(map[string]any, len(q.by))
		for _, f := range q.by {
			v, ok := g.By[f.name]
			if !ok {
				return nil, errors.New("viborm: cached groups do not match the read's by")
			}
			u, err := untag(v)
			if err != nil {
				return nil, err
			}
			if by[f.name], err = fixKind(f.kind, u); err != nil {
				return nil, err
			}
		}
		a, err := g.A.decode(q.aggs)
		if err != nil {
			return nil, err
		}
		out[i] = GroupRow{By: by, AggregateResult: a}
	}
	return out, nil
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
