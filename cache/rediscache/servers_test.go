package rediscache_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/viborm/viborm-go/internal/testenv"
)

// testDB is the database of the shared Redis (VIBORM_REDIS_ADDR) that the
// conformance tests use. The kit keeps to random namespaces of its own and
// never flushes; every other test of this package, and every benchmark,
// runs against servers it started itself (the private single server and
// cluster below, or a testenv.PrivateRedis), the only servers it may flush.
const testDB = 9

// The private single server and three-master cluster, each started once for
// the package on the first test or benchmark that needs it and stopped by
// TestMain.
var (
	testSingle struct {
		once sync.Once
		addr string
		err  error
		dir  string
		proc *exec.Cmd
	}
	testCluster struct {
		once  sync.Once
		addrs []string
		err   error
		dir   string
		procs []*exec.Cmd
	}
)

func TestMain(m *testing.M) {
	redis.SetLogger(quietDials{})
	sentinels := plantSentinels()
	code := m.Run()
	stopSingle()
	stopCluster()
	if err := sentinels(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		code = 1
	}
	os.Exit(code)
}

// quietDials is go-redis's logger without its reports of failed dials,
// which the tests that kill servers provoke by the hundred.
type quietDials struct{}

func (quietDials) Printf(_ context.Context, format string, v ...any) {
	if !strings.HasPrefix(format, "redis: connection pool: failed to dial") {
		log.Printf(format, v...)
	}
}

// plantSentinels guards the shared Redis against the package's tests and
// benchmarks: it stores a key of its own in databases 0, testDB and 15 (the
// ones earlier versions flushed) and returns a check, run after them, that
// every key is still there, which it then deletes. When the shared Redis does
// not answer there is nothing to guard, and the check passes.
func plantSentinels() (check func() error) {
	dbs := []int{0, testDB, 15}
	key := fmt.Sprintf("rediscache-test-sentinel:%d:%d", os.Getpid(), time.Now().UnixNano())
	var planted []*redis.Client
	for _, db := range dbs {
		c := redis.NewClient(&redis.Options{Addr: testenv.SharedRedisAddr(), DB: db, MaxRetries: -1, DialTimeout: time.Second})
		if err := c.Set(context.Background(), key, "x", time.Hour).Err(); err != nil {
			c.Close()
			continue
		}
		planted = append(planted, c)
	}
	return func() error {
		var errs []error
		for _, c := range planted {
			n, err := c.Del(context.Background(), key).Result()
			if err == nil && n == 0 {
				err = fmt.Errorf("key %s of database %d of the shared Redis at %s vanished while the tests ran: a test or benchmark flushed a server it did not start", key, c.Options().DB, c.Options().Addr)
			}
			errs = append(errs, err)
			c.Close()
		}
		return errors.Join(errs...)
	}
}

// singleClient returns a client of the private single server, flushed.
func singleClient(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: singleAddr(t)})
	t.Cleanup(func() { c.Close() })
	if err := c.FlushDB(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	return c
}

// singleAddr starts the private single server once and returns its address.
func singleAddr(t testing.TB) string {
	t.Helper()
	server := testenv.RedisServer(t)
	testSingle.once.Do(func() {
		testSingle.err = errors.New("single server setup did not finish")
		testSingle.addr, testSingle.err = startSingle(t, server)
	})
	if testSingle.err != nil {
		t.Fatalf("starting a private Redis server: %v", testSingle.err)
	}
	return testSingle.addr
}

func startSingle(t testing.TB, server string) (string, error) {
	dir, err := os.MkdirTemp("", "rediscache-single-")
	if err != nil {
		return "", err
	}
	testSingle.dir = dir
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cmd := exec.Command(server, "--port", strings.TrimPrefix(addr, "127.0.0.1:"), "--save", "", "--appendonly", "no",
		"--bind", "127.0.0.1", "--daemonize", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		return "", err
	}
	testSingle.proc = cmd
	return addr, waitPing(addr, 10*time.Second)
}

func stopSingle() {
	if p := testSingle.proc; p != nil {
		p.Process.Kill()
		p.Wait()
	}
	if testSingle.dir != "" {
		os.RemoveAll(testSingle.dir)
	}
}

// clusterClient returns a client of the private cluster, flushed.
func clusterClient(t testing.TB) *redis.ClusterClient {
	t.Helper()
	addrs := clusterAddrs(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()
	err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		return m.FlushDB(ctx).Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// clusterAddrs starts the cluster once and returns its nodes' addresses.
func clusterAddrs(t testing.TB) []string {
	t.Helper()
	server, cli := testenv.RedisServer(t), testenv.RedisCLI(t)
	testCluster.once.Do(func() {
		testCluster.err = errors.New("cluster setup did not finish")
		testCluster.addrs, testCluster.err = startCluster(t, server, cli)
	})
	if testCluster.err != nil {
		t.Fatalf("starting a Redis Cluster: %v", testCluster.err)
	}
	return testCluster.addrs
}

func startCluster(t testing.TB, server, cli string) ([]string, error) {
	dir, err := os.MkdirTemp("", "rediscache-cluster-")
	if err != nil {
		return nil, err
	}
	testCluster.dir = dir
	var addrs []string
	for range 3 {
		p := strconv.Itoa(testenv.ClusterPort(t))
		cmd := exec.Command(server, "--port", p, "--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, "nodes-"+p+".conf"),
			"--cluster-node-timeout", "5000", "--save", "", "--appendonly", "no",
			"--bind", "127.0.0.1", "--daemonize", "no", "--dir", dir)
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		testCluster.procs = append(testCluster.procs, cmd)
		addrs = append(addrs, "127.0.0.1:"+p)
	}
	for _, a := range addrs {
		if err := waitPing(a, 10*time.Second); err != nil {
			return nil, err
		}
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, a := range addrs {
		c := redis.NewClient(&redis.Options{Addr: a})
		for {
			info, err := c.ClusterInfo(context.Background()).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				c.Close()
				return nil, fmt.Errorf("%s: cluster_state not ok: %v %s", a, err, info)
			}
			time.Sleep(20 * time.Millisecond) // polling readiness
		}
		c.Close()
	}
	return addrs, nil
}

func stopCluster() {
	for _, p := range testCluster.procs {
		p.Process.Kill()
		p.Wait()
	}
	if testCluster.dir != "" {
		os.RemoveAll(testCluster.dir)
	}
}

// waitPing polls addr until it answers PING or timeout passes.
func waitPing(addr string, timeout time.Duration) error {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	deadline := time.Now().Add(timeout)
	for {
		err := c.Ping(context.Background()).Err()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis at %s not ready: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond) // polling readiness
	}
}
