package rediscache_test

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/gojsoncodec"
	"github.com/viborm/viborm-go/cache/rediscache"
)

// Needs a Redis server, so it is compiled but not run.
func Example() {
	rdb := redis.NewClient(&redis.Options{
		Addr:         "127.0.0.1:6379",
		DialTimeout:  time.Second,
		ReadTimeout:  200 * time.Millisecond,
		WriteTimeout: 200 * time.Millisecond,
		// Apply context deadlines to I/O, so the cache can bound each call
		// through its context (see Driver.HonorsContext).
		ContextTimeoutEnabled: true,
	})
	defer rdb.Close() // yours to close; the driver never does

	d, err := rediscache.New(rdb, nil)
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

// A Redis Cluster (or Sentinel) goes through the same constructor. Needs a
// cluster, so it is compiled but not run.
func ExampleNew_cluster() {
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs: []string{"10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"},
	})
	defer rdb.Close()
	d, err := rediscache.New(rdb, &rediscache.Options{Codec: gojsoncodec.Codec})
	if err != nil {
		panic(err)
	}
	c, err := cache.New(d, &cache.Options{Codec: gojsoncodec.Codec})
	if err != nil {
		panic(err)
	}
	defer c.Close()
}

func ExampleMatchPrefix() {
	fmt.Println(rediscache.MatchPrefix("viborm:user:"))
	fmt.Println(rediscache.MatchPrefix("viborm:a*b?[c]:"))
	// Output:
	// viborm:user:*
	// viborm:a\*b\?\[c\]:*
}
