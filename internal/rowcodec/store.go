package rowcodec

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"time"
	"unsafe"

	"github.com/viborm/viborm-go/s"
)

// store is how a column's value is written into its Go field: the layout of
// the field (or of what it points to, for a pointer field). Every write
// through unsafe goes through a store that NewPlan derived from the field's
// reflect type, so a value is only ever written into memory of its layout.
type store uint8

const (
	stString  store = iota + 1 // a string type
	stInt                      // a signed integer type of size bytes
	stUint                     // an unsigned integer type of size bytes
	stFloat64                  // a float64 type
	stFloat32                  // a float32 type
	stBool                     // a bool type
	stTime                     // time.Time
	stBytes                    // a slice of bytes ([]byte, json.RawMessage)
)

// storeFor returns the store for a field whose type (or pointed-to type) is
// t.
func storeFor(t reflect.Type) (store, error) {
	if t == timeType {
		return stTime, nil
	}
	switch t.Kind() {
	case reflect.String:
		return stString, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return stInt, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return stUint, nil
	case reflect.Float64:
		return stFloat64, nil
	case reflect.Float32:
		return stFloat32, nil
	case reflect.Bool:
		return stBool, nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return stBytes, nil
		}
	}
	return 0, fmt.Errorf("cannot hold a field of type %s", t)
}

// errStore is returned for a canonical value that the column's Go field
// cannot take at all (a string for an int field): the schema's type checks
// keep it from happening; the codec refuses rather than write it.
var errStore = errors.New("rowcodec: value of the wrong type for its Go field")

// ptrs allocates the values that the pointer fields of decoded or scanned
// rows point to: per column, chunks of several values, each chunk one
// allocation of the column's element type.
type ptrs struct {
	next  int // size of the next chunk
	cols  []ptrChunk
	multi bool
}

type ptrChunk struct {
	p    unsafe.Pointer // the next free element
	left int            // elements left in the chunk
}

// newPtrs returns the allocator for rows of p, expecting about n rows (0 if
// unknown).
func newPtrs(p *Plan, n int) ptrs {
	if !p.hasPtr {
		return ptrs{}
	}
	if n <= 0 {
		n = 1 // unknown: chunks of 1, 2, 4… values (a findUnique reads one row)
	}
	return ptrs{next: n, cols: make([]ptrChunk, len(p.cols))}
}

// alloc returns a new zero value of the element type of c's pointer field.
func (a *ptrs) alloc(ci int, c *col) unsafe.Pointer {
	ch := &a.cols[ci]
	if ch.left == 0 {
		n := a.next
		if a.multi && n < 256 {
			n *= 2 // more rows than expected: grow the chunks
			a.next = n
		}
		s := reflect.MakeSlice(reflect.SliceOf(c.base), n, n)
		ch.p, ch.left = s.UnsafePointer(), n
		a.multi = true
	}
	p := ch.p
	ch.left--
	if ch.left > 0 {
		ch.p = unsafe.Add(ch.p, c.base.Size())
	}
	return p
}

// target returns where the value of column ci goes in the row at base: its
// field, or for a pointer field a new value that the field now points to.
func (c *col) target(base unsafe.Pointer, ci int, a *ptrs) unsafe.Pointer {
	fp := unsafe.Add(base, c.off)
	if !c.ptr {
		return fp
	}
	ep := a.alloc(ci, c)
	*(*unsafe.Pointer)(fp) = ep
	return ep
}

// setInt stores n at ep, or reports that the Go field cannot hold it.
func (c *col) setInt(ep unsafe.Pointer, n int64) error {
	switch c.st {
	case stInt:
		switch c.size {
		case 8:
			*(*int64)(ep) = n
			return nil
		case 4:
			if n == int64(int32(n)) {
				*(*int32)(ep) = int32(n)
				return nil
			}
		case 2:
			if n == int64(int16(n)) {
				*(*int16)(ep) = int16(n)
				return nil
			}
		case 1:
			if n == int64(int8(n)) {
				*(*int8)(ep) = int8(n)
				return nil
			}
		}
	case stUint:
		if n < 0 {
			break
		}
		switch u := uint64(n); c.size {
		case 8:
			*(*uint64)(ep) = u
			return nil
		case 4:
			if u <= math.MaxUint32 {
				*(*uint32)(ep) = uint32(u)
				return nil
			}
		case 2:
			if u <= math.MaxUint16 {
				*(*uint16)(ep) = uint16(u)
				return nil
			}
		case 1:
			if u <= math.MaxUint8 {
				*(*uint8)(ep) = uint8(u)
				return nil
			}
		}
	default:
		return errStore
	}
	return &RangeError{Column: c.Name, Value: n, Type: c.base}
}

// setFloat stores x at ep, or reports that the Go field cannot hold it (a
// finite float64 beyond a float32's range).
func (c *col) setFloat(ep unsafe.Pointer, x float64) error {
	switch c.st {
	case stFloat64:
		*(*float64)(ep) = x
	case stFloat32:
		if a := math.Abs(x); math.MaxFloat32 < a && a <= math.MaxFloat64 {
			return &RangeError{Column: c.Name, Value: x, Type: c.base}
		}
		*(*float32)(ep) = float32(x)
	default:
		return errStore
	}
	return nil
}

// set stores the canonical value v (never nil) into column ci of the row
// at base, a zero row. A number the Go field cannot hold is a *RangeError,
// never a truncated value.
func (c *col) set(base unsafe.Pointer, ci int, a *ptrs, v any) error {
	switch x := v.(type) {
	case string:
		switch c.st {
		case stString:
			*(*string)(c.target(base, ci, a)) = x
		case stFloat64: // a decimal bound to float64
			f, err := strconv.ParseFloat(x, 64)
			if err != nil {
				return &RangeError{Column: c.Name, Value: x, Type: c.base}
			}
			*(*float64)(c.target(base, ci, a)) = f
		default:
			return errStore
		}
		return nil
	case int64:
		if c.st != stInt && c.st != stUint {
			return errStore
		}
		return c.setInt(c.target(base, ci, a), x)
	case float64:
		if c.st != stFloat64 && c.st != stFloat32 {
			return errStore
		}
		return c.setFloat(c.target(base, ci, a), x)
	case bool:
		if c.st != stBool {
			return errStore
		}
		*(*bool)(c.target(base, ci, a)) = x
		return nil
	case time.Time:
		if c.st != stTime {
			return errStore
		}
		*(*time.Time)(c.target(base, ci, a)) = x
		return nil
	case json.RawMessage:
		switch c.st {
		case stString:
			*(*string)(c.target(base, ci, a)) = string(x)
			return nil
		case stBytes:
			*(*[]byte)(c.target(base, ci, a)) = append(make([]byte, 0, len(x)), x...)
			return nil
		}
	case []byte:
		if c.st == stBytes {
			*(*[]byte)(c.target(base, ci, a)) = append(make([]byte, 0, len(x)), x...)
			return nil
		}
	}
	return errStore
}

// scan stores raw, a value scanned from the database, into column ci of the
// zero row at base: what FromDB and set do, without boxing the value again
// in the common cases (a string for a string column, an int64 for an
// integer or boolean, a float64 for a float, a time for a datetime).
func (c *col) scan(base unsafe.Pointer, ci int, a *ptrs, raw any) error {
	switch x := raw.(type) {
	case nil:
		return nil
	case string:
		if c.st == stString && (c.Kind == s.KindString || c.Kind == s.KindEnum || c.Kind == s.KindDecimal) {
			*(*string)(c.target(base, ci, a)) = x
			return nil
		}
	case []byte:
		if c.st == stString && (c.Kind == s.KindString || c.Kind == s.KindEnum || c.Kind == s.KindDecimal) {
			*(*string)(c.target(base, ci, a)) = string(x)
			return nil
		}
	case int64:
		switch {
		case (c.Kind == s.KindInt || c.Kind == s.KindBigInt) && (c.st == stInt || c.st == stUint):
			return c.setInt(c.target(base, ci, a), x)
		case c.Kind == s.KindBoolean && c.st == stBool:
			*(*bool)(c.target(base, ci, a)) = x != 0
			return nil
		}
	case float64:
		if c.Kind == s.KindFloat && (c.st == stFloat64 || c.st == stFloat32) {
			return c.setFloat(c.target(base, ci, a), x)
		}
	case bool:
		if c.Kind == s.KindBoolean && c.st == stBool {
			*(*bool)(c.target(base, ci, a)) = x
			return nil
		}
	case time.Time:
		if c.Kind == s.KindDateTime && c.st == stTime {
			*(*time.Time)(c.target(base, ci, a)) = x.UTC()
			return nil
		}
	}
	v, err := FromDB(c.Kind, raw)
	if err != nil {
		return fmt.Errorf("field %s: %w", c.Name, err)
	}
	if v == nil {
		return nil
	}
	return c.set(base, ci, a, v)
}
