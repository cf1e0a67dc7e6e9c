package rueidiscache_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/internal/redisindex"
	"github.com/viborm/viborm-go/cache/rediscache"
	"github.com/viborm/viborm-go/cache/rueidiscache"
	"github.com/viborm/viborm-go/internal/testenv"
)

var t0 = time.UnixMilli(1_700_000_000_123)

func entry(v any) cache.Entry { return cache.NewEntry(v, t0, 90*time.Second) }

func TestStoredBytesAreVibORMJSON(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		r := root(t, b)
		d := newDriver(t, b.client, nil)
		k := r + "user:findMany:h1"
		e := entry(map[string]any{"id": 1, "name": "Ada"})
		if err := d.Set(ctx, k, 1500*time.Millisecond, e); err != nil {
			t.Fatal(err)
		}
		got, err := b.inspect.Get(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"value":{"id":1,"name":"Ada"},"createdAt":1700000000123,"ttl":90000}`; got != want {
			t.Errorf("stored %s, want %s", got, want)
		}
		pttl, err := b.inspect.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if pttl <= 1000*time.Millisecond || pttl > 1500*time.Millisecond {
			t.Errorf("PTTL = %v, want within (1s, 1.5s]", pttl)
		}
		ge, ok, err := d.Get(ctx, k)
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
		b.inspect.Set(ctx, r+"post:count:x", `{"value":[1,2],"createdAt":1700000000000,"ttl":60000}`, time.Minute)
		ge, ok, err = d.Get(ctx, r+"post:count:x")
		if err != nil || !ok || string(ge.Value.(json.RawMessage)) != "[1,2]" || ge.TTL != time.Minute {
			t.Errorf("Get(TS entry) = %+v, %v, %v", ge, ok, err)
		}
		if _, ok, err := d.Get(ctx, r+"missing"); ok || err != nil {
			t.Errorf("Get(missing) = %v, %v, want a miss with no error", ok, err)
		}
		// A key without a ':' has no prefix to index: a plain SET.
		if err := d.Set(ctx, strings.TrimSuffix(r, ":"), time.Minute, e); err != nil {
			t.Fatal(err)
		}
		b.inspect.Del(ctx, strings.TrimSuffix(r, ":"))
	})
}

func TestCorruptValueIsTypedError(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		r := root(t, b)
		d := newDriver(t, b.client, nil)
		bad := r + "user:findMany:bad"
		b.inspect.Set(ctx, bad, "\x00garbage{", time.Minute)
		_, ok, err := d.Get(ctx, bad)
		if ok || !errors.Is(err, cache.ErrCorruptEntry) {
			t.Errorf("Get(corrupt) = %v, %v, want ErrCorruptEntry", ok, err)
		}
		var ee *cache.EntryError
		if !errors.As(err, &ee) {
			t.Errorf("Get(corrupt) error %T is not a *cache.EntryError", err)
		}
		if _, err := d.GetMany(ctx, []string{bad, r + "x"}); !errors.Is(err, cache.ErrCorruptEntry) {
			t.Errorf("GetMany(corrupt) error = %v, want ErrCorruptEntry", err)
		}
		if err := d.Set(ctx, bad, time.Minute, entry(1)); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := d.Get(ctx, bad); !ok || err != nil {
			t.Errorf("Get after Set = %v, %v", ok, err)
		}
	})
}

// TestManyKeysAcrossSlots covers GetMany and Delete with keys of many hash
// slots, which on a cluster must never fail with CROSSSLOT.
func TestManyKeysAcrossSlots(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		r := root(t, b)
		d := newDriver(t, b.client, nil)
		var keys []string
		slots := map[int64]bool{}
		for i := range 100 {
			k := fmt.Sprintf("%spost:findUnique:%d", r, i)
			keys = append(keys, k)
			if b.cluster {
				s, err := b.inspect.ClusterKeySlot(ctx, k).Result()
				if err != nil {
					t.Fatal(err)
				}
				slots[s] = true
			}
			if i%2 == 0 {
				if err := d.Set(ctx, k, time.Minute, entry(i)); err != nil {
					t.Fatal(err)
				}
			}
		}
		if b.cluster && len(slots) < 50 {
			t.Fatalf("keys span only %d slots", len(slots))
		}
		got, err := d.GetMany(ctx, keys)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 50 {
			t.Errorf("GetMany returned %d entries, want 50", len(got))
		}
		for i, k := range keys {
			e, ok := got[k]
			if ok != (i%2 == 0) {
				t.Errorf("GetMany[%q] present = %v", k, ok)
			}
			if ok && string(e.Value.(json.RawMessage)) != strconv.Itoa(i) {
				t.Errorf("GetMany[%q] = %s", k, e.Value)
			}
		}
		keep := r + "post:findUnique:keep"
		d.Set(ctx, keep, time.Minute, entry(0))
		if err := d.Delete(ctx, append(keys, r+"absent")); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if got := keysUnder(t, b, r); !slices.Equal(got, []string{keep}) {
			t.Errorf("keys after Delete = %q, want only %q", got, keep)
		}
		if err := d.Delete(ctx, nil); err != nil {
			t.Errorf("Delete(nil) = %v", err)
		}
		if m, err := d.GetMany(ctx, nil); err != nil || len(m) != 0 {
			t.Errorf("GetMany(nil) = %v, %v", m, err)
		}
	})
}

func TestAddElectsOne(t *testing.T) {
	for _, noIndex := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoIndex=%v", noIndex), func(t *testing.T) {
			eachBackend(t, func(t *testing.T, b backend) {
				ctx := context.Background()
				r := root(t, b)
				d := newDriver(t, b.client, &rueidiscache.Options{NoIndex: noIndex})
				k := r + "user:findMany:h:reval"
				var wins atomic.Int32
				var wg sync.WaitGroup
				for range 20 {
					wg.Go(func() {
						ok, err := d.Add(ctx, k, 30*time.Second, entry(true))
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
				if err := d.Clear(ctx, r+"user:"); err != nil {
					t.Fatal(err)
				}
				if got := keysUnder(t, b, r); len(got) != 0 {
					t.Errorf("keys after Clear = %q", got)
				}
				if ok, err := d.Add(ctx, k, 30*time.Second, entry(true)); !ok || err != nil {
					t.Errorf("Add after Clear = %v, %v, want true", ok, err)
				}
			})
		})
	}
}

// TestClearPrefixIsLiteral guards against SCAN MATCH treating the prefix as
// a glob, on the indexed and the scanning path, and against hash tags in
// keys escaping the index on a cluster.
func TestClearPrefixIsLiteral(t *testing.T) {
	suffixes := []string{
		"a*:x", "ab:x", "a:x",
		"a?:x", "a[bc]:x", "ac:x",
		`a\:x`, `a\\:x`, "a]:x",
		"user:1", "userProfile:1", "use:1",
		"{tag}:1", "{tag}x:1",
	}
	cases := []struct {
		prefix string
		gone   []string
	}{
		{"a*", []string{"a*:x"}},
		{"a*:", []string{"a*:x"}},
		{"a?", []string{"a?:x"}},
		{"a?:", []string{"a?:x"}},
		{"a[bc]:", []string{"a[bc]:x"}},
		{"a[", []string{"a[bc]:x"}},
		{`a\`, []string{`a\:x`, `a\\:x`}},
		{`a\:`, []string{`a\:x`}},
		{"a]", []string{"a]:x"}},
		{"user:", []string{"user:1"}},
		{"user", []string{"user:1", "userProfile:1"}},
		{"{tag}:", []string{"{tag}:1"}},
		{"", suffixes},
	}
	for _, noIndex := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoIndex=%v", noIndex), func(t *testing.T) {
			eachBackend(t, func(t *testing.T, b backend) {
				ctx := context.Background()
				r := root(t, b)
				d := newDriver(t, b.client, &rueidiscache.Options{NoIndex: noIndex})
				for _, tc := range cases {
					for _, s := range suffixes {
						if err := d.Set(ctx, r+s, time.Minute, entry(s)); err != nil {
							t.Fatal(err)
						}
					}
					if err := d.Clear(ctx, r+tc.prefix); err != nil {
						t.Fatalf("Clear(%q): %v", r+tc.prefix, err)
					}
					var want []string
					for _, s := range suffixes {
						if !slices.Contains(tc.gone, s) {
							want = append(want, r+s)
						}
					}
					slices.Sort(want)
					if got := keysUnder(t, b, r); !slices.Equal(got, want) {
						t.Errorf("Clear(%q) left %q, want %q", r+tc.prefix, got, want)
					}
				}
			})
		})
	}
}

func TestClearCoversEveryMaster(t *testing.T) {
	b := backend{client: clusterClient(t), cluster: true}
	g := redis.NewClusterClient(&redis.ClusterOptions{Addrs: clusterAddrs(t)})
	t.Cleanup(func() { g.Close() })
	b.inspect = g
	ctx := context.Background()
	r := root(t, b)
	d := newDriver(t, b.client, nil)
	for i := range 300 {
		d.Set(ctx, fmt.Sprintf("%suser:findMany:%d", r, i), time.Minute, entry(i))
		d.Set(ctx, fmt.Sprintf("%suserProfile:findMany:%d", r, i), time.Minute, entry(i))
	}
	perMaster := map[string]int{}
	var mu sync.Mutex
	g.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		ks, err := m.Keys(ctx, r+"user:*").Result()
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
	// The first prefix is served by the index, the second by SCAN.
	for _, prefix := range []string{r + "user:", r + "userProfile:find"} {
		if err := d.Clear(ctx, prefix); err != nil {
			t.Fatalf("Clear(%q): %v", prefix, err)
		}
		for _, k := range keysUnder(t, b, r) {
			if strings.HasPrefix(k, prefix) {
				t.Fatalf("Clear(%q) left %q", prefix, k)
			}
		}
	}
	if n := len(keysUnder(t, b, r)); n != 0 {
		t.Errorf("%d keys left", n)
	}
}

// TestClearNeverMissesCompletedSet races Sets against Clears: every key whose
// Set returned before a Clear started must be gone when that Clear returns.
func TestClearNeverMissesCompletedSet(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		r := root(t, b)
		d := newDriver(t, b.client, nil)
		var (
			mu   sync.Mutex
			done []string // keys whose Set has returned, in order
		)
		stop := make(chan struct{})
		progress := make(chan struct{}, 1) // a Set has completed
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					k := fmt.Sprintf("%srace:op:%d-%d", r, w, i)
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
		exited := make(chan struct{})
		go func() { wg.Wait(); close(exited) }()
		checked := 0 // keys before this index were checked absent; none is set twice
		for range 30 {
			// Let at least 5 more Sets complete, so that every Clear races
			// Sets, however fast it is.
			var before []string
			for len(before) < 5 {
				select {
				case <-progress:
				case <-exited:
					t.Fatal("every writer stopped")
				}
				mu.Lock()
				before = slices.Clone(done[checked:])
				mu.Unlock()
			}
			if err := d.Clear(ctx, r+"race:"); err != nil {
				t.Fatal(err)
			}
			cmds, err := b.inspect.Pipelined(ctx, func(p redis.Pipeliner) error {
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
		close(stop)
		<-exited
		if checked < 100 {
			t.Errorf("only %d Sets raced the Clears", checked)
		}
	})
}

// TestIndexSharedWithRediscache guards the promise that both Redis drivers
// keep one index: what one stores, the other clears by prefix, on a single
// node and on a cluster.
func TestIndexSharedWithRediscache(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		r := root(t, b)
		ru := newDriver(t, b.client, nil)
		gr, err := rediscache.New(b.inspect, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name       string
			set, clear cache.Driver
		}{{"rueidis→go-redis", ru, gr}, {"go-redis→rueidis", gr, ru}} {
			for i := range 50 {
				if err := tc.set.Set(ctx, fmt.Sprintf("%suser:findMany:%d", r, i), time.Minute, entry(i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := tc.clear.Clear(ctx, r+"user:"); err != nil {
				t.Fatal(err)
			}
			if got := keysUnder(t, b, r); len(got) != 0 {
				t.Errorf("%s: %d keys left after Clear, such as %q", tc.name, len(got), got[0])
			}
		}
	})
}

func TestNewRejectsBadOptions(t *testing.T) {
	c := singleClient(t)
	for _, o := range []*rueidiscache.Options{{IndexPrefix: "x{"}, {IndexPrefix: "x}"}, {IndexDepth: -1}} {
		if _, err := rueidiscache.New(c, o); !errors.Is(err, cache.ErrConfig) {
			t.Errorf("New(%+v) error = %v, want ErrConfig", o, err)
		}
	}
	if _, err := rueidiscache.New(nil, nil); !errors.Is(err, cache.ErrConfig) {
		t.Errorf("New(nil) error = %v", err)
	}
}

func TestEmptyPrefixIsRefused(t *testing.T) {
	d := newDriver(t, singleClient(t), nil)
	if err := d.Clear(context.Background(), ""); err == nil {
		t.Error("Clear(\"\") = nil, want an error")
	}
}

// eachMethod calls every method of d, each with a context from ctx, and
// returns their errors by name.
func eachMethod(ctx func() (context.Context, context.CancelFunc), d *rueidiscache.Driver, key string) map[string]error {
	errs := map[string]error{}
	call := func(name string, f func(ctx context.Context) error) {
		c, cancel := ctx()
		defer cancel()
		errs[name] = f(c)
	}
	call("Get", func(ctx context.Context) error { _, _, err := d.Get(ctx, key); return err })
	call("GetMany", func(ctx context.Context) error { _, err := d.GetMany(ctx, []string{key}); return err })
	call("Set", func(ctx context.Context) error { return d.Set(ctx, key, time.Second, entry(1)) })
	call("Set(no index)", func(ctx context.Context) error { return d.Set(ctx, "plain", time.Second, entry(1)) })
	call("Add", func(ctx context.Context) error { _, err := d.Add(ctx, key, time.Second, entry(1)); return err })
	call("Delete", func(ctx context.Context) error { return d.Delete(ctx, []string{key}) })
	call("Clear(index)", func(ctx context.Context) error { return d.Clear(ctx, "viborm:x:") })
	call("Clear(scan)", func(ctx context.Context) error { return d.Clear(ctx, "viborm:x") })
	return errs
}

func TestDoneContext(t *testing.T) {
	d := newDriver(t, singleClient(t), nil)
	canceled := func() (context.Context, context.CancelFunc) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx, cancel
	}
	for m, err := range eachMethod(canceled, d, "viborm:x:k") {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s = %v, want context.Canceled", m, err)
		}
	}
}

// TestHonorsContextOnFrozenServer backs HonorsContext: with the server
// stopped (SIGSTOP) after the client connected, every method returns the
// context's error once its deadline passes, instead of waiting for Redis.
func TestHonorsContextOnFrozenServer(t *testing.T) {
	port := testenv.FreePort(t)
	srv := exec.Command(testenv.RedisServer(t), "--port", strconv.Itoa(port), "--save", "", "--appendonly", "no",
		"--bind", "127.0.0.1", "--daemonize", "no", "--dir", t.TempDir())
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		srv.Process.Signal(syscall.SIGCONT)
		srv.Process.Kill()
		srv.Wait()
	}()
	var c rueidis.Client
	for deadline := time.Now().Add(10 * time.Second); ; {
		var err error
		c, err = rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{"127.0.0.1:" + strconv.Itoa(port)}, DisableCache: true})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // waiting for the server to listen
	}
	defer c.Close()
	d := newDriver(t, c, nil)
	if !d.HonorsContext() {
		t.Fatal("HonorsContext = false")
	}
	if err := d.Set(context.Background(), "viborm:x:k", time.Minute, entry(1)); err != nil {
		t.Fatal(err)
	}
	if err := srv.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	short := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 50*time.Millisecond)
	}
	for m, err := range eachMethod(short, d, "viborm:x:k") {
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s on a frozen server = %v, want context.DeadlineExceeded", m, err)
		}
	}
}

// TestSlotMatchesServer checks the shared slot computation, which names the
// per-slot indexes, against CLUSTER KEYSLOT.
func TestSlotMatchesServer(t *testing.T) {
	g := redis.NewClient(&redis.Options{Addr: clusterAddrs(t)[0]})
	defer g.Close()
	for _, k := range []string{"", "a", "foo", "123456789", "{user1000}.following", "foo{}{bar}", "foo{{bar}}zap",
		"foo{bar}{zap}", "viborm:user:findMany:abc", "x{}y", "{}{a}", "a{b}c{d}", "{", "}{a}", "héllo"} {
		want, err := g.ClusterKeySlot(context.Background(), k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := redisindex.Slot(k); int64(got) != want {
			t.Errorf("Slot(%q) = %d, server says %d", k, got, want)
		}
	}
}
