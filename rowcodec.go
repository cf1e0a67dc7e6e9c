package viborm

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/viborm/viborm-go/s"
)

// The cached form of rows, written by payload.MarshalJSON, is
//
//	{"c":["id","email",…],"r":[[<v>,<v>,…],…]}
//
// where every <v> is null, true, false or a JSON string whose first
// character tags the type (see appendTagged). decodeRows reads it with the
// scanner below rather than through encoding/json and [][]any: a cache hit on
// a serializing driver decodes here, and the generic path allocated for
// every value twice.

var (
	errBadRows = errors.New("viborm: corrupt cached rows")
	errBadCols = errors.New("viborm: cached rows are not of the read's selection")
)

type jscan struct {
	b   []byte
	i   int
	tmp []byte // scratch for strings with escapes
}

func (s *jscan) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// eat skips white space and then c, reporting whether c was there.
func (s *jscan) eat(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *jscan) literal(lit string) bool {
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

// str reads a JSON string. The result aliases the input when the string has
// no escapes, and s.tmp otherwise: it is valid until the next call.
func (s *jscan) str() ([]byte, bool) {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	s.i++
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], true
		case c == '\\':
			return s.escaped(start)
		case c < 0x20:
			return nil, false
		}
		s.i++
	}
	return nil, false
}

func (s *jscan) escaped(start int) ([]byte, bool) {
	s.tmp = append(s.tmp[:0], s.b[start:s.i]...)
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.tmp, true
		case c < 0x20:
			return nil, false
		case c != '\\':
			s.tmp = append(s.tmp, c)
			s.i++
			continue
		}
		if s.i+1 >= len(s.b) {
			return nil, false
		}
		e := s.b[s.i+1]
		s.i += 2
		switch e {
		case '"', '\\', '/':
			s.tmp = append(s.tmp, e)
		case 'b':
			s.tmp = append(s.tmp, '\b')
		case 'f':
			s.tmp = append(s.tmp, '\f')
		case 'n':
			s.tmp = append(s.tmp, '\n')
		case 'r':
			s.tmp = append(s.tmp, '\r')
		case 't':
			s.tmp = append(s.tmp, '\t')
		case 'u':
			r, ok := s.hex4()
			if !ok {
				return nil, false
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
					save := s.i
					s.i += 2
					if r2, ok = s.hex4(); !ok {
						return nil, false
					}
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
					} else {
						s.i = save // a lone surrogate followed by another escape
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			s.tmp = utf8.AppendRune(s.tmp, r)
		default:
			return nil, false
		}
	}
	return nil, false
}

func (s *jscan) hex4() (rune, bool) {
	if len(s.b)-s.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s.b[s.i : s.i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	s.i += 4
	return r, true
}

// tagged reads one cached value: null, true, false or a tagged string.
func (s *jscan) tagged() (any, error) {
	s.ws()
	if s.i >= len(s.b) {
		return nil, errBadRows
	}
	switch s.b[s.i] {
	case 'n':
		if s.literal("null") {
			return nil, nil
		}
	case 't':
		if s.literal("true") {
			return true, nil
		}
	case 'f':
		if s.literal("false") {
			return false, nil
		}
	case '"':
		b, ok := s.str()
		if !ok || len(b) == 0 {
			return nil, errBadRows
		}
		return untagBytes(b[0], b[1:])
	}
	return nil, errBadRows
}

// untagBytes is untag for a tagged string's bytes. body is only valid during
// the call: whatever is kept is copied.
func untagBytes(tag byte, body []byte) (any, error) {
	var v any
	var err error
	switch tag {
	case 'i':
		v, err = strconv.ParseInt(unsafeString(body), 10, 64)
	case 'f':
		v, err = strconv.ParseFloat(unsafeString(body), 64)
	case 's':
		v = string(body)
	case 't':
		v, err = parseTagTime(body)
	case 'j':
		v = json.RawMessage(string(body))
	case 'b':
		out := make([]byte, base64.StdEncoding.DecodedLen(len(body)))
		var n int
		n, err = base64.StdEncoding.Decode(out, body)
		v = out[:n]
	default:
		return nil, errBadRows
	}
	if err != nil {
		return nil, errBadRows
	}
	return v, nil
}

// unsafeString views b as a string for a parse that does not keep it.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// decodeRows reads cached rows whose columns must be exactly want, the
// read's selection, in order: rows of another selection (or of another
// schema's field order) are an error, never rows with zero-valued fields.
func decodeRows[T any](md *model, want []*field, raw []byte) ([]T, error) {
	s := &jscan{b: raw}
	if !s.eat('{') {
		return nil, errBadRows
	}
	name, ok := s.str()
	if !ok || string(name) != "c" || !s.eat(':') || !s.eat('[') {
		return nil, errBadRows
	}
	n := 0
	if !s.eat(']') {
		for {
			c, ok := s.str()
			if !ok {
				return nil, errBadRows
			}
			if n >= len(want) || string(c) != want[n].name {
				return nil, errBadCols
			}
			n++
			if s.eat(']') {
				break
			}
			if !s.eat(',') {
				return nil, errBadRows
			}
		}
	}
	if n != len(want) {
		return nil, errBadCols
	}
	cols := want
	if !s.eat(',') {
		return nil, errBadRows
	}
	name, ok = s.str()
	if !ok || string(name) != "r" || !s.eat(':') || !s.eat('[') {
		return nil, errBadRows
	}
	out := make([]T, 0, 8)
	if !s.eat(']') {
		for {
			var zero T
			out = append(out, zero)
			if err := decodeRow(s, md, cols, unsafe.Pointer(&out[len(out)-1]), &out[len(out)-1]); err != nil {
				return nil, err
			}
			if s.eat(']') {
				break
			}
			if !s.eat(',') {
				return nil, errBadRows
			}
		}
	}
	if !s.eat('}') {
		return nil, errBadRows
	}
	s.ws()
	if s.i != len(s.b) {
		return nil, errBadRows
	}
	return out, nil
}

// decodeRow reads one row into dst: a *Row (through p) for map models, a
// pointer to the bound struct otherwise.
func decodeRow(s *jscan, md *model, cols []*field, p unsafe.Pointer, dst any) error {
	if !s.eat('[') {
		return errBadRows
	}
	var row Row
	var rv reflect.Value
	if md.isRow {
		row = make(Row, len(cols))
		*(*Row)(p) = row
	} else {
		rv = reflect.ValueOf(dst).Elem()
	}
	for k, f := range cols {
		if k > 0 && !s.eat(',') {
			return errBadRows
		}
		if !md.isRow {
			if err := s.intoField(f, rv); err != nil {
				return err
			}
			continue
		}
		v, err := s.tagged()
		if err != nil {
			return err
		}
		if v, err = fixKind(f.kind, v); err != nil {
			return err
		}
		row[f.name] = v
	}
	if !s.eat(']') {
		return errBadRows
	}
	return nil
}

// parseTagTime reads the body of a 't' value as a UTC time: the form
// appendTagged writes quickly, anything else through time.Parse.
func parseTagTime(body []byte) (time.Time, error) {
	if t, ok := parseUTC(body); ok {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, unsafeString(body))
	return t.UTC(), err
}

// parseUTC parses the form appendTagged writes, UTC RFC 3339 with an
// optional fraction ("2006-01-02T15:04:05.999999999Z"), without the
// generality of time.Parse. It reports false for anything else, which the
// caller hands to time.Parse.
func parseUTC(b []byte) (time.Time, bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[len(b)-1] != 'Z' {
		return time.Time{}, false
	}
	num := func(b []byte) (int, bool) {
		n := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	year, ok1 := num(b[0:4])
	month, ok2 := num(b[5:7])
	day, ok3 := num(b[8:10])
	hour, ok4 := num(b[11:13])
	minute, ok5 := num(b[14:16])
	sec, ok6 := num(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if rest := b[19 : len(b)-1]; len(rest) > 0 {
		if rest[0] != '.' || len(rest) < 2 || len(rest) > 10 {
			return time.Time{}, false
		}
		frac, ok := num(rest[1:])
		if !ok {
			return time.Time{}, false
		}
		for range 10 - len(rest) {
			frac *= 10
		}
		nsec = frac
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day { // 31 February and the like: let time.Parse report it
		return time.Time{}, false
	}
	return t, true
}

// intoField reads one cached value straight into the struct field of f,
// without boxing it: the hot path of a hit on a serializing cache driver.
// It accepts what tagged and fixKind accept, and stores what setField
// would.
func (sc *jscan) intoField(f *field, rv reflect.Value) error {
	sc.ws()
	if sc.i >= len(sc.b) {
		return errBadRows
	}
	fv := rv.Field(f.bind.index[0])
	switch sc.b[sc.i] {
	case 'n':
		if !sc.literal("null") {
			return errBadRows
		}
		fv.SetZero()
		return nil
	case 't', 'f':
		b := sc.b[sc.i] == 't'
		lit := "false"
		if b {
			lit = "true"
		}
		if !sc.literal(lit) || f.kind != s.KindBoolean {
			return errBadRows
		}
		fv = elemFor(f, fv)
		fv.SetBool(b)
		return nil
	case '"':
	default:
		return errBadRows
	}
	b, ok := sc.str()
	if !ok || len(b) == 0 {
		return errBadRows
	}
	tag, body := b[0], b[1:]
	switch tag {
	case 'i':
		if f.kind != s.KindInt && f.kind != s.KindBigInt {
			return errBadRows
		}
		n, err := strconv.ParseInt(unsafeString(body), 10, 64)
		if err != nil {
			return errBadRows
		}
		if err := setInt(f, elemFor(f, fv), n); err != nil {
			return err
		}
	case 'f':
		if f.kind != s.KindFloat {
			return errBadRows
		}
		x, err := strconv.ParseFloat(unsafeString(body), 64)
		if err != nil {
			return errBadRows
		}
		if fv = elemFor(f, fv); fv.OverflowFloat(x) {
			return errBadRows
		}
		fv.SetFloat(x)
	case 's':
		if f.kind != s.KindString && f.kind != s.KindEnum && f.kind != s.KindDecimal {
			return errBadRows
		}
		fv = elemFor(f, fv)
		if fv.Kind() == reflect.Float64 { // a decimal bound to float64
			x, err := strconv.ParseFloat(unsafeString(body), 64)
			if err != nil {
				return errBadRows
			}
			fv.SetFloat(x)
		} else {
			fv.SetString(string(body))
		}
	case 't':
		if f.kind != s.KindDateTime {
			return errBadRows
		}
		t, err := parseTagTime(body)
		if err != nil {
			return errBadRows
		}
		fv = elemFor(f, fv)
		if fv.Type() == timeType {
			*(*time.Time)(fv.Addr().UnsafePointer()) = t
		} else {
			fv.Set(reflect.ValueOf(t).Convert(fv.Type()))
		}
	default: // JSON and bytes are rare: the general path
		v, err := untagBytes(tag, body)
		if err != nil {
			return err
		}
		if v, err = fixKind(f.kind, v); err != nil {
			return err
		}
		return setField(f, rv, v)
	}
	return nil
}

// elemFor returns the value to set for f: fv itself, or for a nullable
// field bound to a pointer, a new value that fv points to.
func elemFor(f *field, fv reflect.Value) reflect.Value {
	if !f.bind.ptr {
		return fv
	}
	p := reflect.New(f.bind.base)
	fv.Set(p)
	return p.Elem()
}
