package viborm_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	viborm "github.com/viborm/viborm-go"
	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/memorycache"
)

// TestShutdownBoundsTheWaitForCacheWork: Shutdown waits for the cache's
// background work only until its context ends, then cancels that work,
// returns the context's error and leaves the client closed; Close after it
// is a no-op.
func TestShutdownBoundsTheWaitForCacheWork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{}) // never opened: the work waits for its context
		hook := func(ctx context.Context, task func(context.Context)) {
			go func() {
				select {
				case <-gate:
				case <-ctx.Done():
				}
				task(ctx)
			}()
		}
		mem, err := memorycache.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		kv, err := cache.New(mem, &cache.Options{WaitUntil: hook})
		if err != nil {
			t.Fatal(err)
		}
		drv := openSQLite(t, ":memory:")
		db, err := viborm.NewClient(viborm.Config{Driver: drv, Models: []viborm.AnyModel{Notes}, Cache: kv})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if _, err := db.Push(ctx, nil); err != nil {
			t.Fatal(err)
		}
		// A miss hands the write of its result to the hook, where it waits.
		if _, err := Notes.Count(ctx, db.WithCache(viborm.CacheOptions{}), viborm.Count{}); err != nil {
			t.Fatal(err)
		}
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		start := time.Now()
		err = db.Shutdown(sctx)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Second {
			t.Fatalf("Shutdown = %v after %v (fake time), want the deadline after 1s", err, time.Since(start))
		}
		if _, err := Notes.Count(ctx, db, viborm.Count{}); !errors.Is(err, viborm.ErrClosed) {
			t.Fatalf("a read after Shutdown: %v, want ErrClosed", err)
		}
		if err := db.Close(); err != nil {
			t.Fatalf("Close after Shutdown: %v", err)
		}
	})
}
