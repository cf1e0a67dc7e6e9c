package testenv

import (
	"fmt"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// PrivateRedis is a redis-server of a test's own on a spare loopback port,
// for tests that kill, restart, freeze or flush a server: never the shared
// one. It keeps nothing on disk, so a restart on the same port is empty. It
// is killed when the test ends.
type PrivateRedis struct {
	Addr string // host:port

	t    testing.TB
	bin  string
	port int
	dir  string
	cmd  *exec.Cmd
}

// StartPrivateRedis starts a PrivateRedis and waits until it answers.
func StartPrivateRedis(t testing.TB) *PrivateRedis {
	t.Helper()
	s := &PrivateRedis{t: t, bin: RedisServer(t), port: FreePort(t), dir: t.TempDir()}
	s.Addr = fmt.Sprintf("127.0.0.1:%d", s.port)
	s.Start()
	t.Cleanup(s.Kill)
	return s
}

// Start starts the server (again, after Kill) on its port and waits until
// it answers PING.
func (s *PrivateRedis) Start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, "--port", strconv.Itoa(s.port), "--save", "", "--appendonly", "no",
		"--bind", "127.0.0.1", "--daemonize", "no", "--dir", s.dir)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	if err := waitReply(RedisCLI(s.t), s.Addr, time.Now().Add(10*time.Second), "PONG", "PING"); err != nil {
		s.t.Fatal(err)
	}
}

// Kill kills the server (continuing it first if it was stopped) and waits
// for it to exit. Killing a killed server does nothing.
func (s *PrivateRedis) Kill() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGCONT)
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// Signal sends sig to the server: SIGSTOP freezes it, SIGCONT resumes it.
func (s *PrivateRedis) Signal(sig syscall.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatal(err)
	}
}
