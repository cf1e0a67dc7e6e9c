package viborm_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	viborm "github.com/viborm/viborm-go"
	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/memorycache"
)

// recHook records what the hooks see.
type recHook struct {
	mu     sync.Mutex
	events []string
}

type hookCtxKey struct{}

func (h *recHook) add(s string) {
	h.mu.Lock()
	h.events = append(h.events, s)
	h.mu.Unlock()
}

func (h *recHook) BeforeOperation(ctx context.Context, e *viborm.OperationEvent) context.Context {
	h.add(fmt.Sprintf("op %s %s.%s cached=%v", e.System, e.Model, e.Operation, e.Cached))
	return context.WithValue(ctx, hookCtxKey{}, e.Operation)
}

func (h *recHook) AfterOperation(ctx context.Context, e *viborm.OperationEvent) {
	if ctx.Value(hookCtxKey{}) != e.Operation {
		h.add("after without before's context")
	}
	s := fmt.Sprintf("end %s rows=%d", e.Operation, e.Rows)
	if e.Err != nil {
		s += " err"
	}
	if e.Duration <= 0 && e.Start.IsZero() {
		s += " no-time"
	}
	h.add(s)
}

func (h *recHook) BeforeQuery(ctx context.Context, e *viborm.QueryEvent) context.Context {
	verb, _, _ := strings.Cut(strings.TrimSpace(e.Query), " ")
	h.add(fmt.Sprintf("sql %s %s.%s in=%v", verb, e.Model, e.Operation, ctx.Value(hookCtxKey{})))
	return ctx
}

func (h *recHook) AfterQuery(ctx context.Context, e *viborm.QueryEvent) {
	s := fmt.Sprintf("sql-end rows=%d", e.Rows)
	if e.Err != nil {
		s += " err"
	}
	h.add(s)
}

func (h *recHook) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.events
	h.events = nil
	return out
}

// TestHooksSeeOperationsAndStatements checks what a Hook is told: each
// operation with its model, operation, rows and error, each statement inside
// it with the operation's context, the statements of a transaction, raw SQL
// without a model, and no statement for a cached hit.
func TestHooksSeeOperationsAndStatements(t *testing.T) {
	h := &recHook{}
	mem, _ := memorycache.New(nil)
	kv, _ := cache.New(mem, &cache.Options{WaitUntil: cache.Inline})
	db := newClient(t, "sqlite", viborm.Config{Cache: kv, Hooks: []viborm.Hook{nil, h}})
	ctx := context.Background()
	h.take()
	check := func(want ...string) {
		t.Helper()
		if got := h.take(); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("hook saw:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}

	if _, err := Users.Create(ctx, db, viborm.Create{Data: viborm.Data{"email": "a@x"}}); err != nil {
		t.Fatal(err)
	}
	check("op sqlite user.create cached=false", "sql INSERT user.create in=create", "sql-end rows=-1", "end create rows=1")

	cached := db.WithCache(viborm.CacheOptions{TTL: time.Hour})
	for range 2 {
		if _, err := Users.FindMany(ctx, cached, viborm.FindMany{}); err != nil {
			t.Fatal(err)
		}
	}
	check("op sqlite user.findMany cached=true", "sql SELECT user.findMany in=findMany", "sql-end rows=-1", "end findMany rows=1",
		"op sqlite user.findMany cached=true", "end findMany rows=1")

	if n, err := Users.UpdateMany(ctx, db, viborm.UpdateMany{Data: viborm.Data{"age": 3}}); err != nil || n != 1 {
		t.Fatal(n, err)
	}
	check("op sqlite user.updateMany cached=false", "sql UPDATE user.updateMany in=updateMany", "sql-end rows=1", "end updateMany rows=1")

	if _, err := Users.Count(ctx, db, viborm.Count{}); err != nil {
		t.Fatal(err)
	}
	check("op sqlite user.count cached=false", "sql SELECT user.count in=count", "sql-end rows=-1", "end count rows=-1")

	if _, err := Users.FindUniqueOrErr(ctx, db, viborm.FindUnique{Where: viborm.Where{"id": 99}}); !errors.Is(err, viborm.ErrNotFound) {
		t.Fatal(err)
	}
	check("op sqlite user.findUniqueOrThrow cached=false", "sql SELECT user.findUniqueOrThrow in=findUniqueOrThrow", "sql-end rows=-1", "end findUniqueOrThrow rows=-1 err")

	err := db.Tx(ctx, func(tx *viborm.Tx) error {
		_, err := Users.DeleteMany(ctx, tx, viborm.DeleteMany{})
		return err
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	check("op sqlite user.deleteMany cached=false", "sql DELETE user.deleteMany in=deleteMany", "sql-end rows=1", "end deleteMany rows=1")

	if _, err := db.QueryRaw(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecRaw(ctx, "DELETE FROM nope"); err == nil {
		t.Fatal("want an error")
	}
	check("sql SELECT . in=<nil>", "sql-end rows=-1", "sql DELETE . in=<nil>", "sql-end rows=-1 err")
}
