package memorycache

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/viborm/viborm-go/cache"
)

// checkDeps verifies that the dependency index is consistent: every key of a
// tag's set has a record naming that tag, every record's tags hold its key,
// no set is empty, and the records stay within their bound. With
// entriesIndexed, every live entry must also have an unexpired record: an
// entry without its record is the one state the index must never reach.
func checkDeps(t *testing.T, d *Driver, entriesIndexed bool) {
	t.Helper()
	x := &d.deps
	x.mu.Lock()
	defer x.mu.Unlock()
	for tag, set := range x.tags {
		if len(set) == 0 {
			t.Errorf("tag %q has an empty set", tag)
		}
		for k := range set {
			r := x.recs[k]
			if r == nil || !slices.Contains(r.tags, tag) {
				t.Errorf("key %q is in the set of %q without a record naming it", k, tag)
			}
		}
	}
	for k, r := range x.recs {
		for _, tag := range r.tags {
			if _, ok := x.tags[tag][k]; !ok {
				t.Errorf("record of %q names %q, whose set lacks it", k, tag)
			}
		}
	}
	if len(x.recs) > x.max {
		t.Errorf("%d records, bound %d", len(x.recs), x.max)
	}
	if !entriesIndexed {
		return
	}
	now := d.clock()
	for i := range d.shards {
		s := &d.shards[i]
		s.mu.RLock()
		for k, it := range s.items {
			if now >= it.expires {
				continue
			}
			if r := x.recs[k]; r == nil || r.expires < it.expires {
				t.Errorf("live entry %q has no record that outlives it", k)
			}
		}
		s.mu.RUnlock()
	}
}

func newDepsDriver(t testing.TB, maxEntries int, clk *fakeClock) *Driver {
	t.Helper()
	o := &Options{MaxEntries: maxEntries}
	if clk != nil {
		o.Now = clk.Now
	}
	d, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// fill indexes key under deps and stores it, as the cache does: the record
// outlives the entry by a margin, here a second.
func fill(t testing.TB, d *Driver, key string, ttl time.Duration, deps ...string) {
	t.Helper()
	ctx := context.Background()
	if err := d.IndexDeps(ctx, key, deps, ttl+time.Second); err != nil {
		t.Fatal(err)
	}
	if err := d.Set(ctx, key, ttl, cache.Entry{Value: key, TTL: ttl}); err != nil {
		t.Fatal(err)
	}
}

func has(d *Driver, key string) bool {
	_, ok, _ := d.Get(context.Background(), key)
	return ok
}

func TestClearDepsRemovesExactlyTheDependents(t *testing.T) {
	d := newDepsDriver(t, 0, nil)
	fill(t, d, "user:a", time.Hour, "post")
	fill(t, d, "user:b", time.Hour, "post", "comment")
	fill(t, d, "user:c", time.Hour, "comment")
	fill(t, d, "user:d", time.Hour)
	if err := d.ClearDeps(context.Background(), []string{"post", "unknown"}); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]bool{"user:a": false, "user:b": false, "user:c": true, "user:d": true} {
		if got := has(d, k); got != want {
			t.Errorf("%s present = %v, want %v", k, got, want)
		}
	}
	// user:b's record under comment went with it; user:c's stays.
	if recs, tags := d.depRecords(); recs != 1 || tags != 1 {
		t.Errorf("after ClearDeps: %d records under %d tags, want 1 under 1", recs, tags)
	}
	checkDeps(t, d, false)
	if err := d.ClearDeps(context.Background(), []string{"comment"}); err != nil {
		t.Fatal(err)
	}
	if has(d, "user:c") || !has(d, "user:d") {
		t.Error("ClearDeps(comment) did not remove exactly user:c")
	}
	if recs, tags := d.depRecords(); recs != 0 || tags != 0 {
		t.Errorf("after clearing every tag: %d records under %d tags", recs, tags)
	}
}

func TestDepRecordsExpireAndAreReclaimed(t *testing.T) {
	clk := &fakeClock{}
	d := newDepsDriver(t, 0, clk)
	ctx := context.Background()
	fill(t, d, "old", time.Second, "post")
	// The key is stored again for longer without its dependency.
	if err := d.Set(ctx, "old", time.Hour, cache.Entry{Value: 1}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(3 * time.Second)
	if err := d.ClearDeps(ctx, []string{"post"}); err != nil {
		t.Fatal(err)
	}
	if !has(d, "old") {
		t.Error("an expired record still removed its key")
	}
	// Expired records of tags never cleared are swept by later writes.
	for i := range 100 {
		fill(t, d, fmt.Sprint("k", i), time.Second, fmt.Sprint("t", i))
	}
	clk.Advance(3 * time.Second)
	for i := range 20 * sweepEvery {
		fill(t, d, "live", time.Hour, fmt.Sprint("t", i%4))
	}
	if recs, _ := d.depRecords(); recs > 10 {
		t.Errorf("%d records left after their keys expired and %d writes, want the expired ones swept", recs, 20*sweepEvery)
	}
	checkDeps(t, d, false) // "old" was stored again without its dependency
}

func TestDepIndexIsBoundedAndNeverStrandsAnEntry(t *testing.T) {
	d := newDepsDriver(t, 16, nil)
	for i := range 1000 {
		fill(t, d, fmt.Sprint("k", i), time.Hour, fmt.Sprint("t", i%7))
	}
	if recs, _ := d.depRecords(); recs > 32 {
		t.Errorf("%d records, want at most 2*MaxEntries = 32", recs)
	}
	checkDeps(t, d, true)
	for i := range 7 {
		if err := d.ClearDeps(context.Background(), []string{fmt.Sprint("t", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if n := d.Len(); n != 0 {
		t.Errorf("%d entries left after clearing every tag", n)
	}
}

func TestDepIndexStaysConsistentUnderConcurrency(t *testing.T) {
	clk := &fakeClock{}
	d := newDepsDriver(t, 2048, clk)
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 2))
			for range 4000 {
				k := fmt.Sprintf("viborm:m%d:op:%d", r.IntN(4), r.IntN(3000))
				tag := fmt.Sprint("viborm:t", r.IntN(6))
				var err error
				switch op := r.IntN(10); {
				case op < 5:
					ttl := time.Duration(1+r.IntN(50)) * time.Millisecond
					if err = d.IndexDeps(ctx, k, []string{tag, "viborm:all"}, ttl); err == nil {
						err = d.Set(ctx, k, ttl, cache.Entry{Value: k})
					}
				case op < 7:
					_, _, err = d.Get(ctx, k)
				case op < 8:
					err = d.Delete(ctx, []string{k})
				case op < 9:
					err = d.ClearDeps(ctx, []string{tag})
				default:
					err = d.Clear(ctx, fmt.Sprintf("viborm:m%d:", r.IntN(4)))
				}
				if err != nil {
					t.Error(err)
					return
				}
				if r.IntN(50) == 0 {
					clk.Advance(time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	checkDeps(t, d, false)
	checkIndex(t, d)
	// Every entry depends on "viborm:all": clearing it empties the driver.
	if err := d.ClearDeps(ctx, []string{"viborm:all"}); err != nil {
		t.Fatal(err)
	}
	now := d.clock()
	for i := range d.shards {
		s := &d.shards[i]
		for k, it := range s.items {
			if now < it.expires {
				t.Errorf("entry %q outlived ClearDeps of a tag it was indexed under", k)
			}
		}
	}
}

func TestClosedDriverRefusesDeps(t *testing.T) {
	d := newDepsDriver(t, 0, nil)
	fill(t, d, "k", time.Hour, "t")
	d.Close()
	ctx := context.Background()
	if err := d.IndexDeps(ctx, "k", []string{"t"}, time.Hour); err != ErrClosed {
		t.Errorf("IndexDeps after Close = %v, want ErrClosed", err)
	}
	if err := d.ClearDeps(ctx, []string{"t"}); err != ErrClosed {
		t.Errorf("ClearDeps after Close = %v, want ErrClosed", err)
	}
	if recs, _ := d.depRecords(); recs != 0 {
		t.Errorf("Close kept %d records", recs)
	}
}

// BenchmarkClearDeps clears one tag with removed entries from a driver
// that also holds others entries indexed under other tags: its cost should
// grow with removed only, whatever others (ns/removed stays flat across
// others).
func BenchmarkClearDeps(b *testing.B) {
	ctx := context.Background()
	for _, others := range []int{0, 200_000} {
		d := newDepsDriver(b, 4*others+40_000, nil)
		for i := range others {
			fill(b, d, fmt.Sprint("other:", i), time.Hour, fmt.Sprint("t", i%16))
		}
		for _, removed := range []int{1, 100, 10_000} {
			keys := make([]string, removed)
			for i := range keys {
				keys[i] = fmt.Sprint("dep:", i)
			}
			b.Run(fmt.Sprintf("others=%d/removed=%d", others, removed), func(b *testing.B) {
				for range b.N {
					b.StopTimer()
					for _, k := range keys {
						fill(b, d, k, time.Hour, "post", "user")
					}
					b.StartTimer()
					if err := d.ClearDeps(ctx, []string{"post"}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*removed), "ns/removed")
			})
		}
	}
}
