package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RedisCluster is a private Redis Cluster of masters only, each a
// redis-server of the test binary's own on a spare loopback port, for tests
// that must not touch the shared server. Start it once per package (say,
// behind a sync.Once) and Stop it from TestMain.
type RedisCluster struct {
	// Addrs are the masters' addresses, host:port.
	Addrs []string

	dir   string
	procs []*exec.Cmd
}

// StartRedisCluster starts masters redis-servers with cluster mode on, joins
// them with redis-cli --cluster create, and waits until every node reports
// cluster_state:ok. On an error the servers already started are stopped.
func StartRedisCluster(t testing.TB, masters int) (*RedisCluster, error) {
	t.Helper()
	server, cli := RedisServer(t), RedisCLI(t)
	dir, err := os.MkdirTemp("", "viborm-redis-cluster-")
	if err != nil {
		return nil, err
	}
	c := &RedisCluster{dir: dir}
	if err := c.start(t, server, cli, masters); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *RedisCluster) start(t testing.TB, server, cli string, masters int) error {
	for range masters {
		p := strconv.Itoa(ClusterPort(t))
		cmd := exec.Command(server, "--port", p, "--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(c.dir, "nodes-"+p+".conf"),
			"--cluster-node-timeout", "5000", "--save", "", "--appendonly", "no",
			"--bind", "127.0.0.1", "--daemonize", "no", "--dir", c.dir)
		if err := cmd.Start(); err != nil {
			return err
		}
		c.procs = append(c.procs, cmd)
		c.Addrs = append(c.Addrs, "127.0.0.1:"+p)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, a := range c.Addrs {
		if err := waitReply(cli, a, deadline, "PONG", "PING"); err != nil {
			return err
		}
	}
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, a := range c.Addrs {
		if err := waitReply(cli, a, deadline, "cluster_state:ok", "CLUSTER", "INFO"); err != nil {
			return err
		}
	}
	return nil
}

// Stop kills the servers and removes their files.
func (c *RedisCluster) Stop() {
	if c == nil {
		return
	}
	for _, p := range c.procs {
		p.Process.Kill()
		p.Wait()
	}
	c.procs = nil
	if c.dir != "" {
		os.RemoveAll(c.dir)
	}
}

// waitReply runs a redis-cli command against addr until its output contains
// want or deadline passes.
func waitReply(cli, addr string, deadline time.Time, want string, command ...string) error {
	host, port, _ := net.SplitHostPort(addr)
	for {
		out, err := exec.Command(cli, append([]string{"-h", host, "-p", port}, command...)...).CombinedOutput()
		if err == nil && strings.Contains(string(out), want) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis at %s: %s did not answer %q: %v %s", addr, strings.Join(command, " "), want, err, out)
		}
		time.Sleep(20 * time.Millisecond) // polling a starting server
	}
}

// ClusterPort returns a free port whose cluster bus port (+10000) is free
// too, for a Redis Cluster node.
func ClusterPort(t testing.TB) int {
	t.Helper()
	for range 100 {
		p := FreePort(t)
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
