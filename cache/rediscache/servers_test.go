package rediscache_test

import (
	"context"
	"errors"
	"fmt"
	"net"
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

// testDB is the database of the shared Redis that this package's tests own
// and flush; other packages keep to theirs.
const testDB = 9

// The private three-master cluster, started once for the package on the
// first test that needs it and stopped by TestMain.
var testCluster struct {
	once  sync.Once
	addrs []string
	err   error
	dir   string
	procs []*exec.Cmd
}

func TestMain(m *testing.M) {
	code := m.Run()
	stopCluster()
	os.Exit(code)
}

// singleClient returns a client of the shared Redis on testDB, flushed.
func singleClient(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t), DB: testDB})
	t.Cleanup(func() { c.Close() })
	if err := c.FlushDB(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	return c
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

// clusterPort returns a free port whose cluster bus port (+10000) is free too.
func clusterPort(t testing.TB) int {
	for range 100 {
		p := testenv.FreePort(t)
		if p+10000 > 65535 {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+10000))
		if err != nil {
			continue
		}
		l.Close()
		return p
	}
	t.Fatal("no free port pair for a cluster node")
	return 0
}

func startCluster(t testing.TB, server, cli string) ([]string, error) {
	dir, err := os.MkdirTemp("", "rediscache-cluster-")
	if err != nil {
		return nil, err
	}
	testCluster.dir = dir
	var addrs []string
	for range 3 {
		p := strconv.Itoa(clusterPort(t))
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

// privateServer is a redis-server of a test's own, which it can kill and
// restart on the same port.
type privateServer struct {
	t      testing.TB
	bin    string
	port   int
	addr   string
	cmd    *exec.Cmd
	killed bool
}

func startPrivateServer(t testing.TB) *privateServer {
	t.Helper()
	s := &privateServer{t: t, bin: testenv.RedisServer(t), port: testenv.FreePort(t)}
	s.addr = fmt.Sprintf("127.0.0.1:%d", s.port)
	s.start()
	t.Cleanup(s.kill)
	return s
}

func (s *privateServer) start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, "--port", strconv.Itoa(s.port), "--save", "", "--appendonly", "no",
		"--bind", "127.0.0.1", "--daemonize", "no", "--dir", s.t.TempDir())
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.killed = false
	if err := waitPing(s.addr, 10*time.Second); err != nil {
		s.t.Fatal(err)
	}
}

func (s *privateServer) kill() {
	if s.killed || s.cmd == nil {
		return
	}
	s.killed = true
	s.cmd.Process.Kill()
	s.cmd.Wait()
}
