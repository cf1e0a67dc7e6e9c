package rediscache_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/rediscache"
)

// eachBackend runs f against the shared single node and the private cluster.
func eachBackend(t *testing.T, f func(t *testing.T, c redis.UniversalClient)) {
	t.Run("single", func(t *testing.T) { f(t, singleClient(t)) })
	t.Run("cluster", func(t *testing.T) { f(t, clusterClient(t)) })
}

func newDriver(t testing.TB, c redis.UniversalClient, opts *rediscache.Options) *rediscache.Driver {
	t.Helper()
	d, err := rediscache.New(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// allKeys lists every key, on every master of a cluster.
func allKeys(t testing.TB, c redis.UniversalClient) []string {
	t.Helper()
	ctx := context.Background()
	var keys []string
	var mu sync.Mutex
	add := func(ctx context.Context, n *redis.Client) error {
		ks, err := n.Keys(ctx, "*").Result()
		mu.Lock()
		keys = append(keys, ks...)
		mu.Unlock()
		return err
	}
	var err error
	if cc, ok := c.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, add)
	} else {
		err = add(ctx, c.(*redis.Client))
	}
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}

// cacheKeys is allKeys without the driver's own bookkeeping.
func cacheKeys(t testing.TB, c redis.UniversalClient) []string {
	var out []string
	for _, k := range allKeys(t, c) {
		if !strings.HasPrefix(k, rediscache.DefaultIndexPrefix) {
			out = append(out, k)
		}
	}
	return out
}

var t0 = time.UnixMilli(1_700_000_000_123)

func entry(v any) cache.Entry { return cache.NewEntry(v, t0, 90*time.Second) }

func TestStoredBytesAreVibORMJSON(t *testing.T) {
	eachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		d := newDriver(t, c, nil)
		e := entry(map[string]any{"id": 1, "name": "Ada"})
		if err := d.Set(ctx, "viborm:user:findMany:h1", 1500*time.Millisecond, e); err != nil {
			t.Fatal(err)
		}
		got, err := c.Get(ctx, "viborm:user:findMany:h1").Result()
		if err != nil {
			t.Fatal(err)
		}
		want := `{"value":{"id":1,"name":"Ada"},"createdAt":1700000000123,"ttl":90000}`
		if got != want {
			t.Errorf("stored %s, want %s", got, want)
		}
		pttl, err := c.PTTL(ctx, "viborm:user:findMany:h1").Result()
		if err != nil {
			t.Fatal(err)
		}
		if pttl <= 1000*time.Millisecond || pttl > 1500*time.Millisecond {
			t.Errorf("PTTL = %v, want within (1s, 1.5s]", pttl)
		}
		ge, ok, err := d.Get(ctx, "viborm:user:findMany:h1")
		if err != nil || !ok {
			t.Fatalf("Get = %v, %v, want a hit", ok, err)
		}
		if !ge.CreatedAt.Equal(e.CreatedAt) || ge.TTL != e.TTL {
			t.Errorf("Get = %v/%v, want %v/%v", ge.CreatedAt, ge.TTL, e.CreatedAt, e.TTL)
		}
		if raw, _ := ge.Value.(json.RawMessage); string(raw) != `{"id":1,"name":"Ada"}` {
			t.Errorf("Value = %#v", ge.Value)
		}
		// A TypeScript service's entry, written with PSETEX, reads back.
		ts := `{"value":[1,2],"createdAt":1700000000000,"ttl":60000}`
		c.Set(ctx, "viborm:post:count:x", ts, time.Minute)
		ge, ok, err = d.Get(ctx, "viborm:post:count:x")
		if err != nil || !ok || string(ge.Value.(json.RawMessage)) != "[1,2]" || ge.TTL != time.Minute {
			t.Errorf("Get(TS entry) = %+v, %v, %v", ge, ok, err)
		}
		if _, ok, err := d.Get(ctx, "viborm:missing"); ok || err != nil {
			t.Errorf("Get(missing) = %v, %v, want a miss with no error", ok, err)
		}
	})
}

func TestCorruptValueIsTypedError(t *testing.T) {
	eachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		d := newDriver(t, c, nil)
		c.Set(ctx, "viborm:user:findMany:bad", "\x00garbage{", time.Minute)
		_, ok, err := d.Get(ctx, "viborm:user:findMany:bad")
		if ok || !errors.Is(err, cache.ErrCorruptEntry) {
			t.Errorf("Get(corrupt) = %v, %v, want ErrCorruptEntry", ok, err)
		}
		var ee *cache.EntryError
		if !errors.As(err, &ee) {
			t.Errorf("Get(corrupt) error %T is not a *cache.EntryError", err)
		}
		if _, err := d.GetMany(ctx, []string{"viborm:user:findMany:bad", "x"}); !errors.Is(err, cache.ErrCorruptEntry) {
			t.Errorf("GetMany(corrupt) error = %v, want ErrCorruptEntry", err)
		}
		// Setting over it repairs it.
		if err := d.Set(ctx, "viborm:user:findMany:bad", time.Minute, entry(1)); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := d.Get(ctx, "viborm:user:findMany:bad"); !ok || err != nil {
			t.Errorf("Get after Set = %v, %v", ok, err)
		}
	})
}

func TestGetManyAcrossSlots(t *testing.T) {
	eachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		d := newDriver(t, c, nil)
		var keys []string
		for i := range 50 {
			k := fmt.Sprintf("viborm:user:findUnique:%d", i)
			keys = append(keys, k)
			if i%2 == 0 {
				if err := d.Set(ctx, k, time.Minute, entry(i)); err != nil {
					t.Fatal(err)
				}
			}
		}
		got, err := d.GetMany(ctx, keys)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 25 {
			t.Errorf("GetMany returned %d entries, want 25", len(got))
		}
		for i, k := range keys {
			e, ok := got[k]
			if ok != (i%2 == 0) {
				t.Errorf("GetMany[%q] present = %v", k, ok)
			}
			if ok && string(e.Value.(json.RawMessage)) != fmt.Sprint(i) {
				t.Errorf("GetMany[%q] = %s", k, e.Value)
			}
		}
	})
}

func TestDeleteAcrossSlots(t *testing.T) {
	eachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		d := newDriver(t, c, nil)
		var keys []string
		slotsSeen := map[int]bool{}
		for i := range 100 {
			k := fmt.Sprintf("viborm:post:findMany:%d", i)
			keys = append(keys, k)
			slotsSeen[rediscache.Slot(k)] = true
			if err := d.Set(ctx, k, time.Minute, entry(i)); err != nil {
				t.Fatal(err)
			}
		}
		if len(slotsSeen) < 50 {
			t.Fatalf("keys span only %d slots", len(slotsSeen))
		}
		keep := "viborm:post:findMany:keep"
		d.Set(ctx, keep, time.Minute, entry(0))
		if err := d.Delete(ctx, append(keys, "viborm:absent")); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if got := cacheKeys(t, c); !slices.Equal(got, []string{keep}) {
			t.Errorf("keys after Delete = %q, want only %q", got, keep)
		}
		if err := d.Delete(ctx, nil); err != nil {
			t.Errorf("Delete(nil) = %v", err)
		}
	})
}

func TestAddElectsOne(t *testing.T) {
	eachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		d := newDriver(t, c, nil)
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				ok, err := d.Add(ctx, "viborm:user:findMany:h:reval", 30*time.Second, entry(true))
				if err != nil {
					t.Error(err)
				}
				if ok {
					wins.Add(1)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Errorf("%d concurrent Adds won, want 1", wins.Load())
		}
		// The marker is indexed like any key.
		if err := d.Clear(ctx, "viborm:user:"); err != nil {
			t.Fatal(err)
		}
		if got := cacheKeys(t, c); len(got) != 0 {
			t.Errorf("keys after Clear = %q", got)
		}
		if ok, err := d.Add(ctx, "viborm:user:findMany:h:reval", 30*time.Second, entry(true)); !ok || err != nil {
			t.Errorf("Add after Clear = %v, %v, want true", ok, err)
		}
	})
}

// TestClearPrefixIsLiteral guards against SCAN MATCH treating the prefix as
// a glob, on the indexed and the scanning path.
func TestClearPrefixIsLiteral(t *testing.T) {
	keys := []string{
		"viborm:a*:x", "viborm:ab:x", "viborm:a:x",
		"viborm:a?:x", "viborm:a[bc]:x", "viborm:ac:x",
		`viborm:a\:x`, `viborm:a\\:x`, "viborm:a]:x",
		"viborm:user:1", "viborm:userProfile:1", "viborm:use:1",
		"viborm:{tag}:1", "viborm:{tag}x:1",
	}
	cases := []struct {
		prefix string
		gone   []string
	}{
		{"viborm:a*", []string{"viborm:a*:x"}},
		{"viborm:a*:", []string{"viborm:a*:x"}},
		{"viborm:a?", []string{"viborm:a?:x"}},
		{"viborm:a?:", []string{"viborm:a?:x"}},
		{"viborm:a[bc]:", []string{"viborm:a[bc]:x"}},
		{"viborm:a[", []string{"viborm:a[bc]:x"}},
		{`viborm:a\`, []string{`viborm:a\:x`, `viborm:a\\:x`}},
		{`viborm:a\:`, []string{`viborm:a\:x`}},
		{"viborm:a]", []string{"viborm:a]:x"}},
		{"viborm:user:", []string{"viborm:user:1"}},
		{"viborm:user", []string{"viborm:user:1", "viborm:userProfile:1"}},
		{"viborm:{tag}:", []string{"viborm:{tag}:1"}},
		{"viborm:", keys},
	}
	for _, noIndex := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoIndex=%v", noIndex), func(t *testing.T) {
			eachBackend(t, func(t *testing.T, c redis.UniversalClient) {
				ctx := context.Background()
				d := newDriver(t, c, &rediscache.Options{NoIndex: noIndex})
				for _, tc := range cases {
					for _, k := range keys {
						if err := d.Set(ctx, k, time.Minute, entry(k)); err != nil {
							t.Fatal(err)
						}
					}
					if err := d.Clear(ctx, tc.prefix); err != nil {
						t.Fatalf("Clear(%q): %v", tc.prefix, err)
					}
					var want []string
					for _, k := range keys {
						if !slices.Contains(tc.gone, k) {
							want = append(want, k)
						}
					}
					slices.Sort(want)
					if got := cacheKeys(t, c); !slices.Equal(got, want) {
						t.Errorf("Clear(%q) left %q, want %q", tc.prefix, got, want)
					}
				}
			})
		})
	}
}

func TestClearCoversEveryMaster(t *testing.T) {
	c := clusterClient(t)
	ctx := context.Background()
	d := newDriver(t, c, nil)
	for i := range 300 {
		d.Set(ctx, fmt.Sprintf("viborm:user:findMany:%d", i), time.Minute, entry(i))
		d.Set(ctx, fmt.Sprintf("viborm:userProfile:findMany:%d", i), time.Minute, entry(i))
	}
	// Every master holds some of the keys to clear.
	perMaster := map[string]int{}
	var mu sync.Mutex
	c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		ks, err := m.Keys(ctx, "viborm:user:*").Result()
		mu.Lock()
		perMaster[m.Options().Addr] = len(ks)
		mu.Unlock()
		return err
	})
	if len(perMaster) != 3 {
		t.Fatalf("masters: %v", perMaster)
	}
	for a, n := range perMaster {
		if n == 0 {
			t.Fatalf("master %s holds no key to clear: %v", a, perMaster)
		}
	}
	for _, prefix := range []string{"viborm:user:", "viborm:userProfile:find"} {
		if err := d.Clear(ctx, prefix); err != nil {
			t.Fatalf("Clear(%q): %v", prefix, err)
		}
		for _, k := range cacheKeys(t, c) {
			if strings.HasPrefix(k, prefix) {
				t.Fatalf("Clear(%q) left %q", prefix, k)
			}
		}
	}
	if n := len(cacheKeys(t, c)); n != 0 {
		t.Errorf("%d keys left", n)
	}
}

// TestIndexBoundedAfterExpiry guards the index against growing with entries
// that have expired: written continuously, an index trims them; left alone,
// it expires with them.
func TestIndexBoundedAfterExpiry(t *testing.T) {
	eachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		d := newDriver(t, c, nil)
		const n = 200
		for i := range n {
			if err := d.Set(ctx, fmt.Sprintf("viborm:tmp:findMany:%d", i), 20*time.Millisecond, entry(i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.Set(ctx, "viborm:long:findMany:1", time.Hour, entry(1)); err != nil {
			t.Fatal(err)
		}
		_, isCluster := c.(*redis.ClusterClient)
		slots := map[int]bool{rediscache.Slot("viborm:long:findMany:1"): true}
		for i := range n {
			slots[rediscache.Slot(fmt.Sprintf("viborm:tmp:findMany:%d", i))] = true
		}
		// members sums an index's size and counts its keys over the slots
		// the test's keys use (one index on a single node).
		members := func(prefix string) (size, keys int64) {
			for s := range slots {
				if !isCluster {
					s = 0
				}
				idx := d.IndexKey(prefix, s)
				n, err := c.ZCard(ctx, idx).Result()
				if err != nil {
					t.Fatal(err)
				}
				e, err := c.Exists(ctx, idx).Result()
				if err != nil {
					t.Fatal(err)
				}
				size, keys = size+n, keys+e
				if !isCluster {
					break
				}
			}
			return size, keys
		}
		if size, _ := members("viborm:tmp:"); size != n {
			t.Fatalf("index of viborm:tmp: holds %d members, want %d", size, n)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			// Continuous writes under viborm: trim its index; nothing is
			// written under viborm:tmp: any more, so its index expires.
			if err := d.Set(ctx, "viborm:long:findMany:1", time.Hour, entry(1)); err != nil {
				t.Fatal(err)
			}
			rootSize, _ := members("viborm:")
			_, tmpKeys := members("viborm:tmp:")
			if tmpKeys == 0 && rootSize <= n/10 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("long after expiry: %d index keys of viborm:tmp: remain, the index of viborm: holds %d members", tmpKeys, rootSize)
			}
			time.Sleep(50 * time.Millisecond) // waiting for the entries to expire
		}
	})
}

// TestClearNeverMissesCompletedSet races Sets against Clears: every key whose
// Set returned before a Clear started must be gone when that Clear returns.
// Each Clear waits until the writers have completed a few Sets since the
// previous one, so every round races fresh Sets however the goroutines are
// scheduled.
func TestClearNeverMissesCompletedSet(t *testing.T) {
	eachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		d := newDriver(t, c, nil)
		const (
			writers  = 4
			rounds   = 30
			perRound = writers // Sets completed since the last Clear, at least
		)
		var (
			mu   sync.Mutex
			done []string // keys whose Set has returned, in order
		)
		progress := make(chan struct{}, 1) // a Set has returned
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					k := fmt.Sprintf("viborm:race:op:%d-%d", w, i)
					if err := d.Set(ctx, k, time.Minute, entry(i)); err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					done = append(done, k)
					mu.Unlock()
					select {
					case progress <- struct{}{}:
					default:
					}
				}
			})
		}
		defer func() {
			close(stop)
			wg.Wait()
		}()
		checked := 0 // keys before this index were checked absent; none is set twice
		for range rounds {
			var before []string
			for {
				mu.Lock()
				before = slices.Clone(done[checked:])
				mu.Unlock()
				if len(before) >= perRound {
					break
				}
				select {
				case <-progress:
				case <-time.After(10 * time.Second): // generous: a Set is a round trip
					t.Fatalf("the writers completed %d Sets in 10s", len(before))
				}
			}
			if err := d.Clear(ctx, "viborm:race:"); err != nil {
				t.Fatal(err)
			}
			cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, k := range before {
					p.Exists(ctx, k)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for i, cmd := range cmds {
				if cmd.(*redis.IntCmd).Val() != 0 {
					t.Fatalf("key %q, set before Clear started, exists after it", before[i])
				}
			}
			checked += len(before)
		}
	})
}

func TestNewRejectsBadOptions(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	for _, o := range []*rediscache.Options{{IndexPrefix: "x{"}, {IndexDepth: -1}} {
		if _, err := rediscache.New(c, o); !errors.Is(err, cache.ErrConfig) {
			t.Errorf("New(%+v) error = %v, want ErrConfig", o, err)
		}
	}
	if _, err := rediscache.New(nil, nil); !errors.Is(err, cache.ErrConfig) {
		t.Errorf("New(nil) error = %v", err)
	}
	r := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	defer r.Close()
	if _, err := rediscache.New(r, nil); !errors.Is(err, cache.ErrConfig) {
		t.Errorf("New(Ring) error = %v", err)
	}
}

func TestDoneContext(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	d := newDriver(t, c, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := d.Get(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get = %v", err)
	}
	if err := d.Set(ctx, "k", time.Second, entry(1)); !errors.Is(err, context.Canceled) {
		t.Errorf("Set = %v", err)
	}
	if _, err := d.Add(ctx, "k", time.Second, entry(1)); !errors.Is(err, context.Canceled) {
		t.Errorf("Add = %v", err)
	}
	if err := d.Delete(ctx, []string{"k"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Delete = %v", err)
	}
	if err := d.Clear(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Clear = %v", err)
	}
	if _, err := d.GetMany(ctx, []string{"k"}); !errors.Is(err, context.Canceled) {
		t.Errorf("GetMany = %v", err)
	}
}

func TestSlotMatchesServer(t *testing.T) {
	c := clusterClient(t)
	ctx := context.Background()
	for _, k := range []string{"", "a", "viborm:user:findMany:abc", "{user}:1", "x{}y", "{}{a}", "a{b}c{d}", "{", "}{a}", "héllo"} {
		want, err := c.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := rediscache.Slot(k); int64(got) != want {
			t.Errorf("Slot(%q) = %d, server says %d", k, got, want)
		}
	}
	for _, s := range []int{0, 1, 5460, 5461, 16383} {
		if got := rediscache.Slot("{" + rediscache.SlotTag(s) + "}x"); got != s {
			t.Errorf("Slot of tag for %d = %d", s, got)
		}
	}
}

func TestMatchPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"viborm:user:": "viborm:user:*",
		`a*b?c[d]e\f`:  `a\*b\?c\[d\]e\\f*`,
	} {
		if got := rediscache.MatchPrefix(in); got != want {
			t.Errorf("MatchPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}
