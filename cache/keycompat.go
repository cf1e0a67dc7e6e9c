package cache

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// hashCompat reproduces VibORM's TypeScript key hash: stableStringify, then
// a 64-bit hash over the UTF-16 code units of that string, as 16 hex digits.
func hashCompat(args any) ([]byte, error) {
	var s compatStringifier
	if args != nil {
		if err := s.value(reflect.ValueOf(args)); err != nil {
			return nil, err
		}
	}
	return fastHash(s.buf), nil
}

// fastHash is VibORM's fastHash over the UTF-16 code units of the UTF-8
// text in b.
func fastHash(b []byte) []byte {
	h1 := uint32(0xdeadbeef)
	h2 := uint32(0x41c6ce57)
	mix := func(ch uint32) {
		h1 = (h1 ^ ch) * 2654435761
		h2 = (h2 ^ ch) * 1597334677
	}
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		if r >= 0x10000 {
			hi, lo := utf16.EncodeRune(r)
			mix(uint32(hi))
			mix(uint32(lo))
		} else {
			mix(uint32(r))
		}
	}
	h1 = (h1 ^ (h1 >> 16)) * 2246822507
	h1 ^= (h2 ^ (h2 >> 13)) * 3266489909
	h2 = (h2 ^ (h2 >> 16)) * 2246822507
	h2 ^= (h1 ^ (h1 >> 13)) * 3266489909
	out := make([]byte, 0, 16)
	out = appendHex8(out, h2)
	out = appendHex8(out, h1)
	return out
}

func appendHex8(b []byte, v uint32) []byte {
	const digits = "0123456789abcdef"
	for i := 7; i >= 0; i-- {
		b = append(b, digits[(v>>(uint(i)*4))&0xf])
	}
	return b
}

type compatStringifier struct {
	buf  []byte
	path []uintptr
}

// value writes v as VibORM's stableStringify would write the JavaScript
// value that v stands for.
func (s *compatStringifier) value(v reflect.Value) error {
	if !v.IsValid() {
		s.buf = append(s.buf, "null"...)
		return nil
	}
	t := v.Type()
	switch t {
	case timeType:
		s.buf = append(s.buf, '"')
		s.buf = appendISOTime(s.buf, v.Interface().(time.Time))
		s.buf = append(s.buf, '"')
		return nil
	case bigIntType:
		x := v.Interface().(big.Int)
		s.bigInt(&x)
		return nil
	case rawMessageType:
		return s.rawJSON(v.Bytes())
	case jsonNumberType:
		f, err := strconv.ParseFloat(v.String(), 64)
		if err != nil {
			return &KeyError{Reason: "invalid json.Number"}
		}
		return s.number(f)
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			s.buf = append(s.buf, "null"...)
			return nil
		}
		if t.Elem() == bigIntType {
			s.bigInt(v.Interface().(*big.Int))
			return nil
		}
		if err := s.enter(v.Pointer()); err != nil {
			return err
		}
		defer s.leave(v.Pointer())
		return s.value(v.Elem())
	case reflect.Interface:
		if v.IsNil() {
			s.buf = append(s.buf, "null"...)
			return nil
		}
		return s.value(v.Elem())
	case reflect.Bool:
		s.buf = strconv.AppendBool(s.buf, v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return s.number(float64(v.Int()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return s.number(float64(v.Uint()))
	case reflect.Float32, reflect.Float64:
		return s.number(v.Float())
	case reflect.String:
		s.buf = appendJSString(s.buf, v.String())
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice && v.IsNil() {
			s.buf = append(s.buf, "null"...)
			return nil
		}
		if t.Elem().Kind() == reflect.Uint8 {
			b := make([]byte, v.Len())
			reflect.Copy(reflect.ValueOf(b), v)
			s.buf = append(s.buf, `"base64:`...)
			s.buf = base64.StdEncoding.AppendEncode(s.buf, b)
			s.buf = append(s.buf, '"')
			return nil
		}
		var p uintptr
		if t.Kind() == reflect.Slice && v.Len() > 0 {
			p = v.Pointer()
		}
		if err := s.enter(p); err != nil {
			return err
		}
		defer s.leave(p)
		s.buf = append(s.buf, '[')
		for i := range v.Len() {
			if i > 0 {
				s.buf = append(s.buf, ',')
			}
			if err := s.value(v.Index(i)); err != nil {
				return inPath(err, "["+strconv.Itoa(i)+"]")
			}
		}
		s.buf = append(s.buf, ']')
	case reflect.Map:
		if v.IsNil() {
			s.buf = append(s.buf, "null"...)
			return nil
		}
		return s.object(v)
	case reflect.Struct:
		// A struct stands for the object encoding/json makes of it.
		b, err := json.Marshal(v.Interface())
		if err != nil {
			return &KeyError{Reason: err.Error()}
		}
		return s.rawJSON(b)
	default:
		return &KeyError{Reason: "a value of type " + t.String() + " cannot be hashed"}
	}
	return nil
}

func (s *compatStringifier) enter(p uintptr) error {
	if len(s.path) > maxKeyDepth {
		return &KeyError{Reason: "nested too deeply"}
	}
	if p != 0 && slices.Contains(s.path, p) {
		return &KeyError{Reason: "cyclic value"}
	}
	s.path = append(s.path, p)
	return nil
}

func (s *compatStringifier) leave(uintptr) { s.path = s.path[:len(s.path)-1] }

func (s *compatStringifier) bigInt(x *big.Int) {
	s.buf = append(s.buf, '"')
	s.buf = x.Append(s.buf, 10)
	s.buf = append(s.buf, `n"`...)
}

func (s *compatStringifier) rawJSON(raw []byte) error {
	d := json.NewDecoder(strings.NewReader(string(raw)))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return &KeyError{Reason: "invalid JSON: " + err.Error()}
	}
	if d.More() {
		return &KeyError{Reason: "invalid JSON: trailing data"}
	}
	return s.value(reflect.ValueOf(v))
}

func (s *compatStringifier) number(f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return &KeyError{Reason: "NaN and infinite numbers cannot be hashed"}
	}
	s.buf = appendJSNumber(s.buf, f)
	return nil
}

// object writes a map as a JavaScript object: members sorted by the UTF-16
// code units of their names, as Array.prototype.sort does.
func (s *compatStringifier) object(v reflect.Value) error {
	if err := s.enter(v.Pointer()); err != nil {
		return err
	}
	defer s.leave(v.Pointer())
	type member struct {
		name string
		v    reflect.Value
	}
	members := make([]member, 0, v.Len())
	iter := v.MapRange()
	for iter.Next() {
		k := iter.Key()
		for k.Kind() == reflect.Interface && !k.IsNil() {
			k = k.Elem()
		}
		var name string
		switch k.Kind() {
		case reflect.String:
			name = k.String()
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			name = strconv.FormatInt(k.Int(), 10)
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			name = strconv.FormatUint(k.Uint(), 10)
		default:
			return &KeyError{Reason: "map keys of type " + k.Type().String() + " have no JavaScript form"}
		}
		members = append(members, member{name, iter.Value()})
	}
	slices.SortFunc(members, func(a, b member) int { return compareUTF16(a.name, b.name) })
	s.buf = append(s.buf, '{')
	for i, m := range members {
		if i > 0 {
			s.buf = append(s.buf, ',')
		}
		s.buf = appendJSString(s.buf, m.name)
		s.buf = append(s.buf, ':')
		if err := s.value(m.v); err != nil {
			return inPath(err, m.name)
		}
	}
	s.buf = append(s.buf, '}')
	return nil
}

// compareUTF16 orders strings by their UTF-16 code units.
func compareUTF16(a, b string) int {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		a, b = a[na:], b[nb:]
		if ra == rb {
			continue
		}
		ua, ub := utf16Lead(ra), utf16Lead(rb)
		if ua != ub {
			if ua < ub {
				return -1
			}
			return 1
		}
		// Same lead unit: both are surrogate pairs; compare the trail units.
		_, ta := utf16.EncodeRune(ra)
		_, tb := utf16.EncodeRune(rb)
		if ta < tb {
			return -1
		}
		return 1
	}
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	default:
		return 1
	}
}

func utf16Lead(r rune) rune {
	if r >= 0x10000 {
		hi, _ := utf16.EncodeRune(r)
		return hi
	}
	return r
}

// appendJSString writes s as JSON.stringify does: only '"', '\\' and control
// characters are escaped.
func appendJSString(b []byte, s string) []byte {
	const hexd = "0123456789abcdef"
	b = append(b, '"')
	for _, r := range s { // invalid UTF-8 reads as U+FFFD, as TextDecoder would
		switch r {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			if r < 0x20 {
				b = append(b, '\\', 'u', '0', '0', hexd[r>>4], hexd[r&0xf])
			} else {
				b = utf8.AppendRune(b, r)
			}
		}
	}
	return append(b, '"')
}

// appendJSNumber writes f as JavaScript's Number.prototype.toString does.
func appendJSNumber(b []byte, f float64) []byte {
	if f == 0 {
		return append(b, '0')
	}
	if f < 0 {
		b = append(b, '-')
		f = -f
	}
	var tmp [32]byte
	e := strconv.AppendFloat(tmp[:0], f, 'e', -1, 64) // d[.ddd]e±XX
	ePos := slices.Index(e, 'e')
	mant, exp := e[:ePos], e[ePos+1:]
	x, _ := strconv.Atoi(string(exp))
	var digits [24]byte
	k := 0
	for _, c := range mant {
		if c != '.' {
			digits[k] = c
			k++
		}
	}
	d := digits[:k]
	n := x + 1
	switch {
	case k <= n && n <= 21:
		b = append(b, d...)
		for range n - k {
			b = append(b, '0')
		}
	case 0 < n && n <= 21:
		b = append(b, d[:n]...)
		b = append(b, '.')
		b = append(b, d[n:]...)
	case -6 < n && n <= 0:
		b = append(b, '0', '.')
		for range -n {
			b = append(b, '0')
		}
		b = append(b, d...)
	default:
		b = append(b, d[0])
		if k > 1 {
			b = append(b, '.')
			b = append(b, d[1:]...)
		}
		b = append(b, 'e')
		if n-1 >= 0 {
			b = append(b, '+')
		}
		b = strconv.AppendInt(b, int64(n-1), 10)
	}
	return b
}

// appendISOTime writes t as Date.prototype.toISOString does.
func appendISOTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	y := t.Year()
	switch {
	case y >= 0 && y <= 9999:
		b = append(b, t.Format("2006")...)
	case y < 0:
		b = append(b, '-')
		b = append(b, leftPad(strconv.Itoa(-y), 6)...)
	default:
		b = append(b, '+')
		b = append(b, leftPad(strconv.Itoa(y), 6)...)
	}
	return append(b, t.Format("-01-02T15:04:05.000Z")...)
}

func leftPad(s string, n int) string {
	for len(s) < n {
		s = "0" + s
	}
	return s
}
