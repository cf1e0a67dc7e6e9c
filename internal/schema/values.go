package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/viborm/viborm-go/s"
)

// Coerce turns a value given by the caller for field f into its canonical
// form: string, int64, float64, bool, time.Time (UTC), []byte,
// json.RawMessage, or nil. The error says why v does not fit f.
func Coerce(f *Field, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch f.Kind {
	case s.KindString:
		if x, ok := v.(string); ok {
			return x, nil
		}
	case s.KindBoolean:
		if x, ok := v.(bool); ok {
			return x, nil
		}
	case s.KindInt, s.KindBigInt:
		switch x := v.(type) {
		case int:
			return checkInt(f, int64(x))
		case int64:
			return checkInt(f, x)
		}
	case s.KindDateTime:
		if x, ok := v.(time.Time); ok {
			return x.UTC(), nil
		}
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil, nil
		}
		rv = rv.Elem()
	}
	bad := func() (any, error) {
		return nil, fmt.Errorf("%v (%T) is not a valid %s", v, v, f.Kind)
	}
	switch f.Kind {
	case s.KindString, s.KindEnum:
		if rv.Kind() != reflect.String {
			return bad()
		}
		str := rv.String()
		if f.Enum != nil && !f.Enum[str] {
			return nil, fmt.Errorf("%q is not one of %s", str, strings.Join(f.Def.Values, ", "))
		}
		return str, nil
	case s.KindInt, s.KindBigInt:
		var n int64
		switch rv.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			n = rv.Int()
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			u := rv.Uint()
			if u > math.MaxInt64 {
				return nil, fmt.Errorf("%d overflows a %s", u, f.Kind)
			}
			n = int64(u)
		case reflect.Float32, reflect.Float64:
			fl := rv.Float()
			if fl != math.Trunc(fl) || math.Abs(fl) > 1<<53 {
				return bad()
			}
			n = int64(fl)
		default:
			return bad()
		}
		return checkInt(f, n)
	case s.KindFloat:
		var fl float64
		switch rv.Kind() {
		case reflect.Float32, reflect.Float64:
			fl = rv.Float()
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			fl = float64(rv.Int())
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			fl = float64(rv.Uint())
		default:
			return bad()
		}
		if math.IsNaN(fl) || math.IsInf(fl, 0) {
			return nil, fmt.Errorf("%v is not a finite number", fl)
		}
		return fl, nil
	case s.KindDecimal:
		switch rv.Kind() {
		case reflect.String:
			str := strings.TrimSpace(rv.String())
			if !isDecimal(str) {
				return nil, fmt.Errorf("%q is not a decimal number", str)
			}
			return str, nil
		case reflect.Float32, reflect.Float64:
			fl := rv.Float()
			if math.IsNaN(fl) || math.IsInf(fl, 0) {
				return nil, fmt.Errorf("%v is not a finite number", fl)
			}
			return strconv.FormatFloat(fl, 'f', -1, 64), nil
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			return strconv.FormatInt(rv.Int(), 10), nil
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			return strconv.FormatUint(rv.Uint(), 10), nil
		}
		return bad()
	case s.KindBoolean:
		if rv.Kind() == reflect.Bool {
			return rv.Bool(), nil
		}
		return bad()
	case s.KindDateTime:
		if rv.Type() == timeType {
			return rv.Interface().(time.Time).UTC(), nil
		}
		if rv.Kind() == reflect.String {
			t, err := time.Parse(time.RFC3339Nano, rv.String())
			if err != nil {
				return nil, fmt.Errorf("%q is not an RFC 3339 time", rv.String())
			}
			return t.UTC(), nil
		}
		return bad()
	case s.KindBytes:
		if IsBytes(rv.Type()) {
			if rv.IsNil() {
				return nil, nil
			}
			return append(make([]byte, 0, rv.Len()), rv.Bytes()...), nil
		}
		return bad()
	case s.KindJSON:
		var raw []byte
		switch {
		case IsBytes(rv.Type()):
			raw = rv.Bytes()
		case rv.Kind() == reflect.String:
			raw = []byte(rv.String())
		default:
			b, err := json.Marshal(v)
			if err != nil {
				return nil, err
			}
			raw = b
		}
		var out bytes.Buffer
		if err := json.Compact(&out, raw); err != nil {
			return nil, fmt.Errorf("not valid JSON: %v", err)
		}
		return json.RawMessage(out.Bytes()), nil
	}
	return bad()
}

func isDecimal(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '-' || s[0] == '+' {
		s = s[1:]
	}
	digits, dot := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return digits > 0
}

// checkInt returns n when an int or bigint field can hold it: an s.Int is
// 32-bit signed.
func checkInt(f *Field, n int64) (any, error) {
	if f.Kind == s.KindInt && (n > math.MaxInt32 || n < math.MinInt32) {
		return nil, fmt.Errorf("%d overflows an int field (use s.BigInt)", n)
	}
	return n, nil
}
