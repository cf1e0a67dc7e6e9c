package cache_test

import (
	"context"
	"fmt"
	"time"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/memorycache"
)

func ExampleKey() {
	args := map[string]any{"where": map[string]any{"active": true}}
	k, _ := cache.Key("user", "findMany", args, &cache.KeyOptions{Compat: true})
	fmt.Println(k)
	k, _ = cache.Key("user", "findMany", args, &cache.KeyOptions{Compat: true, Version: "2"})
	fmt.Println(k)
	// Output:
	// viborm:user:findMany:09bc28b1f061bd01
	// viborm:v2:user:findMany:09bc28b1f061bd01
}

func ExampleParseTTL() {
	for _, s := range []string{"5 minutes", "2.5h", "1 week", "five minutes"} {
		d, err := cache.ParseTTL(s)
		fmt.Println(d, err != nil)
	}
	// Output:
	// 5m0s false
	// 2h30m0s false
	// 168h0m0s false
	// 0s true
}

func ExampleLoad() {
	ctx := context.Background()
	drv, _ := memorycache.New(nil)
	c, _ := cache.New(drv, &cache.Options{WaitUntil: cache.Inline})
	defer c.Close()

	key, _ := c.Key("user", "count", map[string]any{"where": map[string]any{"active": true}})
	count := func(context.Context) (int, error) {
		fmt.Println("  querying the database")
		return 42, nil
	}
	policy := cache.Policy{TTL: time.Minute}
	for range 2 {
		n, _ := cache.Load(ctx, c, key, policy, count)
		fmt.Println("active users:", n)
	}
	c.InvalidateModel(ctx, "user")
	n, _ := cache.Load(ctx, c, key, policy, count)
	fmt.Println("after invalidation:", n)
	// Output:
	//   querying the database
	// active users: 42
	// active users: 42
	//   querying the database
	// after invalidation: 42
}
