package rediscache_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/internal/redisindex"
	"github.com/viborm/viborm-go/internal/testenv"
)

// loadUnrelated stores n plain keys, and m keys recorded under the tag
// "viborm:other", none of which a ClearDeps of "viborm:post" may touch.
func loadUnrelated(b *testing.B, c redis.UniversalClient, n, m int) {
	ctx := context.Background()
	for i := 0; i < n; i += 100_000 {
		_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for j := i; j < min(i+100_000, n); j++ {
				p.Set(ctx, "unrelated:"+strconv.Itoa(j), "x", 0)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	keys := make([]string, m)
	for i := range keys {
		keys[i] = "viborm:other:findMany:" + strconv.Itoa(i)
	}
	storeDependents(b, c, keys, "viborm:other")
}

var benchIndexDeps = redis.NewScript(redisindex.IndexDepsScript)

// storeDependents stores keys, each recorded under tag, in one pipeline:
// what IndexDeps and Set do for each, without their round trips.
func storeDependents(b *testing.B, c redis.UniversalClient, keys []string, tag string) {
	ctx := context.Background()
	_, cluster := c.(*redis.ClusterClient)
	l, err := redisindex.NewLayout("bench", "", 0, false, cluster)
	if err != nil {
		b.Fatal(err)
	}
	if err := benchIndexDeps.Load(ctx, c).Err(); err != nil {
		b.Fatal(err)
	}
	if cluster {
		err = c.(*redis.ClusterClient).ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			return benchIndexDeps.Load(ctx, m).Err()
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < len(keys); i += 10_000 {
		cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys[i:min(i+10_000, len(keys))] {
				dk, sl := l.DepKeys(k, []string{tag})
				if cluster {
					p.SAdd(ctx, l.DepRegistryKey(tag), strconv.Itoa(sl))
				}
				benchIndexDeps.EvalSha(ctx, p, dk, k, time.Hour.Milliseconds())
				p.Set(ctx, k, `{"value":1}`, time.Hour)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range cmds {
			if err := c.Err(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkClearDeps clears the 1 or 1,000 entries that depend on a model,
// among 1,000,000 unrelated keys and 10,000 entries recorded under another
// model (100,000 and 10,000 on the cluster), on private servers.
func BenchmarkClearDeps(b *testing.B) {
	for _, topo := range []string{"single", "cluster"} {
		b.Run(topo, func(b *testing.B) {
			var client redis.UniversalClient
			unrelated := 1_000_000
			if topo == "single" {
				c := redis.NewClient(&redis.Options{Addr: testenv.StartPrivateRedis(b).Addr})
				b.Cleanup(func() { c.Close() })
				client = c
			} else {
				client = clusterClient(b)
				unrelated = 100_000
			}
			loadUnrelated(b, client, unrelated, 10_000)
			d := newDriver(b, client, nil)
			ctx := context.Background()
			for _, n := range []int{1, 1000} {
				keys := make([]string, n)
				for i := range keys {
					keys[i] = fmt.Sprintf("viborm:user:findMany:%d", i)
				}
				b.Run("removed="+strconv.Itoa(n), func(b *testing.B) {
					for b.Loop() {
						b.StopTimer()
						storeDependents(b, client, keys, "viborm:post")
						b.StartTimer()
						if err := d.ClearDeps(ctx, []string{"viborm:post"}); err != nil {
							b.Fatal(err)
						}
					}
					b.StopTimer()
					for _, k := range keys[:min(n, 10)] {
						if n, _ := client.Exists(ctx, k).Result(); n != 0 {
							b.Fatalf("%s survived ClearDeps", k)
						}
					}
					if n, _ := client.Exists(ctx, "viborm:other:findMany:7").Result(); n != 1 {
						b.Fatal("an entry of another model was removed")
					}
				})
			}
		})
	}
}

// BenchmarkSetIndexDeps is what a fill with dependencies costs the driver:
// IndexDeps with 0 (a plain Set), 1 or 4 dependencies, then Set, on a
// private single server and the private cluster.
func BenchmarkSetIndexDeps(b *testing.B) {
	for _, topo := range []string{"single", "cluster"} {
		b.Run(topo, func(b *testing.B) {
			var client redis.UniversalClient
			if topo == "single" {
				client = singleClient(b)
			} else {
				client = clusterClient(b)
			}
			d := newDriver(b, client, nil)
			ctx := context.Background()
			e := cache.NewEntry(benchRows(1), time.Now(), time.Hour)
			all := []string{"viborm:post", "viborm:comment", "viborm:tag", "viborm:_post_tag"}
			for _, n := range []int{0, 1, 4} {
				deps := all[:n]
				b.Run("deps="+strconv.Itoa(n), func(b *testing.B) {
					i := 0
					for b.Loop() {
						i++
						k := "viborm:user:findMany:" + strconv.Itoa(i%10_000)
						if n > 0 {
							if err := d.IndexDeps(ctx, k, deps, time.Minute); err != nil {
								b.Fatal(err)
							}
						}
						if err := d.Set(ctx, k, time.Minute, e); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
