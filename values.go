package viborm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/viborm/viborm-go/internal/dialect"
	"github.com/viborm/viborm-go/s"
)

// coerce turns a value given by the caller for field f into its canonical
// form: string, int64, float64, bool, time.Time (UTC), []byte,
// json.RawMessage, or nil.
func coerce(f *field, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch f.kind {
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
			return int64(x), nil
		case int64:
			return x, nil
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
		return nil, fmt.Errorf("%v (%T) is not a valid %s", v, v, f.kind)
	}
	switch f.kind {
	case s.KindString, s.KindEnum:
		if rv.Kind() != reflect.String {
			return bad()
		}
		str := rv.String()
		if f.enum != nil && !f.enum[str] {
			return nil, fmt.Errorf("%q is not one of %s", str, strings.Join(f.def.Values, ", "))
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
				return nil, fmt.Errorf("%d overflows a %s", u, f.kind)
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
		if f.kind == s.KindInt && (n > math.MaxInt32 || n < math.MinInt32) {
			return nil, fmt.Errorf("%d overflows an int field (use s.BigInt)", n)
		}
		return n, nil
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
		if isBytes(rv.Type()) {
			if rv.IsNil() {
				return nil, nil
			}
			return append(make([]byte, 0, rv.Len()), rv.Bytes()...), nil
		}
		return bad()
	case s.KindJSON:
		var raw []byte
		switch {
		case isBytes(rv.Type()):
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

// sqliteTime is how times are stored in SQLite: fixed width, UTC, so that
// text comparison orders them.
const sqliteTime = "2006-01-02 15:04:05.000000000Z07:00"

var timeLayouts = []string{
	sqliteTime, time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02",
}

// toDB converts a canonical value into a driver argument for dialect d.
func toDB(d *dialect.Dialect, k s.Kind, v any) any {
	switch x := v.(type) {
	case time.Time:
		if d == dialect.SQLite {
			return x.UTC().Format(sqliteTime)
		}
		return x.UTC()
	case json.RawMessage:
		return string(x)
	case bool:
		if d == dialect.SQLite {
			if x {
				return int64(1)
			}
			return int64(0)
		}
	}
	return v
}

// fromDB converts a value scanned from the database into the canonical form
// of kind k.
func fromDB(k s.Kind, raw any) (any, error) {
	if raw == nil {
		return nil, nil
	}
	switch k {
	case s.KindString, s.KindEnum:
		switch x := raw.(type) {
		case string:
			return x, nil
		case []byte:
			return string(x), nil
		}
	case s.KindInt, s.KindBigInt:
		switch x := raw.(type) {
		case int64:
			return x, nil
		case int32:
			return int64(x), nil
		case int:
			return int64(x), nil
		case uint64:
			if x > math.MaxInt64 {
				return nil, fmt.Errorf("%d overflows a %s", x, k)
			}
			return int64(x), nil
		case float64:
			if x != math.Trunc(x) || x < -(1<<63) || x >= 1<<63 {
				return nil, fmt.Errorf("%v is not a %s", x, k)
			}
			return int64(x), nil
		case []byte:
			return parseIntText(string(x))
		case string:
			return parseIntText(x)
		}
	case s.KindFloat:
		switch x := raw.(type) {
		case float64:
			return x, nil
		case float32:
			return float64(x), nil
		case int64:
			return float64(x), nil
		case []byte:
			return strconv.ParseFloat(string(x), 64)
		case string:
			return strconv.ParseFloat(x, 64)
		}
	case s.KindDecimal:
		switch x := raw.(type) {
		case string:
			return x, nil
		case []byte:
			return string(x), nil
		case float64:
			return strconv.FormatFloat(x, 'f', -1, 64), nil
		case int64:
			return strconv.FormatInt(x, 10), nil
		}
	case s.KindBoolean:
		switch x := raw.(type) {
		case bool:
			return x, nil
		case int64:
			return x != 0, nil
		case []byte:
			return string(x) != "0" && string(x) != "f" && string(x) != "false", nil
		case string:
			return x != "0" && x != "f" && x != "false", nil
		}
	case s.KindDateTime:
		switch x := raw.(type) {
		case time.Time:
			return x.UTC(), nil
		case string:
			return parseTimeText(x)
		case []byte:
			return parseTimeText(string(x))
		}
	case s.KindBytes:
		switch x := raw.(type) {
		case []byte:
			// NULL arrives as an untyped nil; a typed nil is an empty value.
			return append(make([]byte, 0, len(x)), x...), nil
		case string:
			return []byte(x), nil
		}
	case s.KindJSON:
		var b []byte
		switch x := raw.(type) {
		case []byte:
			b = x
		case string:
			b = []byte(x)
		default:
			return nil, fmt.Errorf("unexpected %T for json", raw)
		}
		var out bytes.Buffer
		if err := json.Compact(&out, b); err != nil {
			return nil, err
		}
		return json.RawMessage(out.Bytes()), nil
	}
	return nil, fmt.Errorf("unexpected %T from the database for a %s", raw, k)
}

func parseIntText(s string) (any, error) {
	if i := strings.IndexByte(s, '.'); i >= 0 && strings.Trim(s[i+1:], "0") == "" {
		s = s[:i]
	}
	return strconv.ParseInt(s, 10, 64)
}

func parseTimeText(s string) (any, error) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return nil, fmt.Errorf("cannot parse time %q", s)
}

// setField stores canonical value v into the struct field of f at rv (an
// addressable struct value). A number the Go field cannot hold (a negative
// into an unsigned field, 300 into an int32 field bound to a wider column)
// is an error matching [ErrOutOfRange], never a truncated value.
func setField(f *field, rv reflect.Value, v any) error {
	fv := rv.Field(f.bind.index[0])
	if v == nil {
		fv.SetZero()
		return nil
	}
	if f.bind.ptr {
		p := reflect.New(f.bind.base)
		if err := setScalar(f, p.Elem(), v); err != nil {
			return err
		}
		fv.Set(p)
		return nil
	}
	return setScalar(f, fv, v)
}

func setScalar(f *field, fv reflect.Value, v any) error {
	switch x := v.(type) {
	case string:
		if fv.Kind() == reflect.Float64 { // decimal bound to float64
			fl, err := strconv.ParseFloat(x, 64)
			if err != nil {
				return rangeError(f, fv, x)
			}
			fv.SetFloat(fl)
			return nil
		}
		fv.SetString(x)
	case int64:
		return setInt(f, fv, x)
	case float64:
		if fv.OverflowFloat(x) {
			return rangeError(f, fv, x)
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

// setInt stores n into the integer field fv, or reports that fv cannot
// hold it.
func setInt(f *field, fv reflect.Value, n int64) error {
	switch fv.Kind() {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n < 0 || fv.OverflowUint(uint64(n)) {
			return rangeError(f, fv, n)
		}
		fv.SetUint(uint64(n))
	default:
		if fv.OverflowInt(n) {
			return rangeError(f, fv, n)
		}
		fv.SetInt(n)
	}
	return nil
}

func rangeError(f *field, fv reflect.Value, v any) *Error {
	return &Error{Code: CodeDatabase, Field: f.name, Err: ErrOutOfRange,
		Message: fmt.Sprintf("the value %v does not fit the Go field's type %s", v, fv.Type())}
}

// getField returns the canonical value of f in the struct value rv.
func getField(f *field, rv reflect.Value) any {
	fv := rv.Field(f.bind.index[0])
	if f.bind.ptr {
		if fv.IsNil() {
			return nil
		}
		fv = fv.Elem()
	}
	switch f.kind {
	case s.KindBytes:
		if fv.IsNil() {
			return nil
		}
		return fv.Bytes()
	case s.KindJSON:
		if fv.Kind() == reflect.String {
			return json.RawMessage(fv.String())
		}
		if fv.IsNil() {
			return nil
		}
		return json.RawMessage(fv.Bytes())
	case s.KindDecimal:
		if fv.Kind() == reflect.Float64 {
			return strconv.FormatFloat(fv.Float(), 'f', -1, 64)
		}
		return fv.String()
	case s.KindString, s.KindEnum:
		return fv.String()
	case s.KindInt, s.KindBigInt:
		switch fv.Kind() {
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			return int64(fv.Uint())
		}
		return fv.Int()
	case s.KindFloat:
		return fv.Float()
	case s.KindBoolean:
		return fv.Bool()
	case s.KindDateTime:
		return fv.Interface().(time.Time)
	}
	return nil
}
