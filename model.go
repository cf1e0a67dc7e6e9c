package viborm

import (
	"reflect"
	"strings"
	"sync"
	"time"
	"unicode"
	"unsafe"

	"github.com/viborm/viborm-go/s"
)

// Row is a dynamic row: field name → value. A Model[Row] returns rows as
// maps holding canonical values: string, int64, float64, bool, time.Time
// (UTC), []byte, json.RawMessage, a decimal as a string, or nil for NULL.
type Row = map[string]any

// field is one scalar field of a model.
type field struct {
	def    s.FieldDef
	name   string
	column string
	kind   s.Kind
	idx    int
	enum   map[string]bool
	autoID bool
	// binding to a struct field (nil for Row models)
	bind *fieldBind
}

type relation struct {
	def    s.RelationDef
	target *model
	fields []*field // local FK fields
	refs   []*field // referenced fields of the target
}

// model is the schema of one model, bound to a Go type.
type model struct {
	name    string
	table   string
	fields  []*field
	byName  map[string]*field
	pk      []*field
	uniques [][]*field // the primary key, unique fields and compound uniques
	indexes []s.ModelOpt
	relDefs []s.RelationDef
	goType  reflect.Type // nil for Row
	isRow   bool
	deep    []func(base unsafe.Pointer, size uintptr, n int) // deep-copy steps, per field over a slice
	err     error                                            // a schema or binding error, reported by NewClient
}

// AnyModel is a model of any row type, for [Config.Models].
type AnyModel interface {
	meta() *model
}

// ModelDef is a model bound to the Go type T: a struct whose fields match the
// model's scalar fields, or [Row]. Its methods run the model's operations
// through a [Reader] or [Writer]: a *Client, a *Tx or (reads only) a *Cached.
//
// A ModelDef is usually a package-level variable shared by every client; the
// clients it is used with must list it in [Config.Models].
type ModelDef[T any] struct {
	name string
	opts []s.Option
	once sync.Once
	m    *model
}

// Model declares a model named name (the name used in cache keys and
// relations) bound to T. Errors in the declaration are reported by
// [NewClient].
func Model[T any](name string, opts ...s.Option) *ModelDef[T] {
	return &ModelDef[T]{name: name, opts: opts}
}

// Name returns the model's name.
func (m *ModelDef[T]) Name() string { return m.name }

func (m *ModelDef[T]) meta() *model {
	m.once.Do(func() { m.m = buildModel(m.name, m.opts, reflect.TypeFor[T]()) })
	return m.m
}

var rowType = reflect.TypeFor[Row]()

func buildModel(name string, opts []s.Option, t reflect.Type) *model {
	md := &model{name: name, table: name, byName: map[string]*field{}}
	fail := func(e *Error) *model { md.err = e; return md }
	if name == "" || strings.ContainsAny(name, ":*") {
		return fail(schemaf(name, "", "a model name must be non-empty and contain no ':' or '*'"))
	}
	var compound []s.ModelOpt
	for _, o := range opts {
		switch o := o.(type) {
		case *s.Field:
			d := o.Def()
			if d.Name == "" {
				return fail(schemaf(name, "", "a field has no name"))
			}
			if md.byName[d.Name] != nil {
				return fail(schemaf(name, d.Name, "duplicate field"))
			}
			f := &field{def: d, name: d.Name, column: d.Column, kind: d.Kind, idx: len(md.fields)}
			if f.column == "" {
				f.column = d.Name
			}
			if d.Kind == s.KindEnum {
				if len(d.Values) == 0 {
					return fail(schemaf(name, d.Name, "an enum needs values"))
				}
				f.enum = map[string]bool{}
				for _, v := range d.Values {
					f.enum[v] = true
				}
			}
			if err := checkDefault(f); err != nil {
				return fail(schemaf(name, d.Name, "%s", err.Error()))
			}
			if d.UpdatedAt && d.Kind != s.KindDateTime {
				return fail(schemaf(name, d.Name, "updatedAt needs a datetime field"))
			}
			if d.ID && d.Nullable {
				return fail(schemaf(name, d.Name, "an id cannot be nullable"))
			}
			md.fields = append(md.fields, f)
			md.byName[d.Name] = f
		case *s.Relation:
			md.relDefs = append(md.relDefs, o.Def())
		case s.ModelOpt:
			switch o.Kind {
			case s.TableOpt:
				if o.Name == "" {
					return fail(schemaf(name, "", "empty table name"))
				}
				md.table = o.Name
			default:
				compound = append(compound, o)
			}
		case nil:
			return fail(schemaf(name, "", "nil option"))
		default:
			return fail(schemaf(name, "", "unknown option %T", o))
		}
	}
	if len(md.fields) == 0 {
		return fail(schemaf(name, "", "a model needs at least one field"))
	}
	for _, f := range md.fields {
		if f.def.ID {
			md.pk = append(md.pk, f)
		}
	}
	for _, o := range compound {
		fs := make([]*field, 0, len(o.Fields))
		for _, n := range o.Fields {
			f := md.byName[n]
			if f == nil {
				return fail(schemaf(name, n, "unknown field in a compound id, unique or index"))
			}
			fs = append(fs, f)
		}
		if len(fs) == 0 {
			return fail(schemaf(name, "", "a compound id, unique or index needs fields"))
		}
		switch o.Kind {
		case s.IDOpt:
			if len(md.pk) > 0 {
				return fail(schemaf(name, "", "the model has both a field id and a compound id"))
			}
			md.pk = fs
		case s.UniqueOpt:
			md.uniques = append(md.uniques, fs)
		case s.IndexOpt:
			md.indexes = append(md.indexes, o)
		}
	}
	if len(md.pk) == 0 {
		return fail(schemaf(name, "", "the model has no id: mark a field .ID() or add s.ID(fields...)"))
	}
	if len(md.pk) > 1 {
		for _, f := range md.pk {
			if f.def.Nullable {
				return fail(schemaf(name, f.name, "an id field cannot be nullable"))
			}
		}
	}
	for _, f := range md.fields {
		if f.def.Default == s.DefaultAutoincrement {
			if !f.def.ID || len(md.pk) != 1 {
				return fail(schemaf(name, f.name, "autoincrement needs a single-field id"))
			}
			f.autoID = true
		}
	}
	uniq := [][]*field{md.pk}
	for _, f := range md.fields {
		if f.def.Unique && !(len(md.pk) == 1 && md.pk[0] == f) {
			uniq = append(uniq, []*field{f})
		}
	}
	md.uniques = append(uniq, md.uniques...)
	if err := md.bind(t); err != nil {
		md.err = err
	}
	return md
}

func checkDefault(f *field) error {
	d := f.def
	switch d.Default {
	case s.DefaultNow:
		if d.Kind != s.KindDateTime {
			return errorString("now() needs a datetime field")
		}
	case s.DefaultUUID, s.DefaultULID:
		if d.Kind != s.KindString {
			return errorString("uuid() and ulid() need a string field")
		}
	case s.DefaultAutoincrement:
		if d.Kind != s.KindInt && d.Kind != s.KindBigInt {
			return errorString("autoincrement needs an int or bigint field")
		}
	case s.DefaultValue:
		if _, err := coerce(f, d.Value); err != nil {
			return errorString("bad default: " + err.Error())
		}
	}
	return nil
}

type errorString string

func (e errorString) Error() string { return string(e) }

// fieldBind ties a field to a struct field.
type fieldBind struct {
	index  []int
	offset uintptr
	typ    reflect.Type
	ptr    bool // a pointer (nullable)
	base   reflect.Type
}

var timeType = reflect.TypeFor[time.Time]()

func normName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == '_' {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

func (md *model) bind(t reflect.Type) error {
	if t == rowType {
		md.isRow = true
		return nil
	}
	if t.Kind() != reflect.Struct {
		return schemaf(md.name, "", "the row type %s is neither a struct nor viborm.Row", t)
	}
	md.goType = t
	byTag := map[string]reflect.StructField{}
	byNorm := map[string][]reflect.StructField{}
	for _, sf := range reflect.VisibleFields(t) {
		if !sf.IsExported() || sf.Anonymous {
			continue
		}
		tag := sf.Tag.Get("viborm")
		if tag == "-" {
			continue
		}
		if tag != "" {
			byTag[tag] = sf
			continue
		}
		n := normName(sf.Name)
		byNorm[n] = append(byNorm[n], sf)
	}
	for _, f := range md.fields {
		sf, ok := byTag[f.name]
		if !ok {
			c := byNorm[normName(f.name)]
			if len(c) == 0 {
				return schemaf(md.name, f.name, "no field of %s matches it (names match ignoring case and underscores; or tag a field `viborm:%q`)", t, f.name)
			}
			if len(c) > 1 {
				return schemaf(md.name, f.name, "several fields of %s match it: %s and %s", t, c[0].Name, c[1].Name)
			}
			sf = c[0]
		}
		if len(sf.Index) > 1 {
			return schemaf(md.name, f.name, "the Go field %s.%s is in an embedded struct, which is not supported", t, sf.Name)
		}
		b := &fieldBind{index: sf.Index, offset: sf.Offset, typ: sf.Type, base: sf.Type}
		if sf.Type.Kind() == reflect.Pointer {
			b.ptr, b.base = true, sf.Type.Elem()
		}
		if err := checkGoType(f, b); err != nil {
			return schemaf(md.name, f.name, "Go field %s.%s of type %s: %s", t, sf.Name, sf.Type, err.Error())
		}
		f.bind = b
	}
	md.deep = deepPlan(md.fields)
	return nil
}

func isBytes(t reflect.Type) bool {
	return t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8
}

func checkGoType(f *field, b *fieldBind) error {
	bt := b.base
	ok := false
	switch f.kind {
	case s.KindString, s.KindEnum:
		ok = bt.Kind() == reflect.String
	case s.KindInt, s.KindBigInt:
		// An s.Int is 32-bit signed, an s.BigInt 64-bit signed. A Go type
		// narrower than that cannot hold the column's range and is refused
		// here; an unsigned type as wide as the field is allowed, and a
		// negative value read into it fails the read (ErrOutOfRange).
		bits := 32
		if f.kind == s.KindBigInt {
			bits = 64
		}
		switch bt.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			ok = true
			if bt.Bits() < bits {
				return errorString(bt.String() + " cannot hold every value of a " + f.kind.String() +
					" (" + itoa(bits) + "-bit signed): use a Go integer type of at least " + itoa(bits) + " bits")
			}
		}
	case s.KindFloat:
		ok = bt.Kind() == reflect.Float64 || bt.Kind() == reflect.Float32
	case s.KindDecimal:
		ok = bt.Kind() == reflect.String || bt.Kind() == reflect.Float64
	case s.KindBoolean:
		ok = bt.Kind() == reflect.Bool
	case s.KindDateTime:
		ok = bt == timeType
	case s.KindJSON, s.KindBytes:
		ok = isBytes(bt) && !b.ptr
		if ok {
			return nil // a nil slice is NULL
		}
		if f.kind == s.KindJSON && bt.Kind() == reflect.String {
			ok = true
		}
	}
	if !ok {
		return errorString("does not hold a " + f.kind.String())
	}
	if f.def.Nullable && !b.ptr {
		return errorString("the field is nullable: use a pointer type")
	}
	if !f.def.Nullable && b.ptr {
		return errorString("the field is not nullable: use a non-pointer type (or mark it .Nullable())")
	}
	return nil
}

// deepPlan returns the steps that make a shallow copy of a slice of struct
// values independent of the original: pointed-to values and byte slices are
// duplicated. Each step handles one field for every row with one allocation
// (an arena per field), so a cached hit costs a few allocations, not a few
// per row.
func deepPlan(fields []*field) []func(base unsafe.Pointer, size uintptr, n int) {
	var plan []func(unsafe.Pointer, uintptr, int)
	for _, f := range fields {
		b := f.bind
		off := b.offset
		if isBytes(b.typ) {
			plan = append(plan, batchBytes(off))
			continue
		}
		if !b.ptr {
			continue
		}
		var step func(unsafe.Pointer, uintptr, int)
		switch b.base.Kind() {
		case reflect.String:
			step = batchPtr[string](off)
		case reflect.Bool, reflect.Int8, reflect.Uint8:
			step = batchPtr[uint8](off)
		case reflect.Int16, reflect.Uint16:
			step = batchPtr[uint16](off)
		case reflect.Int32, reflect.Uint32, reflect.Float32:
			step = batchPtr[uint32](off)
		case reflect.Int, reflect.Int64, reflect.Uint, reflect.Uint64, reflect.Float64:
			step = batchPtr[uint64](off)
		case reflect.Struct: // time.Time
			step = batchPtr[time.Time](off)
		}
		plan = append(plan, step)
	}
	return plan
}

// batchPtr duplicates the *E at offset off of n rows of size bytes starting
// at base. E has the size and layout of the field's element type (a named
// string or integer type shares its underlying type's layout).
func batchPtr[E any](off uintptr) func(unsafe.Pointer, uintptr, int) {
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

// batchBytes duplicates the []byte at offset off of n rows; each copy's
// capacity ends at its length, so appending to one never touches another.
func batchBytes(off uintptr) func(unsafe.Pointer, uintptr, int) {
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
