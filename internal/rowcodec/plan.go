// Package rowcodec turns rows into Go values and back: it scans database
// rows into a model's Go type, writes and strictly reads the cached form of
// rows, and copies cached rows so that a caller owns what it is handed.
//
// The three paths of a read meet here: [ScanRows] on a miss or an uncached
// read, [AppendRows] when the result is stored in a serializing cache
// driver and [DecodeRows] on a hit from one, and [CopyRows] on a hit from
// an in-memory driver, whose cached rows the caller must not share. The
// copy is a memmove of the rows plus, per field that refers to mutable
// memory (a pointer, a byte slice), one allocation for all rows; strings,
// numbers and times are copied with the row.
//
// It knows the columns it handles only through a [Plan], built by the
// caller from a [Column] per model field: the package does not depend on
// the schema. Every use of package unsafe in the module lives here, next to
// the fuzz tests that exercise it; each one writes only through offsets and
// types that [NewPlan] took from reflect, and the generic entry points
// check that their type parameter is the plan's row type.
package rowcodec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"time"
	"unsafe"

	"github.com/viborm/viborm-go/s"
)

// Row is a dynamic row: field name → canonical value (the root package's
// viborm.Row).
type Row = map[string]any

var (
	rowType  = reflect.TypeFor[Row]()
	timeType = reflect.TypeFor[time.Time]()
)

// Column describes one column of a model as the codec sees it.
type Column struct {
	// Name is the field's name, the name the cached form records.
	Name string
	// Kind is the field's schema kind: it decides the canonical Go type of
	// the column's values (see FixKind).
	Kind s.Kind
	// Field is the index of the Go struct field bound to the column; it is
	// ignored for Row models.
	Field int
}

// Plan is how the codec handles the rows of one model bound to one Go type:
// its columns, and for a struct type where each column lives in the struct
// and which fields a copy must duplicate.
type Plan struct {
	typ  reflect.Type // the row type: a struct, or Row
	row  bool         // typ is Row
	cols []col
	all  []int // 0..len(cols)-1, the selection of every column
	deep []copyStep
	// hasPtr: a column is bound to a pointer field.
	hasPtr bool
}

// col is a Column with its binding resolved.
type col struct {
	Column
	off  uintptr      // offset of the Go field
	typ  reflect.Type // the Go field's type
	ptr  bool         // the Go field is a pointer (a nullable column)
	base reflect.Type // typ, or what it points to
	st   store        // how values are written into base
	size uintptr      // base.Size()
}

// NewPlan returns the plan for rows of type t (a struct type, or Row) with
// the columns cols, in the model's field order: selections passed to the
// other functions index cols. For a struct type each column's Field must
// be an exported field of t whose type holds the column's kind (the schema
// checks the details); NewPlan reports the types it cannot copy.
func NewPlan(t reflect.Type, cols []Column) (*Plan, error) {
	p := &Plan{typ: t, row: t == rowType, cols: make([]col, len(cols)), all: make([]int, len(cols))}
	for i, c := range cols {
		p.all[i] = i
		p.cols[i].Column = c
	}
	if p.row {
		return p, nil
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("rowcodec: the row type %v is neither a struct nor Row", t)
	}
	for i := range p.cols {
		c := &p.cols[i]
		if c.Field < 0 || c.Field >= t.NumField() {
			return nil, fmt.Errorf("rowcodec: column %s: %s has no field %d", c.Name, t, c.Field)
		}
		sf := t.Field(c.Field)
		if !sf.IsExported() {
			return nil, fmt.Errorf("rowcodec: column %s: field %s.%s is not exported", c.Name, t, sf.Name)
		}
		c.off, c.typ, c.base = sf.Offset, sf.Type, sf.Type
		if sf.Type.Kind() == reflect.Pointer {
			c.ptr, c.base = true, sf.Type.Elem()
			p.hasPtr = true
		}
		st, err := storeFor(c.base)
		if err != nil {
			return nil, fmt.Errorf("rowcodec: column %s: %w", c.Name, err)
		}
		c.st, c.size = st, c.base.Size()
		step, err := copyStepFor(c)
		if err != nil {
			return nil, fmt.Errorf("rowcodec: column %s: %w", c.Name, err)
		}
		if step != nil {
			p.deep = append(p.deep, step)
		}
	}
	return p, nil
}

// All returns the selection of every column, in order. The caller must not
// modify it.
func (p *Plan) All() []int { return p.all }

// checkType panics unless T is the plan's row type: the functions that
// write into a []T through unsafe offsets refuse any other type.
func checkType[T any](p *Plan) {
	if reflect.TypeFor[T]() != p.typ {
		panic(fmt.Sprintf("rowcodec: rows of %s with a plan for %s", reflect.TypeFor[T](), p.typ))
	}
}

func isBytes(t reflect.Type) bool {
	return t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8
}

// ---- the copy ----

// copyStep makes one field of n rows (of size bytes from base) independent
// of the rows they were copied from.
type copyStep func(base unsafe.Pointer, size uintptr, n int)

// copyStepFor returns the step that duplicates what the field of c refers
// to, or nil for a field a shallow copy already owns (a number, a bool, a
// time, a string: Go strings are immutable, so sharing one shares nothing
// mutable).
func copyStepFor(c *col) (copyStep, error) {
	if isBytes(c.typ) {
		return batchBytes(c.off), nil
	}
	if !c.ptr {
		switch c.typ.Kind() {
		case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
			return nil, nil
		}
		if c.typ == timeType {
			return nil, nil
		}
		return nil, fmt.Errorf("cannot copy a field of type %s", c.typ)
	}
	switch c.base.Kind() {
	case reflect.String:
		return batchPtr[string](c.off), nil
	case reflect.Bool, reflect.Int8, reflect.Uint8:
		return batchPtr[uint8](c.off), nil
	case reflect.Int16, reflect.Uint16:
		return batchPtr[uint16](c.off), nil
	case reflect.Int32, reflect.Uint32, reflect.Float32:
		return batchPtr[uint32](c.off), nil
	case reflect.Int, reflect.Int64, reflect.Uint, reflect.Uint64, reflect.Float64:
		return batchPtr[uint64](c.off), nil
	}
	if c.base == timeType {
		return batchPtr[time.Time](c.off), nil
	}
	return nil, fmt.Errorf("cannot copy a field of type %s", c.typ)
}

// CopyRows returns a copy of src that shares nothing mutable with it: a
// caller may change any field, append to any byte slice and write through
// any pointer of the copy without touching src. T must be the plan's type.
func CopyRows[T any](p *Plan, src []T) []T {
	checkType[T](p)
	out := make([]T, len(src))
	copy(out, src)
	if p.row {
		for i := range out {
			r := (*Row)(unsafe.Pointer(&out[i]))
			*r = copyRow(*r)
		}
		return out
	}
	if len(p.deep) > 0 && len(out) > 0 {
		base, size := unsafe.Pointer(&out[0]), unsafe.Sizeof(out[0])
		for _, step := range p.deep {
			step(base, size, len(out))
		}
	}
	return out
}

func copyRow(r Row) Row {
	n := make(Row, len(r))
	for k, v := range r {
		n[k] = CopyValue(v)
	}
	return n
}

// CopyValue returns a canonical value that shares nothing mutable with v:
// byte slices and JSON are duplicated, everything else is immutable.
func CopyValue(v any) any {
	switch x := v.(type) {
	case []byte:
		return bytes.Clone(x)
	case json.RawMessage:
		return json.RawMessage(bytes.Clone(x))
	}
	return v
}

// batchPtr duplicates the *E at offset off of n rows of size bytes starting
// at base, with one allocation for all rows. E has the size and layout of
// the field's element type (a named string or integer type shares its
// underlying type's layout).
func batchPtr[E any](off uintptr) copyStep {
	return func(base unsafe.Pointer, size uintptr, n int) {
		cnt := 0
		for i := range n {
			if *(**E)(unsafe.Add(base, uintptr(i)*size+off)) != nil {
				cnt++
			}
		}
		if cnt == 0 {
			return
		}
		arena := make([]E, cnt)
		j := 0
		for i := range n {
			pp := (**E)(unsafe.Add(base, uintptr(i)*size+off))
			if *pp != nil {
				arena[j] = **pp
				*pp = &arena[j]
				j++
			}
		}
	}
}

// batchBytes duplicates the []byte at offset off of n rows into one
// allocation; each copy's capacity ends at its length, so appending to one
// never touches another.
func batchBytes(off uintptr) copyStep {
	return func(base unsafe.Pointer, size uintptr, n int) {
		total := 0
		for i := range n {
			total += len(*(*[]byte)(unsafe.Add(base, uintptr(i)*size+off)))
		}
		arena := make([]byte, total)
		pos := 0
		for i := range n {
			bp := (*[]byte)(unsafe.Add(base, uintptr(i)*size+off))
			if *bp == nil {
				continue
			}
			l := len(*bp)
			copy(arena[pos:], *bp)
			*bp = arena[pos : pos+l : pos+l]
			pos += l
		}
	}
}
