package query_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/viborm/viborm-go/internal/query"
	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/internal/verr"
	"github.com/viborm/viborm-go/s"
)

type W = map[string]any

var rowType = reflect.TypeFor[map[string]any]()

func model(opts ...s.Option) *schema.Model {
	md := schema.Build("user", opts, rowType)
	if md.Err != nil {
		panic(md.Err)
	}
	return md
}

var user = model(
	s.BigInt("id").ID().Autoincrement(),
	s.String("email").Unique(),
	s.Int("age").Nullable(),
	s.String("name"),
	s.String("token").ULID(),
	s.String("uid").UUID(),
	s.DateTime("updated").UpdatedAt(),
)

func condOf(v any) (*query.Cond, bool) {
	c, ok := v.(*query.Cond)
	return c, ok
}

func cond(op query.Op, v any) *query.Cond { return &query.Cond{Ops: []query.CondOp{{Op: op, V: v}}} }

func encode(t *testing.T, md *schema.Model, w W) string {
	t.Helper()
	e, err := query.Where(md, w, "where", condOf)
	if err != nil {
		t.Fatal(err)
	}
	return string((&query.Query{Where: e, Sel: md.Fields}).Encode(nil))
}

func TestEqualArgumentsEncodeEqually(t *testing.T) {
	a := encode(t, user, W{"age": 3, "name": "x", "AND": []W{{"email": "e"}}})
	b := encode(t, user, W{"AND": W{"email": "e"}, "name": "x", "age": int64(3)})
	if a != b {
		t.Errorf("int vs int64, Where vs []Where encode differently:\n%q\n%q", a, b)
	}
	if c := encode(t, user, W{"age": 4, "name": "x", "AND": []W{{"email": "e"}}}); c == a {
		t.Error("different values share an encoding")
	}
}

// Fields are encoded by name: two schemas ordering the fields differently
// encode the same where and selection the same way.
func TestEncodingNamesFieldsNotPositions(t *testing.T) {
	other := model(s.String("name"), s.Int("age").Nullable(), s.String("email").Unique(), s.BigInt("id").ID().Autoincrement(),
		s.String("token").ULID(), s.String("uid").UUID(), s.DateTime("updated").UpdatedAt())
	enc := func(md *schema.Model) string {
		e, err := query.Where(md, W{"age": 1, "name": "n"}, "where", condOf)
		if err != nil {
			t.Fatal(err)
		}
		return string((&query.Query{Where: e, Sel: []*schema.Field{md.ByName["email"]}}).Encode(nil))
	}
	if a, b := enc(user), enc(other); a != b || !strings.Contains(a, "email") {
		t.Errorf("encodings differ across field orders:\n%q\n%q", a, b)
	}
}

func TestValidationPathsAndDepth(t *testing.T) {
	for _, tc := range []struct {
		w     W
		field string
		msg   string
	}{
		{W{"nope": 1}, "where.nope", "unknown field"},
		{W{"OR": []W{{"age": 1}, {"age": "x"}}}, "where.OR[1].age", "not a valid int"},
		{W{"NOT": W{"AND": []W{{"name": nil}}}}, "where.NOT[0].AND[0].name", "not nullable"},
		{W{"AND": 3}, "where.AND", "takes a Where"},
		{W{"email": cond(query.OpContains, "a"), "age": &query.Cond{Ops: []query.CondOp{{Op: query.OpContains, V: "a"}}}}, "where.age", "need a string field"},
	} {
		_, err := query.Where(user, tc.w, "where", condOf)
		var e *verr.Error
		if !errors.As(err, &e) || e.Code != verr.CodeValidation || e.Field != tc.field || !strings.Contains(e.Message, tc.msg) {
			t.Errorf("%v: got %v, want field %s and %q", tc.w, err, tc.field, tc.msg)
		}
	}
	deep := W{"name": "x"}
	for range query.MaxWhereDepth {
		deep = W{"AND": deep}
	}
	_, err := query.Where(user, deep, "where", condOf)
	var e *verr.Error
	if !errors.As(err, &e) || !strings.Contains(e.Message, "MaxWhereDepth") || !strings.HasPrefix(e.Field, "where.AND[0].AND[0]") {
		t.Fatalf("a where deeper than MaxWhereDepth: %v", err)
	}
	shallow := W{"name": "x"}
	for range query.MaxWhereDepth - 1 {
		shallow = W{"AND": shallow}
	}
	if _, err := query.Where(user, shallow, "where", condOf); err != nil {
		t.Fatalf("a where of exactly MaxWhereDepth levels: %v", err)
	}
}

func TestSelectAndOmitAgree(t *testing.T) {
	a, err := query.Select(user, []string{"email", "id"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := query.Select(user, nil, []string{"age", "name", "token", "uid", "updated"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) || a[0].Name != "id" {
		t.Errorf("select %v, omit %v: want the same fields in model order", a, b)
	}
	if _, err := query.Select(user, []string{"id"}, []string{"age"}); err == nil {
		t.Error("select and omit together accepted")
	}
}

func TestPinsUnique(t *testing.T) {
	if err := query.PinsUnique(user, W{"email": "a"}, condOf); err != nil {
		t.Errorf("a unique field: %v", err)
	}
	if err := query.PinsUnique(user, W{"email": cond(query.OpEq, "a")}, condOf); err != nil {
		t.Errorf("equals on a unique field: %v", err)
	}
	for _, w := range []W{{"name": "a"}, {"email": cond(query.OpGt, "a")}, {"email": (*query.Cond)(nil)}, {"id": nil}} {
		if err := query.PinsUnique(user, w, condOf); err == nil || !strings.Contains(err.Error(), "id, email") {
			t.Errorf("%v pins a row? %v", w, err)
		}
	}
}

func TestDataFillsDefaultsAndRefusesBadOperators(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	upd := func(v any) (byte, any, bool) {
		if x, ok := v.([2]any); ok {
			return x[0].(byte), x[1], true
		}
		return 0, nil, false
	}
	items, err := query.Data(user, W{"email": "e", "name": "n"}, true, now, upd)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	for _, it := range items {
		got[it.F.Name] = it.V
	}
	if len(got["token"].(string)) != 26 || len(got["uid"].(string)) != 36 || got["updated"] != now || got["id"] != nil {
		t.Errorf("defaults: %v", got)
	}
	if _, err := query.Data(user, W{"age": [2]any{byte('+'), 1}}, true, now, upd); err == nil {
		t.Error("an update operator in a create accepted")
	}
	if _, err := query.Data(user, W{"age": [2]any{byte('/'), 0}}, false, now, upd); err == nil {
		t.Error("division by zero accepted")
	}
	items, err = query.Data(user, W{"age": [2]any{byte('*'), 2}}, false, now, upd)
	if err != nil || len(items) != 2 || items[0].Op != '*' || items[1].F.Name != "updated" {
		t.Errorf("update items %v, %v", items, err)
	}
}

func TestULIDsIncreaseWithinAMillisecond(t *testing.T) {
	now := time.Now()
	prev := query.NewULID(now)
	for range 1000 {
		id := query.NewULID(now)
		if id <= prev {
			t.Fatalf("ULID %s after %s in the same millisecond", id, prev)
		}
		prev = id
	}
}

func TestPlanUpsert(t *testing.T) {
	now := time.Now()
	data := func(w W) []query.Set {
		items, err := query.Data(user, w, true, now, func(any) (byte, any, bool) { return 0, nil, false })
		if err != nil {
			t.Fatal(err)
		}
		return items
	}
	create := W{"email": "a", "name": "n"}
	nu, ok := query.PlanUpsert(user, W{"email": "a"}, create, data(create), nil, false, condOf)
	if !ok || nu.Key[0].Name != "email" || nu.Vals[0] != "a" {
		t.Fatalf("native upsert on email: %v %v", nu, ok)
	}
	if _, ok := query.PlanUpsert(user, W{"email": "b"}, create, data(create), nil, false, condOf); ok {
		t.Error("native upsert when the create sets another key value")
	}
	if _, ok := query.PlanUpsert(user, W{"email": "a", "name": "n"}, create, data(create), nil, false, condOf); ok {
		t.Error("native upsert on a where that is not exactly one key")
	}
	// Any-key upserts: the autoincrement id and generated ids never
	// conflict, so email is the only key that can.
	if _, ok := query.PlanUpsert(user, W{"email": "a"}, create, data(create), nil, true, condOf); !ok {
		t.Error("any-key native upsert refused")
	}
	upd := []query.Set{{F: user.ByName["email"], V: "z"}}
	if _, ok := query.PlanUpsert(user, W{"email": "a"}, create, data(create), upd, true, condOf); ok {
		t.Error("any-key native upsert whose update changes the key")
	}
}

func TestSetAggsIsCanonical(t *testing.T) {
	a, b := &query.Query{}, &query.Query{}
	if err := a.SetAggs(user, query.Aggregates{Max: []string{"age"}, Count: []string{"_all", "age", "_all"}}); err != nil {
		t.Fatal(err)
	}
	if err := b.SetAggs(user, query.Aggregates{Count: []string{"age", "_all"}, Max: []string{"age"}}); err != nil {
		t.Fatal(err)
	}
	if !query.SameShape(a, b) || string(a.Encode(nil)) != string(b.Encode(nil)) {
		t.Errorf("aggregates %v and %v differ", a.Aggr.Aggs, b.Aggr.Aggs)
	}
	if err := a.SetAggs(user, query.Aggregates{Avg: []string{"name"}}); err == nil {
		t.Error("avg of a string accepted")
	}
}
