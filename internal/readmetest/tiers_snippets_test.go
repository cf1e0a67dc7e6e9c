package readmetest

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/internal/testenv"
)

// TestReadmeTieredExample builds the README's two-tier cache on the shared
// Redis and reads through it: a miss, then a hit. Its keys carry a random
// version and are deleted at the end; nothing is flushed.
func TestReadmeTieredExample(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t), DB: 9})
	t.Cleanup(func() { rdb.Close() })
	c, err := tieredExample(rdb)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	key := "viborm:readmetest-" + time.Now().Format("150405.000000000") + ":tiered"
	t.Cleanup(func() { c.Delete(context.Background(), key) })
	loads := 0
	load := func(context.Context) (string, error) { loads++; return "v", nil }
	for range 2 {
		v, err := cache.Load(ctx, c, key, cache.Policy{TTL: time.Minute, WaitUntil: cache.Inline}, load)
		if err != nil || v != "v" {
			t.Fatalf("Load = %q, %v", v, err)
		}
	}
	if loads != 1 {
		t.Fatalf("loader ran %d times, want 1 (the second read is a hit)", loads)
	}
}
