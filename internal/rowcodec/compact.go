package rowcodec

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"time"
	"unsafe"

	"github.com/viborm/viborm-go/s"
)

// The compact form of cached rows is one JSON string, so that it stays a
// valid entry value for every reader of VibORM's envelope:
//
//	"vbr1:" + base64(std, padded) of
//	  uvarint ncols, then per column uvarint len + name (the selection)
//	  uvarint nrows, then per row and column one value:
//	    0x00 NULL | 'T' true | 'F' false
//	    'i' zigzag varint int64 | 'f' 8 bytes, the float64's bits, little endian
//	    't' zigzag varint Unix seconds, uvarint nanoseconds (< 1e9), UTC
//	    's' string | 'j' JSON | 'b' bytes: uvarint len + the bytes
//
// It is row-major like the JSON form and holds the same canonical values,
// with the same tags, but needs no tokenizing, quoting or number parsing.
// A TypeScript VibORM reads it as a string it does not understand.
const compactPrefix = `"vbr1:`

// strictBase64 refuses padding bits that are not zero, so that one body has
// one text.
var strictBase64 = base64.StdEncoding.Strict()

// IsCompact reports whether raw, a cached value, is in the compact form
// (which DecodeRowsCompact then reads strictly).
func IsCompact(raw []byte) bool {
	return len(raw) >= len(compactPrefix) && string(raw[:len(compactPrefix)]) == compactPrefix
}

// AppendRowsCompact appends rows, a []T of the plan's struct type, in the
// compact form with the columns sel. It reports false, appending nothing,
// for a plan of Row: those keep the JSON form.
func AppendRowsCompact(b []byte, p *Plan, sel []int, rows any) ([]byte, bool) {
	if p.row {
		return b, false
	}
	rs := reflect.ValueOf(rows)
	if rs.Kind() != reflect.Slice || rs.Type().Elem() != p.typ {
		panic("rowcodec: AppendRowsCompact of a slice of another type than the plan's")
	}
	bin := make([]byte, 0, 64+rs.Len()*len(sel)*12)
	bin = binary.AppendUvarint(bin, uint64(len(sel)))
	for _, ci := range sel {
		bin = binary.AppendUvarint(bin, uint64(len(p.cols[ci].Name)))
		bin = append(bin, p.cols[ci].Name...)
	}
	bin = binary.AppendUvarint(bin, uint64(rs.Len()))
	for i := range rs.Len() {
		rv := rs.Index(i)
		for _, ci := range sel {
			bin = appendCompact(bin, getField(&p.cols[ci], rv))
		}
	}
	b = append(b, compactPrefix...)
	n := len(b)
	b = append(b, make([]byte, base64.StdEncoding.EncodedLen(len(bin)))...)
	base64.StdEncoding.Encode(b[n:], bin)
	return append(b, '"'), true
}

func appendCompact(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, 0)
	case bool:
		if x {
			return append(b, 'T')
		}
		return append(b, 'F')
	case int64:
		return binary.AppendVarint(append(b, 'i'), x)
	case float64:
		return binary.LittleEndian.AppendUint64(append(b, 'f'), math.Float64bits(x))
	case time.Time:
		b = binary.AppendVarint(append(b, 't'), x.Unix())
		return binary.AppendUvarint(b, uint64(x.Nanosecond()))
	case string:
		return append(binary.AppendUvarint(append(b, 's'), uint64(len(x))), x...)
	case json.RawMessage:
		return append(binary.AppendUvarint(append(b, 'j'), uint64(len(x))), x...)
	case []byte:
		return append(binary.AppendUvarint(append(b, 'b'), uint64(len(x))), x...)
	}
	panic("rowcodec: a canonical value of an unknown type")
}

// DecodeRowsCompact reads cached rows in the compact form, as strictly as
// DecodeRows reads the JSON form: the columns must be exactly those of sel,
// in order (else ErrSelection); every value must be of its column's kind
// and fit its Go field; nothing may follow the last row. Anything else is
// an error wrapping ErrCorrupt. T must be the plan's type, a struct.
//
// The result's strings share the one buffer the base64 text decodes into.
func DecodeRowsCompact[T any](p *Plan, sel []int, raw []byte) ([]T, error) {
	checkType[T](p)
	if p.row || !IsCompact(raw) || len(raw) < len(compactPrefix)+1 || raw[len(raw)-1] != '"' {
		return nil, ErrCorrupt
	}
	text := raw[len(compactPrefix) : len(raw)-1]
	if len(text)%4 != 0 {
		return nil, ErrCorrupt
	}
	// The decoder skips '\r' and '\n': the length it decodes tells that none
	// was there.
	want := len(text) / 4 * 3
	for k := len(text) - 1; k >= len(text)-2 && k >= 0 && text[k] == '='; k-- {
		want--
	}
	buf := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	n, err := strictBase64.Decode(buf, text)
	if err != nil || n != want {
		return nil, ErrCorrupt
	}
	d := cdec{b: buf[:n]}
	ncols, ok := d.uvarint()
	if !ok || ncols > uint64(len(d.b)) {
		return nil, ErrCorrupt
	}
	if ncols != uint64(len(sel)) {
		return nil, ErrSelection
	}
	for _, ci := range sel {
		name, ok := d.bytes()
		if !ok {
			return nil, ErrCorrupt
		}
		if string(name) != p.cols[ci].Name {
			return nil, ErrSelection
		}
	}
	nrows, ok := d.uvarint()
	// A value takes at least one byte: a count beyond that is corrupt.
	if !ok || (len(sel) > 0 && nrows > uint64(len(d.b)-d.i)/uint64(len(sel))) || (len(sel) == 0 && nrows > uint64(len(d.b))) {
		return nil, ErrCorrupt
	}
	out := make([]T, nrows)
	a := newPtrs(p, int(nrows))
	for r := range out {
		base := unsafe.Pointer(&out[r])
		for _, ci := range sel {
			if err := d.intoField(&p.cols[ci], ci, base, &a); err != nil {
				return nil, err
			}
		}
	}
	if d.i != len(d.b) {
		return nil, ErrCorrupt
	}
	return out, nil
}

// cdec reads the binary of the compact form.
type cdec struct {
	b []byte
	i int
}

func (d *cdec) uvarint() (uint64, bool) {
	v, n := binary.Uvarint(d.b[d.i:])
	if n <= 0 {
		return 0, false
	}
	d.i += n
	return v, true
}

func (d *cdec) varint() (int64, bool) {
	v, n := binary.Varint(d.b[d.i:])
	if n <= 0 {
		return 0, false
	}
	d.i += n
	return v, true
}

// bytes reads a length-prefixed run of bytes, aliasing d.b.
func (d *cdec) bytes() ([]byte, bool) {
	n, ok := d.uvarint()
	if !ok || n > uint64(len(d.b)-d.i) {
		return nil, false
	}
	v := d.b[d.i : d.i+int(n) : d.i+int(n)]
	d.i += int(n)
	return v, true
}

// intoField reads one value into the field of column ci in the zero row at
// base, accepting what jscan.intoField accepts of the JSON form.
func (d *cdec) intoField(c *col, ci int, base unsafe.Pointer, a *ptrs) error {
	if d.i >= len(d.b) {
		return ErrCorrupt
	}
	tag := d.b[d.i]
	d.i++
	switch tag {
	case 0:
		return nil // the row is zero: NULL is already there
	case 'T', 'F':
		if c.Kind != s.KindBoolean || c.st != stBool {
			return ErrCorrupt
		}
		*(*bool)(c.target(base, ci, a)) = tag == 'T'
		return nil
	case 'i':
		if c.Kind != s.KindInt && c.Kind != s.KindBigInt || c.st != stInt && c.st != stUint {
			return ErrCorrupt
		}
		n, ok := d.varint()
		if !ok {
			return ErrCorrupt
		}
		return c.setInt(c.target(base, ci, a), n)
	case 'f':
		if c.Kind != s.KindFloat || c.st != stFloat64 && c.st != stFloat32 || len(d.b)-d.i < 8 {
			return ErrCorrupt
		}
		x := math.Float64frombits(binary.LittleEndian.Uint64(d.b[d.i:]))
		d.i += 8
		return c.setFloat(c.target(base, ci, a), x)
	case 't':
		if c.Kind != s.KindDateTime || c.st != stTime {
			return ErrCorrupt
		}
		sec, ok := d.varint()
		if !ok {
			return ErrCorrupt
		}
		ns, ok := d.uvarint()
		if !ok || ns >= 1e9 {
			return ErrCorrupt
		}
		*(*time.Time)(c.target(base, ci, a)) = time.Unix(sec, int64(ns)).UTC()
		return nil
	case 's':
		if c.Kind != s.KindString && c.Kind != s.KindEnum && c.Kind != s.KindDecimal {
			return ErrCorrupt
		}
		body, ok := d.bytes()
		if !ok {
			return ErrCorrupt
		}
		switch c.st {
		case stString:
			// The buffer is this read's own and is never written again.
			*(*string)(c.target(base, ci, a)) = unsafeString(body)
			return nil
		case stFloat64: // a decimal bound to float64, as the JSON form
			x, err := strconv.ParseFloat(unsafeString(body), 64)
			if err != nil {
				return ErrCorrupt
			}
			*(*float64)(c.target(base, ci, a)) = x
			return nil
		}
		return ErrCorrupt
	case 'j', 'b':
		if tag == 'j' && c.Kind != s.KindJSON || tag == 'b' && c.Kind != s.KindBytes {
			return ErrCorrupt
		}
		body, ok := d.bytes()
		if !ok {
			return ErrCorrupt
		}
		// The bytes stay in the buffer, which is this read's own: no string
		// shares their range, and their capacity ends with them.
		switch {
		case c.st == stBytes:
			*(*[]byte)(c.target(base, ci, a)) = body
			return nil
		case c.st == stString && tag == 'j':
			*(*string)(c.target(base, ci, a)) = unsafeString(body)
			return nil
		}
		return ErrCorrupt
	}
	return ErrCorrupt
}
