package viborm

import (
	"encoding/json"
	"fmt"
	"reflect"
	"unsafe"
)

// decodeRowsReference is the straightforward decoder of the cached-rows
// form, through encoding/json: the oracle the fast decoder is checked
// against.
func decodeRowsReference[T any](md *model, raw []byte) ([]T, error) {
	var j struct {
		C []string `json:"c"`
		R [][]any  `json:"r"`
	}
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, err
	}
	cols := make([]*field, len(j.C))
	for i, n := range j.C {
		if cols[i] = md.byName[n]; cols[i] == nil {
			return nil, fmt.Errorf("viborm: cached rows have unknown field %q", n)
		}
	}
	out := make([]T, len(j.R))
	for i, r := range j.R {
		if len(r) != len(cols) {
			return nil, fmt.Errorf("viborm: bad cached row")
		}
		if md.isRow {
			row := make(Row, len(cols))
			for k, f := range cols {
				v, err := untag(r[k])
				if err != nil {
					return nil, err
				}
				if v, err = fixKind(f.kind, v); err != nil {
					return nil, err
				}
				row[f.name] = v
			}
			*(*Row)(unsafe.Pointer(&out[i])) = row
			continue
		}
		rv := reflect.ValueOf(&out[i]).Elem()
		for k, f := range cols {
			v, err := untag(r[k])
			if err != nil {
				return nil, err
			}
			if v, err = fixKind(f.kind, v); err != nil {
				return nil, err
			}
			if v != nil {
				setField(f, rv, v)
			}
		}
	}
	return out, nil
}
