// Package depscheck checks the dependency index ([cache.DepIndexer]) of
// VibORM's Redis drivers against a live server, single node or cluster,
// looking at the keys they keep through a go-redis client. Both drivers'
// tests run it, so that they keep the same layout the same way.
package depscheck

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/internal/redisindex"
)

// Driver is what the checks need of a driver.
type Driver interface {
	cache.Driver
	cache.DepIndexer
	cache.Leaser
	ClearDepsKeys(ctx context.Context, tags []string) ([]string, error)
}

// Env is one deployment under test.
type Env struct {
	// New returns a driver with the given index prefix.
	New func(t *testing.T, indexPrefix string) Driver
	// Inspect is a go-redis client of the same deployment.
	Inspect redis.UniversalClient
	// Cluster reports whether the deployment is a cluster.
	Cluster bool
}

// Random returns prefix followed by 12 random hex digits and ':'.
func Random(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:]) + ":"
}

// Fixture is a driver in a namespace of its own: a random key root and a
// random index prefix, whose keys are deleted when the test ends (the
// server is never flushed).
type Fixture struct {
	D      Driver
	Root   string
	Layout redisindex.Layout
	env    Env
}

// NewFixture makes a Fixture.
func NewFixture(t *testing.T, env Env) *Fixture {
	t.Helper()
	f := &Fixture{Root: Random("dt"), env: env}
	ns := Random("dx")
	f.D = env.New(t, ns)
	l, err := redisindex.NewLayout("depscheck", ns, 0, false, env.Cluster)
	if err != nil {
		t.Fatal(err)
	}
	f.Layout = l
	t.Cleanup(func() {
		for _, p := range []string{f.Root, ns} {
			if err := DeleteUnder(context.Background(), env.Inspect, p); err != nil {
				t.Errorf("cleaning up %s: %v", p, err)
			}
		}
	})
	return f
}

// DeleteUnder deletes the keys starting with prefix, on every master of a
// cluster.
func DeleteUnder(ctx context.Context, c redis.UniversalClient, prefix string) error {
	del := func(ctx context.Context, n *redis.Client) error {
		it := n.Scan(ctx, 0, redisindex.MatchPrefix(prefix), 1000).Iterator()
		var keys []string
		for it.Next(ctx) {
			keys = append(keys, it.Val())
		}
		if err := it.Err(); err != nil {
			return err
		}
		for _, k := range keys {
			if err := n.Del(ctx, k).Err(); err != nil {
				return err
			}
		}
		return nil
	}
	if cc, ok := c.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, del)
	}
	return del(ctx, c.(*redis.Client))
}

var ctx = context.Background()

func entry(v string) cache.Entry { return cache.NewEntry(v, time.Now(), time.Minute) }

// set indexes key under deps, then stores it, as the cache does.
func (f *Fixture) set(t *testing.T, key string, deps ...string) {
	t.Helper()
	if err := f.D.IndexDeps(ctx, key, deps, time.Minute); err != nil {
		t.Fatalf("IndexDeps(%q, %q): %v", key, deps, err)
	}
	if err := f.D.Set(ctx, key, time.Minute, entry(key)); err != nil {
		t.Fatal(err)
	}
}

// present returns which of keys Get finds.
func (f *Fixture) present(t *testing.T, keys ...string) []string {
	t.Helper()
	var out []string
	for _, k := range keys {
		_, ok, err := f.D.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			out = append(out, k)
		}
	}
	return out
}

// records returns how many records the dependency sets of tag hold, in
// every slot (a cluster's registry, read directly, lists them).
func (f *Fixture) records(t *testing.T, tag string) int64 {
	t.Helper()
	sets := []string{f.Layout.DepKey(tag, 0)}
	if f.env.Cluster {
		members, err := f.env.Inspect.SMembers(ctx, f.Layout.DepRegistryKey(tag)).Result()
		if err != nil {
			t.Fatal(err)
		}
		sets = f.Layout.SlotDepKeys(tag, members)
	}
	var n int64
	for _, s := range sets {
		c, err := f.env.Inspect.ZCard(ctx, s).Result()
		if err != nil {
			t.Fatal(err)
		}
		n += c
	}
	return n
}

// Run runs every check.
func Run(t *testing.T, env Env) {
	t.Run("ClearRemovesExactlyDependents", func(t *testing.T) { clearExactly(t, env) })
	t.Run("ClearVoidsLeases", func(t *testing.T) { voidsLeases(t, env) })
	t.Run("ManyKeysAcrossSlots", func(t *testing.T) { manyKeys(t, env) })
	t.Run("RecordsExpire", func(t *testing.T) { recordsExpire(t, env) })
	t.Run("BadInput", func(t *testing.T) { badInput(t, env) })
	t.Run("Concurrent", func(t *testing.T) { concurrent(t, env) })
}

func clearExactly(t *testing.T, env Env) {
	f := NewFixture(t, env)
	post, tag, user := f.Root+"T:post", f.Root+"T:tag", f.Root+"T:user"
	a, b, c, d := f.Root+"user:findMany:a", f.Root+"user:findMany:b", f.Root+"post:findMany:c", f.Root+"user:findMany:d"
	f.set(t, a, post)
	f.set(t, b, post, tag, post)
	f.set(t, c, tag)
	f.set(t, d)
	all := []string{a, b, c, d}
	if err := f.D.ClearDeps(ctx, []string{f.Root + "T:nothing"}); err != nil {
		t.Fatal(err)
	}
	if got := f.present(t, all...); !slices.Equal(got, all) {
		t.Fatalf("after clearing an unknown tag: present %q, want %q", got, all)
	}
	removed, err := f.D.ClearDepsKeys(ctx, []string{post})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{a, b}; !slices.Equal(removed, want) {
		t.Fatalf("ClearDepsKeys(post) = %q, want %q", removed, want)
	}
	if got := f.present(t, all...); !slices.Equal(got, []string{c, d}) {
		t.Fatalf("after clearing post: present %q, want %q", got, []string{c, d})
	}
	if n := f.records(t, post); n != 0 {
		t.Fatalf("%d records of post remain after its clear", n)
	}
	// b's record under tag lingers (its key is gone); clearing tag removes
	// c and forgets both.
	if err := f.D.ClearDeps(ctx, []string{tag, user}); err != nil {
		t.Fatal(err)
	}
	if got := f.present(t, all...); !slices.Equal(got, []string{d}) {
		t.Fatalf("after clearing tag: present %q, want %q", got, []string{d})
	}
	if n := f.records(t, tag); n != 0 {
		t.Fatalf("%d records of tag remain after its clear", n)
	}
	// A key stored again with its dependencies is cleared again.
	f.set(t, a, post)
	if err := f.D.ClearDeps(ctx, []string{post}); err != nil {
		t.Fatal(err)
	}
	if got := f.present(t, a); len(got) != 0 {
		t.Fatalf("a stored again survived the clear of post")
	}
}

func voidsLeases(t *testing.T, env Env) {
	f := NewFixture(t, env)
	post := f.Root + "T:post"
	for _, indexFirst := range []bool{true, false} {
		key := f.Root + "user:findMany:" + strconv.FormatBool(indexFirst)
		if indexFirst {
			if err := f.D.IndexDeps(ctx, key, []string{post}, time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		tok, _, _, err := f.D.Lease(ctx, key, time.Minute)
		if err != nil || tok == "" {
			t.Fatalf("Lease = %q, %v", tok, err)
		}
		if !indexFirst {
			if err := f.D.IndexDeps(ctx, key, []string{post}, time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.D.ClearDeps(ctx, []string{post}); err != nil {
			t.Fatal(err)
		}
		stored, err := f.D.SetLeased(ctx, key, tok, time.Minute, entry("stale"))
		if err != nil {
			t.Fatal(err)
		}
		if stored {
			t.Fatalf("index first %v: a fill whose lease was taken before ClearDeps stored after it", indexFirst)
		}
		if got := f.present(t, key); len(got) != 0 {
			t.Fatalf("index first %v: the key is present", indexFirst)
		}
		if n, err := env.Inspect.Exists(ctx, f.Layout.LeaseKey(key)).Result(); err != nil || n != 0 {
			t.Fatalf("index first %v: the lease key survived (%d, %v)", indexFirst, n, err)
		}
		// The lease is void, not held: another fill takes it at once.
		if tok, _, _, err := f.D.Lease(ctx, key, time.Minute); err != nil || tok == "" {
			t.Fatalf("Lease after ClearDeps = %q, %v; want a token", tok, err)
		}
	}
}

func manyKeys(t *testing.T, env Env) {
	f := NewFixture(t, env)
	x, y := f.Root+"T:x", f.Root+"T:y"
	const n = 2*redisindex.ClearBatch + 500
	var dependent, other []string
	for i := range n {
		dependent = append(dependent, f.Root+"a:findMany:"+strconv.Itoa(i))
	}
	for i := range 300 {
		other = append(other, f.Root+"b:findMany:"+strconv.Itoa(i))
	}
	for _, k := range dependent {
		f.set(t, k, x)
	}
	for i, k := range other {
		if i%2 == 0 {
			f.set(t, k, y)
		} else {
			f.set(t, k)
		}
	}
	if got := f.records(t, x); got != n {
		t.Fatalf("%d records of x, want %d", got, n)
	}
	removed, err := f.D.ClearDepsKeys(ctx, []string{x})
	if err != nil {
		t.Fatal(err)
	}
	if want := slices.Sorted(slices.Values(dependent)); !slices.Equal(removed, want) {
		t.Fatalf("ClearDepsKeys returned %d keys, want the %d dependent ones", len(removed), len(want))
	}
	got, err := cache.GetMany(ctx, f.D, append(slices.Clone(dependent), other...))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range dependent {
		if _, ok := got[k]; ok {
			t.Fatalf("%s survived the clear of its dependency", k)
		}
	}
	if len(got) != len(other) {
		t.Fatalf("%d unrelated keys remain, want %d", len(got), len(other))
	}
	if r := f.records(t, x); r != 0 {
		t.Fatalf("%d records of x remain", r)
	}
	if r := f.records(t, y); r != int64(len(other)/2) {
		t.Fatalf("%d records of y, want %d", r, len(other)/2)
	}
}

func recordsExpire(t *testing.T, env Env) {
	f := NewFixture(t, env)
	tag := f.Root + "T:t"
	k := f.Root + "u:{r}:" // one slot for every key
	if err := f.D.IndexDeps(ctx, k+"long", []string{tag}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := f.D.IndexDeps(ctx, k+"short", []string{tag}, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	sl := 0
	if env.Cluster {
		sl = redisindex.Slot(k)
	}
	set := f.Layout.DepKey(tag, sl)
	// The set lives as long as its longest-lived member, and no longer.
	pttl, err := env.Inspect.PTTL(ctx, set).Result()
	if err != nil {
		t.Fatal(err)
	}
	if pttl <= 10*time.Second || pttl > time.Hour+redisindex.Slack {
		t.Fatalf("the set's PTTL is %v, want in (10s, 1h+slack]", pttl)
	}
	// A member is scored by its expiry: a record whose expiry has passed is
	// trimmed by the next write to its set.
	if err := env.Inspect.ZAdd(ctx, set, redis.Z{Score: 1, Member: k + "expired"}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := f.D.IndexDeps(ctx, k+"next", []string{tag}, time.Minute); err != nil {
		t.Fatal(err)
	}
	members, err := env.Inspect.ZRange(ctx, set, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(members)
	if want := []string{k + "long", k + "next", k + "short"}; !slices.Equal(members, want) {
		t.Fatalf("records %q, want %q", members, want)
	}
	score, err := env.Inspect.ZScore(ctx, set, k+"short").Result()
	if err != nil {
		t.Fatal(err)
	}
	now, err := env.Inspect.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if left := time.Duration(score-float64(now.UnixMilli())) * time.Millisecond; left < 9*time.Second || left > 10*time.Second+redisindex.Slack {
		t.Fatalf("the record of a 10s entry expires in %v", left)
	}
	if env.Cluster {
		reg := f.Layout.DepRegistryKey(tag)
		if ok, err := env.Inspect.SIsMember(ctx, reg, strconv.Itoa(sl)).Result(); err != nil || !ok {
			t.Fatalf("the registry does not list slot %d (%v, %v)", sl, ok, err)
		}
		if pttl, err := env.Inspect.PTTL(ctx, reg).Result(); err != nil || pttl < time.Hour {
			t.Fatalf("the registry's PTTL is %v (%v), want at least the longest record's", pttl, err)
		}
	}
}

func badInput(t *testing.T, env Env) {
	f := NewFixture(t, env)
	if err := f.D.IndexDeps(ctx, f.Root+"k", []string{""}, time.Minute); err == nil {
		t.Error("IndexDeps with an empty tag: no error")
	}
	if err := f.D.ClearDeps(ctx, []string{""}); err == nil {
		t.Error("ClearDeps with an empty tag: no error")
	}
	if err := f.D.IndexDeps(ctx, f.Root+"k", nil, time.Minute); err != nil {
		t.Errorf("IndexDeps without deps = %v", err)
	}
	if err := f.D.ClearDeps(ctx, nil); err != nil {
		t.Errorf("ClearDeps without tags = %v", err)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if err := f.D.IndexDeps(done, f.Root+"k", []string{"t"}, time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("IndexDeps with a done context = %v", err)
	}
	if err := f.D.ClearDeps(done, []string{"t"}); !errors.Is(err, context.Canceled) {
		t.Errorf("ClearDeps with a done context = %v", err)
	}
}

// concurrent indexes, fills and clears at once, fills following the
// protocol that keeps the cross-process fence (take the lease, record the
// dependencies, load, store under the lease): after a last ClearDeps no
// key is left, so none was stored without its record.
func concurrent(t *testing.T, env Env) {
	f := NewFixture(t, env)
	tag := f.Root + "T:c"
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 4 {
		wg.Go(func() {
			for i := range 100 {
				k := fmt.Sprintf("%sc:findMany:%d:%d", f.Root, w, i)
				tok, _, _, err := f.D.Lease(ctx, k, time.Minute)
				if err == nil {
					err = f.D.IndexDeps(ctx, k, []string{tag}, time.Minute)
				}
				if err == nil {
					_, err = f.D.SetLeased(ctx, k, tok, time.Minute, entry(k))
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			if err := f.D.ClearDeps(ctx, []string{tag}); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := f.D.ClearDeps(ctx, []string{tag}); err != nil {
		t.Fatal(err)
	}
	for w := range 4 {
		for i := range 100 {
			k := fmt.Sprintf("%sc:findMany:%d:%d", f.Root, w, i)
			if got := f.present(t, k); len(got) != 0 {
				t.Fatalf("%s survived the last clear: it was stored without its record", k)
			}
		}
	}
}
