package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	redisReadyLine    = "Ready to accept connections"
	redisStartTimeout = 30 * time.Second
	redisStopTimeout  = 10 * time.Second
	startAttempts     = 3
)

// errPortTaken marks a start that failed because another process bound the
// chosen port first; the caller retries with a new port.
var errPortTaken = errors.New("port already in use")

// Redis starts a private redis-server on a free 127.0.0.1 port and returns
// its address as "127.0.0.1:PORT". The server has persistence disabled and
// is stopped when the test ends. See the package documentation for the
// skip-versus-fail rule when redis-server is not installed.
func Redis(t testing.TB) string {
	t.Helper()
	return StartRedis(t).Addr()
}

// RedisProcess is a redis-server started by [StartRedis], which the test can
// crash, stop and start again on the same address. Its methods are safe for
// concurrent use.
type RedisProcess struct {
	t    testing.TB // the test that started it; receives Stop/Kill errors
	conf redisConfig

	mu  sync.Mutex
	srv *redisServer // nil while stopped
}

// StartRedis is like [Redis] but returns a handle on the server process, for
// tests of what happens when Redis goes away and comes back. The server is
// stopped when the test ends, unless it is already stopped.
func StartRedis(t testing.TB) *RedisProcess {
	t.Helper()
	bin := redisServerBin(t)
	return startRedisProcess(t, redisConfig{bin: bin, dir: t.TempDir()}, func() int { return FreePort(t) })
}

// Addr returns the server's address, "127.0.0.1:PORT". It does not change
// across [RedisProcess.Restart].
func (p *RedisProcess) Addr() string {
	return "127.0.0.1:" + strconv.Itoa(p.conf.port)
}

// Kill sends SIGKILL and waits for the process to exit, simulating a crash:
// open connections are reset and nothing is flushed. It does nothing if the
// server is already stopped. If the process had exited on its own, Kill
// reports that as an error of the test that started it.
func (p *RedisProcess) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.srv == nil {
		return
	}
	srv := p.srv
	p.srv = nil
	if err := srv.kill(); err != nil {
		p.t.Errorf("testenv: kill redis-server on %s: %v", p.Addr(), err)
	}
}

// Stop sends SIGTERM and waits for the process to exit (SIGKILL if it does
// not exit within 10s, which is reported as an error). It does nothing if
// the server is already stopped. If the process had exited on its own, Stop
// reports that as an error of the test that started it.
func (p *RedisProcess) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.srv == nil {
		return
	}
	srv := p.srv
	p.srv = nil
	if err := srv.stop(); err != nil {
		p.t.Errorf("testenv: stop redis-server on %s: %v", p.Addr(), err)
	}
}

// Restart starts redis-server again on the same port and directory and
// returns once it is ready. If the server is still running it is first
// stopped as by [RedisProcess.Stop]; a process that exited on its own (a
// crash, or a SHUTDOWN sent by the test) is not an error here. Data does not
// survive a restart, since persistence is off. Restart fails t if the port
// was taken by another process while the server was down, or if the server
// does not start.
func (p *RedisProcess) Restart(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.srv != nil {
		srv := p.srv
		p.srv = nil
		if err := srv.stop(); err != nil && !errors.Is(err, errExitedEarly) {
			t.Errorf("testenv: stop redis-server on %s before restart: %v", p.Addr(), err)
		}
	}
	srv, err := startRedis(p.conf)
	if errors.Is(err, errPortTaken) {
		t.Fatalf("testenv: restart redis-server on %s: the port was taken by another process while the server was down: %v", p.Addr(), err)
	}
	if err != nil {
		t.Fatalf("testenv: restart redis-server (%s) on %s: %v", p.conf.bin, p.Addr(), err)
	}
	p.srv = srv
}

// redisServerBin locates redis-server, or skips or fails t as the package
// documentation describes.
func redisServerBin(t testing.TB) string {
	t.Helper()
	bin := lookBin("redis-server", "/usr/bin/redis-server", "/usr/local/bin/redis-server")
	if bin == "" {
		unavailable(t, "redis-server not found on PATH or in /usr/bin; %s", installHint)
	}
	return bin
}

// startRedisProcess starts redis-server as described by conf, on a port from
// pickPort, choosing a new port if another process takes it first. It
// registers the server's cleanup with t.
func startRedisProcess(t testing.TB, conf redisConfig, pickPort func() int) *RedisProcess {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt < startAttempts; attempt++ {
		conf.port = pickPort()
		srv, err := startRedis(conf)
		if err == nil {
			p := &RedisProcess{t: t, conf: conf, srv: srv}
			t.Cleanup(p.Stop)
			return p
		}
		lastErr = err
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	t.Fatalf("testenv: start redis-server (%s): %v", conf.bin, lastErr)
	return nil
}

// redisConfig describes how to run one redis-server.
type redisConfig struct {
	bin     string
	dir     string // working directory, also --dir
	port    int
	cluster bool // cluster mode; the bus port is port+10000
}

func (c redisConfig) args() []string {
	args := []string{
		"--port", strconv.Itoa(c.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", c.dir,
		"--daemonize", "no",
		"--logfile", "",
		"--loglevel", "notice",
	}
	if c.cluster {
		args = append(args,
			"--cluster-enabled", "yes",
			"--cluster-config-file", fmt.Sprintf("%s/nodes-%d.conf", c.dir, c.port),
			"--cluster-node-timeout", strconv.Itoa(clusterNodeTimeoutMS),
		)
	}
	return args
}

// errExitedEarly marks a server that exited without being asked to.
var errExitedEarly = errors.New("exited on its own")

type redisServer struct {
	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{} // closed when cmd.Wait returns
	err    error         // cmd.Wait's result, valid after exited is closed
}

func startRedis(conf redisConfig) (*redisServer, error) {
	out := newSyncBuffer(redisReadyLine)
	cmd := exec.Command(conf.bin, conf.args()...)
	cmd.Dir = conf.dir
	cmd.Env = serverEnv()
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = childSysProcAttr()
	// The copy goroutines end when redis exits; WaitDelay bounds Wait if a
	// stray descendant kept the pipes open.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &redisServer{cmd: cmd, out: out, exited: make(chan struct{})}
	go func() {
		s.err = cmd.Wait()
		close(s.exited)
	}()

	timer := time.NewTimer(redisStartTimeout)
	defer timer.Stop()
	select {
	case <-out.matched:
		return s, nil
	case <-s.exited:
		log := out.String()
		if strings.Contains(log, "Address already in use") {
			return nil, fmt.Errorf("%w: port %d; output:\n%s", errPortTaken, conf.port, tail(log, 4096))
		}
		return nil, fmt.Errorf("exited before it was ready (%v); output:\n%s", s.err, tail(log, 4096))
	case <-timer.C:
		_ = s.stop()
		return nil, fmt.Errorf("not ready after %s; output:\n%s", redisStartTimeout, tail(out.String(), 4096))
	}
}

// stop sends SIGTERM and waits for the process, killing it if it does not
// exit in time.
func (s *redisServer) stop() error {
	if err := s.exitedEarly(); err != nil {
		return err
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	timer := time.NewTimer(redisStopTimeout)
	defer timer.Stop()
	select {
	case <-s.exited:
		return nil
	case <-timer.C:
		_ = s.cmd.Process.Kill()
		<-s.exited
		return fmt.Errorf("did not exit within %s of SIGTERM; killed; output:\n%s",
			redisStopTimeout, tail(s.out.String(), 4096))
	}
}

// kill sends SIGKILL and waits for the process.
func (s *redisServer) kill() error {
	if err := s.exitedEarly(); err != nil {
		return err
	}
	if err := s.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	<-s.exited
	return nil
}

// exitedEarly returns an error wrapping errExitedEarly if the process has
// already exited.
func (s *redisServer) exitedEarly() error {
	select {
	case <-s.exited:
		return fmt.Errorf("%w (%v); output:\n%s", errExitedEarly, s.err, tail(s.out.String(), 4096))
	default:
		return nil
	}
}
