package cache

import (
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// KeyOptions configures [Key]. A nil *KeyOptions means no version and the
// default hash.
type KeyOptions struct {
	// Version, when set, makes the key "viborm:v<Version>:…".
	Version string
	// Compat selects VibORM's TypeScript key derivation, reproducing its keys
	// byte for byte for JSON-like arguments (maps with string keys, slices,
	// strings, bools, numbers, nil, time.Time, []byte, *big.Int and
	// json.RawMessage). Its hash has 64 bits and is not collision-resistant:
	// use it only to share entries with TypeScript services.
	Compat bool
}

// Prefix returns the prefix of every key: "viborm", or "viborm:v<version>"
// when version is not empty.
func Prefix(version string) string {
	if version == "" {
		return "viborm"
	}
	return "viborm:v" + version
}

// ModelPrefix returns the prefix of every key of model:
// "viborm[:v<version>]:<model>:". It ends at a separator, so the prefix of
// model "user" does not cover model "userProfile".
func ModelPrefix(version, model string) string {
	return Prefix(version) + ":" + model + ":"
}

// Key returns the key "viborm[:v<version>]:<model>:<op>:<hash>" of a read of
// model by operation op with arguments args.
//
// The hash is deterministic: the order in which a map was filled does not
// matter. It covers maps (keys of any comparable type), structs (exported
// fields, named by their json tag when they have one; nil pointer, slice,
// map and interface fields are left out, as absent), slices and arrays,
// pointers (followed), strings, bools, every integer kind (equal numbers of
// different integer kinds hash alike), float32 and float64, [time.Time] (the
// instant, whatever its location), []byte, [*big.Int], [json.RawMessage]
// (canonicalized, so member order and spacing do not matter), types
// implementing [json.Marshaler] or [encoding.TextMarshaler], and nil. A nil
// args means no arguments (TypeScript's undefined); json.RawMessage("null")
// is an explicit null. Every value is tagged with its kind, so 1, 1.0,
// "1" and []byte("1") never collide.
//
// By default the hash is the first 128 bits of the SHA-256 of that tagged
// encoding, as 32 hex digits. With [KeyOptions.Compat] it is VibORM's.
//
// NaN and infinite floats, funcs, channels, complex numbers, unsafe pointers,
// structs whose fields are all unexported (they would hash alike) and cyclic
// values return a [*KeyError].
func Key(model, op string, args any, opts *KeyOptions) (string, error) {
	var o KeyOptions
	if opts != nil {
		o = *opts
	}
	return buildKey(Prefix(o.Version), model, op, args, o.Compat)
}

// StringKey returns Key(model, op, string(arg), opts): the key of a read
// whose arguments are a string, here given as its bytes (an application's
// own canonical encoding of its arguments, as the ORM's). It is the same
// key, computed without copying arg or boxing it in an interface, so a
// caller that encodes into a stack buffer derives a key with one
// allocation: the key itself.
func StringKey(model, op string, arg []byte, opts *KeyOptions) (string, error) {
	if opts != nil && opts.Compat {
		return Key(model, op, string(arg), opts)
	}
	// The tagged encoding of a string (see encoder.str), hashed at once.
	var tb [256]byte
	b := append(tb[:0], tagString)
	b = binary.AppendUvarint(b, uint64(len(arg)))
	b = append(b, arg...)
	h := sha256.Sum256(b)
	var kb [192]byte
	k := append(kb[:0], "viborm:"...)
	if opts != nil && opts.Version != "" {
		k = append(append(append(k, 'v'), opts.Version...), ':') // Prefix's form
	}
	k = append(k, model...)
	k = append(k, ':')
	k = append(k, op...)
	k = append(k, ':')
	k = hex.AppendEncode(k, h[:16])
	return string(k), nil
}

func buildKey(prefix, model, op string, args any, compat bool) (string, error) {
	var sum [32]byte
	n := 32
	if compat {
		h, err := hashCompat(args)
		if err != nil {
			return "", err
		}
		n = 16
		copy(sum[:], h)
	} else {
		h, err := hashDefault(args)
		if err != nil {
			return "", err
		}
		hex.Encode(sum[:], h[:16])
	}
	var sb strings.Builder
	sb.Grow(len(prefix) + len(model) + len(op) + 3 + n)
	sb.WriteString(prefix)
	sb.WriteByte(':')
	sb.WriteString(model)
	sb.WriteByte(':')
	sb.WriteString(op)
	sb.WriteByte(':')
	sb.Write(sum[:n])
	return sb.String(), nil
}

// Tags of the default encoding. Each value is written as a tag followed by a
// self-delimiting body, which makes the encoding injective.
const (
	tagUndefined = 'u'
	tagNull      = 'n'
	tagFalse     = 'f'
	tagTrue      = 't'
	tagInt       = 'i' // decimal text, length-prefixed
	tagFloat     = 'd' // 8 bytes, IEEE 754 bits
	tagString    = 's' // length-prefixed
	tagBytes     = 'b' // length-prefixed
	tagTime      = 'T' // Unix seconds (8 bytes) and nanoseconds (4 bytes)
	tagBigInt    = 'B' // decimal text, length-prefixed
	tagJSON      = 'j' // a canonical encoding of the decoded JSON follows
	tagNumber    = 'N' // a JSON number literal, length-prefixed
	tagText      = 'x' // encoding.TextMarshaler output, length-prefixed
	tagList      = 'a' // count, then the elements
	tagMap       = 'm' // count, then key/value pairs ordered by encoded key
	tagStruct    = 'o' // count (4 bytes), then name/value pairs ordered by name
)

var (
	timeType          = reflect.TypeFor[time.Time]()
	bigIntType        = reflect.TypeFor[big.Int]()
	rawMessageType    = reflect.TypeFor[json.RawMessage]()
	jsonNumberType    = reflect.TypeFor[json.Number]()
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

type encoder struct {
	buf   []byte
	keys  []string  // scratch for sorting map[string]any keys
	path  []uintptr // pointers on the current path, for cycle detection
	depth int
}

var encoderPool = sync.Pool{New: func() any { return &encoder{buf: make([]byte, 0, 256)} }}

const maxKeyDepth = 1000

func hashDefault(args any) ([32]byte, error) {
	e := encoderPool.Get().(*encoder)
	e.buf = e.buf[:0]
	e.keys = e.keys[:0]
	e.path = e.path[:0]
	e.depth = 0
	var sum [32]byte
	var err error
	if args == nil {
		e.buf = append(e.buf, tagUndefined)
	} else {
		err = e.encode(args)
	}
	if err == nil {
		sum = sha256.Sum256(e.buf)
	}
	if cap(e.buf) <= 64<<10 {
		encoderPool.Put(e)
	}
	return sum, err
}

func (e *encoder) uvarint(n uint64) { e.buf = binary.AppendUvarint(e.buf, n) }

func (e *encoder) str(tag byte, s string) {
	e.buf = append(e.buf, tag)
	e.uvarint(uint64(len(s)))
	e.buf = append(e.buf, s...)
}

func (e *encoder) int(n int64) {
	e.buf = append(e.buf, tagInt, 0)
	at := len(e.buf)
	e.buf = strconv.AppendInt(e.buf, n, 10)
	e.buf[at-1] = byte(len(e.buf) - at)
}

func (e *encoder) uint(n uint64) {
	e.buf = append(e.buf, tagInt, 0)
	at := len(e.buf)
	e.buf = strconv.AppendUint(e.buf, n, 10)
	e.buf[at-1] = byte(len(e.buf) - at)
}

func (e *encoder) float(f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return &KeyError{Reason: "NaN and infinite numbers cannot be hashed"}
	}
	if f == 0 {
		f = 0 // -0 and 0 are the same number
	}
	e.buf = append(e.buf, tagFloat)
	e.buf = binary.BigEndian.AppendUint64(e.buf, math.Float64bits(f))
	return nil
}

func (e *encoder) time(t time.Time) {
	e.buf = append(e.buf, tagTime)
	e.buf = binary.BigEndian.AppendUint64(e.buf, uint64(t.Unix()))
	e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(t.Nanosecond()))
}

// inPath records, on the way out of a container, where in the arguments a
// *KeyError happened: paths read like "where.OR[1].score".
func inPath(err error, elem string) error {
	if ke, ok := err.(*KeyError); ok {
		switch {
		case ke.Path == "":
			ke.Path = elem
		case strings.HasPrefix(ke.Path, "["):
			ke.Path = elem + ke.Path
		default:
			ke.Path = elem + "." + ke.Path
		}
	}
	return err
}

// encode writes v. The fast paths cover the types JSON-like arguments are
// made of; everything else goes through reflection.
func (e *encoder) encode(v any) error {
	switch x := v.(type) {
	case nil:
		e.buf = append(e.buf, tagNull)
		return nil
	case string:
		e.str(tagString, x)
		return nil
	case bool:
		if x {
			e.buf = append(e.buf, tagTrue)
		} else {
			e.buf = append(e.buf, tagFalse)
		}
		return nil
	case int:
		e.int(int64(x))
		return nil
	case int64:
		e.int(x)
		return nil
	case float64:
		return e.float(x)
	case map[string]any:
		return e.stringMap(x)
	case []any:
		var p uintptr
		if len(x) > 0 {
			p = reflect.ValueOf(x).Pointer()
		}
		if err := e.enter(p); err != nil {
			return err
		}
		defer e.leave(p)
		e.buf = append(e.buf, tagList)
		e.uvarint(uint64(len(x)))
		for i, el := range x {
			if err := e.encode(el); err != nil {
				return inPath(err, "["+strconv.Itoa(i)+"]")
			}
		}
		return nil
	case []string:
		e.buf = append(e.buf, tagList)
		e.uvarint(uint64(len(x)))
		for _, s := range x {
			e.str(tagString, s)
		}
		return nil
	case []byte:
		e.str(tagBytes, string(x))
		return nil
	case time.Time:
		e.time(x)
		return nil
	case *big.Int:
		if x == nil {
			e.buf = append(e.buf, tagNull)
			return nil
		}
		e.bigInt(x)
		return nil
	case json.RawMessage:
		return e.rawJSON(x)
	case json.Number:
		e.str(tagNumber, string(x))
		return nil
	}
	return e.reflect(reflect.ValueOf(v))
}

func (e *encoder) bigInt(x *big.Int) {
	e.buf = append(e.buf, tagBigInt)
	at := len(e.buf)
	e.buf = append(e.buf, 0, 0, 0, 0)
	e.buf = x.Append(e.buf, 10)
	binary.BigEndian.PutUint32(e.buf[at:], uint32(len(e.buf)-at-4))
}

func (e *encoder) rawJSON(raw []byte) error {
	d := json.NewDecoder(strings.NewReader(string(raw)))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return &KeyError{Reason: "invalid JSON: " + err.Error()}
	}
	if d.More() {
		return &KeyError{Reason: "invalid JSON: trailing data"}
	}
	e.buf = append(e.buf, tagJSON)
	return e.encode(v)
}

func (e *encoder) enter(p uintptr) error {
	e.depth++
	if e.depth > maxKeyDepth {
		return &KeyError{Reason: "nested too deeply"}
	}
	if p != 0 {
		if slices.Contains(e.path, p) {
			return &KeyError{Reason: "cyclic value"}
		}
		e.path = append(e.path, p)
	}
	return nil
}

func (e *encoder) leave(p uintptr) {
	e.depth--
	if p != 0 {
		e.path = e.path[:len(e.path)-1]
	}
}

func (e *encoder) stringMap(m map[string]any) error {
	if m == nil {
		e.buf = append(e.buf, tagNull)
		return nil
	}
	p := reflect.ValueOf(m).Pointer()
	if err := e.enter(p); err != nil {
		return err
	}
	defer e.leave(p)
	start := len(e.keys)
	for k := range m {
		e.keys = append(e.keys, k)
	}
	slices.Sort(e.keys[start:])
	end := len(e.keys)
	e.buf = append(e.buf, tagMap)
	e.uvarint(uint64(end - start))
	for i := start; i < end; i++ {
		k := e.keys[i]
		e.str(tagString, k)
		if err := e.encode(m[k]); err != nil {
			e.keys = e.keys[:start]
			return inPath(err, k)
		}
	}
	e.keys = e.keys[:start]
	return nil
}

func (e *encoder) reflect(v reflect.Value) error {
	if !v.IsValid() {
		e.buf = append(e.buf, tagNull)
		return nil
	}
	t := v.Type()
	switch t {
	case timeType:
		e.time(v.Interface().(time.Time))
		return nil
	case bigIntType:
		x := v.Interface().(big.Int)
		e.bigInt(&x)
		return nil
	case rawMessageType:
		return e.rawJSON(v.Bytes())
	case jsonNumberType:
		e.str(tagNumber, v.String())
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			e.buf = append(e.buf, tagNull)
			return nil
		}
		if t.Elem() == bigIntType {
			e.bigInt(v.Interface().(*big.Int))
			return nil
		}
		if err := e.enter(v.Pointer()); err != nil {
			return err
		}
		defer e.leave(v.Pointer())
		return e.reflect(v.Elem())
	case reflect.Interface:
		if v.IsNil() {
			e.buf = append(e.buf, tagNull)
			return nil
		}
		return e.encode(v.Elem().Interface())
	}
	if t.Implements(jsonMarshalerType) && t.Kind() != reflect.Slice && t.Kind() != reflect.Map {
		b, err := v.Interface().(json.Marshaler).MarshalJSON()
		if err != nil {
			return &KeyError{Reason: "MarshalJSON failed: " + err.Error()}
		}
		return e.rawJSON(b)
	}
	if t.Implements(textMarshalerType) && t.Kind() != reflect.Slice && t.Kind() != reflect.Map {
		b, err := v.Interface().(encoding.TextMarshaler).MarshalText()
		if err != nil {
			return &KeyError{Reason: "MarshalText failed: " + err.Error()}
		}
		e.str(tagText, string(b))
		return nil
	}
	switch t.Kind() {
	case reflect.String:
		e.str(tagString, v.String())
	case reflect.Bool:
		return e.encode(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.int(v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.uint(v.Uint())
	case reflect.Float32, reflect.Float64:
		return e.float(v.Float())
	case reflect.Slice:
		if v.IsNil() {
			e.buf = append(e.buf, tagNull)
			return nil
		}
		if t.Elem().Kind() == reflect.Uint8 {
			e.str(tagBytes, string(v.Bytes()))
			return nil
		}
		return e.list(v, v.Pointer())
	case reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			b := make([]byte, v.Len())
			reflect.Copy(reflect.ValueOf(b), v)
			e.str(tagBytes, string(b))
			return nil
		}
		return e.list(v, 0)
	case reflect.Map:
		if v.IsNil() {
			e.buf = append(e.buf, tagNull)
			return nil
		}
		return e.mapValue(v)
	case reflect.Struct:
		return e.structValue(v)
	default:
		return &KeyError{Reason: "a value of type " + t.String() + " cannot be hashed"}
	}
	return nil
}

func (e *encoder) list(v reflect.Value, p uintptr) error {
	if v.Len() == 0 {
		p = 0
	}
	if err := e.enter(p); err != nil {
		return err
	}
	defer e.leave(p)
	e.buf = append(e.buf, tagList)
	e.uvarint(uint64(v.Len()))
	for i := range v.Len() {
		if err := e.reflect(v.Index(i)); err != nil {
			return inPath(err, "["+strconv.Itoa(i)+"]")
		}
	}
	return nil
}

// mapValue encodes a map of any key type: each pair is encoded on its own,
// and pairs are written in the order of their encoded keys.
func (e *encoder) mapValue(v reflect.Value) error {
	if err := e.enter(v.Pointer()); err != nil {
		return err
	}
	defer e.leave(v.Pointer())
	type pair struct{ k, v []byte }
	pairs := make([]pair, 0, v.Len())
	outer := e.buf
	iter := v.MapRange()
	for iter.Next() {
		e.buf = nil
		if err := e.reflect(iter.Key()); err != nil {
			e.buf = outer
			return err
		}
		k := e.buf
		e.buf = nil
		if err := e.reflect(iter.Value()); err != nil {
			e.buf = outer
			if iter.Key().Kind() == reflect.String {
				return inPath(err, iter.Key().String())
			}
			return err
		}
		pairs = append(pairs, pair{k, e.buf})
	}
	slices.SortFunc(pairs, func(a, b pair) int { return strings.Compare(string(a.k), string(b.k)) })
	e.buf = append(outer, tagMap)
	e.uvarint(uint64(len(pairs)))
	for _, p := range pairs {
		e.buf = append(e.buf, p.k...)
		e.buf = append(e.buf, p.v...)
	}
	return nil
}

type structField struct {
	name      string
	index     int
	omitEmpty bool
}

var structFieldsCache sync.Map // reflect.Type → []structField (sorted by name) or *KeyError

func fieldsOf(t reflect.Type) ([]structField, error) {
	if f, ok := structFieldsCache.Load(t); ok {
		if err, ok := f.(*KeyError); ok {
			return nil, err
		}
		return f.([]structField), nil
	}
	var fields []structField
	unexported := 0
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			unexported++
			continue
		}
		name := sf.Name
		omit := false
		if tag, ok := sf.Tag.Lookup("json"); ok {
			n, opts, _ := strings.Cut(tag, ",")
			if n == "-" && opts == "" {
				continue
			}
			if n != "" {
				name = n
			}
			omit = strings.Contains(","+opts+",", ",omitempty,") || strings.Contains(","+opts+",", ",omitzero,")
		}
		fields = append(fields, structField{name: name, index: i, omitEmpty: omit})
	}
	if len(fields) == 0 && unexported > 0 {
		err := &KeyError{Reason: "struct " + t.String() + " has only unexported fields; implement encoding.TextMarshaler or json.Marshaler to make it hashable"}
		structFieldsCache.Store(t, err)
		return nil, err
	}
	slices.SortFunc(fields, func(a, b structField) int { return strings.Compare(a.name, b.name) })
	structFieldsCache.Store(t, fields)
	return fields, nil
}

func (e *encoder) structValue(v reflect.Value) error {
	fields, err := fieldsOf(v.Type())
	if err != nil {
		return &KeyError{Reason: err.(*KeyError).Reason} // a copy: the cached error is shared
	}
	if err := e.enter(0); err != nil {
		return err
	}
	defer e.leave(0)
	e.buf = append(e.buf, tagStruct)
	at := len(e.buf)
	e.buf = append(e.buf, 0, 0, 0, 0) // count, patched below
	n := 0
	for _, f := range fields {
		fv := v.Field(f.index)
		if absent(fv) || (f.omitEmpty && fv.IsZero()) {
			continue
		}
		n++
		e.str(tagString, f.name)
		if err := e.reflect(fv); err != nil {
			return inPath(err, f.name)
		}
	}
	binary.BigEndian.PutUint32(e.buf[at:], uint32(n))
	return nil
}

// absent reports whether a struct field is left out of a key: nil pointers,
// slices, maps and interfaces mean "not given".
func absent(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		return v.IsNil()
	}
	return false
}
