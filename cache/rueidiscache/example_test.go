package rueidiscache_test

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/rueidis"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/rueidiscache"
)

// Needs a Redis server, so it is compiled but not run.
func Example() {
	client, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress:      []string{"127.0.0.1:6379"}, // one or more nodes of a Cluster work too
		DisableCache:     true,                       // the driver does not use client-side caching
		ConnWriteTimeout: 2 * time.Second,            // notice a dead server sooner
	})
	if err != nil {
		panic(err)
	}
	defer client.Close() // yours to close; the driver never does

	d, err := rueidiscache.New(client, nil)
	if err != nil {
		panic(err)
	}
	c, err := cache.New(d, &cache.Options{Timeout: 100 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	ctx := context.Background()
	names, err := cache.Load(ctx, c, "user:findMany:active", cache.Policy{TTL: 5 * time.Minute},
		func(ctx context.Context) ([]string, error) { return []string{"Ada", "Grace"}, nil })
	fmt.Println(names, err)

	// After a write to users:
	_ = c.InvalidateModel(ctx, "user")
}
