package rediscache_test

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/viborm/viborm-go/cache/internal/redisindex/depscheck"
	"github.com/viborm/viborm-go/cache/rediscache"
	"github.com/viborm/viborm-go/internal/testenv"
)

// TestDeps checks the dependency index on the shared Redis (in namespaces
// of its own, never flushed) and on the private cluster.
func TestDeps(t *testing.T) {
	for _, noIndex := range []bool{false, true} {
		name := "index"
		if noIndex {
			name = "NoIndex"
		}
		t.Run(name, func(t *testing.T) {
			newDriver := func(c redis.UniversalClient) func(t *testing.T, ns string) depscheck.Driver {
				return func(t *testing.T, ns string) depscheck.Driver {
					return newDriver(t, c, &rediscache.Options{IndexPrefix: ns, NoIndex: noIndex})
				}
			}
			t.Run("single", func(t *testing.T) {
				c := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t), DB: testDB})
				t.Cleanup(func() { c.Close() })
				env := depscheck.Env{New: newDriver(c), Inspect: c}
				depscheck.Run(t, env)
				depscheck.RunCache(t, env)
			})
			t.Run("cluster", func(t *testing.T) {
				c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: clusterAddrs(t)})
				t.Cleanup(func() { c.Close() })
				env := depscheck.Env{New: newDriver(c), Inspect: c, Cluster: true}
				depscheck.Run(t, env)
				depscheck.RunCache(t, env)
			})
		})
	}
}
