package memorycache_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/memorycache"
)

func TestNewRejectsInvalidOptions(t *testing.T) {
	for _, o := range []memorycache.Options{{MaxEntries: -1}, {MaxBytes: -1}} {
		d, err := memorycache.New(&o)
		if d != nil || !errors.Is(err, cache.ErrConfig) {
			t.Errorf("New(%+v) = %v, %v; want nil, ErrConfig", o, d, err)
		}
	}
}

func TestGetReturnsTheStoredValueWithoutCopying(t *testing.T) {
	ctx := context.Background()
	d, err := memorycache.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	v := &struct{ N int }{1}
	if err := d.Set(ctx, "k", time.Minute, cache.Entry{Value: v}); err != nil {
		t.Fatal(err)
	}
	e, ok, err := d.Get(ctx, "k")
	if err != nil || !ok {
		t.Fatalf("Get = %v, %v", ok, err)
	}
	if got := e.Value.(*struct{ N int }); got != v {
		t.Errorf("Get returned %p, want the stored %p", got, v)
	}
}

func TestClosedDriverReportsErrClosed(t *testing.T) {
	ctx := context.Background()
	d, _ := memorycache.New(nil)
	d.Set(ctx, "k", time.Minute, cache.Entry{Value: 1})
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if _, _, err := d.Get(ctx, "k"); !errors.Is(err, memorycache.ErrClosed) {
		t.Errorf("Get after Close = %v, want ErrClosed", err)
	}
	if got := d.Len(); got != 0 {
		t.Errorf("Len after Close = %d, want 0", got)
	}
}

func Example() {
	ctx := context.Background()
	d, err := memorycache.New(&memorycache.Options{MaxEntries: 10_000})
	if err != nil {
		panic(err)
	}
	defer d.Close()

	created := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	d.Set(ctx, "viborm:user:findMany:a", time.Minute, cache.NewEntry([]string{"ada"}, created, 30*time.Second))
	d.Set(ctx, "viborm:userProfile:findMany:b", time.Minute, cache.NewEntry([]string{"bio"}, created, 30*time.Second))

	e, ok, _ := d.Get(ctx, "viborm:user:findMany:a")
	fmt.Println(e.Value, ok, e.TTL)

	d.Clear(ctx, "viborm:user:")
	_, ok, _ = d.Get(ctx, "viborm:user:findMany:a")
	fmt.Println("user entry after Clear:", ok)
	_, ok, _ = d.Get(ctx, "viborm:userProfile:findMany:b")
	fmt.Println("userProfile entry after Clear:", ok)
	// Output:
	// [ada] true 30s
	// user entry after Clear: false
	// userProfile entry after Clear: true
}

func BenchmarkGetHit(b *testing.B) {
	ctx := context.Background()
	d, _ := memorycache.New(nil)
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("viborm:user:findMany:%016x", i)
		d.Set(ctx, keys[i], time.Hour, cache.Entry{Value: i, TTL: time.Minute})
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, ok, _ := d.Get(ctx, keys[i&1023]); !ok {
				b.Fatal("miss")
			}
			i++
		}
	})
}

func BenchmarkSet(b *testing.B) {
	ctx := context.Background()
	d, _ := memorycache.New(nil)
	keys := make([]string, 1<<16)
	for i := range keys {
		keys[i] = fmt.Sprintf("viborm:user:findMany:%016x", i)
	}
	e := cache.Entry{Value: 1, TTL: time.Minute}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		d.Set(ctx, keys[i&(1<<16-1)], time.Hour, e)
		i++
	}
}

// BenchmarkClear1000Of1M clears one model's 1,000 entries from a driver
// holding 1,000,000. Refilling the 1,000 entries is excluded from the
// timing.
func BenchmarkClear1000Of1M(b *testing.B) {
	ctx := context.Background()
	d, _ := memorycache.New(&memorycache.Options{MaxEntries: 2_000_000})
	e := cache.Entry{Value: 1, TTL: time.Minute}
	for m := range 1000 {
		for i := range 1000 {
			d.Set(ctx, fmt.Sprintf("viborm:model%03d:findMany:%04d", m, i), time.Hour, e)
		}
	}
	target := make([]string, 1000)
	for i := range target {
		target[i] = fmt.Sprintf("viborm:model500:findMany:%04d", i)
	}
	if got := d.Len(); got != 1_000_000 {
		b.Fatalf("Len() = %d, want 1,000,000", got)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		d.Clear(ctx, "viborm:model500:")
		b.StopTimer()
		for _, k := range target {
			d.Set(ctx, k, time.Hour, e)
		}
		b.StartTimer()
	}
	b.StopTimer()
	if got := d.Len(); got != 1_000_000 {
		b.Fatalf("Len() = %d after clearing and refilling, want 1,000,000", got)
	}
}
