package viborm_test

import (
	"errors"
	"math"
	"reflect"
	"testing"

	viborm "github.com/viborm/viborm-go"
)

// TestReadSQL pins the SQL each dialect runs for a read.
func TestReadSQL(t *testing.T) {
	type want struct {
		sql  string
		args []any
	}
	cases := []struct {
		name string
		op   viborm.Op
		args any
		want map[string]want
	}{
		{"findMany where order take skip", viborm.OpFindMany,
			viborm.FindMany{Where: viborm.Where{"age": viborm.Gte(18), "active": true}, OrderBy: []viborm.Order{viborm.Desc("age").NullsLast()}, Take: ptr(10), Skip: 5, Select: []string{"id", "email"}},
			map[string]want{
				"sqlite":   {"SELECT `id`, `email` FROM `users` WHERE (`active` = ? AND `age` >= ?) ORDER BY `age` DESC NULLS LAST LIMIT 10 OFFSET 5", []any{int64(1), int64(18)}},
				"postgres": {`SELECT "id", "email" FROM "users" WHERE ("active" = $1 AND "age" >= $2) ORDER BY "age" DESC NULLS LAST LIMIT 10 OFFSET 5`, []any{true, int64(18)}},
				"mysql":    {"SELECT `id`, `email` FROM `users` WHERE (`active` = ? AND `age` >= ?) ORDER BY `age` IS NULL ASC, `age` DESC LIMIT 10 OFFSET 5", []any{true, int64(18)}},
			}},
		{"contains literal wildcards", viborm.OpFindMany,
			viborm.FindMany{Where: viborm.Where{"email": viborm.Contains("50%_!")}, Select: []string{"id"}},
			map[string]want{
				"sqlite":   {"SELECT `id` FROM `users` WHERE `email` GLOB ?", []any{"*50%_!*"}},
				"postgres": {`SELECT "id" FROM "users" WHERE "email" LIKE $1 ESCAPE '!'`, []any{"%50!%!_!!%"}},
				"mysql":    {"SELECT `id` FROM `users` WHERE `email` LIKE ? ESCAPE '!'", []any{"%50!%!_!!%"}},
			}},
		{"insensitive startsWith", viborm.OpFindMany,
			viborm.FindMany{Where: viborm.Where{"email": viborm.StartsWith("A*").Insensitive()}, Select: []string{"id"}},
			map[string]want{
				"sqlite":   {"SELECT `id` FROM `users` WHERE `email` LIKE ? ESCAPE '!'", []any{"A*%"}},
				"postgres": {`SELECT "id" FROM "users" WHERE "email" ILIKE $1 ESCAPE '!'`, []any{"A*%"}},
				"mysql":    {"SELECT `id` FROM `users` WHERE LOWER(`email`) LIKE ? ESCAPE '!'", []any{"a*%"}},
			}},
		{"or not in null", viborm.OpFindMany,
			viborm.FindMany{Where: viborm.Where{"OR": []viborm.Where{{"name": nil}, {"role": viborm.NotIn("admin")}}}, Select: []string{"id"}},
			map[string]want{
				"sqlite":   {"SELECT `id` FROM `users` WHERE (`name` IS NULL OR `role` NOT IN (?))", []any{"admin"}},
				"postgres": {`SELECT "id" FROM "users" WHERE ("name" IS NULL OR "role" NOT IN ($1))`, []any{"admin"}},
				"mysql":    {"SELECT `id` FROM `users` WHERE (`name` IS NULL OR `role` NOT IN (?))", []any{"admin"}},
			}},
		{"count with skip", viborm.OpCount, viborm.Count{Skip: 2},
			map[string]want{
				"sqlite":   {"SELECT COUNT(*) FROM (SELECT 1 AS `_one` FROM `users` LIMIT -1 OFFSET 2) `_sub`", nil},
				"postgres": {`SELECT COUNT(*) FROM (SELECT 1 AS "_one" FROM "users" OFFSET 2) "_sub"`, nil},
				"mysql":    {"SELECT COUNT(*) FROM (SELECT 1 AS `_one` FROM `users` LIMIT 18446744073709551615 OFFSET 2) `_sub`", nil},
			}},
		{"groupBy having", viborm.OpGroupBy,
			viborm.GroupBy{By: []string{"role"}, Count: []string{"_all"}, Having: viborm.Having{"_avg": {"age": viborm.Gt(20)}}, OrderBy: []viborm.Order{viborm.Desc("_count")}},
			map[string]want{
				"sqlite":   {"SELECT `role`, COUNT(*) FROM `users` GROUP BY `role` HAVING AVG(`age`) > ? ORDER BY COUNT(*) DESC", []any{20.0}},
				"postgres": {`SELECT "role", COUNT(*) FROM "users" GROUP BY "role" HAVING AVG("age") > $1 ORDER BY COUNT(*) DESC`, []any{20.0}},
				"mysql":    {"SELECT `role`, COUNT(*) FROM `users` GROUP BY `role` HAVING AVG(`age`) > ? ORDER BY COUNT(*) DESC", []any{20.0}},
			}},
	}
	for _, d := range dialects {
		db, err := viborm.NewClient(viborm.Config{Models: allModels, Driver: viborm.FromDB(nil_db(), d)})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range cases {
			st, err := Users.ReadSQL(db, tc.op, tc.args)
			if err != nil {
				t.Fatalf("%s/%s: %v", d, tc.name, err)
			}
			w := tc.want[d]
			if st.SQL != w.sql || !reflect.DeepEqual(st.Args, w.args) {
				t.Errorf("%s/%s:\n got %s %#v\nwant %s %#v", d, tc.name, st.SQL, st.Args, w.sql, w.args)
			}
		}
	}
}

// FuzzWhereKey feeds arbitrary strings and numbers through validation and
// key derivation: it must never panic, and equal arguments share a key.
func FuzzWhereKey(f *testing.F) {
	f.Add("ada", int64(3), 1.5, "contains")
	f.Add("%_!", int64(-1), math.Copysign(0, -1), "startsWith")
	env := newCacheEnv(f, "sqlite", "memory", viborm.Config{})
	cached := env.db.WithCache(viborm.CacheOptions{})
	f.Fuzz(func(t *testing.T, s string, n int64, x float64, op string) {
		var c *viborm.Cond
		switch op {
		case "contains":
			c = viborm.Contains(s)
		case "startsWith":
			c = viborm.StartsWith(s).Insensitive()
		default:
			c = viborm.In(s, op)
		}
		w := viborm.Where{"email": c, "age": viborm.Gt(n), "score": x, op: s}
		k1, err1 := Users.CacheKey(cached, viborm.OpFindMany, viborm.FindMany{Where: w})
		k2, err2 := Users.CacheKey(cached, viborm.OpFindMany, viborm.FindMany{Where: w})
		if (err1 == nil) != (err2 == nil) || k1 != k2 {
			t.Fatalf("unstable: %v %v %s %s", err1, err2, k1, k2)
		}
	})
}

// TestReadArgsMustMatchTheOp checks CacheKey's and ReadSQL's arguments:
// each read takes its own argument type, and a write is not a read.
func TestReadArgsMustMatchTheOp(t *testing.T) {
	db := newClient(t, "sqlite", viborm.Config{})
	ok := map[viborm.Op]any{
		viborm.OpFindMany: viborm.FindMany{}, viborm.OpFindFirst: viborm.FindMany{}, viborm.OpFindFirstOrThrow: viborm.FindMany{},
		viborm.OpFindUnique: viborm.FindUnique{Where: viborm.Where{"id": 1}}, viborm.OpFindUniqueOrThrow: viborm.FindUnique{Where: viborm.Where{"id": 1}},
		viborm.OpCount: viborm.Count{}, viborm.OpExist: viborm.Where{}, viborm.OpAggregate: viborm.Aggregate{Count: []string{"_all"}},
		viborm.OpGroupBy: viborm.GroupBy{By: []string{"active"}},
	}
	for op, args := range ok {
		if _, err := Users.ReadSQL(db, op, args); err != nil {
			t.Errorf("%s with %T: %v", op, args, err)
		}
		if _, err := Users.ReadSQL(db, op, struct{}{}); !errors.Is(err, viborm.ErrValidation) {
			t.Errorf("%s with struct{}: %v, want ErrValidation", op, err)
		}
	}
	if _, err := Users.ReadSQL(db, viborm.OpCount, viborm.FindMany{}); !errors.Is(err, viborm.ErrValidation) {
		t.Errorf("count with FindMany: %v, want ErrValidation", err)
	}
	if _, err := Users.ReadSQL(db, "create", viborm.FindMany{}); !errors.Is(err, viborm.ErrNotCacheable) {
		t.Errorf("create: %v, want ErrNotCacheable", err)
	}
}
