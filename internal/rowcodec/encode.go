package rowcodec

import (
	"database/sql"
	"fmt"
	"reflect"
	"strconv"
	"unsafe"
)

// AppendRows appends rows, a []T of the plan's type T, in the cached form
// (see DecodeRows) with the columns sel, indexes of the plan's columns. It
// panics if rows is not a slice of the plan's type.
func AppendRows(b []byte, p *Plan, sel []int, rows any) []byte {
	rs := reflect.ValueOf(rows)
	if rs.Kind() != reflect.Slice || rs.Type().Elem() != p.typ {
		panic(fmt.Sprintf("rowcodec: AppendRows of %T with a plan for %s", rows, p.typ))
	}
	b = append(b, `{"c":[`...)
	for i, ci := range sel {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, p.cols[ci].Name)
	}
	b = append(b, `],"r":[`...)
	for i := range rs.Len() {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		rv := rs.Index(i)
		var row Row
		if p.row {
			row = rv.Interface().(Row)
		}
		for j, ci := range sel {
			if j > 0 {
				b = append(b, ',')
			}
			c := &p.cols[ci]
			var v any
			if p.row {
				v = row[c.Name]
			} else {
				v = getField(c, rv)
			}
			b = AppendTagged(b, v)
		}
		b = append(b, ']')
	}
	return append(b, "]}"...)
}

// ScanRows reads the rows of a query that selects the columns sel (indexes
// of the plan's columns), converting each value to its column's canonical
// form, and closes rows. A number the Go field cannot hold is a
// *RangeError. It never returns a nil slice without an error, and the
// slice's capacity is its length. T must be the plan's type.
func ScanRows[T any](p *Plan, rows *sql.Rows, sel []int) ([]T, error) {
	checkType[T](p)
	defer rows.Close()
	raws := make([]any, len(sel))
	dest := make([]any, len(sel))
	for i := range raws {
		dest[i] = &raws[i]
	}
	var out []T
	ptrs := newPtrs(p, 0)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		var zero T
		out = append(out, zero)
		base := unsafe.Pointer(&out[len(out)-1])
		if p.row {
			row := make(Row, len(sel))
			for i, ci := range sel {
				c := &p.cols[ci]
				v, err := FromDB(c.Kind, raws[i])
				if err != nil {
					return nil, fmt.Errorf("field %s: %w", c.Name, err)
				}
				row[c.Name] = v
			}
			*(*Row)(base) = row
		} else {
			for i, ci := range sel {
				if err := p.cols[ci].scan(base, ci, &ptrs, raws[i]); err != nil {
					return nil, err
				}
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if out == nil {
		out = []T{}
	}
	// The capacity ends at the length: a result that the cache keeps and
	// hands out to read-only callers can be appended to without writing
	// into the cache's memory.
	return out[:len(out):len(out)], nil
}
