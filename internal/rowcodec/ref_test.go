package rowcodec_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strconv"
	"time"

	"github.com/viborm/viborm-go/internal/rowcodec"
	"github.com/viborm/viborm-go/s"
)

var errRefFraming = errors.New("reference: not the cached-rows form")

// refColumn is what the reference decoder knows of a column.
type refColumn struct {
	name string
	kind s.Kind
}

// decodeRowsReference is the straightforward decoder of the cached-rows
// form, through encoding/json and reflect: the oracle the fast decoder is
// checked against. It takes what the fast decoder takes: an object with the
// members "c" (exactly the columns of the plan, in order) and "r" (arrays
// of tagged values), in that order, and nothing after it.
func decodeRowsReference[T any](p *rowcodec.Plan, want []refColumn, raw []byte) ([]T, error) {
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
		rv := reflect.ValueOf(&out[i]).Elem()
		var row rowcodec.Row
		if rv.Type() == reflect.TypeFor[rowcodec.Row]() {
			row = make(rowcodec.Row, len(want))
			rv.Set(reflect.ValueOf(row))
		}
		for k, f := range want {
			v, err := rowcodec.Untag(vals[k])
			if err != nil {
				return nil, err
			}
			if v, err = rowcodec.FixKind(f.kind, v); err != nil {
				return nil, err
			}
			if row != nil {
				row[f.name] = v
				continue
			}
			if err := setFieldReference(rv.Field(k), v); err != nil {
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

var errRefRange = errors.New("reference: out of range")

// setFieldReference stores canonical value v into the struct field fv
// through reflect, as the client did before the codec wrote through
// offsets: a pointer field gets a new value, a number the field cannot
// hold is an error.
func setFieldReference(fv reflect.Value, v any) error {
	if v == nil {
		fv.SetZero()
		return nil
	}
	if fv.Kind() == reflect.Pointer {
		p := reflect.New(fv.Type().Elem())
		if err := setFieldReference(p.Elem(), v); err != nil {
			return err
		}
		fv.Set(p)
		return nil
	}
	switch x := v.(type) {
	case string:
		if fv.Kind() == reflect.Float64 { // decimal bound to float64
			fl, err := strconv.ParseFloat(x, 64)
			if err != nil {
				return errRefRange
			}
			fv.SetFloat(fl)
			return nil
		}
		fv.SetString(x)
	case int64:
		switch fv.Kind() {
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			if x < 0 || fv.OverflowUint(uint64(x)) {
				return errRefRange
			}
			fv.SetUint(uint64(x))
		default:
			if fv.OverflowInt(x) {
				return errRefRange
			}
			fv.SetInt(x)
		}
	case float64:
		if fv.OverflowFloat(x) {
			return errRefRange
		}
		fv.SetFloat(x)
	case bool:
		fv.SetBool(x)
	case time.Time:
		fv.Set(reflect.ValueOf(x))
	case json.RawMessage:
		if fv.Kind() == reflect.String {
			fv.SetString(string(x))
		} else {
			fv.SetBytes(append(make([]byte, 0, len(x)), x...))
		}
	case []byte:
		fv.SetBytes(append(make([]byte, 0, len(x)), x...))
	}
	return nil
}
