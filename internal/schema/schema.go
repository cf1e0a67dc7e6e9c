// Package schema is the first stage of the ORM: the models declared with
// package s, checked and bound to their Go types. A [Model] knows its
// fields, keys, unique constraints, indexes and relations; [Build] checks a
// declaration and its binding (every integer Go type must hold its
// column's whole range), [Resolve] resolves the relations between the
// models of a client, and [FKOrder] orders them so that a table is created
// after the tables it references. The SQL text of the DDL is written by
// internal/sqlgen; values are brought to their canonical form by [Coerce].
package schema

import (
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/viborm/viborm-go/internal/rowcodec"
	"github.com/viborm/viborm-go/internal/verr"
	"github.com/viborm/viborm-go/s"
)

// Row is the dynamic row type, viborm.Row.
type Row = map[string]any

// Field is one scalar field of a model.
type Field struct {
	Def    s.FieldDef
	Name   string
	Column string
	Kind   s.Kind
	Idx    int             // position in Model.Fields, and the row codec's column
	Enum   map[string]bool // the values of an enum
	AutoID bool            // a single-field autoincrement id
	Bind   *Bind           // the struct field bound to it; nil for Row models
}

// Bind ties a field to a struct field.
type Bind struct {
	Index  []int
	Offset uintptr
	Type   reflect.Type
	Ptr    bool // a pointer (nullable)
	Base   reflect.Type
}

// Relation is a relation of a model, resolved against the client's models.
type Relation struct {
	Def    s.RelationDef
	Target *Model
	Fields []*Field // local foreign key fields
	Refs   []*Field // referenced fields of the target

	Model    *Model    // the model that declares the relation
	Back     *Relation // the relation of Target pointing back (nil: none, or ambiguous)
	Junction *Junction // the implicit join table of a many-to-many relation; nil otherwise
}

// Model is the schema of one model, bound to a Go type.
type Model struct {
	Name    string
	Table   string
	Fields  []*Field
	ByName  map[string]*Field
	PK      []*Field
	Uniques [][]*Field // the primary key, unique fields and compound uniques
	Indexes []s.ModelOpt
	RelDefs []s.RelationDef
	GoType  reflect.Type // nil for Row
	IsRow   bool
	Codec   *rowcodec.Plan // how the row codec reads, writes and copies rows of the Go type
	Err     error          // a schema or binding error (a *verr.Error), reported by NewClient
}

var (
	rowType  = reflect.TypeFor[Row]()
	timeType = reflect.TypeFor[time.Time]()
)

// Build checks the declaration of the model name with opts and binds it to
// t (a struct type or Row). A model with an error is returned with Err set.
func Build(name string, opts []s.Option, t reflect.Type) *Model {
	md := &Model{Name: name, Table: name, ByName: map[string]*Field{}}
	fail := func(e *verr.Error) *Model { md.Err = e; return md }
	if name == "" || strings.ContainsAny(name, ":*") {
		return fail(verr.Schemaf(name, "", "a model name must be non-empty and contain no ':' or '*'"))
	}
	var compound []s.ModelOpt
	for _, o := range opts {
		switch o := o.(type) {
		case *s.Field:
			d := o.Def()
			if d.Name == "" {
				return fail(verr.Schemaf(name, "", "a field has no name"))
			}
			if md.ByName[d.Name] != nil {
				return fail(verr.Schemaf(name, d.Name, "duplicate field"))
			}
			f := &Field{Def: d, Name: d.Name, Column: d.Column, Kind: d.Kind, Idx: len(md.Fields)}
			if f.Column == "" {
				f.Column = d.Name
			}
			if d.Kind == s.KindEnum {
				if len(d.Values) == 0 {
					return fail(verr.Schemaf(name, d.Name, "an enum needs values"))
				}
				f.Enum = map[string]bool{}
				for _, v := range d.Values {
					f.Enum[v] = true
				}
			}
			if msg := checkDefault(f); msg != "" {
				return fail(verr.Schemaf(name, d.Name, "%s", msg))
			}
			if d.UpdatedAt && d.Kind != s.KindDateTime {
				return fail(verr.Schemaf(name, d.Name, "updatedAt needs a datetime field"))
			}
			if d.ID && d.Nullable {
				return fail(verr.Schemaf(name, d.Name, "an id cannot be nullable"))
			}
			md.Fields = append(md.Fields, f)
			md.ByName[d.Name] = f
		case *s.Relation:
			md.RelDefs = append(md.RelDefs, o.Def())
		case s.ModelOpt:
			switch o.Kind {
			case s.TableOpt:
				if o.Name == "" {
					return fail(verr.Schemaf(name, "", "empty table name"))
				}
				md.Table = o.Name
			default:
				compound = append(compound, o)
			}
		case nil:
			return fail(verr.Schemaf(name, "", "nil option"))
		default:
			return fail(verr.Schemaf(name, "", "unknown option %T", o))
		}
	}
	if len(md.Fields) == 0 {
		return fail(verr.Schemaf(name, "", "a model needs at least one field"))
	}
	for _, f := range md.Fields {
		if f.Def.ID {
			md.PK = append(md.PK, f)
		}
	}
	for _, o := range compound {
		fs := make([]*Field, 0, len(o.Fields))
		for _, n := range o.Fields {
			f := md.ByName[n]
			if f == nil {
				return fail(verr.Schemaf(name, n, "unknown field in a compound id, unique or index"))
			}
			fs = append(fs, f)
		}
		if len(fs) == 0 {
			return fail(verr.Schemaf(name, "", "a compound id, unique or index needs fields"))
		}
		switch o.Kind {
		case s.IDOpt:
			if len(md.PK) > 0 {
				return fail(verr.Schemaf(name, "", "the model has both a field id and a compound id"))
			}
			md.PK = fs
		case s.UniqueOpt:
			md.Uniques = append(md.Uniques, fs)
		case s.IndexOpt:
			md.Indexes = append(md.Indexes, o)
		}
	}
	if len(md.PK) == 0 {
		return fail(verr.Schemaf(name, "", "the model has no id: mark a field .ID() or add s.ID(fields...)"))
	}
	if len(md.PK) > 1 {
		for _, f := range md.PK {
			if f.Def.Nullable {
				return fail(verr.Schemaf(name, f.Name, "an id field cannot be nullable"))
			}
		}
	}
	for _, f := range md.Fields {
		if f.Def.Default == s.DefaultAutoincrement {
			if !f.Def.ID || len(md.PK) != 1 {
				return fail(verr.Schemaf(name, f.Name, "autoincrement needs a single-field id"))
			}
			f.AutoID = true
		}
	}
	uniq := [][]*Field{md.PK}
	for _, f := range md.Fields {
		if f.Def.Unique && !(len(md.PK) == 1 && md.PK[0] == f) {
			uniq = append(uniq, []*Field{f})
		}
	}
	md.Uniques = append(uniq, md.Uniques...)
	if err := md.bind(t); err != nil {
		md.Err = err
	}
	return md
}

// checkDefault returns what is wrong with f's default, "" when nothing.
func checkDefault(f *Field) string {
	d := f.Def
	switch d.Default {
	case s.DefaultNow:
		if d.Kind != s.KindDateTime {
			return "now() needs a datetime field"
		}
	case s.DefaultUUID, s.DefaultULID:
		if d.Kind != s.KindString {
			return "uuid() and ulid() need a string field"
		}
	case s.DefaultAutoincrement:
		if d.Kind != s.KindInt && d.Kind != s.KindBigInt {
			return "autoincrement needs an int or bigint field"
		}
	case s.DefaultValue:
		if _, err := Coerce(f, d.Value); err != nil {
			return "bad default: " + err.Error()
		}
	}
	return ""
}

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

func (md *Model) bind(t reflect.Type) error {
	if t == rowType {
		md.IsRow = true
		return md.plan(t)
	}
	if t.Kind() != reflect.Struct {
		return verr.Schemaf(md.Name, "", "the row type %s is neither a struct nor viborm.Row", t)
	}
	md.GoType = t
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
	for _, f := range md.Fields {
		sf, ok := byTag[f.Name]
		if !ok {
			c := byNorm[normName(f.Name)]
			if len(c) == 0 {
				return verr.Schemaf(md.Name, f.Name, "no field of %s matches it (names match ignoring case and underscores; or tag a field `viborm:%q`)", t, f.Name)
			}
			if len(c) > 1 {
				return verr.Schemaf(md.Name, f.Name, "several fields of %s match it: %s and %s", t, c[0].Name, c[1].Name)
			}
			sf = c[0]
		}
		if len(sf.Index) > 1 {
			return verr.Schemaf(md.Name, f.Name, "the Go field %s.%s is in an embedded struct, which is not supported", t, sf.Name)
		}
		b := &Bind{Index: sf.Index, Offset: sf.Offset, Type: sf.Type, Base: sf.Type}
		if sf.Type.Kind() == reflect.Pointer {
			b.Ptr, b.Base = true, sf.Type.Elem()
		}
		if msg := checkGoType(f, b); msg != "" {
			return verr.Schemaf(md.Name, f.Name, "Go field %s.%s of type %s: %s", t, sf.Name, sf.Type, msg)
		}
		f.Bind = b
	}
	return md.plan(t)
}

// plan builds md.Codec, the row codec's plan for the Go type t.
func (md *Model) plan(t reflect.Type) error {
	cols := make([]rowcodec.Column, len(md.Fields))
	for i, f := range md.Fields {
		cols[i] = rowcodec.Column{Name: f.Name, Kind: f.Kind}
		if f.Bind != nil {
			cols[i].Field = f.Bind.Index[0]
		}
	}
	p, err := rowcodec.NewPlan(t, cols)
	if err != nil {
		return verr.Schemaf(md.Name, "", "%s", err.Error())
	}
	md.Codec = p
	return nil
}

// SelIdx returns the selection sel as positions of the codec's columns.
func (md *Model) SelIdx(sel []*Field) []int {
	all := md.Codec.All()
	if len(sel) == len(all) {
		full := true
		for i, f := range sel {
			if f.Idx != i {
				full = false
				break
			}
		}
		if full {
			return all
		}
	}
	idx := make([]int, len(sel))
	for i, f := range sel {
		idx[i] = f.Idx
	}
	return idx
}

// IsBytes reports whether t is a byte slice type.
func IsBytes(t reflect.Type) bool {
	return t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8
}

// checkGoType returns why the Go field b cannot hold f, "" when it can.
func checkGoType(f *Field, b *Bind) string {
	bt := b.Base
	ok := false
	switch f.Kind {
	case s.KindString, s.KindEnum:
		ok = bt.Kind() == reflect.String
	case s.KindInt, s.KindBigInt:
		// An s.Int is 32-bit signed, an s.BigInt 64-bit signed. A Go type
		// narrower than that cannot hold the column's range and is refused
		// here; an unsigned type as wide as the field is allowed, and a
		// negative value read into it fails the read (ErrOutOfRange).
		bits := 32
		if f.Kind == s.KindBigInt {
			bits = 64
		}
		switch bt.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			ok = true
			if bt.Bits() < bits {
				return bt.String() + " cannot hold every value of a " + f.Kind.String() +
					" (" + strconv.Itoa(bits) + "-bit signed): use a Go integer type of at least " + strconv.Itoa(bits) + " bits"
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
		ok = IsBytes(bt) && !b.Ptr
		if ok {
			return "" // a nil slice is NULL
		}
		if f.Kind == s.KindJSON && bt.Kind() == reflect.String {
			ok = true
		}
	}
	if !ok {
		return "does not hold a " + f.Kind.String()
	}
	if f.Def.Nullable && !b.Ptr {
		return "the field is nullable: use a pointer type"
	}
	if !f.Def.Nullable && b.Ptr {
		return "the field is not nullable: use a non-pointer type (or mark it .Nullable())"
	}
	return ""
}

// IsUniqueSet reports whether fs are exactly the fields of the id or of a
// unique constraint of md, in any order.
func (md *Model) IsUniqueSet(fs []*Field) bool {
	for _, u := range md.Uniques {
		if len(u) != len(fs) {
			continue
		}
		ok := true
		for _, f := range u {
			found := false
			for _, g := range fs {
				if f == g {
					found = true
				}
			}
			ok = ok && found
		}
		if ok {
			return true
		}
	}
	return false
}

// IsNumeric reports whether k is a numeric kind.
func IsNumeric(k s.Kind) bool {
	return k == s.KindInt || k == s.KindBigInt || k == s.KindFloat || k == s.KindDecimal
}

// IsText reports whether k holds text that LIKE can match.
func IsText(k s.Kind) bool { return k == s.KindString || k == s.KindEnum }

// IsInt reports whether k is an integer kind.
func IsInt(k s.Kind) bool { return k == s.KindInt || k == s.KindBigInt }
