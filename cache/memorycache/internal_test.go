package memorycache

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/viborm/viborm-go/cache"
)

// checkIndex verifies that every shard's index holds exactly the keys of its
// map, and that its byte count is the sum of its items' sizes.
func checkIndex(t *testing.T, d *Driver) {
	t.Helper()
	for i := range d.shards {
		s := &d.shards[i]
		s.mu.RLock()
		if got, want := s.index.Len(), len(s.items); got != want {
			t.Errorf("shard %d: index holds %d keys, map %d", i, got, want)
		}
		s.index.Ascend(func(k string) bool {
			if _, ok := s.items[k]; !ok {
				t.Errorf("shard %d: index key %q is not in the map", i, k)
			}
			return true
		})
		var bytes int64
		for _, it := range s.items {
			bytes += it.size
		}
		if bytes != s.bytes {
			t.Errorf("shard %d: bytes = %d, items sum to %d", i, s.bytes, bytes)
		}
		if len(s.items) > s.maxEntries {
			t.Errorf("shard %d: %d entries, bound %d", i, len(s.items), s.maxEntries)
		}
		if s.maxBytes > 0 && s.bytes > s.maxBytes {
			t.Errorf("shard %d: %d bytes, bound %d", i, s.bytes, s.maxBytes)
		}
		s.mu.RUnlock()
	}
}

type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) Now() time.Time           { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(dt time.Duration) { c.ns.Add(int64(dt)) }

func TestIndexStaysInSyncUnderConcurrentChurn(t *testing.T) {
	clk := &fakeClock{}
	clk.ns.Store(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	d, err := New(&Options{MaxEntries: 4096, MaxBytes: 16 << 20, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 5000 {
				k := fmt.Sprintf("viborm:m%d:op:%d", r.IntN(8), r.IntN(3000))
				var err error
				switch op := r.IntN(10); {
				case op < 5:
					err = d.Set(ctx, k, time.Duration(1+r.IntN(50))*time.Millisecond, cache.Entry{Value: k, TTL: time.Second})
				case op < 6:
					_, err = d.Add(ctx, k, time.Duration(1+r.IntN(50))*time.Millisecond, cache.Entry{Value: k})
				case op < 8:
					_, _, err = d.Get(ctx, k)
				case op < 9:
					err = d.Delete(ctx, []string{k, k + "x"})
				default:
					err = d.Clear(ctx, fmt.Sprintf("viborm:m%d:", r.IntN(8)))
				}
				if err != nil {
					t.Error(err)
					return
				}
				if r.IntN(100) == 0 {
					clk.Advance(time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	checkIndex(t, d)
}

func TestEvictionKeepsBounds(t *testing.T) {
	ctx := context.Background()
	d, err := New(&Options{MaxEntries: 100})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		if err := d.Set(ctx, fmt.Sprint("k", i), time.Hour, cache.Entry{Value: i}); err != nil {
			t.Fatal(err)
		}
	}
	if got := d.Len(); got != 100 {
		t.Errorf("Len() = %d, want 100", got)
	}
	checkIndex(t, d)
}

func TestEvictionPrefersRecentlyUsed(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{}
	d, err := New(&Options{MaxEntries: 100, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		d.Set(ctx, fmt.Sprint("k", i), time.Hour, cache.Entry{Value: i})
	}
	// Keep reading k0 while 1,000 other keys churn through.
	for i := range 1000 {
		clk.Advance(2 * time.Millisecond)
		if _, ok, _ := d.Get(ctx, "k0"); !ok {
			t.Fatalf("k0, read before every write, was evicted after %d writes", i)
		}
		d.Set(ctx, fmt.Sprint("new", i), time.Hour, cache.Entry{Value: i})
	}
}

func TestEvictionPrefersExpired(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{}
	d, err := New(&Options{MaxEntries: 100, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 90 {
		d.Set(ctx, fmt.Sprint("short", i), time.Second, cache.Entry{Value: i})
	}
	for i := range 10 {
		d.Set(ctx, fmt.Sprint("long", i), time.Hour, cache.Entry{Value: i})
	}
	clk.Advance(2 * time.Second)
	for i := range 10 {
		d.Set(ctx, fmt.Sprint("new", i), time.Hour, cache.Entry{Value: i})
	}
	lost := 0
	for i := range 10 {
		if _, ok, _ := d.Get(ctx, fmt.Sprint("long", i)); !ok {
			lost++
		}
	}
	// Sampling finds an expired entry almost always when 80% of them are.
	if lost > 1 {
		t.Errorf("%d of 10 live entries evicted while 80 expired ones were stored", lost)
	}
}

func TestExpiredEntriesAreReclaimedBySweep(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{}
	d, err := New(&Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		d.Set(ctx, fmt.Sprint("old", i), time.Second, cache.Entry{Value: i})
	}
	clk.Advance(time.Minute)
	for i := range 2000 {
		d.Set(ctx, fmt.Sprint("new", i), time.Hour, cache.Entry{Value: i})
	}
	if got := d.Len(); got > 2500 {
		t.Errorf("Len() = %d after 1,000 entries expired and 2,000 were written; want most expired ones reclaimed", got)
	}
	checkIndex(t, d)
}

func TestTooLarge(t *testing.T) {
	ctx := context.Background()
	d, err := New(&Options{MaxBytes: 1 << 10})
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 4<<10)
	err = d.Set(ctx, "big", time.Hour, cache.Entry{Value: big})
	if err == nil || !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Set(4 KiB value) with MaxBytes 1 KiB = %v, want ErrTooLarge", err)
	}
	for i := range 100 {
		if err := d.Set(ctx, fmt.Sprint("k", i), time.Hour, cache.Entry{Value: "small"}); err != nil {
			t.Fatal(err)
		}
	}
	checkIndex(t, d)
}

func TestEstimateSize(t *testing.T) {
	type row struct {
		ID   int
		Name string
		Tags []string
	}
	rows := make([]row, 100)
	for i := range rows {
		rows[i] = row{ID: i, Name: "name-0123456789", Tags: []string{"a", "b"}}
	}
	got := estimateSize("k", cache.Entry{Value: rows})
	// 100 rows of 48 bytes inline, 15-byte names, 2×16-byte tag headers + 2 bytes.
	min := int64(100 * (48 + 15 + 32 + 2))
	if got < min || got > 2*min {
		t.Errorf("estimateSize(100 rows) = %d, want about %d", got, min)
	}
	type cyc struct{ Next *cyc }
	c := &cyc{}
	c.Next = c
	if got := estimateSize("k", cache.Entry{Value: c}); got <= 0 {
		t.Errorf("estimateSize(cycle) = %d", got)
	}
}
