package rowcodec

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/viborm/viborm-go/s"
)

// The cached form of rows, written by AppendRows, is
//
//	{"c":["id","email",…],"r":[[<v>,<v>,…],…]}
//
// where every <v> is null, true, false or a JSON string whose first
// character tags the type (see AppendTagged). DecodeRows reads it with the
// scanner below rather than through encoding/json and [][]any: a cache hit
// on a serializing driver decodes here, and the generic path allocated for
// every value twice.

var (
	// ErrCorrupt is returned for cached rows that are not in the cached
	// form, or hold a value that does not fit its column.
	ErrCorrupt = errors.New("viborm: corrupt cached rows")
	// ErrSelection is returned for cached rows of another selection.
	ErrSelection = errors.New("viborm: cached rows are not of the read's selection")
)

type jscan struct {
	b   []byte
	i   int
	tmp []byte // scratch for strings with escapes
	// strs holds the bytes of the strings decoded into struct fields, so
	// that a result's strings cost one allocation. Its capacity, fixed on
	// first use, bounds what the rest of the input can decode to: bytes
	// once viewed as a string are never moved or written again.
	strs []byte
	ptrs ptrs
}

// string returns body as a string stored in s.strs.
func (s *jscan) string(body []byte) string {
	if len(body) == 0 {
		return ""
	}
	if s.strs == nil || cap(s.strs)-len(s.strs) < len(body) {
		// The strings of the rest of the input fit in its length (the
		// quotes and the tag are not part of them, escapes only shrink);
		// a fresh buffer in case of a bound that does not hold.
		s.strs = make([]byte, 0, len(body)+len(s.b)-s.i)
	}
	n := len(s.strs)
	s.strs = append(s.strs, body...)
	return unsafe.String(&s.strs[n], len(body))
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

// strStop marks the bytes that end the plain run of a JSON string: the
// quote, the backslash and the control characters.
var strStop = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

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
		if !strStop[c] {
			s.i++
			continue
		}
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
		return nil, ErrCorrupt
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
			return nil, ErrCorrupt
		}
		if b[0] == 's' {
			return s.string(b[1:]), nil
		}
		return untagBytes(b[0], b[1:])
	}
	return nil, ErrCorrupt
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
		return nil, ErrCorrupt
	}
	if err != nil {
		return nil, ErrCorrupt
	}
	return v, nil
}

// unsafeString views b as a string for a parse that does not keep it.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// DecodeRows reads cached rows whose columns must be exactly those of sel
// (indexes of the plan's columns, the read's selection), in order: rows of
// another selection (or of another schema's field order) are an error,
// never rows with zero-valued fields. Every value must be of its column's
// kind and fit its Go field. T must be the plan's type.
//
// A hit on a serializing driver decodes here, so it allocates little: the
// result's strings share one buffer (strings are immutable: sharing is
// safe), and the values of each pointer field are allocated in chunks
// sized from the number of rows; bytes and JSON get one allocation each.
// Keeping one string or pointer of a result keeps its buffer or chunk.
func DecodeRows[T any](p *Plan, sel []int, raw []byte) ([]T, error) {
	checkType[T](p)
	s := &jscan{b: raw}
	if !s.eat('{') {
		return nil, ErrCorrupt
	}
	name, ok := s.str()
	if !ok || string(name) != "c" || !s.eat(':') || !s.eat('[') {
		return nil, ErrCorrupt
	}
	n := 0
	if !s.eat(']') {
		for {
			c, ok := s.str()
			if !ok {
				return nil, ErrCorrupt
			}
			if n >= len(sel) || string(c) != p.cols[sel[n]].Name {
				return nil, ErrSelection
			}
			n++
			if s.eat(']') {
				break
			}
			if !s.eat(',') {
				return nil, ErrCorrupt
			}
		}
	}
	if n != len(sel) {
		return nil, ErrSelection
	}
	if !s.eat(',') {
		return nil, ErrCorrupt
	}
	name, ok = s.str()
	if !ok || string(name) != "r" || !s.eat(':') || !s.eat('[') {
		return nil, ErrCorrupt
	}
	// Size the result for the rows that the input seems to hold (a string
	// holding "],[" only overestimates), bounded by the fewest bytes a row
	// of the selection takes.
	est := min(bytes.Count(s.b[s.i:], []byte("],["))+1, (len(s.b)-s.i)/(2+4*len(sel))+1)
	out := make([]T, 0, est)
	s.ptrs = newPtrs(p, est)
	if !s.eat(']') {
		for {
			var zero T
			out = append(out, zero)
			if err := decodeRow(s, p, sel, unsafe.Pointer(&out[len(out)-1])); err != nil {
				return nil, err
			}
			if s.eat(']') {
				break
			}
			if !s.eat(',') {
				return nil, ErrCorrupt
			}
		}
	}
	if !s.eat('}') {
		return nil, ErrCorrupt
	}
	s.ws()
	if s.i != len(s.b) {
		return nil, ErrCorrupt
	}
	return out, nil
}

// decodeRow reads one row into the zero row at base: a Row for map rows,
// the bound struct otherwise.
func decodeRow(s *jscan, p *Plan, sel []int, base unsafe.Pointer) error {
	if !s.eat('[') {
		return ErrCorrupt
	}
	var row Row
	if p.row {
		row = make(Row, len(sel))
		*(*Row)(base) = row
	}
	for k, ci := range sel {
		c := &p.cols[ci]
		if k > 0 && !s.eat(',') {
			return ErrCorrupt
		}
		if !p.row {
			if err := s.intoField(c, ci, base); err != nil {
				return err
			}
			continue
		}
		v, err := s.tagged()
		if err != nil {
			return err
		}
		if v, err = FixKind(c.Kind, v); err != nil {
			return err
		}
		row[c.Name] = v
	}
	if !s.eat(']') {
		return ErrCorrupt
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

// parseUTC parses the form AppendTagged writes, UTC RFC 3339 with an
// optional fraction ("2006-01-02T15:04:05.999999999Z"), without the
// generality of time.Parse. It reports false for anything else, which the
// caller hands to time.Parse.
func parseUTC(b []byte) (time.Time, bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[len(b)-1] != 'Z' {
		return time.Time{}, false
	}
	ok := true
	num := func(b []byte) int {
		n := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				ok = false
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(b[0:4]), num(b[5:7]), num(b[8:10])
	hour, minute, sec := num(b[11:13]), num(b[14:16]), num(b[17:19])
	if !ok || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if rest := b[19 : len(b)-1]; len(rest) > 0 {
		if rest[0] != '.' || len(rest) < 2 || len(rest) > 10 {
			return time.Time{}, false
		}
		nsec = num(rest[1:])
		if !ok {
			return time.Time{}, false
		}
		for range 10 - len(rest) {
			nsec *= 10
		}
	}
	unix := daysSinceEpoch(year, month, day)*86400 + int64(hour*3600+minute*60+sec)
	return time.Unix(unix, int64(nsec)).UTC(), true
}

// daysIn returns the number of days of month in year.
func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysSinceEpoch returns the days from 1970-01-01 to the given date of the
// proleptic Gregorian calendar (H. Hinnant's days_from_civil).
func daysSinceEpoch(year, month, day int) int64 {
	y := int64(year)
	if month <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	m := int64(month)
	if m > 2 {
		m -= 3
	} else {
		m += 9
	}
	doy := (153*m+2)/5 + int64(day) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// intoField reads one cached value straight into the field of column ci
// in the zero row at base, without boxing it: the hot path of a hit on a
// serializing cache driver. It accepts what tagged and FixKind accept, and
// stores what set would.
func (sc *jscan) intoField(c *col, ci int, base unsafe.Pointer) error {
	sc.ws()
	if sc.i >= len(sc.b) {
		return ErrCorrupt
	}
	switch sc.b[sc.i] {
	case 'n':
		if !sc.literal("null") {
			return ErrCorrupt
		}
		return nil // the row is zero: NULL is already there
	case 't', 'f':
		b := sc.b[sc.i] == 't'
		lit := "false"
		if b {
			lit = "true"
		}
		if !sc.literal(lit) || c.Kind != s.KindBoolean || c.st != stBool {
			return ErrCorrupt
		}
		*(*bool)(c.target(base, ci, &sc.ptrs)) = b
		return nil
	case '"':
	default:
		return ErrCorrupt
	}
	b, ok := sc.str()
	if !ok || len(b) == 0 {
		return ErrCorrupt
	}
	tag, body := b[0], b[1:]
	switch tag {
	case 'i':
		if c.Kind != s.KindInt && c.Kind != s.KindBigInt || c.st != stInt && c.st != stUint {
			return ErrCorrupt
		}
		n, err := strconv.ParseInt(unsafeString(body), 10, 64)
		if err != nil {
			return ErrCorrupt
		}
		return c.setInt(c.target(base, ci, &sc.ptrs), n)
	case 'f':
		if c.Kind != s.KindFloat || c.st != stFloat64 && c.st != stFloat32 {
			return ErrCorrupt
		}
		x, err := strconv.ParseFloat(unsafeString(body), 64)
		if err != nil {
			return ErrCorrupt
		}
		return c.setFloat(c.target(base, ci, &sc.ptrs), x)
	case 's':
		if c.Kind != s.KindString && c.Kind != s.KindEnum && c.Kind != s.KindDecimal {
			return ErrCorrupt
		}
		switch c.st {
		case stString:
			*(*string)(c.target(base, ci, &sc.ptrs)) = sc.string(body)
		case stFloat64: // a decimal bound to float64
			x, err := strconv.ParseFloat(unsafeString(body), 64)
			if err != nil {
				return ErrCorrupt
			}
			*(*float64)(c.target(base, ci, &sc.ptrs)) = x
		default:
			return ErrCorrupt
		}
	case 't':
		if c.Kind != s.KindDateTime || c.st != stTime {
			return ErrCorrupt
		}
		t, err := parseTagTime(body)
		if err != nil {
			return ErrCorrupt
		}
		*(*time.Time)(c.target(base, ci, &sc.ptrs)) = t
	default: // JSON and bytes are rare: the general path
		v, err := untagBytes(tag, body)
		if err != nil {
			return err
		}
		if v, err = FixKind(c.Kind, v); err != nil {
			return err
		}
		if v == nil {
			return nil
		}
		return c.set(base, ci, &sc.ptrs, v)
	}
	return nil
}
