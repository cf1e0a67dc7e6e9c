package viborm

import (
	"bytes"
	"context"
	"reflect"
	"slices"
	"time"

	"github.com/viborm/viborm-go/internal/sqlb"
	"github.com/viborm/viborm-go/s"
)

// nativeUpsert is an upsert that the database runs atomically, in one
// INSERT … ON CONFLICT … DO UPDATE (PostgreSQL, SQLite) or INSERT … ON
// DUPLICATE KEY UPDATE (MySQL, MariaDB).
type nativeUpsert struct {
	key  []*field // the unique key the where selects
	vals []any    // its values, coerced
}

// planNativeUpsert reports whether an upsert can run natively, and on which
// key. It can when the where is exactly equalities on one unique key and the
// create data sets that key to the same values. On MySQL, whose ON
// DUPLICATE KEY UPDATE fires on any unique key, it also needs that no other
// unique key of the created row can conflict (an autoincrement id or a
// generated UUID the data does not set, a column left NULL) and that the
// update does not change the key, so that the row can be read back by it.
// Other upserts take the locking read-then-write path.
func (md *model) planNativeUpsert(a *Upsert, cItems, uItems []setItem, anyKey bool) (*nativeUpsert, bool) {
	var key []*field
	for _, u := range md.uniques {
		if len(u) != len(a.Where) {
			continue
		}
		ok := true
		for _, f := range u {
			if _, has := a.Where[f.name]; !has {
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
	nu := &nativeUpsert{key: key}
	for _, f := range key {
		v := a.Where[f.name]
		if c, isCond := v.(*Cond); isCond {
			if c == nil || len(c.ops) != 1 || c.ops[0].op != opEq || c.ci {
				return nil, false
			}
			v = c.ops[0].v
		}
		cv, err := coerce(f, v)
		if err != nil || cv == nil {
			return nil, false
		}
		created, set := itemValue(cItems, f)
		if !set || !sameValue(created, cv) {
			return nil, false
		}
		nu.vals = append(nu.vals, cv)
	}
	if !anyKey {
		return nu, true
	}
	for _, it := range uItems {
		if slices.Contains(key, it.f) {
			return nil, false
		}
	}
	for _, u := range md.uniques {
		if sameFieldSet(u, key) {
			continue
		}
		if md.mayConflict(u, a.Create, cItems) {
			return nil, false
		}
	}
	return nu, true
}

// mayConflict reports whether a row created with items could collide with
// another row on the unique key u.
func (md *model) mayConflict(u []*field, data Data, items []setItem) bool {
	for _, f := range u {
		v, set := itemValue(items, f)
		if !set || v == nil {
			return false // an autoincrement id, or NULL, which never conflicts
		}
		if _, given := data[f.name]; !given && (f.def.Default == s.DefaultUUID || f.def.Default == s.DefaultULID) {
			return false // generated, random
		}
	}
	return true
}

func itemValue(items []setItem, f *field) (any, bool) {
	for _, it := range items {
		if it.f == f {
			return it.v, it.op == 0
		}
	}
	return nil, false
}

func sameFieldSet(a, b []*field) bool {
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

// compileUpsert returns the native upsert: the INSERT of cItems with the
// dialect's conflict clause on nu's key assigning uItems (the key to itself
// when uItems is empty, so that the existing row is still returned), and
// RETURNING sel where the dialect can.
func (md *model) compileUpsert(b *sqlb.Builder, nu *nativeUpsert, cItems, uItems []setItem, sel []*field) stmt {
	d := b.D
	b.S("INSERT INTO ").Ident(md.table).S(" (")
	for i, it := range cItems {
		if i > 0 {
			b.S(", ")
		}
		col(b, it.f)
	}
	b.S(") VALUES (")
	for i, it := range cItems {
		if i > 0 {
			b.S(", ")
		}
		arg(b, it.f, it.v)
	}
	b.S(")")
	keyCols := make([]string, len(nu.key))
	for i, f := range nu.key {
		keyCols[i] = f.column
	}
	b.Raw(func(p []byte) []byte { return d.AppendUpsert(p, keyCols) })
	existing := func(f *field) { b.Raw(func(p []byte) []byte { return d.AppendExisting(p, md.table, f.column) }) }
	if len(uItems) == 0 {
		col(b, nu.key[0])
		b.S(" = ")
		existing(nu.key[0])
	}
	for i, it := range uItems {
		if i > 0 {
			b.S(", ")
		}
		col(b, it.f)
		b.S(" = ")
		switch {
		case it.op == 0:
			arg(b, it.f, it.v)
		case it.op == '/' && d.IntDiv() != "" && (it.f.kind == s.KindInt || it.f.kind == s.KindBigInt):
			existing(it.f)
			b.S(" " + d.IntDiv() + " ")
			arg(b, it.f, it.v)
		default:
			existing(it.f)
			b.S(" " + string(it.op) + " ")
			arg(b, it.f, it.v)
		}
	}
	if d.Returning && !d.UpsertAnyKey() {
		b.S(" RETURNING ")
		columns(b, sel)
	}
	return stmt{b.SQL(), b.Args()}
}

// upsertNative runs nu and returns the row.
func (m *ModelDef[T]) upsertNative(ctx context.Context, ex *executor, md *model, nu *nativeUpsert, cItems, uItems []setItem, sel []*field) (T, error) {
	var zero T
	d := ex.c.d
	st := md.compileUpsert(sqlb.New(d), nu, cItems, uItems, sel)
	if !d.UpsertAnyKey() {
		// One statement: atomic on its own.
		rows, err := ex.q.QueryContext(ctx, st.SQL, st.Args...)
		if err != nil {
			return zero, err
		}
		out, err := readRows[T](md, rows, sel)
		if err != nil {
			return zero, err
		}
		if len(out) != 1 {
			return zero, &Error{Code: CodeDatabase, Message: "upsert returned no row"}
		}
		return out[0], nil
	}
	// MySQL: the upsert, then the row read back by its key under the lock
	// the upsert holds, in one transaction.
	var out T
	err := ex.inTx(ctx, func(q querier) error {
		if _, err := q.ExecContext(ctx, st.SQL, st.Args...); err != nil {
			return err
		}
		kids := make([]expr, len(nu.key))
		for i, f := range nu.key {
			kids[i] = expr{kind: eCmp, f: f, op: opEq, v: nu.vals[i]}
		}
		w := &expr{kind: eAnd, kids: kids}
		sq := md.compileSelect(d, &query{where: w, sel: sel}, true)
		rows, err := q.QueryContext(ctx, sq.SQL, sq.Args...)
		if err != nil {
			return err
		}
		got, err := readRows[T](md, rows, sel)
		if err != nil {
			return err
		}
		if len(got) != 1 {
			return &Error{Code: CodeDatabase, Message: "upsert: the row is not found by its key after the write"}
		}
		out = got[0]
		return nil
	})
	return out, err
}
