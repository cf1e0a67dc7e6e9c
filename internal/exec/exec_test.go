package exec_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/viborm/viborm-go/driver/sqlite"
	"github.com/viborm/viborm-go/internal/dialect"
	"github.com/viborm/viborm-go/internal/exec"
	"github.com/viborm/viborm-go/internal/query"
	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/internal/sqlgen"
	"github.com/viborm/viborm-go/internal/verr"
	"github.com/viborm/viborm-go/s"
)

type item struct {
	ID    int64
	Slug  string
	Stock *int64
	Blob  []byte
}

var md = schema.Build("item", []s.Option{s.BigInt("id").ID().Autoincrement(), s.String("slug").Unique(), s.BigInt("stock").Nullable(), s.Bytes("blob").Nullable()}, reflect.TypeFor[item]())

// conn is an exec.Conn over a *sql.DB, counting the statements it runs.
type conn struct {
	db *sql.DB
	n  int
}

func (c *conn) Dialect() dialect.Dialect { return dialect.SQLite }
func (c *conn) Querier() exec.Querier    { return c.db }
func (c *conn) Query(ctx context.Context, q exec.Querier, st sqlgen.Stmt) (*sql.Rows, error) {
	c.n++
	return q.QueryContext(ctx, st.SQL, st.Args...)
}
func (c *conn) Exec(ctx context.Context, q exec.Querier, st sqlgen.Stmt) (sql.Result, error) {
	c.n++
	return q.ExecContext(ctx, st.SQL, st.Args...)
}
func (c *conn) InTx(ctx context.Context, fn func(exec.Querier) error) error {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func newConn(t *testing.T) *conn {
	t.Helper()
	if md.Err != nil {
		t.Fatal(md.Err)
	}
	d, err := sqlite.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	for _, st := range sqlgen.CreateTable(dialect.SQLite, md, nil) {
		if _, err := d.DB().Exec(st); err != nil {
			t.Fatal(err)
		}
	}
	return &conn{db: d.DB()}
}

func set(name string, v any) query.Set { return query.Set{F: md.ByName[name], V: v} }

func TestWrites(t *testing.T) {
	ctx := context.Background()
	c := newConn(t)
	got, err := exec.Create[item](ctx, c, md, []query.Set{set("slug", "a"), set("blob", []byte("x"))}, md.Fields)
	if err != nil || got.ID != 1 || got.Slug != "a" || string(got.Blob) != "x" || got.Stock != nil {
		t.Fatalf("Create = %+v, %v", got, err)
	}
	n, err := exec.CreateMany(ctx, c, md, [][]query.Set{{set("slug", "b")}, {set("slug", "c"), set("stock", int64(2))}, {set("slug", "d")}})
	if err != nil || n != 3 {
		t.Fatalf("CreateMany = %d, %v", n, err)
	}
	where := func(slug string) *query.Expr {
		return &query.Expr{Kind: query.Cmp, F: md.ByName["slug"], Op: query.OpEq, V: slug}
	}
	up, err := exec.Update[item](ctx, c, md, where("c"), []query.Set{{F: md.ByName["stock"], Op: '+', V: int64(5)}}, md.Fields)
	if err != nil || *up.Stock != 7 {
		t.Fatalf("Update = %+v, %v", up, err)
	}
	var e *verr.Error
	if _, err := exec.Update[item](ctx, c, md, where("zz"), nil, md.Fields); !errors.As(err, &e) || e.Code != verr.CodeNotFound {
		t.Fatalf("Update of no row: %v", err)
	}
	del, err := exec.Delete[item](ctx, c, md, where("b"), md.Fields[:2])
	if err != nil || del.Slug != "b" {
		t.Fatalf("Delete = %+v, %v", del, err)
	}
	if _, err := exec.Delete[item](ctx, c, md, where("b"), md.Fields); !errors.As(err, &e) || e.Code != verr.CodeNotFound {
		t.Fatalf("Delete again: %v", err)
	}
	// Native upsert (one statement) and the locking fallback agree.
	nu := &query.Upsert{Key: []*schema.Field{md.ByName["slug"]}, Vals: []any{"a"}}
	bump := []query.Set{{F: md.ByName["stock"], Op: '+', V: int64(1)}}
	c.n = 0
	u1, err := exec.Upsert[item](ctx, c, md, nu, where("a"), []query.Set{set("slug", "a")}, []query.Set{set("stock", int64(10))}, md.Fields)
	if err != nil || *u1.Stock != 10 || c.n != 1 {
		t.Fatalf("native Upsert = %+v, %v, %d statements", u1, err, c.n)
	}
	u2, err := exec.Upsert[item](ctx, c, md, nil, where("a"), []query.Set{set("slug", "a")}, bump, md.Fields)
	if err != nil || *u2.Stock != 11 {
		t.Fatalf("locking Upsert = %+v, %v", u2, err)
	}
	u3, err := exec.Upsert[item](ctx, c, md, nil, where("new"), []query.Set{set("slug", "new")}, bump, md.Fields)
	if err != nil || u3.Slug != "new" || u3.Stock != nil {
		t.Fatalf("locking Upsert inserting = %+v, %v", u3, err)
	}
	rows, err := c.db.Query("SELECT slug, blob FROM item ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	maps, err := exec.ScanMaps(rows)
	if err != nil || len(maps) != 4 || maps[0]["slug"] != "a" || string(maps[0]["blob"].([]byte)) != "x" {
		t.Fatalf("ScanMaps = %v, %v", maps, err)
	}
}

// aggQueries returns an aggregate of md (count of all, sum of stock, max of
// slug) and the same aggregates grouped by slug.
func aggQueries(tb testing.TB) (agg, gb *query.Query) {
	tb.Helper()
	agg = &query.Query{}
	if err := agg.SetAggs(md, query.Aggregates{Count: []string{"_all"}, Sum: []string{"stock"}, Max: []string{"slug"}}); err != nil {
		tb.Fatal(err)
	}
	gb = &query.Query{Aggr: &query.Aggregation{Aggs: agg.Aggr.Aggs}}
	if err := gb.Group(md, []string{"slug"}); err != nil {
		tb.Fatal(err)
	}
	return agg, gb
}

// TestCachedFormsRoundTrip: each kind of result scanned from the database
// survives its cached JSON form, and Decode refuses what is not exactly
// the read's result.
func TestCachedFormsRoundTrip(t *testing.T) {
	ctx := context.Background()
	c := newConn(t)
	if _, err := exec.CreateMany(ctx, c, md, [][]query.Set{{set("slug", "a"), set("stock", int64(2))}, {set("slug", "b")}}); err != nil {
		t.Fatal(err)
	}
	agg, gb := aggQueries(t)
	rowsSpec := exec.RowsRead[item]()
	roundTrip(t, c, "rows", &rowsSpec, &query.Query{Sel: md.Fields}, `{"c":["id"],"r":[]}`, `[]`)
	roundTrip(t, c, "count", &exec.CountRead, &query.Query{}, `"i-1"`, `true`, `"s2"`)
	roundTrip(t, c, "exist", &exec.ExistRead, &query.Query{}, `"t"`, `1`)
	roundTrip(t, c, "aggregate", &exec.AggregateRead, agg, `{"_count":{"_all":"i2"}}`, `{"_count":{"_all":"i2"},"_sum":{"stock":"i2"},"_max":{"slug":"sb"},"x":1}`, `[]`)
	roundTrip(t, c, "groupBy", &exec.GroupByRead, gb, `[{"by":{},"a":{}}]`, `{}`)
}

func roundTrip[R any](t *testing.T, c *conn, name string, spec *exec.Spec[R], q *query.Query, bad ...string) {
	t.Helper()
	v, err := exec.Load(context.Background(), c, c.db, md, q, false, spec)
	if err != nil {
		t.Fatalf("%s: load: %v", name, err)
	}
	raw, err := json.Marshal(exec.Payload{Kind: spec.Kind, MD: md, Q: q, V: v})
	if err != nil {
		t.Fatalf("%s: marshal: %v", name, err)
	}
	back, err := spec.Decode(md, q, raw)
	if err != nil || !reflect.DeepEqual(back, v) {
		t.Errorf("%s: %s decodes to %#v, %v; want %#v", name, raw, back, err, v)
	}
	if cp := spec.Copy(md, v); !reflect.DeepEqual(cp, v) {
		t.Errorf("%s: copy %#v differs from %#v", name, cp, v)
	}
	for _, b := range bad {
		if got, err := spec.Decode(md, q, []byte(b)); err == nil {
			t.Errorf("%s: %s decoded to %#v", name, b, got)
		}
	}
}
