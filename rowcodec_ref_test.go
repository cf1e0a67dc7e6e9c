package viborm

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"unsafe"
)

var errRefFraming = errors.New("reference: not the cached-rows form")

// decodeRowsReference is the straightforward decoder of the cached-rows
// form, through encoding/json: the oracle the fast decoder is checked
// against. It takes what the fast decoder takes: an object with the members
// "c" (exactly the columns want, in order) and "r" (arrays of tagged values),
// in that order, and nothing after it.
func decodeRowsReference[T any](md *model, want []*field, raw []byte) ([]T, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	var c, r json.RawMessage
	for _, step := range []func() error{
		func() error { return expectToken(dec, json.Delim('{')) },
		func() error { return expectToken(dec, "c") },
		func() error { return dec.Decode(&c) },
		func() error { return expectToken(dec, "r") },
		func() error { return dec.Decode(&r) },
		func() error { return expectToken(dec, json.Delim('}')) },
	} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errRefFraming
	}
	var names []*string
	if c[0] != '[' || json.Unmarshal(c, &names) != nil || len(names) != len(want) {
		return nil, errRefFraming
	}
	for i, n := range names {
		if n == nil || *n != want[i].name {
			return nil, errRefFraming
		}
	}
	var rows []json.RawMessage
	if r[0] != '[' || json.Unmarshal(r, &rows) != nil {
		return nil, errRefFraming
	}
	out := make([]T, len(rows))
	for i, rr := range rows {
		var vals []any
		if rr[0] != '[' || json.Unmarshal(rr, &vals) != nil || len(vals) != len(want) {
			return nil, errRefFraming
		}
		if md.isRow {
			row := make(Row, len(want))
			for k, f := range want {
				v, err := untag(vals[k])
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
		for k, f := range want {
			v, err := untag(vals[k])
			if err != nil {
				return nil, err
			}
			if v, err = fixKind(f.kind, v); err != nil {
				return nil, err
			}
			if err := setField(f, rv, v); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func expectToken(dec *json.Decoder, want json.Token) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != want {
		return errRefFraming
	}
	return nil
}
