// Command cache shows the cache core on the in-memory driver, without a
// database: a miss, a hit, a stale read served while a refresh runs in the
// background, and an invalidation, printing what happens at each step.
package main

import (
	"context"
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/memorycache"
)

type user struct {
	ID   int
	Name string
}

func main() {
	ctx := context.Background()
	drv, err := memorycache.New(nil)
	if err != nil {
		log.Fatal(err)
	}
	// Background work goes through WaitUntil, VibORM's waitUntil: here it
	// runs each task on a goroutine and lets main wait for the refresh.
	var background sync.WaitGroup
	var outcome cache.Outcome
	c, err := cache.New(drv, &cache.Options{
		WaitUntil: func(ctx context.Context, task func(context.Context)) { background.Go(func() { task(ctx) }) },
		Observer:  func(e cache.Event) { outcome = e.Outcome },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	version := 1
	loadUsers := func(ctx context.Context) ([]user, error) {
		fmt.Printf("    (loader runs: reading users, version %d)\n", version)
		return []user{{1, fmt.Sprintf("Alice v%d", version)}, {2, fmt.Sprintf("Bob v%d", version)}}, nil
	}
	key, err := c.Key("user", "findMany", map[string]any{"where": map[string]any{"active": true}})
	if err != nil {
		log.Fatal(err)
	}
	ttl := cache.MustParseTTL("200ms")
	policy := cache.Policy{TTL: ttl, SWR: true}
	read := func(step string) {
		start := time.Now()
		users, err := cache.Load(ctx, c, key, policy, loadUsers)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%-34s %-6s %v in %v\n", step, outcome, users, time.Since(start))
	}

	fmt.Println("key:", key)
	read("1. first read")
	background.Wait() // the write after the miss
	read("2. second read")
	version = 2
	time.Sleep(ttl + 50*time.Millisecond) // let the entry go stale (a real wait: this is a demo)
	read("3. after the TTL, with SWR")
	background.Wait() // the background refresh
	read("4. after the refresh")
	version = 3
	if err := c.InvalidateModel(ctx, "user"); err != nil {
		log.Fatal(err)
	}
	fmt.Println("   invalidated model user")
	read("5. after the invalidation")
}
