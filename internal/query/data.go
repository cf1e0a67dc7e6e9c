package query

import (
	"bytes"
	"crypto/rand"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/oklog/ulid/v2"

	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/internal/verr"
	"github.com/viborm/viborm-go/s"
)

// Set is one assignment of an insert or update: F = V, or F = F Op V for
// an update operator ('+', '-', '*', '/').
type Set struct {
	F  *schema.Field
	Op byte // 0 for a plain value
	V  any
}

// UpdateOf returns the update operator held by v, a value of a Data (the
// public UpdateOp type, which this package cannot name); ok is false when v
// is a plain value.
type UpdateOf func(v any) (op byte, operand any, ok bool)

// Data normalises the data of a create (create true) or update of md into
// its assignments, in model order: values coerced, defaults and updatedAt
// filled in with now.
func Data(md *schema.Model, data map[string]any, create bool, now time.Time, updateOf UpdateOf) ([]Set, error) {
	names := make([]string, 0, len(data))
	for k := range data {
		names = append(names, k)
	}
	slices.Sort(names)
	var items []Set
	seen := make([]bool, len(md.Fields))
	for _, n := range names {
		f := md.ByName[n]
		if f == nil {
			return nil, verr.Validationf("data."+n, "unknown field %q of model %s", n, md.Name)
		}
		seen[f.Idx] = true
		v := data[n]
		if op, operand, ok := updateOf(v); ok {
			if create {
				return nil, verr.Validationf("data."+n, "update operators are not allowed in a create")
			}
			if !schema.IsNumeric(f.Kind) {
				return nil, verr.Validationf("data."+n, "update operators need a numeric field")
			}
			cv, err := schema.Coerce(f, operand)
			if err != nil || cv == nil {
				return nil, verr.Validationf("data."+n, "bad operand: %v", err)
			}
			if op == '/' && (cv == int64(0) || cv == float64(0) || cv == "0") {
				return nil, verr.Validationf("data."+n, "division by zero")
			}
			items = append(items, Set{F: f, Op: op, V: cv})
			continue
		}
		cv, err := schema.Coerce(f, v)
		if err != nil {
			return nil, verr.Validationf("data."+n, "%v", err)
		}
		items = append(items, Set{F: f, V: cv})
	}
	for _, f := range md.Fields {
		if seen[f.Idx] {
			continue
		}
		var v any
		switch {
		case f.Def.UpdatedAt:
			v = now
		case !create:
			continue
		case f.Def.Default == s.DefaultValue:
			v, _ = schema.Coerce(f, f.Def.Value)
		case f.Def.Default == s.DefaultNow:
			v = now
		case f.Def.Default == s.DefaultUUID:
			v = uuid.NewString()
		case f.Def.Default == s.DefaultULID:
			v = NewULID(now)
		default:
			continue
		}
		items = append(items, Set{F: f, V: v})
	}
	slices.SortFunc(items, func(a, b Set) int { return a.F.Idx - b.F.Idx })
	return items, nil
}

var (
	ulidMu      sync.Mutex
	ulidEntropy = ulid.Monotonic(rand.Reader, 0)
)

// NewULID returns a new ULID for the time now. ULIDs made within one
// millisecond by this process increase (monotonic entropy), so ids created
// in a burst sort in creation order.
func NewULID(now time.Time) string {
	ulidMu.Lock()
	defer ulidMu.Unlock()
	id, err := ulid.New(ulid.Timestamp(now), ulidEntropy)
	if err != nil { // the random part overflowed within the millisecond: start a fresh sequence
		id = ulid.MustNew(ulid.Timestamp(now), rand.Reader)
	}
	return id.String()
}

// SameFields reports whether two rows of assignments set the same fields,
// in order (rows of a createMany are grouped so).
func SameFields(a, b []Set) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].F != b[i].F {
			return false
		}
	}
	return true
}

// Upsert is a native upsert: one INSERT … ON CONFLICT … DO UPDATE
// (PostgreSQL, SQLite) or INSERT … ON DUPLICATE KEY UPDATE (MySQL,
// MariaDB), run atomically by the database.
type Upsert struct {
	Key  []*schema.Field // the unique key the where selects
	Vals []any           // its values, coerced
}

// PlanUpsert reports whether an upsert can run natively, and on which key.
// It can when the where is exactly equalities on one unique key and the
// create data sets that key to the same values. When the database's native
// upsert fires on any unique key (anyKey: MySQL's ON DUPLICATE KEY UPDATE),
// it also needs that no other unique key of the created row can conflict
// (an autoincrement id or a generated UUID the data does not set, a column
// left NULL) and that the update does not change the key, so that the row
// can be read back by it. Other upserts take the locking read-then-write
// path.
func PlanUpsert[W ~map[string]any](md *schema.Model, where W, create map[string]any, cItems, uItems []Set, anyKey bool, condOf CondOf) (*Upsert, bool) {
	var key []*schema.Field
	for _, u := range md.Uniques {
		if len(u) != len(where) {
			continue
		}
		ok := true
		for _, f := range u {
			if _, has := where[f.Name]; !has {
				ok = false
			}
		}
		if ok {
			key = u
			break
		}
	}
	if key == nil {
		return nil, false
	}
	nu := &Upsert{Key: key}
	for _, f := range key {
		v := where[f.Name]
		if c, isCond := condOf(v); isCond {
			if c == nil || len(c.Ops) != 1 || c.Ops[0].Op != OpEq || c.CI {
				return nil, false
			}
			v = c.Ops[0].V
		}
		cv, err := schema.Coerce(f, v)
		if err != nil || cv == nil {
			return nil, false
		}
		created, set := itemValue(cItems, f)
		if !set || !sameValue(created, cv) {
			return nil, false
		}
		nu.Vals = append(nu.Vals, cv)
	}
	if !anyKey {
		return nu, true
	}
	for _, it := range uItems {
		if slices.Contains(key, it.F) {
			return nil, false
		}
	}
	for _, u := range md.Uniques {
		if sameFieldSet(u, key) {
			continue
		}
		if mayConflict(u, create, cItems) {
			return nil, false
		}
	}
	return nu, true
}

// mayConflict reports whether a row created with items could collide with
// another row on the unique key u.
func mayConflict(u []*schema.Field, data map[string]any, items []Set) bool {
	for _, f := range u {
		v, set := itemValue(items, f)
		if !set || v == nil {
			return false // an autoincrement id, or NULL, which never conflicts
		}
		if _, given := data[f.Name]; !given && (f.Def.Default == s.DefaultUUID || f.Def.Default == s.DefaultULID) {
			return false // generated, random
		}
	}
	return true
}

func itemValue(items []Set, f *schema.Field) (any, bool) {
	for _, it := range items {
		if it.F == f {
			return it.V, it.Op == 0
		}
	}
	return nil, false
}

func sameFieldSet(a, b []*schema.Field) bool {
	if len(a) != len(b) {
		return false
	}
	for _, f := range a {
		if !slices.Contains(b, f) {
			return false
		}
	}
	return true
}

func sameValue(a, b any) bool {
	switch x := a.(type) {
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	}
	return reflect.DeepEqual(a, b)
}
