package rowcodec

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/viborm/viborm-go/s"
)

// RangeError reports a number that the Go field of a column cannot hold: a
// negative into an unsigned field, 300 into an int8 field. The read fails
// with it rather than store a truncated value.
type RangeError struct {
	Column string
	Value  any
	Type   reflect.Type // the Go field's type
}

func (e *RangeError) Error() string {
	return fmt.Sprintf("the value %v does not fit the Go field's type %s", e.Value, e.Type)
}

// FromDB converts a value scanned from the database into the canonical form
// of kind k: string, int64, float64, bool, time.Time (UTC), []byte,
// json.RawMessage (compacted), a decimal as a string, or nil for NULL.
func FromDB(k s.Kind, raw any) (any, error) {
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

// sqliteTime is how the SQLite dialect stores times (see the root package's
// toDB): fixed width, UTC, so that text comparison orders them.
const sqliteTime = "2006-01-02 15:04:05.000000000Z07:00"

var timeLayouts = []string{
	sqliteTime, time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02",
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

// FixKind checks that a decoded canonical value has the type that kind k
// needs, and returns it.
func FixKind(k s.Kind, v any) (any, error) {
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

// AppendTagged writes a canonical value in the cached form: null,
// true/false, or a JSON string whose first byte names the type ('i' int64,
// 'f' float64, 's' string, 't' time, 'j' JSON, 'b' base64 bytes).
func AppendTagged(b []byte, v any) []byte {
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

// Untag returns the canonical value of a tagged value decoded by
// encoding/json: nil, a bool, or a tagged string.
func Untag(v any) (any, error) {
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

// getField returns the canonical value of the column c in the struct value
// rv.
func getField(c *col, rv reflect.Value) any {
	fv := rv.Field(c.Field)
	if c.ptr {
		if fv.IsNil() {
			return nil
		}
		fv = fv.Elem()
	}
	switch c.Kind {
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
