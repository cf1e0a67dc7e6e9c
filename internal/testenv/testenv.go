// Package testenv finds the real servers that tests talk to on the loopback
// interface: Redis, PostgreSQL and MariaDB/MySQL. scripts/test starts them
// when they are not running. A test that needs a server that cannot be
// reached is skipped, except when the CI environment variable is set: then
// a missing server is a failure.
package testenv

import (
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

// CI reports whether the tests run under CI, where a missing server fails.
func CI() bool { return os.Getenv("CI") != "" }

func getenv(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// require fails (under CI) or skips the test when addr does not accept TCP
// connections.
func require(t testing.TB, what, addr string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		conn.Close()
		return
	}
	if CI() {
		t.Fatalf("%s is not reachable at %s (run scripts/test, which starts it): %v", what, addr, err)
	}
	t.Skipf("%s is not reachable at %s (run scripts/test, which starts it): %v", what, addr, err)
}

// RedisAddr returns the address of the shared Redis server
// (VIBORM_REDIS_ADDR, default 127.0.0.1:6379).
func RedisAddr(t testing.TB) string {
	t.Helper()
	addr := SharedRedisAddr()
	require(t, "Redis", addr)
	return addr
}

// SharedRedisAddr returns the address of the shared Redis server, like
// [RedisAddr], without checking that it answers: for a TestMain, which has
// no test to skip or fail. Tests must not flush this server, nor stop or
// reconfigure it; they delete only the keys they wrote.
func SharedRedisAddr() string { return getenv("VIBORM_REDIS_ADDR", "127.0.0.1:6379") }

// PostgresDSN returns a DSN of the shared PostgreSQL server
// (VIBORM_POSTGRES_DSN, default the "test" database on 127.0.0.1:5432).
func PostgresDSN(t testing.TB) string {
	t.Helper()
	require(t, "PostgreSQL", getenv("VIBORM_POSTGRES_ADDR", "127.0.0.1:5432"))
	return getenv("VIBORM_POSTGRES_DSN", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
}

// MySQLDSN returns a go-sql-driver/mysql DSN of the shared MariaDB/MySQL
// server (VIBORM_MYSQL_DSN, default the "test" database on 127.0.0.1:3306).
func MySQLDSN(t testing.TB) string {
	t.Helper()
	require(t, "MariaDB", getenv("VIBORM_MYSQL_ADDR", "127.0.0.1:3306"))
	return getenv("VIBORM_MYSQL_DSN", "root@tcp(127.0.0.1:3306)/test?parseTime=true&multiStatements=true")
}

// RedisServer returns the path of the redis-server binary, for tests that
// start servers of their own (a cluster, a server to kill).
func RedisServer(t testing.TB) string {
	t.Helper()
	return binary(t, "redis-server")
}

// RedisCLI returns the path of the redis-cli binary.
func RedisCLI(t testing.TB) string {
	t.Helper()
	return binary(t, "redis-cli")
}

func binary(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if CI() {
		t.Fatalf("%s not found (scripts/test installs it): %v", name, err)
	}
	t.Skipf("%s not found (scripts/test installs it): %v", name, err)
	return ""
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
