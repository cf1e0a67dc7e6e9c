package tiered_test

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/memorycache"
	"github.com/viborm/viborm-go/cache/rediscache"
	"github.com/viborm/viborm-go/cache/tiered"
)

// Every instance of a service builds the same stack: Redis as L2, an
// in-process L1 bounded to 10,000 entries and 32 MiB, and the Redis pub/sub
// bus that keeps the instances' L1 coherent. Needs a Redis server, so it is
// compiled but not run.
func Example() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	defer rdb.Close() // yours to close; neither the driver nor the bus does

	l2, err := rediscache.New(rdb, nil)
	if err != nil {
		panic(err)
	}
	bus, err := rediscache.NewBus(rdb, &rediscache.BusOptions{Channel: "myservice:viborm:invalidations"})
	if err != nil {
		panic(err)
	}
	d, err := tiered.New(l2, bus, &tiered.Options{
		L1:     &memorycache.Options{MaxEntries: 10_000, MaxBytes: 32 << 20},
		MaxTTL: 30 * time.Second,
	})
	if err != nil {
		panic(err)
	}
	c, err := cache.New(d, &cache.Options{Timeout: 100 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	defer c.Close() // stops the subscription and waits for it

	ctx := context.Background()
	names, err := cache.Load(ctx, c, "user:findMany:active", cache.Policy{TTL: time.Minute},
		func(ctx context.Context) ([]string, error) { return []string{"Ada", "Grace"}, nil })
	fmt.Println(names, err)

	// After a write to users, on any instance: every instance's L1 drops
	// the model's entries.
	_ = c.InvalidateModel(ctx, "user")
}
