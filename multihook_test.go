package viborm_test

import (
	"context"
	"sync"
	"testing"

	viborm "github.com/viborm/viborm-go"
)

// ctxHook remembers, per event, the context its Before returned, and
// counts the Afters that were handed another context.
type ctxHook struct {
	name string
	mu   sync.Mutex
	mine map[any]context.Context
	n    int
	bad  int
}

type ctxMark struct{ name string }

func (h *ctxHook) before(ctx context.Context, e any) context.Context {
	ctx = context.WithValue(ctx, ctxMark{h.name}, e)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.mine == nil {
		h.mine = map[any]context.Context{}
	}
	h.mine[e] = ctx
	return ctx
}

func (h *ctxHook) after(ctx context.Context, e any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n++
	if h.mine[e] != ctx {
		h.bad++
	}
}

func (h *ctxHook) BeforeOperation(ctx context.Context, e *viborm.OperationEvent) context.Context {
	return h.before(ctx, e)
}
func (h *ctxHook) AfterOperation(ctx context.Context, e *viborm.OperationEvent) { h.after(ctx, e) }
func (h *ctxHook) BeforeQuery(ctx context.Context, e *viborm.QueryEvent) context.Context {
	return h.before(ctx, e)
}
func (h *ctxHook) AfterQuery(ctx context.Context, e *viborm.QueryEvent) { h.after(ctx, e) }

// TestEachHookGetsItsOwnContextInAfter guards the hook contract "After runs
// with the context that Before returned" when several hooks are set: a
// tracer ends the span it started only if it gets its own context back, not
// the one a later hook returned.
func TestEachHookGetsItsOwnContextInAfter(t *testing.T) {
	first, second := &ctxHook{name: "first"}, &ctxHook{name: "second"}
	db := newClient(t, "sqlite", viborm.Config{Hooks: []viborm.Hook{first, second}})
	ctx := context.Background()
	if _, err := Users.Create(ctx, db, viborm.Create{Data: viborm.Data{"email": "a@x"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := Users.FindMany(ctx, db, viborm.FindMany{}); err != nil {
		t.Fatal(err)
	}
	for _, h := range []*ctxHook{first, second} {
		if h.n == 0 || h.bad > 0 {
			t.Errorf("hook %s: %d of %d Afters got another hook's context", h.name, h.bad, h.n)
		}
	}
}
