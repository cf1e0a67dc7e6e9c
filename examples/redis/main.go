// Command redis shows VibORM's query cache on Redis: a miss that runs the
// query, a hit served from Redis, and an invalidation that makes the next
// read run the query again.
//
//	REDIS_URL=redis://127.0.0.1:6379/0 go run ./examples/redis
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/rediscache"
)

type user struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

func main() {
	url := os.Getenv("REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		log.Fatal(err)
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = time.Second, 500*time.Millisecond, 500*time.Millisecond
	opt.ContextTimeoutEnabled = true // lets the cache bound each call through its context
	rdb := redis.NewClient(opt)
	defer rdb.Close() // the client is ours: the driver never closes it

	d, err := rediscache.New(rdb, nil)
	if err != nil {
		log.Fatal(err)
	}
	// Version keeps this demo's keys apart from a real application's.
	c, err := cache.New(d, &cache.Options{Version: "example", WaitUntil: cache.Inline})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	queries := 0
	findUsers := func(ctx context.Context) ([]user, error) {
		queries++
		fmt.Println("  running the query against the database")
		return []user{{1, "Ada"}, {2, "Grace"}}, nil
	}
	key, err := c.Key("user", "findMany", map[string]any{"where": map[string]any{"active": true}})
	if err != nil {
		log.Fatal(err)
	}
	read := func(step string) {
		fmt.Println(step)
		before := queries
		users, err := cache.Load(ctx, c, key, cache.Policy{TTL: time.Minute}, findUsers)
		if err != nil {
			log.Fatal(err)
		}
		outcome := "hit (served from Redis)"
		if queries > before {
			outcome = "miss"
		}
		fmt.Printf("  %d users, %s\n", len(users), outcome)
	}

	// Start clean, in case an earlier run left the entry.
	if err := c.InvalidateModel(ctx, "user"); err != nil {
		log.Fatal(err)
	}
	read("1. first read")
	raw, _ := rdb.Get(ctx, key).Result()
	fmt.Printf("  stored under %s: %s\n", key, raw)
	read("2. second read")
	fmt.Println("3. a write to user invalidates its entries")
	if err := c.InvalidateModel(ctx, "user"); err != nil {
		log.Fatal(err)
	}
	read("4. read after the invalidation")
	_ = c.InvalidateModel(ctx, "user") // leave nothing behind
}
