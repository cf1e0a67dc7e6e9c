package viborm_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	viborm "github.com/viborm/viborm-go"
)

func mustCreateUser(t *testing.T, db viborm.Writer, data viborm.Data) User {
	t.Helper()
	u, err := Users.Create(context.Background(), db, viborm.Create{Data: data})
	if err != nil {
		t.Fatalf("create %v: %v", data, err)
	}
	return u
}

// seed inserts five users with varied values.
func seed(t *testing.T, db viborm.Writer) []User {
	t.Helper()
	rows := []viborm.Data{
		{"email": "ada@example.com", "name": "Ada", "age": 36, "score": 9.5, "balance": "100.50", "role": "admin"},
		{"email": "bob@example.com", "name": nil, "age": 25, "score": 7.25, "balance": "20.00", "active": false},
		{"email": "cy_100%@example.com", "name": "Cy", "age": 41, "score": 8, "balance": "5.25", "role": "guest"},
		{"email": "Dee@Example.com", "name": "Dee", "age": 25, "score": 6.5, "balance": "0.75"},
		{"email": "eve@other.org", "name": nil, "age": 19, "score": 9.75, "balance": "3.00", "role": "admin"},
	}
	var out []User
	for _, d := range rows {
		out = append(out, mustCreateUser(t, db, d))
	}
	return out
}

func emails(us []User) []string {
	out := []string{}
	for _, u := range us {
		out = append(out, u.Email)
	}
	return out
}

func TestCRUD(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := newClient(t, dialect, viborm.Config{})
		born := time.Date(1990, 5, 17, 10, 30, 0, 123456000, time.UTC)
		u, err := Users.Create(ctx, db, viborm.Create{Data: viborm.Data{
			"email": "ada@example.com", "name": "Ada", "age": 36, "score": 1.5, "balance": "12.34",
			"meta": map[string]any{"b": 1, "a": []int{1, 2}}, "avatar": []byte{0, 1, 2, 255},
			"big": int64(1) << 53, "born": born,
		}})
		if err != nil {
			t.Fatal(err)
		}
		if u.ID == 0 || u.Role != "user" || !u.Active || u.CreatedAt.IsZero() || u.UpdatedAt.IsZero() {
			t.Fatalf("defaults not applied: %+v", u)
		}
		if u.Name == nil || *u.Name != "Ada" || u.Balance != "12.34" || u.Big != 1<<53 || !u.Born.Equal(born) {
			t.Fatalf("values: %+v", u)
		}
		if !reflect.DeepEqual(u.Avatar, []byte{0, 1, 2, 255}) {
			t.Fatalf("avatar %v", u.Avatar)
		}
		var meta map[string]any
		if err := json.Unmarshal(u.Meta, &meta); err != nil || meta["b"] != float64(1) {
			t.Fatalf("meta %s: %v", u.Meta, err)
		}
		got, err := Users.FindUnique(ctx, db, viborm.FindUnique{Where: viborm.Where{"id": u.ID}})
		if err != nil || got == nil {
			t.Fatalf("findUnique: %v %v", got, err)
		}
		if !reflect.DeepEqual(*got, u) {
			t.Fatalf("findUnique = %+v, want %+v", *got, u)
		}
		byEmail, err := Users.FindUniqueOrErr(ctx, db, viborm.FindUnique{Where: viborm.Where{"email": "ada@example.com"}})
		if err != nil || byEmail.ID != u.ID {
			t.Fatalf("by email: %v %v", byEmail, err)
		}
		// Update.
		up, err := Users.Update(ctx, db, viborm.Update{Where: viborm.Where{"id": u.ID}, Data: viborm.Data{"name": nil, "age": viborm.Increment(4), "score": viborm.Multiply(3)}})
		if err != nil {
			t.Fatal(err)
		}
		if up.Name != nil || up.Age != 40 || up.Score != 4.5 || up.UpdatedAt.Before(u.UpdatedAt) {
			t.Fatalf("update: %+v", up)
		}
		up, err = Users.Update(ctx, db, viborm.Update{Where: viborm.Where{"id": u.ID}, Data: viborm.Data{"age": viborm.Divide(3), "big": viborm.Decrement(1)}})
		if err != nil || up.Age != 13 || up.Big != 1<<53-1 {
			t.Fatalf("divide: %+v %v", up, err)
		}
		// Not found.
		_, err = Users.Update(ctx, db, viborm.Update{Where: viborm.Where{"id": 999}, Data: viborm.Data{"age": 1}})
		if !errors.Is(err, viborm.ErrNotFound) {
			t.Fatalf("update missing: %v", err)
		}
		none, err := Users.FindUnique(ctx, db, viborm.FindUnique{Where: viborm.Where{"id": 999}})
		if err != nil || none != nil {
			t.Fatalf("findUnique missing: %v %v", none, err)
		}
		_, err = Users.FindUniqueOrErr(ctx, db, viborm.FindUnique{Where: viborm.Where{"id": 999}})
		var ve *viborm.Error
		if !errors.As(err, &ve) || ve.Code != viborm.CodeNotFound || ve.Op != "findUniqueOrThrow" {
			t.Fatalf("findUniqueOrErr missing: %v", err)
		}
		// Posts with a foreign key, a UUID id and a compound unique.
		p, err := Posts.Create(ctx, db, viborm.Create{Data: viborm.Data{"title": "Hello", "authorId": u.ID}})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.ID) != 36 || p.AuthorID != u.ID || p.Published {
			t.Fatalf("post: %+v", p)
		}
		got2, err := Posts.FindUnique(ctx, db, viborm.FindUnique{Where: viborm.Where{"authorId": u.ID, "title": "Hello"}})
		if err != nil || got2 == nil || got2.ID != p.ID {
			t.Fatalf("compound unique: %v %v", got2, err)
		}
		// Delete returns the row; cascade removes the post.
		del, err := Users.Delete(ctx, db, viborm.Delete{Where: viborm.Where{"id": u.ID}})
		if err != nil || del.ID != u.ID {
			t.Fatalf("delete: %v %v", del, err)
		}
		n, err := Posts.Count(ctx, db, viborm.Count{})
		if err != nil || n != 0 {
			t.Fatalf("cascade: %d %v", n, err)
		}
		_, err = Users.Delete(ctx, db, viborm.Delete{Where: viborm.Where{"id": u.ID}})
		if !errors.Is(err, viborm.ErrNotFound) {
			t.Fatalf("delete missing: %v", err)
		}
		// Many.
		n, err = Users.CreateMany(ctx, db, viborm.CreateMany{Data: []viborm.Data{{"email": "a@x"}, {"email": "b@x", "age": 3}, {"email": "c@x"}}})
		if err != nil || n != 3 {
			t.Fatalf("createMany: %d %v", n, err)
		}
		n, err = Users.UpdateMany(ctx, db, viborm.UpdateMany{Where: viborm.Where{"age": 0}, Data: viborm.Data{"age": 7}})
		if err != nil || n != 2 {
			t.Fatalf("updateMany: %d %v", n, err)
		}
		n, err = Users.DeleteMany(ctx, db, viborm.DeleteMany{Where: viborm.Where{"age": 7}})
		if err != nil || n != 2 {
			t.Fatalf("deleteMany: %d %v", n, err)
		}
	})
}

func TestFilters(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := newClient(t, dialect, viborm.Config{})
		seed(t, db)
		cases := []struct {
			name  string
			where viborm.Where
			want  []string
		}{
			{"equals", viborm.Where{"age": 25}, []string{"Dee@Example.com", "bob@example.com"}},
			{"equals cond", viborm.Where{"role": viborm.Equals("admin")}, []string{"ada@example.com", "eve@other.org"}},
			{"not", viborm.Where{"age": viborm.Not(25)}, []string{"ada@example.com", "cy_100%@example.com", "eve@other.org"}},
			{"not cond", viborm.Where{"age": viborm.Not(viborm.Gte(30))}, []string{"Dee@Example.com", "bob@example.com", "eve@other.org"}},
			{"in", viborm.Where{"age": viborm.In(19, 41)}, []string{"cy_100%@example.com", "eve@other.org"}},
			{"in empty", viborm.Where{"age": viborm.In[int]()}, []string{}},
			{"notIn", viborm.Where{"role": viborm.NotIn("admin", "guest")}, []string{"Dee@Example.com", "bob@example.com"}},
			{"range", viborm.Where{"age": viborm.Gt(19).Lte(36)}, []string{"Dee@Example.com", "ada@example.com", "bob@example.com"}},
			{"lt gte float", viborm.Where{"score": viborm.Gte(7.25).Lt(9.5)}, []string{"bob@example.com", "cy_100%@example.com"}},
			{"decimal gt", viborm.Where{"balance": viborm.Gt("5.00")}, []string{"ada@example.com", "bob@example.com", "cy_100%@example.com"}},
			{"bool", viborm.Where{"active": false}, []string{"bob@example.com"}},
			{"null", viborm.Where{"name": nil}, []string{"bob@example.com", "eve@other.org"}},
			{"not null", viborm.Where{"name": viborm.Not(nil)}, []string{"Dee@Example.com", "ada@example.com", "cy_100%@example.com"}},
			{"contains", viborm.Where{"email": viborm.Contains("example")}, []string{"ada@example.com", "bob@example.com", "cy_100%@example.com"}},
			{"contains insensitive", viborm.Where{"email": viborm.Contains("EXAMPLE").Insensitive()}, []string{"Dee@Example.com", "ada@example.com", "bob@example.com", "cy_100%@example.com"}},
			{"contains literal %", viborm.Where{"email": viborm.Contains("100%")}, []string{"cy_100%@example.com"}},
			{"contains literal _", viborm.Where{"email": viborm.Contains("_")}, []string{"cy_100%@example.com"}},
			{"contains literal !", viborm.Where{"email": viborm.Contains("!")}, []string{}},
			{"startsWith", viborm.Where{"email": viborm.StartsWith("D")}, []string{"Dee@Example.com"}},
			{"startsWith insensitive", viborm.Where{"email": viborm.StartsWith("d").Insensitive()}, []string{"Dee@Example.com"}},
			{"endsWith", viborm.Where{"email": viborm.EndsWith(".org")}, []string{"eve@other.org"}},
			{"equals insensitive", viborm.Where{"email": viborm.Equals("dee@example.com").Insensitive()}, []string{"Dee@Example.com"}},
			{"equals sensitive", viborm.Where{"email": "dee@example.com"}, []string{}},
			{"OR", viborm.Or(viborm.Where{"age": 19}, viborm.Where{"role": "guest"}), []string{"cy_100%@example.com", "eve@other.org"}},
			{"AND", viborm.And(viborm.Where{"age": viborm.Gt(20)}, viborm.Where{"active": true}), []string{"Dee@Example.com", "ada@example.com", "cy_100%@example.com"}},
			{"NOT", viborm.NoneOf(viborm.Where{"role": "user"}), []string{"ada@example.com", "cy_100%@example.com", "eve@other.org"}},
			{"nested", viborm.Where{"active": true, "OR": []viborm.Where{{"name": nil}, {"age": viborm.Lt(30)}}}, []string{"Dee@Example.com", "eve@other.org"}},
			{"empty OR", viborm.Where{"OR": []viborm.Where{}}, []string{}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got, err := Users.FindMany(ctx, db, viborm.FindMany{Where: tc.where, OrderBy: []viborm.Order{viborm.Asc("email")}})
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(emails(got), tc.want) {
					t.Fatalf("got %q, want %q", emails(got), tc.want)
				}
			})
		}
	})
}

func TestOrderingAndPagination(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := newClient(t, dialect, viborm.Config{})
		seed(t, db)
		find := func(a viborm.FindMany) []string {
			t.Helper()
			got, err := Users.FindMany(ctx, db, a)
			if err != nil {
				t.Fatal(err)
			}
			return emails(got)
		}
		cases := []struct {
			name string
			args viborm.FindMany
			want []string
		}{
			{"multi", viborm.FindMany{OrderBy: []viborm.Order{viborm.Asc("age"), viborm.Desc("email")}},
				[]string{"eve@other.org", "bob@example.com", "Dee@Example.com", "ada@example.com", "cy_100%@example.com"}},
			{"nulls first", viborm.FindMany{OrderBy: []viborm.Order{viborm.Asc("name").NullsFirst(), viborm.Asc("email")}},
				[]string{"bob@example.com", "eve@other.org", "ada@example.com", "cy_100%@example.com", "Dee@Example.com"}},
			{"nulls last desc", viborm.FindMany{OrderBy: []viborm.Order{viborm.Desc("name").NullsLast(), viborm.Asc("email")}},
				[]string{"Dee@Example.com", "cy_100%@example.com", "ada@example.com", "bob@example.com", "eve@other.org"}},
			{"take skip", viborm.FindMany{OrderBy: []viborm.Order{viborm.Asc("age"), viborm.Asc("email")}, Take: ptr(2), Skip: 1},
				[]string{"Dee@Example.com", "bob@example.com"}},
			{"skip only", viborm.FindMany{OrderBy: []viborm.Order{viborm.Asc("age"), viborm.Asc("email")}, Skip: 3},
				[]string{"ada@example.com", "cy_100%@example.com"}},
			{"take 0", viborm.FindMany{Take: ptr(0)}, []string{}},
		}
		for _, tc := range cases {
			if got := find(tc.args); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
			}
		}
		first, err := Users.FindFirst(ctx, db, viborm.FindMany{Where: viborm.Where{"role": "admin"}, OrderBy: []viborm.Order{viborm.Desc("age")}})
		if err != nil || first == nil || first.Email != "ada@example.com" {
			t.Fatalf("findFirst: %v %v", first, err)
		}
		_, err = Users.FindFirstOrErr(ctx, db, viborm.FindMany{Where: viborm.Where{"age": 1000}})
		if !errors.Is(err, viborm.ErrNotFound) {
			t.Fatalf("findFirstOrErr: %v", err)
		}
		// Select and omit.
		sel, err := Users.FindMany(ctx, db, viborm.FindMany{Select: []string{"email", "age"}, OrderBy: []viborm.Order{viborm.Asc("email")}, Take: ptr(1)})
		if err != nil || len(sel) != 1 || !reflect.DeepEqual(sel[0], User{Email: "Dee@Example.com", Age: 25}) {
			t.Fatalf("select: %+v %v", sel, err)
		}
		om, err := Users.FindMany(ctx, db, viborm.FindMany{Omit: []string{"createdAt", "updatedAt", "id"}, Where: viborm.Where{"email": "bob@example.com"}})
		if err != nil || len(om) != 1 || om[0].ID != 0 || !om[0].CreatedAt.IsZero() || om[0].Age != 25 {
			t.Fatalf("omit: %+v %v", om, err)
		}
		n, err := Users.Count(ctx, db, viborm.Count{Where: viborm.Where{"active": true}})
		if err != nil || n != 4 {
			t.Fatalf("count: %d %v", n, err)
		}
		n, err = Users.Count(ctx, db, viborm.Count{Take: ptr(2), Skip: 1})
		if err != nil || n != 2 {
			t.Fatalf("count take: %d %v", n, err)
		}
		ok, err := Users.Exist(ctx, db, viborm.Where{"role": "guest"})
		if err != nil || !ok {
			t.Fatalf("exist: %v %v", ok, err)
		}
		ok, err = Users.Exist(ctx, db, viborm.Where{"age": 1000})
		if err != nil || ok {
			t.Fatalf("exist none: %v %v", ok, err)
		}
	})
}

func TestAggregateAndGroupBy(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := newClient(t, dialect, viborm.Config{})
		seed(t, db)
		res, err := Users.Aggregate(ctx, db, viborm.Aggregate{
			Count: []string{"_all", "name"}, Avg: []string{"age"}, Sum: []string{"age", "score"},
			Min: []string{"age", "email"}, Max: []string{"score"},
		})
		if err != nil {
			t.Fatal(err)
		}
		want := viborm.AggregateResult{
			Count: map[string]int64{"_all": 5, "name": 3},
			Avg:   map[string]any{"age": 29.2},
			Sum:   map[string]any{"age": int64(146), "score": 41.0},
			Min:   map[string]any{"age": int64(19), "email": "Dee@Example.com"},
			Max:   map[string]any{"score": 9.75},
		}
		if !reflect.DeepEqual(res, want) {
			t.Fatalf("aggregate:\n got %#v\nwant %#v", res, want)
		}
		res, err = Users.Aggregate(ctx, db, viborm.Aggregate{Where: viborm.Where{"age": 1000}, Count: []string{"_all"}, Sum: []string{"age"}})
		if err != nil || res.Count["_all"] != 0 || res.Sum["age"] != nil {
			t.Fatalf("empty aggregate: %#v %v", res, err)
		}
		res, err = Users.Aggregate(ctx, db, viborm.Aggregate{OrderBy: []viborm.Order{viborm.Asc("age")}, Take: ptr(2), Sum: []string{"age"}})
		if err != nil || res.Sum["age"] != int64(44) {
			t.Fatalf("aggregate take: %#v %v", res, err)
		}
		groups, err := Users.GroupBy(ctx, db, viborm.GroupBy{
			By: []string{"role"}, Count: []string{"_all"}, Avg: []string{"age"}, Max: []string{"age"},
			OrderBy: []viborm.Order{viborm.Asc("role")},
		})
		if err != nil {
			t.Fatal(err)
		}
		wantG := []viborm.GroupRow{
			{By: map[string]any{"role": "admin"}, AggregateResult: viborm.AggregateResult{Count: map[string]int64{"_all": 2}, Avg: map[string]any{"age": 27.5}, Max: map[string]any{"age": int64(36)}}},
			{By: map[string]any{"role": "guest"}, AggregateResult: viborm.AggregateResult{Count: map[string]int64{"_all": 1}, Avg: map[string]any{"age": 41.0}, Max: map[string]any{"age": int64(41)}}},
			{By: map[string]any{"role": "user"}, AggregateResult: viborm.AggregateResult{Count: map[string]int64{"_all": 2}, Avg: map[string]any{"age": 25.0}, Max: map[string]any{"age": int64(25)}}},
		}
		if !reflect.DeepEqual(groups, wantG) {
			t.Fatalf("groupBy:\n got %#v\nwant %#v", groups, wantG)
		}
		groups, err = Users.GroupBy(ctx, db, viborm.GroupBy{
			By: []string{"role", "active"}, Count: []string{"_all"},
			Having:  viborm.Having{"_count": {"_all": viborm.Gte(2)}},
			OrderBy: []viborm.Order{viborm.Desc("_count"), viborm.Asc("role")},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(groups) != 1 || groups[0].By["role"] != "admin" || groups[0].By["active"] != true {
			t.Fatalf("having: %#v", groups)
		}
	})
}

func TestUpsertAndTransactions(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := newClient(t, dialect, viborm.Config{})
		up := viborm.Upsert{Where: viborm.Where{"email": "u@x"}, Create: viborm.Data{"email": "u@x", "age": 1}, Update: viborm.Data{"age": viborm.Increment(10)}}
		u, err := Users.Upsert(ctx, db, up)
		if err != nil || u.Age != 1 {
			t.Fatalf("upsert create: %+v %v", u, err)
		}
		u, err = Users.Upsert(ctx, db, up)
		if err != nil || u.Age != 11 {
			t.Fatalf("upsert update: %+v %v", u, err)
		}
		// Commit.
		err = db.Tx(ctx, func(tx *viborm.Tx) error {
			mustCreateUser(t, tx, viborm.Data{"email": "t1@x"})
			_, err := Users.Update(ctx, tx, viborm.Update{Where: viborm.Where{"email": "u@x"}, Data: viborm.Data{"age": 2}})
			return err
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		// Rollback on error.
		boom := errors.New("boom")
		err = db.Tx(ctx, func(tx *viborm.Tx) error {
			mustCreateUser(t, tx, viborm.Data{"email": "t2@x"})
			n, err := Users.Count(ctx, tx, viborm.Count{})
			if err != nil || n != 3 {
				t.Errorf("count inside tx: %d %v", n, err)
			}
			return boom
		}, nil)
		if !errors.Is(err, boom) {
			t.Fatalf("tx error: %v", err)
		}
		all, err := Users.FindMany(ctx, db, viborm.FindMany{OrderBy: []viborm.Order{viborm.Asc("email")}})
		if err != nil || !reflect.DeepEqual(emails(all), []string{"t1@x", "u@x"}) || all[1].Age != 2 {
			t.Fatalf("after tx: %v %v", emails(all), err)
		}
		// A failing statement inside rolls back everything.
		err = db.Tx(ctx, func(tx *viborm.Tx) error {
			mustCreateUser(t, tx, viborm.Data{"email": "t3@x"})
			_, err := Users.Create(ctx, tx, viborm.Create{Data: viborm.Data{"email": "t1@x"}})
			return err
		}, nil)
		if !errors.Is(err, viborm.ErrUniqueViolation) {
			t.Fatalf("tx unique: %v", err)
		}
		if n, _ := Users.Count(ctx, db, viborm.Count{}); n != 2 {
			t.Fatalf("rollback kept rows: %d", n)
		}
		// Raw SQL, with '?' placeholders on every dialect.
		rows, err := db.QueryRaw(ctx, "SELECT email FROM users WHERE age > ? ORDER BY email", 1)
		if err != nil || len(rows) != 1 {
			t.Fatalf("queryRaw: %v %v", rows, err)
		}
		if e, _ := rows[0]["email"].(string); e != "u@x" {
			if b, _ := rows[0]["email"].([]byte); string(b) != "u@x" {
				t.Fatalf("queryRaw row: %v", rows[0])
			}
		}
		n, err := db.ExecRaw(ctx, "UPDATE users SET age = ? WHERE email = ?", 5, "t1@x")
		if err != nil || n != 1 {
			t.Fatalf("execRaw: %d %v", n, err)
		}
	})
}

func TestErrorMapping(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := newClient(t, dialect, viborm.Config{})
		u := mustCreateUser(t, db, viborm.Data{"email": "a@x"})
		check := func(name string, err error, target error, code viborm.Code) {
			t.Helper()
			var e *viborm.Error
			if !errors.Is(err, target) || !errors.As(err, &e) || e.Code != code {
				t.Errorf("%s: got %v, want %s", name, err, code)
			}
		}
		_, err := Users.Create(ctx, db, viborm.Create{Data: viborm.Data{"email": "a@x"}})
		check("unique", err, viborm.ErrUniqueViolation, viborm.CodeUniqueViolation)
		_, err = Posts.Create(ctx, db, viborm.Create{Data: viborm.Data{"title": "x", "authorId": u.ID + 100}})
		check("foreign key", err, viborm.ErrForeignKey, viborm.CodeForeignKey)
		_, err = Users.Create(ctx, db, viborm.Create{Data: viborm.Data{"email": nil}})
		check("not null", err, viborm.ErrNotNull, viborm.CodeNotNull)
		_, err = Users.Create(ctx, db, viborm.Create{Data: viborm.Data{"email": "b@x", "age": "old"}})
		check("validation type", err, viborm.ErrValidation, viborm.CodeValidation)
		_, err = Users.Create(ctx, db, viborm.Create{Data: viborm.Data{"email": "b@x", "role": "root"}})
		check("validation enum", err, viborm.ErrValidation, viborm.CodeValidation)
		_, err = Users.FindMany(ctx, db, viborm.FindMany{Where: viborm.Where{"nope": 1}})
		check("unknown field", err, viborm.ErrValidation, viborm.CodeValidation)
		_, err = Users.FindUnique(ctx, db, viborm.FindUnique{Where: viborm.Where{"age": 1}})
		check("not unique", err, viborm.ErrValidation, viborm.CodeValidation)
		_, err = Users.FindMany(ctx, db, viborm.FindMany{Where: viborm.Where{"email": viborm.Gt(1)}})
		check("bad operand", err, viborm.ErrValidation, viborm.CodeValidation)
		_, err = Users.FindMany(ctx, db, viborm.FindMany{Where: viborm.Where{"age": viborm.Contains("1")}})
		check("contains on int", err, viborm.ErrValidation, viborm.CodeValidation)
		_, err = Users.Update(ctx, db, viborm.Update{Where: viborm.Where{"id": u.ID}, Data: viborm.Data{"email": viborm.Increment(1)}})
		check("increment on string", err, viborm.ErrValidation, viborm.CodeValidation)
		var e *viborm.Error
		if errors.As(err, &e); e == nil || e.Model != "user" || e.Op != "update" {
			t.Errorf("error context: %+v", e)
		}
	})
}

func TestRowModel(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := newClient(t, dialect, viborm.Config{})
		at := time.Date(2024, 2, 29, 23, 59, 59, 999999000, time.UTC)
		r, err := Tags.Create(ctx, db, viborm.Create{Data: viborm.Data{"ns": "a", "name": "x", "at": at, "blob": []byte("hi"), "price": "9.99"}})
		if err != nil {
			t.Fatal(err)
		}
		want := viborm.Row{"ns": "a", "name": "x", "weight": int64(1), "at": at, "blob": []byte("hi"), "price": r["price"]}
		if !reflect.DeepEqual(r, want) {
			t.Fatalf("create row: %#v", r)
		}
		if _, err := Tags.Create(ctx, db, viborm.Create{Data: viborm.Data{"ns": "a", "name": "y"}}); err != nil {
			t.Fatal(err)
		}
		rows, err := Tags.FindMany(ctx, db, viborm.FindMany{Select: []string{"name", "at"}, OrderBy: []viborm.Order{viborm.Asc("name")}})
		if err != nil {
			t.Fatal(err)
		}
		wantRows := []viborm.Row{{"name": "x", "at": at}, {"name": "y", "at": nil}}
		if !reflect.DeepEqual(rows, wantRows) {
			t.Fatalf("rows: %#v", rows)
		}
		one, err := Tags.FindUnique(ctx, db, viborm.FindUnique{Where: viborm.Where{"ns": "a", "name": "y"}})
		if err != nil || one == nil || (*one)["weight"] != int64(1) {
			t.Fatalf("compound id: %v %v", one, err)
		}
	})
}

func TestPush(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := newClient(t, dialect, viborm.Config{})
		// Idempotent.
		if _, err := db.Push(ctx, nil); err != nil {
			t.Fatalf("second push: %v", err)
		}
		res, err := db.Push(ctx, &viborm.PushOptions{DryRun: true})
		if err != nil || len(res.Statements) < 3 {
			t.Fatalf("dry run: %v %v", res, err)
		}
		// Foreign key order: users before posts.
		iu, ip := -1, -1
		for i, st := range res.Statements {
			switch {
			case containsAll(st, "CREATE TABLE IF NOT EXISTS", "users_email_key"):
				if iu < 0 {
					iu = i
				}
			case containsAll(st, "CREATE TABLE IF NOT EXISTS", "posts_author_id_fkey"):
				ip = i
			}
		}
		if iu < 0 || ip < iu {
			t.Fatalf("order: %q", res.Statements)
		}
	})
}

func containsAll(s string, subs ...string) bool {
	for _, x := range subs {
		if !contains(s, x) {
			return false
		}
	}
	return true
}

func contains(s, sub string) bool { return len(sub) == 0 || indexOf(s, sub) >= 0 }

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}
