package rueidiscache_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"

	"github.com/viborm/viborm-go/cache/rediscache"
	"github.com/viborm/viborm-go/cache/rueidiscache"
	"github.com/viborm/viborm-go/internal/testenv"
)

// testDB is the database of the shared Redis these tests use. They never
// flush it: every test keeps to keys under a random root of its own and
// removes them when it ends.
const testDB = 11

// The private three-master cluster, started once for the package by the
// first test that needs it and stopped by TestMain.
var testCluster struct {
	once sync.Once
	c    *testenv.RedisCluster
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	testCluster.c.Stop()
	os.Exit(code)
}

// clusterAddrs starts the cluster once and returns its masters' addresses.
func clusterAddrs(t testing.TB) []string {
	t.Helper()
	testenv.RedisServer(t) // skips, or fails under CI, without redis-server
	testCluster.once.Do(func() {
		testCluster.c, testCluster.err = testenv.StartRedisCluster(t, 3)
	})
	if testCluster.err != nil {
		t.Fatalf("starting a Redis Cluster: %v", testCluster.err)
	}
	return testCluster.c.Addrs
}

// newClient returns a rueidis client, without client-side caching, closed
// when t ends.
func newClient(t testing.TB, opt rueidis.ClientOption) rueidis.Client {
	t.Helper()
	opt.DisableCache = true
	c, err := rueidis.NewClient(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// singleClient returns a rueidis client of testDB on the shared Redis.
func singleClient(t testing.TB) rueidis.Client {
	t.Helper()
	return newClient(t, rueidis.ClientOption{InitAddress: []string{testenv.RedisAddr(t)}, SelectDB: testDB})
}

// clusterClient returns a rueidis client of the private cluster.
func clusterClient(t testing.TB) rueidis.Client {
	t.Helper()
	return newClient(t, rueidis.ClientOption{InitAddress: clusterAddrs(t)})
}

// backend is one Redis deployment under test: a rueidis client for the
// driver, and a go-redis client of the same deployment to inspect it.
type backend struct {
	client  rueidis.Client
	inspect redis.UniversalClient
	cluster bool
}

// eachBackend runs f on the shared Redis (a single node) and on the private
// cluster.
func eachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	t.Run("single", func(t *testing.T) {
		g := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t), DB: testDB})
		t.Cleanup(func() { g.Close() })
		f(t, backend{client: singleClient(t), inspect: g})
	})
	t.Run("cluster", func(t *testing.T) {
		g := redis.NewClusterClient(&redis.ClusterOptions{Addrs: clusterAddrs(t)})
		t.Cleanup(func() { g.Close() })
		f(t, backend{client: clusterClient(t), inspect: g, cluster: true})
	})
}

// newDriver returns a driver over c.
func newDriver(t testing.TB, c rueidis.Client, opts *rueidiscache.Options) *rueidiscache.Driver {
	t.Helper()
	d, err := rueidiscache.New(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// root returns a random key root, "rt<hex>:", and removes every key under
// it (and, through Clear, their index entries) when t ends.
func root(t testing.TB, b backend) string {
	t.Helper()
	var r [8]byte
	rand.Read(r[:])
	p := "rt" + hex.EncodeToString(r[:]) + ":"
	t.Cleanup(func() {
		d, err := rueidiscache.New(b.client, nil)
		if err == nil {
			err = d.Clear(context.Background(), p)
		}
		if err == nil {
			err = d.Delete(context.Background(), keysUnder(t, b, p))
		}
		if err != nil {
			t.Errorf("cleaning up %s: %v", p, err)
		}
	})
	return p
}

// keysUnder lists the keys starting with prefix, on every master of a
// cluster, sorted.
func keysUnder(t testing.TB, b backend, prefix string) []string {
	t.Helper()
	ctx := context.Background()
	var keys []string
	var mu sync.Mutex
	scan := func(ctx context.Context, n *redis.Client) error {
		it := n.Scan(ctx, 0, rediscache.MatchPrefix(prefix), 1000).Iterator()
		for it.Next(ctx) {
			mu.Lock()
			keys = append(keys, it.Val())
			mu.Unlock()
		}
		return it.Err()
	}
	var err error
	if cc, ok := b.inspect.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, scan)
	} else {
		err = scan(ctx, b.inspect.(*redis.Client))
	}
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}
