package upstashcache_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/upstashcache"
)

// depsEnv is a driver in front of the shared Redis with an index prefix and
// a key namespace of this test's own, both deleted at the end. before, when
// set, sees each request body before the gateway runs it.
type depsEnv struct {
	d      *upstashcache.Driver
	url    string
	rdb    *redis.Client
	ns     string // the entries' prefix, "viborm:<run>:"
	index  string // the index prefix
	mu     sync.Mutex
	before func(body string)
}

func newDepsEnv(t *testing.T, scanCount int) *depsEnv {
	t.Helper()
	_, rdb := newGateway(t)
	run := runKey("deps")
	e := &depsEnv{rdb: rdb, ns: "viborm:" + run + ":", index: "viborm-test-index:" + run + ":"}
	gw := gateway(rdb)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		e.mu.Lock()
		hook := e.before
		e.mu.Unlock()
		if hook != nil {
			hook(string(b))
		}
		gw.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	d, err := upstashcache.New(srv.URL, testToken, &upstashcache.Options{HTTPClient: &http.Client{}, ScanCount: scanCount, IndexPrefix: e.index})
	if err != nil {
		t.Fatal(err)
	}
	e.d = d
	t.Cleanup(func() {
		ctx := context.Background()
		for _, p := range []string{e.ns, e.index} {
			keys, _ := rdb.Keys(ctx, upstashcache.MatchPrefix(p)).Result()
			if len(keys) > 0 {
				rdb.Del(ctx, keys...)
			}
		}
	})
	return e
}

func (e *depsEnv) fill(t *testing.T, key string, ttl time.Duration, tags ...string) {
	t.Helper()
	ctx := context.Background()
	if err := e.d.IndexDeps(ctx, key, tags, ttl); err != nil {
		t.Fatal(err)
	}
	if err := e.d.Set(ctx, key, ttl, cache.NewEntry(key, time.Now(), ttl)); err != nil {
		t.Fatal(err)
	}
}

func (e *depsEnv) has(t *testing.T, key string) bool {
	t.Helper()
	_, ok, err := e.d.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// bookkeeping returns the index keys left in Redis.
func (e *depsEnv) bookkeeping(t *testing.T) []string {
	t.Helper()
	keys, err := e.rdb.Keys(context.Background(), upstashcache.MatchPrefix(e.index)).Result()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestClearDepsDrainsInBatchesAndLeavesNothing(t *testing.T) {
	e := newDepsEnv(t, 3)
	post, other := e.ns+"post", e.ns+"comment"
	var requests atomic.Int64
	e.before = func(string) { requests.Add(1) }
	for i := range 10 {
		e.fill(t, fmt.Sprint(e.ns, "user:findMany:", i), time.Minute, post)
	}
	e.fill(t, e.ns+"user:findMany:other", time.Minute, other)
	requests.Store(0)
	if err := e.d.ClearDeps(context.Background(), []string{post}); err != nil {
		t.Fatal(err)
	}
	// RENAME, then a trim with the first batch, 4 batches of 3 with the
	// next read, and the DEL of the drained set.
	if got, want := requests.Load(), int64(1+1+4+1); got != want {
		t.Errorf("ClearDeps of 10 keys in batches of 3 took %d requests, want %d", got, want)
	}
	for i := range 10 {
		if e.has(t, fmt.Sprint(e.ns, "user:findMany:", i)) {
			t.Errorf("key %d survived ClearDeps", i)
		}
	}
	if !e.has(t, e.ns+"user:findMany:other") {
		t.Error("a key under another tag was removed")
	}
	if left := e.bookkeeping(t); len(left) != 1 || !strings.HasSuffix(left[0], "d:"+other) {
		t.Errorf("bookkeeping keys left: %q, want only the set of %s", left, other)
	}
}

func TestDepSetsExpireWithTheirLongestRecord(t *testing.T) {
	e := newDepsEnv(t, 0)
	ctx := context.Background()
	tag := e.ns + "post"
	set := e.index + "d:" + tag
	e.fill(t, e.ns+"user:findMany:long", time.Hour, tag)
	e.fill(t, e.ns+"user:findMany:short", time.Minute, tag)
	pttl, err := e.rdb.PTTL(ctx, set).Result()
	if err != nil {
		t.Fatal(err)
	}
	if pttl < time.Hour || pttl > time.Hour+2*time.Second {
		t.Errorf("the set's lifetime is %v, want the longest record's hour plus the slack", pttl)
	}
	// A record whose score has passed is trimmed by the next write.
	if err := e.rdb.ZAdd(ctx, set, redis.Z{Score: float64(time.Now().Add(-time.Second).UnixMilli()), Member: "stale"}).Err(); err != nil {
		t.Fatal(err)
	}
	e.fill(t, e.ns+"user:findMany:x", time.Minute, tag)
	if n, _ := e.rdb.ZScore(ctx, set, "stale").Result(); n != 0 {
		t.Error("an expired record was not trimmed by the next IndexDeps")
	}
	// And ClearDeps does not delete the key of an expired record.
	stale := e.ns + "user:findMany:stale"
	if err := e.d.Set(ctx, stale, time.Minute, cache.NewEntry(1, time.Now(), time.Minute)); err != nil {
		t.Fatal(err)
	}
	e.rdb.ZAdd(ctx, set, redis.Z{Score: float64(time.Now().Add(-time.Second).UnixMilli()), Member: stale})
	if err := e.d.ClearDeps(ctx, []string{tag}); err != nil {
		t.Fatal(err)
	}
	if !e.has(t, stale) {
		t.Error("ClearDeps deleted the key of an expired record")
	}
	if e.has(t, e.ns+"user:findMany:long") {
		t.Error("ClearDeps kept a key of an unexpired record")
	}
}

// A key indexed again while a ClearDeps of its tag is draining, by a fill
// that started after the clear, keeps its new record: the clear drains a
// renamed copy of the set, so it never removes a record written after it
// began. Removing it would leave the fill's entry without a record, which
// no later invalidation could find.
func TestRecordWrittenDuringClearDepsSurvivesIt(t *testing.T) {
	e := newDepsEnv(t, 0)
	ctx := context.Background()
	tag := e.ns + "post"
	k := e.ns + "user:findMany:a"
	e.fill(t, k, time.Minute, tag)
	other, err := upstashcache.New(e.url, testToken, &upstashcache.Options{HTTPClient: &http.Client{}, IndexPrefix: e.index})
	if err != nil {
		t.Fatal(err)
	}
	refilled := false
	e.before = func(body string) {
		if refilled || !strings.Contains(body, `["DEL","`+k+`"]`) {
			return
		}
		// The clear has read k and is about to delete it: another process
		// indexes k again (its entry lands after the clear's DEL).
		refilled = true
		if err := other.IndexDeps(ctx, k, []string{tag}, time.Minute); err != nil {
			t.Error(err)
		}
	}
	if err := e.d.ClearDeps(ctx, []string{tag}); err != nil {
		t.Fatal(err)
	}
	if !refilled {
		t.Fatal("the clear never deleted k")
	}
	e.before = nil
	if err := e.d.Set(ctx, k, time.Minute, cache.NewEntry("fresh", time.Now(), time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := e.d.ClearDeps(ctx, []string{tag}); err != nil {
		t.Fatal(err)
	}
	if e.has(t, k) {
		t.Fatal("the entry of a fill indexed during a ClearDeps lost its record: a later ClearDeps missed it")
	}
}

func TestIndexPrefixMustNotHoldEntries(t *testing.T) {
	_, err := upstashcache.New("https://example.upstash.io", "t", &upstashcache.Options{IndexPrefix: "viborm:idx:"})
	if err == nil {
		t.Fatal("an index prefix under viborm: was accepted")
	}
}
