package viborm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	viborm "github.com/viborm/viborm-go"
	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/s"
)

// logBuffer collects log output for assertions.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// readOp is one cacheable read with arguments, run through r.
type readOp struct {
	name string
	op   viborm.Op
	args any
	run  func(ctx context.Context, r viborm.Reader) (any, error)
}

func readOps() []readOp {
	fm := viborm.FindMany{Where: viborm.Where{"age": viborm.Gte(20)}, OrderBy: []viborm.Order{viborm.Asc("email")}}
	fu := viborm.FindUnique{Where: viborm.Where{"email": "ada@example.com"}, Select: []string{"id", "email", "age"}}
	cnt := viborm.Count{Where: viborm.Where{"role": "admin"}}
	ex := viborm.Where{"email": "nobody@example.com"}
	ag := viborm.Aggregate{Count: []string{"_all"}, Avg: []string{"age"}, Max: []string{"email"}}
	gb := viborm.GroupBy{By: []string{"role"}, Count: []string{"_all"}, Sum: []string{"age"}, OrderBy: []viborm.Order{viborm.Asc("role")}}
	return []readOp{
		{"findMany", viborm.OpFindMany, fm, func(ctx context.Context, r viborm.Reader) (any, error) { return Users.FindMany(ctx, r, fm) }},
		{"findUnique", viborm.OpFindUnique, fu, func(ctx context.Context, r viborm.Reader) (any, error) { return Users.FindUnique(ctx, r, fu) }},
		{"count", viborm.OpCount, cnt, func(ctx context.Context, r viborm.Reader) (any, error) { return Users.Count(ctx, r, cnt) }},
		{"exist", viborm.OpExist, ex, func(ctx context.Context, r viborm.Reader) (any, error) { return Users.Exist(ctx, r, ex) }},
		{"aggregate", viborm.OpAggregate, ag, func(ctx context.Context, r viborm.Reader) (any, error) { return Users.Aggregate(ctx, r, ag) }},
		{"groupBy", viborm.OpGroupBy, gb, func(ctx context.Context, r viborm.Reader) (any, error) { return Users.GroupBy(ctx, r, gb) }},
	}
}

// corruptValues are valid JSON values, stored inside valid cache entries,
// that are not the result of the read: foreign shapes, TypeScript VibORM's
// forms, and results of another selection.
var corruptValues = map[string][]string{
	"findMany": {`"a string"`, `null`, `[{"id":1,"email":"ada@example.com"}]`, `{"c":["id"],"r":[["i1"]]}`,
		`{"c":["id","email"],"r":[["i1","sx"]]}`, `{"c":[],"r":[]}`, `{"r":[],"c":[]}`, `5`},
	"findUnique": {`"a string"`, `null`, `[{"id":1,"email":"ada@example.com","age":36}]`, `{"c":["id","email"],"r":[["i1","sx"]]}`,
		`{"c":["id","age","email"],"r":[["i1","i3","sx"]]}`, `{"c":["id","email","age"],"r":[["i1","sx","s3"]]}`},
	"count":     {`"a string"`, `5`, `"s5"`, `null`, `"i-1"`, `{"_count":5}`, `true`},
	"exist":     {`"a string"`, `"true"`, `1`, `null`, `[]`, `{}`},
	"aggregate": {`"a string"`, `null`, `{}`, `[]`, `{"_count":{"_all":5},"_avg":{"age":29.2},"_max":{"email":"x"}}`, `{"_count":{"_all":"i9"}}`, `{"_count":{"_all":"i9","id":"i1"},"_avg":{"age":"f1"},"_max":{"email":"sx"}}`, `{"_count":{"_all":"i9"},"_avg":{"age":"s1"},"_max":{"email":"sx"}}`},
	"groupBy": {`"a string"`, `null`, `{}`, `[{"role":"user","_count":{"_all":2}}]`, `[{"by":{"email":"sx"},"a":{"_count":{"_all":"i9"},"_sum":{"age":"i1"}}}]`,
		`[{"by":{"role":"sx"},"a":{"_count":{"_all":"i9"}}}]`, `[null]`, `[{"by":{"role":"sx"},"a":{"_count":{"_all":"i9"},"_sum":{"age":"i1"}},"x":1}]`},
}

// TestCorruptCachedValueIsAMiss stores, inside valid entries, values that do
// not decode into the read's result: every read must answer from the
// database (as a miss), overwrite the entry (the next read is a hit with the
// right answer) and log the failure without the key. Before, FindMany,
// FindUnique, Count, Aggregate and GroupBy failed with V1002 or answered
// from the corrupt value (Exist false, an empty aggregate) for the whole TTL.
func TestCorruptCachedValueIsAMiss(t *testing.T) {
	forEachCacheDriver(t, func(t *testing.T, kind string) {
		ctx := context.Background()
		clk, rec, logs := newClock(), &recorder{}, &logBuffer{}
		kv, err := cache.New(newCacheDriver(t, kind, clk), &cache.Options{
			Version: "t" + suffix(), Now: clk.Now, WaitUntil: cache.Inline, Observer: rec.observe,
			Logger: slog.New(slog.NewTextHandler(logs, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		db := newClient(t, "sqlite", viborm.Config{Cache: kv})
		seed(t, db)
		cached := db.WithCache(viborm.CacheOptions{TTL: time.Hour})
		for _, op := range readOps() {
			want, err := op.run(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			key, err := Users.CacheKey(cached, op.op, op.args)
			if err != nil {
				t.Fatal(err)
			}
			for _, bad := range corruptValues[op.name] {
				if err := kv.Set(ctx, key, json.RawMessage(bad), cache.Policy{TTL: time.Hour}); err != nil {
					t.Fatal(err)
				}
				rec.take()
				got, err := op.run(ctx, cached)
				if err != nil || !reflect.DeepEqual(got, want) {
					t.Errorf("%s over %s: got %#v, %v; want %#v", op.name, bad, got, err, want)
					continue
				}
				if o := rec.take(); !reflect.DeepEqual(o, []string{"miss"}) {
					t.Errorf("%s over %s: outcomes %v, want a miss", op.name, bad, o)
				}
				got, err = op.run(ctx, cached)
				if err != nil || !reflect.DeepEqual(got, want) {
					t.Errorf("%s after %s: got %#v, %v; want %#v", op.name, bad, got, err, want)
				}
				if o := rec.take(); !reflect.DeepEqual(o, []string{"hit"}) {
					t.Errorf("%s after %s: outcomes %v, want a hit on the overwritten entry", op.name, bad, o)
				}
			}
			hash := key[strings.LastIndexByte(key, ':')+1:]
			if l := logs.String(); strings.Contains(l, hash) {
				t.Errorf("%s: the log names the key:\n%s", op.name, l)
			}
		}
		if l := logs.String(); !strings.Contains(l, "decode failed") {
			t.Errorf("no decode failure logged:\n%s", l)
		}
	})
}

// TestCachedValueOfAnotherReadIsAMiss shares one custom key between reads of
// different kinds and shapes: each must get its own answer, never the other
// read's value (before, a count under a findMany's key panicked on the
// memory driver and failed on a serializing one).
func TestCachedValueOfAnotherReadIsAMiss(t *testing.T) {
	forEachCacheDriver(t, func(t *testing.T, kind string) {
		ctx := context.Background()
		env := newCacheEnv(t, "sqlite", kind, viborm.Config{})
		seed(t, env.db)
		shared := env.db.WithCache(viborm.CacheOptions{TTL: time.Hour, Key: "shared-" + suffix()})
		for i := range 2 {
			n, err := Users.Count(ctx, shared, viborm.Count{})
			if err != nil || n != 5 {
				t.Fatalf("round %d: count %d, %v", i, n, err)
			}
			us, err := Users.FindMany(ctx, shared, viborm.FindMany{Select: []string{"email"}})
			if err != nil || len(us) != 5 || us[0].Email == "" {
				t.Fatalf("round %d: findMany %v, %v", i, us, err)
			}
			us, err = Users.FindMany(ctx, shared, viborm.FindMany{Select: []string{"age"}})
			if err != nil || len(us) != 5 || us[0].Email != "" || us[0].Age == 0 {
				t.Fatalf("round %d: findMany of another selection %v, %v", i, us, err)
			}
			a, err := Users.Aggregate(ctx, shared, viborm.Aggregate{Count: []string{"_all"}})
			if err != nil || a.Count["_all"] != 5 {
				t.Fatalf("round %d: aggregate %v, %v", i, a, err)
			}
			a, err = Users.Aggregate(ctx, shared, viborm.Aggregate{Max: []string{"age"}})
			if err != nil || a.Max["age"] != int64(41) || a.Count != nil {
				t.Fatalf("round %d: aggregate of another shape %v, %v", i, a, err)
			}
			ok, err := Users.Exist(ctx, shared, viborm.Where{"email": "ada@example.com"})
			if err != nil || !ok {
				t.Fatalf("round %d: exist %v, %v", i, ok, err)
			}
		}
	})
}

// nestedWhere returns a where nested depth levels deep through AND.
func nestedWhere(depth int) viborm.Where {
	w := viborm.Where{"email": "a@b"}
	for range depth - 1 {
		w = viborm.Where{"AND": w}
	}
	return w
}

// TestDeepWhereRejectedCheaply guards the nesting limit: a where as deep as
// MaxWhereDepth is accepted; one level more, or 10,000 levels, is an
// ErrValidation naming the path, at a cost independent of the depth (before,
// 10,000 levels were accepted after building 750 MB of path strings).
func TestDeepWhereRejectedCheaply(t *testing.T) {
	env := newCacheEnv(t, "sqlite", "memory", viborm.Config{})
	cached := env.db.WithCache(viborm.CacheOptions{})
	if _, err := Users.CacheKey(cached, viborm.OpFindMany, viborm.FindMany{Where: nestedWhere(viborm.MaxWhereDepth)}); err != nil {
		t.Fatalf("depth %d: %v", viborm.MaxWhereDepth, err)
	}
	if _, err := Users.FindMany(context.Background(), env.db, viborm.FindMany{Where: nestedWhere(viborm.MaxWhereDepth)}); err != nil {
		t.Fatalf("read at depth %d: %v", viborm.MaxWhereDepth, err)
	}
	notDeep := viborm.Not("x")
	for range 10_000 {
		notDeep = viborm.Not(notDeep)
	}
	for name, w := range map[string]viborm.Where{
		"max+1":      nestedWhere(viborm.MaxWhereDepth + 1),
		"10000":      nestedWhere(10_000),
		"not 10000":  {"email": notDeep},
		"or 10000":   {"OR": []viborm.Where{nestedWhere(10_000)}},
		"not where":  {"NOT": nestedWhere(10_000)},
		"mixed wide": {"AND": []viborm.Where{{"age": 1}, nestedWhere(10_000)}},
	} {
		var err error
		allocs := testing.AllocsPerRun(1, func() {
			_, err = Users.CacheKey(cached, viborm.OpFindMany, viborm.FindMany{Where: w})
		})
		var e *viborm.Error
		if !errors.Is(err, viborm.ErrValidation) || !errors.As(err, &e) || !strings.HasPrefix(e.Field, "where.") || !strings.Contains(err.Error(), "MaxWhereDepth") {
			t.Errorf("%s: %v, want an ErrValidation naming the path", name, err)
			continue
		}
		if allocs > 50*viborm.MaxWhereDepth {
			t.Errorf("%s: rejecting took %.0f allocations; the cost must not grow with the depth", name, allocs)
		}
	}
	// The rejection names the path where the limit was hit.
	_, err := Users.CacheKey(cached, viborm.OpFindMany, viborm.FindMany{Where: nestedWhere(viborm.MaxWhereDepth + 1)})
	var e *viborm.Error
	if !errors.As(err, &e) || e.Field != "where"+strings.Repeat(".AND[0]", viborm.MaxWhereDepth) {
		t.Errorf("path of the rejection: %v", err)
	}
	// Paths of other errors keep their form.
	_, err = Users.CacheKey(cached, viborm.OpFindMany, viborm.FindMany{Where: viborm.Where{"OR": []viborm.Where{{"age": 1}, {"NOT": viborm.Where{"nope": 1}}}}})
	if !errors.As(err, &e) || e.Field != "where.OR[1].NOT[0].nope" {
		t.Errorf("error path: %v", err)
	}
	_, err = Users.CacheKey(cached, viborm.OpFindMany, viborm.FindMany{Where: viborm.Where{"AND": viborm.Where{"age": viborm.Contains("x")}}})
	if !errors.As(err, &e) || e.Field != "where.AND[0].age" {
		t.Errorf("error path: %v", err)
	}
}

// BenchmarkDeepWhereKey measures the cache key of a findMany whose where is
// nested 10, 64 (MaxWhereDepth), 100 and 10,000 levels deep (the last two
// are rejected).
func BenchmarkDeepWhereKey(b *testing.B) {
	env := newCacheEnv(b, "sqlite", "memory", viborm.Config{})
	cached := env.db.WithCache(viborm.CacheOptions{})
	for _, d := range []int{10, 64, 100, 10000} {
		b.Run(fmt.Sprintf("depth%d", d), func(b *testing.B) {
			args := viborm.FindMany{Where: nestedWhere(d)}
			b.ReportAllocs()
			for b.Loop() {
				Users.CacheKey(cached, viborm.OpFindMany, args)
			}
		})
	}
}

// Narrow binds s.Int fields to Go types that cannot hold every int32.
type Narrow struct {
	ID int64
	N  int8
}

// Wide binds integer fields to types that hold the field's range, or its
// non-negative range.
type Wide struct {
	ID  int64
	I32 int32
	U32 uint32
	U   uint
	U64 uint64
	Big int64
}

var Wides = viborm.Model[Wide]("wide",
	s.BigInt("id").ID().Autoincrement(),
	s.Int("i32").Default(0),
	s.Int("u32").Default(0),
	s.BigInt("u").Default(0),
	s.BigInt("u64").Default(0),
	s.BigInt("big").Default(0),
)

// TestNarrowIntegerBindingRefused guards against silent truncation at the
// binding: a Go integer type that cannot hold an s.Int (32-bit) or s.BigInt
// (64-bit) is refused by NewClient (before, 300 read into an int8 gave 44).
func TestNarrowIntegerBindingRefused(t *testing.T) {
	type I16 struct {
		ID int64
		N  int16
	}
	type U8 struct {
		ID int64
		N  uint8
	}
	type U16 struct {
		ID int64
		N  uint16
	}
	type I32 struct {
		ID int64
		N  int32
	}
	type U32 struct {
		ID int64
		N  uint32
	}
	refused := map[string]viborm.AnyModel{
		"int8 int":     viborm.Model[Narrow]("n", s.BigInt("id").ID(), s.Int("n")),
		"int16 int":    viborm.Model[I16]("n", s.BigInt("id").ID(), s.Int("n")),
		"uint8 int":    viborm.Model[U8]("n", s.BigInt("id").ID(), s.Int("n")),
		"uint16 int":   viborm.Model[U16]("n", s.BigInt("id").ID(), s.Int("n")),
		"int32 bigint": viborm.Model[I32]("n", s.BigInt("id").ID(), s.BigInt("n")),
		"uint32 big":   viborm.Model[U32]("n", s.BigInt("id").ID(), s.BigInt("n")),
		"int8 bigint":  viborm.Model[Narrow]("n", s.BigInt("id").ID(), s.BigInt("n")),
	}
	for name, m := range refused {
		_, err := viborm.NewClient(viborm.Config{Models: []viborm.AnyModel{m}, Driver: viborm.FromDB(nil_db(), "sqlite")})
		if !errors.Is(err, viborm.ErrSchema) || !strings.Contains(err.Error(), "cannot hold") {
			t.Errorf("%s: %v, want an ErrSchema", name, err)
		}
	}
	if _, err := viborm.NewClient(viborm.Config{Models: []viborm.AnyModel{Wides}, Driver: viborm.FromDB(nil_db(), "sqlite")}); err != nil {
		t.Fatalf("bindings that hold the range: %v", err)
	}
}

// TestOutOfRangeIntegerReadFails guards against silent truncation at the
// read: a value the bound Go type cannot hold (a negative for an unsigned
// field, more than 32 bits for an int32, which SQLite stores happily) fails
// the read with ErrOutOfRange, uncached and cached, never a wrong number
// (before, −1 read into a uint32 gave 4294967295).
func TestOutOfRangeIntegerReadFails(t *testing.T) {
	forEachCacheDriver(t, func(t *testing.T, kind string) {
		ctx := context.Background()
		env := newCacheEnv(t, "sqlite", kind, viborm.Config{Models: []viborm.AnyModel{Wides}})
		db := env.db
		w, err := Wides.Create(ctx, db, viborm.Create{Data: viborm.Data{"i32": -5, "u32": 7, "u": 8, "u64": 9, "big": -10}})
		if err != nil {
			t.Fatal(err)
		}
		cached := db.WithCache(viborm.CacheOptions{TTL: time.Hour})
		for _, r := range []viborm.Reader{db, cached, cached} {
			got, err := Wides.FindUnique(ctx, r, viborm.FindUnique{Where: viborm.Where{"id": w.ID}})
			if err != nil || *got != (Wide{ID: w.ID, I32: -5, U32: 7, U: 8, U64: 9, Big: -10}) {
				t.Fatalf("in range: %+v, %v", got, err)
			}
		}
		for _, c := range []struct{ col, val string }{{"u32", "-1"}, {"u", "-2"}, {"u64", "-3"}, {"i32", "5000000000"}, {"u32", "4294967296"}} {
			if _, err := db.ExecRaw(ctx, `UPDATE "wide" SET "`+c.col+`" = `+c.val); err != nil {
				t.Fatal(err)
			}
			if err := db.Invalidate(ctx, "wide:*"); err != nil {
				t.Fatal(err)
			}
			for _, r := range []viborm.Reader{db, cached} {
				got, err := Wides.FindMany(ctx, r, viborm.FindMany{})
				if !errors.Is(err, viborm.ErrOutOfRange) || !errors.Is(err, viborm.ErrDatabase) {
					t.Errorf("%s = %s: got %+v, %v; want ErrOutOfRange", c.col, c.val, got, err)
				}
			}
			if _, err := db.ExecRaw(ctx, `UPDATE "wide" SET "`+c.col+`" = 1`); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// Reordered models share a name (and so a cache) but order their fields
// differently, as two deployments of one schema might.
type Pair struct {
	ID int64
	A  string
	B  string
}

func pairModels() (*viborm.ModelDef[Pair], *viborm.ModelDef[Pair]) {
	return viborm.Model[Pair]("pair", s.BigInt("id").ID().Autoincrement(), s.String("a"), s.String("b")),
		viborm.Model[Pair]("pair", s.BigInt("id").ID().Autoincrement(), s.String("b"), s.String("a"))
}

// TestCacheKeysSurviveFieldReorder runs two clients whose schemas order the
// fields of one model differently against one cache: a selection or a
// grouping of one field must never be answered with the rows of the other
// (before, fields were keyed by position, so selecting b in one schema and a
// in the other shared a key and an entry).
func TestCacheKeysSurviveFieldReorder(t *testing.T) {
	forEachCacheDriver(t, func(t *testing.T, kind string) {
		ctx := context.Background()
		clk := newClock()
		kv, err := cache.New(newCacheDriver(t, kind, clk), &cache.Options{Version: "t" + suffix(), Now: clk.Now, WaitUntil: cache.Inline})
		if err != nil {
			t.Fatal(err)
		}
		ab, ba := pairModels()
		db1 := newClient(t, "sqlite", viborm.Config{Models: []viborm.AnyModel{ab}, Cache: kv})
		// The second deployment shares the first one's cache.
		db2 := newClient(t, "sqlite", viborm.Config{Models: []viborm.AnyModel{ba}, Cache: kv})
		for _, w := range []struct {
			db *viborm.Client
			m  *viborm.ModelDef[Pair]
		}{{db1, ab}, {db2, ba}} {
			if _, err := w.m.Create(ctx, w.db, viborm.Create{Data: viborm.Data{"a": "a-value", "b": "b-value"}}); err != nil {
				t.Fatal(err)
			}
		}
		c1, c2 := db1.WithCache(viborm.CacheOptions{TTL: time.Hour}), db2.WithCache(viborm.CacheOptions{TTL: time.Hour})
		// Schema 1 selects b (its third field); schema 2 selects a (its third).
		k1, _ := ab.CacheKey(c1, viborm.OpFindMany, viborm.FindMany{Select: []string{"b"}})
		k2, _ := ba.CacheKey(c2, viborm.OpFindMany, viborm.FindMany{Select: []string{"a"}})
		if k1 == k2 {
			t.Errorf("selecting b in one schema and a in the other share the key %s", k1)
		}
		r1, err := ab.FindMany(ctx, c1, viborm.FindMany{Select: []string{"b"}})
		if err != nil || len(r1) != 1 || r1[0] != (Pair{B: "b-value"}) {
			t.Fatalf("schema 1: %+v, %v", r1, err)
		}
		r2, err := ba.FindMany(ctx, c2, viborm.FindMany{Select: []string{"a"}})
		if err != nil || len(r2) != 1 || r2[0] != (Pair{A: "a-value"}) {
			t.Errorf("schema 2 selecting a: %+v, %v", r2, err)
		}
		g1, err := ab.GroupBy(ctx, c1, viborm.GroupBy{By: []string{"b"}, Count: []string{"_all"}})
		if err != nil || len(g1) != 1 || g1[0].By["b"] != "b-value" {
			t.Fatalf("schema 1 groupBy: %+v, %v", g1, err)
		}
		g2, err := ba.GroupBy(ctx, c2, viborm.GroupBy{By: []string{"a"}, Count: []string{"_all"}})
		if err != nil || len(g2) != 1 || g2[0].By["a"] != "a-value" {
			t.Errorf("schema 2 groupBy a: %+v, %v", g2, err)
		}
		a1, err := ab.Aggregate(ctx, c1, viborm.Aggregate{Max: []string{"b"}})
		if err != nil || a1.Max["b"] != "b-value" {
			t.Fatalf("schema 1 aggregate: %+v, %v", a1, err)
		}
		a2, err := ba.Aggregate(ctx, c2, viborm.Aggregate{Max: []string{"a"}})
		if err != nil || a2.Max["a"] != "a-value" {
			t.Errorf("schema 2 aggregate max a: %+v, %v", a2, err)
		}
	})
}
