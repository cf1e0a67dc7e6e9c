package engine_test

import (
	"context"
	"database/sql"
	"errors"
	"reflect"
	"slices"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/memorycache"
	"github.com/viborm/viborm-go/internal/dialect"
	"github.com/viborm/viborm-go/internal/engine"
	"github.com/viborm/viborm-go/internal/exec"
	"github.com/viborm/viborm-go/internal/query"
	"github.com/viborm/viborm-go/internal/rowcodec"
	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/internal/verr"
	"github.com/viborm/viborm-go/s"
)

type user struct {
	ID    int64
	Email string
}

func userModel() *schema.Model {
	md := schema.Build("user", []s.Option{s.BigInt("id").ID().Autoincrement(), s.String("email").Unique()}, reflect.TypeFor[user]())
	exec.RegisterRows[user](md)
	return md
}

var users = exec.RowsRead[user]()

// all reads every row.
func all(md *schema.Model, _ query.Rels) (*query.Query, error) {
	return &query.Query{Sel: md.Fields}, nil
}

// newEngine returns an engine of the user model on an in-memory SQLite
// database, with a memory cache when withCache is set, its table created.
func newEngine(t *testing.T, cfg engine.Config, withCache bool) (*engine.Engine, *schema.Model) {
	t.Helper()
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1) // one connection: one in-memory database
	t.Cleanup(func() { db.Close() })
	md := userModel()
	cfg.DB, cfg.Dialect, cfg.Models = db, dialect.ByName("sqlite"), []*schema.Model{md}
	if withCache {
		mem, err := memorycache.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Cache, err = cache.New(mem, nil); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cfg.Cache.Close() })
	}
	e, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	if _, err := e.Push(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	return e, md
}

func code(err error) verr.Code {
	var ve *verr.Error
	if errors.As(err, &ve) {
		return ve.Code
	}
	return ""
}

// TestStartRefusesForeignModelsAndAClosedEngine checks Start: a model of
// another engine is a schema error, and once closed every operation fails
// with CodeClosed; Close reports whether it closed.
func TestStartRefusesForeignModelsAndAClosedEngine(t *testing.T) {
	ctx := context.Background()
	e, md := newEngine(t, engine.Config{}, false)
	if _, err := engine.Read(ctx, e.Pool(), md, "findMany", all, &users); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Read(ctx, e.Pool(), userModel(), "findMany", all, &users); code(err) != verr.CodeSchema {
		t.Errorf("a model of another engine: %v, want %s", err, verr.CodeSchema)
	}
	if !e.Close() || e.Close() {
		t.Error("Close must report true once, then false")
	}
	if _, err := engine.Read(ctx, e.Pool(), md, "findMany", all, &users); code(err) != verr.CodeClosed {
		t.Errorf("read after Close: %v, want %s", err, verr.CodeClosed)
	}
	if _, err := engine.Create[user](ctx, e.Pool(), md, engine.Inval{}, map[string]any{"email": "a@x"}, nil, nil); code(err) != verr.CodeClosed {
		t.Errorf("write after Close: %v, want %s", err, verr.CodeClosed)
	}
	if _, err := e.Begin(ctx, nil); code(err) != verr.CodeClosed {
		t.Errorf("Begin after Close: %v, want %s", err, verr.CodeClosed)
	}
}

// TestTxInvalidatesAtCommitOnly checks that the invalidations of writes in a
// transaction wait for COMMIT, and are dropped on rollback.
func TestTxInvalidatesAtCommitOnly(t *testing.T) {
	ctx := context.Background()
	e, md := newEngine(t, engine.Config{AutoInvalidate: true}, true)
	cached := e.Cached(&cache.Policy{}, false, nil)
	key := func() string {
		k, err := cached.CacheKey(md, "findMany", &query.Query{Sel: md.Fields})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}()
	stored := func() bool {
		_, ok, err := e.Cache().Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	fill := func() {
		if err := e.Cache().Set(ctx, key, "rows", cache.Policy{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, commit := range []bool{false, true} {
		fill()
		tx, err := e.Begin(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := engine.Create[user](ctx, tx.Conn(), md, engine.Inval{}, map[string]any{"email": "a@x"}, nil, nil); err != nil {
			t.Fatal(err)
		}
		if !stored() {
			t.Fatal("a write inside a transaction invalidated before COMMIT")
		}
		if commit {
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
		} else {
			tx.Rollback()
		}
		if stored() == commit {
			t.Errorf("commit=%v: entry stored after the transaction: %v", commit, !commit)
		}
	}
}

// TestHooksSeeThePublicError checks that a hook's AfterOperation gets the
// error the caller gets, after Config.Public, and that Join runs hooks in
// order and their Afters in reverse, each with its own Before's context.
func TestHooksSeeThePublicError(t *testing.T) {
	type public struct{ error }
	var log []string
	type ctxKey string
	mk := func(name string) engine.Hook {
		return hookFuncs{
			before: func(ctx context.Context, _ *engine.OperationEvent) context.Context {
				log = append(log, "before "+name)
				return context.WithValue(ctx, ctxKey(name), true)
			},
			after: func(ctx context.Context, e *engine.OperationEvent) {
				_, mine := ctx.Value(ctxKey(name)).(bool)
				_, isPublic := e.Err.(public)
				log = append(log, "after "+name+" "+map[bool]string{true: "own-ctx", false: "other-ctx"}[mine]+" "+map[bool]string{true: "public", false: "raw"}[isPublic])
			},
		}
	}
	if engine.Join() != nil || engine.Join(nil, nil) != nil {
		t.Error("Join of no hook must be nil")
	}
	one := &hookFuncs{}
	if got := engine.Join(nil, one); got != engine.Hook(one) {
		t.Error("Join of one hook must be that hook")
	}
	ctx := context.Background()
	e, md := newEngine(t, engine.Config{Hook: engine.Join(mk("a"), nil, mk("b")), Public: func(err error) error { return public{err} }}, false)
	bad := func(*schema.Model, query.Rels) (*query.Query, error) { return nil, verr.Validationf("where", "bad") }
	_, err := engine.Read(ctx, e.Pool(), md, "findMany", bad, &users)
	if _, ok := err.(public); !ok {
		t.Fatalf("Read returned %T, want the Public form", err)
	}
	want := []string{"before a", "before b", "after b own-ctx public", "after a own-ctx public"}
	if !slices.Equal(log, want) {
		t.Errorf("hooks ran %q, want %q", log, want)
	}
}

type hookFuncs struct {
	before func(context.Context, *engine.OperationEvent) context.Context
	after  func(context.Context, *engine.OperationEvent)
}

func (h hookFuncs) BeforeOperation(ctx context.Context, e *engine.OperationEvent) context.Context {
	return h.before(ctx, e)
}
func (h hookFuncs) AfterOperation(ctx context.Context, e *engine.OperationEvent) { h.after(ctx, e) }
func (hookFuncs) BeforeQuery(ctx context.Context, _ *engine.QueryEvent) context.Context {
	return ctx
}
func (hookFuncs) AfterQuery(context.Context, *engine.QueryEvent) {}

// TestDBErrorMapping checks DBError: an out-of-range value wraps
// ErrOutOfRange, context errors pass through, mapped errors are kept, and
// the classifier names the code.
func TestDBErrorMapping(t *testing.T) {
	boom := errors.New("boom")
	e, md := newEngine(t, engine.Config{Classify: func(err error) verr.Code {
		if errors.Is(err, boom) {
			return verr.CodeUniqueViolation
		}
		return ""
	}}, false)
	err := e.DBError(&rowcodec.RangeError{Column: "age", Value: int64(1 << 40), Type: reflect.TypeFor[int32]()}, md, "findMany")
	if !errors.Is(err, verr.ErrOutOfRange) || code(err) != verr.CodeDatabase {
		t.Errorf("range error: %v", err)
	}
	if err := e.DBError(context.Canceled, md, "findMany"); err != context.Canceled {
		t.Errorf("context error: %v", err)
	}
	mapped := verr.Validationf("where", "bad")
	if err := e.DBError(mapped, md, "findMany"); err != mapped {
		t.Errorf("mapped error replaced: %v", err)
	}
	if err := e.DBError(boom, md, "create"); code(err) != verr.CodeUniqueViolation || !errors.Is(err, boom) {
		t.Errorf("classified error: %v", err)
	}
	if err := e.DBError(errors.New("other"), nil, "queryRaw"); code(err) != verr.CodeDatabase {
		t.Errorf("unclassified error: %v", err)
	}
}
