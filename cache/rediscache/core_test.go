package rediscache_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/viborm/viborm-go/cache"
)

type row struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

func newCache(t testing.TB, d cache.Driver, timeout time.Duration) *cache.Cache {
	t.Helper()
	c, err := cache.New(d, &cache.Options{
		Timeout:   timeout,
		WaitUntil: cache.Inline, // writes finish before Load returns
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestCorruptEntryIsAMissThroughLoad guards the read path against bytes that
// are not an entry: the loader answers and the next fill replaces them.
func TestCorruptEntryIsAMissThroughLoad(t *testing.T) {
	for _, garbage := range []string{"\xff\x00not json", `{"value":1}`, `{"value":"a string, not rows","createdAt":1,"ttl":60000}`} {
		client := singleClient(t)
		ctx := context.Background()
		c := newCache(t, newDriver(t, client, nil), time.Second)
		key := c.FullKey("user:findMany:corrupt")
		if err := client.Set(ctx, key, garbage, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		var loads atomic.Int32
		load := func(context.Context) ([]row, error) {
			loads.Add(1)
			return []row{{1, "Ada"}}, nil
		}
		for i := range 3 {
			got, err := cache.Load(ctx, c, "user:findMany:corrupt", cache.Policy{TTL: time.Minute}, load)
			if err != nil || len(got) != 1 || got[0].Name != "Ada" {
				t.Fatalf("Load #%d over %q = %v, %v", i, garbage, got, err)
			}
		}
		if n := loads.Load(); n != 1 {
			t.Errorf("over %q: loader ran %d times, want 1 (a miss, then hits)", garbage, n)
		}
		raw, err := client.Get(ctx, key).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cache.UnmarshalEntry(raw); err != nil {
			t.Errorf("the fill did not replace %q: %q: %v", garbage, raw, err)
		}
	}
}

// TestReadsSurviveServerDeath kills, freezes and restarts the Redis server
// under a cache: every read answers from the loader within about the cache's
// timeout, and caching resumes once the server is back.
//
// It runs with a client that applies context deadlines to its I/O (the
// cache then calls the driver directly) and with one that does not (the
// cache then enforces its timeout from a goroutine of its own).
func TestReadsSurviveServerDeath(t *testing.T) {
	for _, ctxTimeout := range []bool{true, false} {
		t.Run(map[bool]string{true: "ContextTimeoutEnabled", false: "ContextTimeoutDisabled"}[ctxTimeout], func(t *testing.T) {
			readsSurviveServerDeath(t, ctxTimeout)
		})
	}
}

func readsSurviveServerDeath(t *testing.T, ctxTimeout bool) {
	srv := startPrivateServer(t)
	client := redis.NewClient(&redis.Options{
		Addr:                  srv.addr,
		DialTimeout:           50 * time.Millisecond,
		ReadTimeout:           50 * time.Millisecond,
		WriteTimeout:          50 * time.Millisecond,
		PoolTimeout:           50 * time.Millisecond,
		MaxRetries:            -1,
		ContextTimeoutEnabled: ctxTimeout,
	})
	t.Cleanup(func() { client.Close() })
	const timeout = 100 * time.Millisecond
	const slack = 150 * time.Millisecond
	c := newCache(t, newDriver(t, client, nil), timeout)
	ctx := context.Background()

	var loads atomic.Int64
	load := func(context.Context) ([]row, error) {
		loads.Add(1)
		return []row{{7, "Grace"}}, nil
	}
	// read does one cached read and returns how many times it ran the loader.
	read := func(what string) int64 {
		t.Helper()
		before := loads.Load()
		start := time.Now()
		got, err := cache.Load(ctx, c, "user:findMany:k", cache.Policy{TTL: time.Minute}, load)
		if took := time.Since(start); took > timeout+slack {
			t.Errorf("%s: a read took %v, want at most %v", what, took, timeout+slack)
		}
		if err != nil || len(got) != 1 || got[0].ID != 7 {
			t.Fatalf("%s: Load = %v, %v", what, got, err)
		}
		return loads.Load() - before
	}

	if n := read("cold"); n != 1 {
		t.Fatalf("cold read ran the loader %d times", n)
	}
	if n := read("warm"); n != 0 {
		t.Fatalf("warm read ran the loader %d times, want a hit", n)
	}

	srv.kill()
	for range 20 {
		if n := read("server dead"); n != 1 {
			t.Fatalf("with the server dead, a read ran the loader %d times, want 1", n)
		}
	}

	srv.start() // the same port, empty
	resumed := false
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		read("server back")
		if read("server back, warmed") == 0 {
			resumed = true
			break
		}
	}
	if !resumed {
		t.Fatal("caching did not resume after the server came back")
	}

	// A frozen server accepts connections but never answers.
	if err := srv.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		read("server frozen")
	}
	if err := srv.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
}
