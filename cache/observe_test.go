package cache_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/viborm/viborm-go/cache"
)

// stepLog records the steps reported to OnStep.
type stepLog struct {
	mu    sync.Mutex
	steps []cache.Step
	ctxOK bool
}

type ctxKey struct{}

func (l *stepLog) onStep(ctx context.Context, s cache.Step) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ctx.Value(ctxKey{}) != "read" {
		l.ctxOK = false
	}
	l.steps = append(l.steps, s)
}

// take returns the steps recorded since the last call, as "kind/outcome"
// (with "+queued" and "!err").
func (l *stepLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, s := range l.steps {
		x := s.Kind.String()
		if s.Outcome != 0 {
			x += "/" + s.Outcome.String()
		}
		if s.Queued {
			x += "+queued"
		}
		if s.Err != nil {
			x += "!err"
		}
		out = append(out, x)
	}
	l.steps = nil
	return out
}

func newStepCache(t *testing.T, l *stepLog, events *[]cache.Event) (*cache.Cache, *mapDriver, *clock) {
	t.Helper()
	clk := newClock()
	d := newMapDriver(clk.Now)
	c, err := cache.New(d, &cache.Options{Now: clk.Now, WaitUntil: cache.Inline, Logger: quietLogger(), OnStep: l.onStep,
		Observer: func(e cache.Event) { *events = append(*events, e) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, d, clk
}

// TestOnStepReportsEachStep follows a key through a miss, a hit, a stale hit
// and its refresh, a bypass, a failed load and an invalidation, and checks
// the steps reported with their outcome, labels and context, while the old
// Observer still sees each read.
func TestOnStepReportsEachStep(t *testing.T) {
	l := &stepLog{ctxOK: true}
	var events []cache.Event
	c, _, clk := newStepCache(t, l, &events)
	ctx := context.WithValue(context.Background(), ctxKey{}, "read")
	key, err := c.Key("user", "findMany", map[string]any{"email": "secret@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	p := cache.Policy{TTL: time.Minute, SWR: true}
	load := func(context.Context) (string, error) { return "v", nil }
	mustLoad := func(t *testing.T, c *cache.Cache, key string, p cache.Policy, load func(context.Context) (string, error)) {
		t.Helper()
		if _, err := cache.Load(ctx, c, key, p, load); err != nil {
			t.Fatal(err)
		}
	}
	check := func(want ...string) {
		t.Helper()
		if got := l.take(); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("steps %v, want %v", got, want)
		}
	}

	mustLoad(t, c, key, p, load)
	check("lookup/miss", "fill+queued", "fill", "read/miss")
	mustLoad(t, c, key, p, load)
	check("lookup/hit", "read/hit")
	clk.Advance(90 * time.Second)
	mustLoad(t, c, key, p, load)
	check("lookup/stale", "refresh+queued", "fill", "refresh", "read/stale")
	mustLoad(t, c, key, cache.Policy{Bypass: true}, load)
	check("fill+queued", "fill", "read/bypass")
	boom := errors.New("boom")
	if _, err := cache.Load(ctx, c, key+"x", p, func(context.Context) (string, error) { return "", boom }); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	check("lookup/miss", "read/error!err")
	if err := c.InvalidateModel(ctx, "user"); err != nil {
		t.Fatal(err)
	}
	check("invalidate")

	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.ctxOK {
		t.Error("a step was reported without the read's context")
	}
	if len(events) != 5 {
		t.Errorf("Observer saw %d reads, want 5", len(events))
	}
}

// TestStepLabels checks that a step carries the model and operation of a
// generated key, and no label taken from a custom key, which can hold user
// data.
func TestStepLabels(t *testing.T) {
	l := &stepLog{ctxOK: true}
	var events []cache.Event
	c, _, _ := newStepCache(t, l, &events)
	gen, _ := c.Key("user", "findMany", 42)
	compat, _ := cache.Key("post", "count", 42, &cache.KeyOptions{Compat: true})
	for _, tc := range []struct{ key, model, op string }{
		{gen, "user", "findMany"},
		{compat, "post", "count"},
		{"alice@example.com:findMany:deadbeef", "", ""},
		{"tenant:secret", "", ""},
		{"user:findMany:0123456789ABCDEF0123456789abcdef", "", ""},
	} {
		mustLoad(t, c, tc.key, cache.Policy{}, func(context.Context) (int, error) { return 1, nil })
		l.mu.Lock()
		for _, s := range l.steps {
			if s.Model != tc.model || s.Operation != tc.op {
				t.Errorf("key %q: %s step labelled %q/%q, want %q/%q", tc.key, s.Kind, s.Model, s.Operation, tc.model, tc.op)
			}
			if s.Driver == "" {
				t.Errorf("key %q: %s step without a driver", tc.key, s.Kind)
			}
		}
		l.steps = nil
		l.mu.Unlock()
	}
}
