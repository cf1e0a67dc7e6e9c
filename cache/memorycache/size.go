package memorycache

import (
	"reflect"
	"time"

	"github.com/viborm/viborm-go/cache"
)

// entryOverhead approximates the memory of one stored entry beside its key
// and value: the item, its map slot and its index slot.
const entryOverhead = 160

const (
	maxSizeDepth  = 64
	maxSizeVisits = 1 << 16
)

var timeType = reflect.TypeFor[time.Time]()

// estimateSize is the default [Options.Sizer].
func estimateSize(key string, e cache.Entry) int64 {
	w := sizeWalker{}
	v := reflect.ValueOf(e.Value)
	n := int64(len(key)) + entryOverhead
	if v.IsValid() {
		n += int64(v.Type().Size()) + w.indirect(v, 0)
	}
	return n
}

// sizeWalker sums the memory a value refers to beyond its own inline size.
// It gives up (undercounting) past maxSizeDepth levels or maxSizeVisits
// values, which also bounds the work on cyclic or shared structures.
type sizeWalker struct{ visits int }

func (w *sizeWalker) indirect(v reflect.Value, depth int) int64 {
	w.visits++
	if depth > maxSizeDepth || w.visits > maxSizeVisits {
		return 0
	}
	switch v.Kind() {
	case reflect.String:
		return int64(v.Len())
	case reflect.Slice:
		if v.IsNil() {
			return 0
		}
		et := v.Type().Elem()
		n := int64(v.Cap()) * int64(et.Size())
		if hasIndirect(et) {
			for i := range v.Len() {
				n += w.indirect(v.Index(i), depth+1)
			}
		}
		return n
	case reflect.Array:
		var n int64
		if hasIndirect(v.Type().Elem()) {
			for i := range v.Len() {
				n += w.indirect(v.Index(i), depth+1)
			}
		}
		return n
	case reflect.Map:
		if v.IsNil() {
			return 0
		}
		t := v.Type()
		slot := int64(t.Key().Size()+t.Elem().Size()) + 1
		n := 48 + int64(v.Len())*slot*8/7
		if hasIndirect(t.Key()) || hasIndirect(t.Elem()) {
			it := v.MapRange()
			for it.Next() {
				n += w.indirect(it.Key(), depth+1) + w.indirect(it.Value(), depth+1)
			}
		}
		return n
	case reflect.Pointer:
		if v.IsNil() {
			return 0
		}
		return int64(v.Type().Elem().Size()) + w.indirect(v.Elem(), depth+1)
	case reflect.Interface:
		if v.IsNil() {
			return 0
		}
		e := v.Elem()
		return int64(e.Type().Size()) + w.indirect(e, depth+1)
	case reflect.Struct:
		if v.Type() == timeType {
			return 0 // its *Location is shared
		}
		var n int64
		for i := range v.NumField() {
			n += w.indirect(v.Field(i), depth+1)
		}
		return n
	}
	return 0
}

// hasIndirect reports whether values of t may refer to memory outside
// themselves.
func hasIndirect(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return false
	case reflect.Array:
		return hasIndirect(t.Elem())
	case reflect.Struct:
		if t == timeType {
			return false
		}
		for i := range t.NumField() {
			if hasIndirect(t.Field(i).Type) {
				return true
			}
		}
		return false
	}
	return true
}
