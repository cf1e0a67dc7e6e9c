package exec_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/viborm/viborm-go/driver/sqlite"
	"github.com/viborm/viborm-go/internal/exec"
	"github.com/viborm/viborm-go/internal/query"
	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/s"
)

type pa struct {
	ID   int64
	Name string
	Kids []ki
	Cnt  struct{ Kids int64 } `viborm:"_count"`
}

type ki struct {
	ID   int64
	PaID *int64 `viborm:"paId"`
	N    int
	Pa   *pa
}

var (
	paMD = schema.Build("pa", []s.Option{s.BigInt("id").ID(), s.String("name"), s.OneToMany("kids", "ki")}, reflect.TypeFor[pa]())
	kiMD = schema.Build("ki", []s.Option{s.BigInt("id").ID(), s.BigInt("paId").Nullable(), s.Int("n"),
		s.ManyToOne("pa", "pa").Fields("paId").References("id")}, reflect.TypeFor[ki]())
)

func noCond(any) (*query.Cond, bool) { return nil, false }

// relEnv resolves and binds pa and ki and returns the includes' env.
func relEnv(t testing.TB) *query.RelEnv {
	t.Helper()
	rels, err := schema.Resolve(map[string]*schema.Model{"pa": paMD, "ki": kiMD})
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.BindRelations(rels); err != nil {
		t.Fatal(err)
	}
	exec.RegisterRows[pa](paMD)
	exec.RegisterRows[ki](kiMD)
	return &query.RelEnv{Rels: rels, Where: func(md *schema.Model, w map[string]any, path string) (*query.Expr, error) {
		return query.Where(md, w, path, noCond)
	}}
}

// relConn is a conn on a SQLite database with nPa parents holding three
// kids each, plus one kid without a parent.
func relConn(t testing.TB, nPa int) *conn {
	t.Helper()
	d, err := sqlite.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.DB().Close() })
	db := d.DB()
	for _, q := range []string{"CREATE TABLE pa (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
		"CREATE TABLE ki (id INTEGER PRIMARY KEY, paId INTEGER, n INTEGER NOT NULL)"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	k := 0
	for i := 1; i <= nPa; i++ {
		if _, err := db.Exec("INSERT INTO pa VALUES (?, ?)", i, fmt.Sprint("p", i)); err != nil {
			t.Fatal(err)
		}
		for j := range 3 {
			k++
			if _, err := db.Exec("INSERT INTO ki VALUES (?, ?, ?)", k, i, j); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := db.Exec("INSERT INTO ki VALUES (?, NULL, 0)", k+1); err != nil {
		t.Fatal(err)
	}
	return &conn{db: db}
}

func relQuery(t testing.TB, env *query.RelEnv, inc map[string]query.IncludeArg, counts map[string]map[string]any) *query.Query {
	t.Helper()
	q := &query.Query{Sel: paMD.Fields, Order: []query.Order{{F: paMD.Fields[0]}}}
	if err := q.SetIncludes(env, paMD, inc, counts, "include", 1); err != nil {
		t.Fatal(err)
	}
	return q
}

// TestIncludeChunksByParamBudget guards the IN-list split: with a budget
// of 7 parameters, 50 parents take 8 statements per level, and the result
// is the same as with one statement.
func TestIncludeChunksByParamBudget(t *testing.T) {
	env := relEnv(t)
	c := relConn(t, 50)
	two := 2
	q := relQuery(t, env, map[string]query.IncludeArg{"kids": {Take: &two, OrderBy: []query.OrderBy{{Field: "n", Desc: true}}}}, map[string]map[string]any{"kids": nil})
	spec := exec.RowsRead[pa]()
	ctx := context.Background()
	whole, err := exec.Load(ctx, c, c.db, paMD, q, false, &spec)
	if err != nil {
		t.Fatal(err)
	}
	if c.n != 3 {
		t.Fatalf("%d statements, want 3", c.n)
	}
	old := exec.ParamBudget
	exec.ParamBudget = 7
	defer func() { exec.ParamBudget = old }()
	c.n = 0
	split, err := exec.Load(ctx, c, c.db, paMD, q, false, &spec)
	if err != nil {
		t.Fatal(err)
	}
	if c.n != 1+8+8 {
		t.Fatalf("%d statements, want 17", c.n)
	}
	if !reflect.DeepEqual(whole, split) {
		t.Fatal("chunked result differs")
	}
	for _, p := range whole {
		if len(p.Kids) != 2 || p.Kids[0].N != 2 || p.Kids[1].N != 1 || p.Cnt.Kids != 3 {
			t.Fatalf("parent %d: %+v", p.ID, p)
		}
		if cap(p.Kids) != len(p.Kids) {
			t.Fatalf("parent %d: a kids slice can be appended into its neighbour's", p.ID)
		}
	}
}

// TestIncludeCachedFormIsStrict guards the strict decode: the cached form
// of one include read is not accepted for another shape, and a mangled
// payload is an error, never a wrong result.
func TestIncludeCachedFormIsStrict(t *testing.T) {
	env := relEnv(t)
	c := relConn(t, 3)
	ctx := context.Background()
	spec := exec.RowsRead[pa]()
	q := relQuery(t, env, map[string]query.IncludeArg{"kids": {}}, map[string]map[string]any{"kids": nil})
	v, err := exec.Load(ctx, c, c.db, paMD, q, false, &spec)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := exec.Payload{Kind: exec.Rows, MD: paMD, Q: q, V: v}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	back, err := spec.Decode(paMD, q, raw)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, v) {
		t.Fatalf("round trip:\n%+v\n%+v", back, v)
	}
	for name, other := range map[string]*query.Query{
		"no include":     {Sel: paMD.Fields},
		"no count":       relQuery(t, env, map[string]query.IncludeArg{"kids": {}}, nil),
		"nested include": relQuery(t, env, map[string]query.IncludeArg{"kids": {Include: map[string]query.IncludeArg{"pa": {}}}}, map[string]map[string]any{"kids": nil}),
	} {
		if _, err := spec.Decode(paMD, other, raw); err == nil {
			t.Errorf("%s: decoded another read's cached form", name)
		}
	}
	for _, bad := range []string{
		`{"r":{"c":["id","name"],"r":[[{"i":"1"},"p1"]]},"i":{"kids":{"p":[1],"c":{"r":{"c":["id","paId","n"],"r":[[{"i":"1"},{"i":"1"},{"i":"0"}]]}}}},"n":{"kids":[1]}}`,
		`{"r":{"c":["id","name"],"r":[[{"i":"1"},"p1"]]},"i":{"kids":{"p":[0,0],"c":{"r":{"c":["id","paId","n"],"r":[[{"i":"1"},{"i":"1"},{"i":"0"}]]}}}},"n":{"kids":[1]}}`,
		`{"r":{"c":["id","name"],"r":[[{"i":"1"},"p1"]]},"i":{"kids":{"p":[0],"c":{"r":{"c":["id","paId","n"],"r":[[{"i":"1"},{"i":"1"},{"i":"0"}]]}}}},"n":{"kids":[-1]}}`,
		`{"r":{"c":["id","name"],"r":[[{"i":"1"},"p1"]]},"i":{"kids":{"p":[0],"c":{"r":{"c":["id","paId","n"],"r":[[{"i":"1"},{"i":"1"},{"i":"0"}]]}}}},"n":{"kids":[1]},"x":1}`,
	} {
		if _, err := spec.Decode(paMD, q, []byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

// FuzzDecodeIncludes: the strict decode of an include read never panics,
// and what it accepts encodes back to a form it decodes to the same rows.
func FuzzDecodeIncludes(f *testing.F) {
	env := relEnv(f)
	c := relConn(f, 3)
	spec := exec.RowsRead[pa]()
	q := relQuery(f, env, map[string]query.IncludeArg{"kids": {Include: map[string]query.IncludeArg{"pa": {}}}}, map[string]map[string]any{"kids": nil})
	v, err := exec.Load(context.Background(), c, c.db, paMD, q, false, &spec)
	if err != nil {
		f.Fatal(err)
	}
	raw, _ := exec.Payload{Kind: exec.Rows, MD: paMD, Q: q, V: v}.MarshalJSON()
	f.Add(raw)
	f.Add([]byte(`{"r":{"c":["id","name"],"r":[]},"i":{"kids":{"p":[],"c":{"r":{"c":["id","paId","n"],"r":[]},"i":{"pa":{"p":[],"c":{"r":{"c":["id","name"],"r":[]}}}}}}},"n":{"kids":[]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := spec.Decode(paMD, q, b)
		if err != nil {
			return
		}
		again, err := exec.Payload{Kind: exec.Rows, MD: paMD, Q: q, V: got}.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		back, err := spec.Decode(paMD, q, again)
		if err != nil {
			t.Fatalf("re-encoded form refused: %v", err)
		}
		if !reflect.DeepEqual(back, got) {
			t.Fatal("re-encoded form decodes differently")
		}
	})
}
