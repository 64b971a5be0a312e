package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
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
	bin := lookBin("redis-server", "/usr/bin/redis-server", "/usr/local/bin/redis-server")
	if bin == "" {
		unavailable(t, "redis-server not found on PATH or in /usr/bin; %s", installHint)
	}
	dir := t.TempDir()
	var lastErr error
	for attempt := 0; attempt < startAttempts; attempt++ {
		port := FreePort(t)
		srv, err := startRedis(bin, dir, port)
		if err == nil {
			t.Cleanup(func() {
				if err := srv.stop(); err != nil {
					t.Errorf("testenv: stop redis-server on port %d: %v", port, err)
				}
			})
			return "127.0.0.1:" + strconv.Itoa(port)
		}
		lastErr = err
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	t.Fatalf("testenv: start redis-server (%s): %v", bin, lastErr)
	return ""
}

type redisServer struct {
	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{} // closed when cmd.Wait returns
	err    error         // cmd.Wait's result, valid after exited is closed
}

func startRedis(bin, dir string, port int) (*redisServer, error) {
	out := newSyncBuffer(redisReadyLine)
	cmd := exec.Command(bin,
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", dir,
		"--daemonize", "no",
		"--logfile", "",
		"--loglevel", "notice",
	)
	cmd.Dir = dir
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
			return nil, fmt.Errorf("%w: port %d; output:\n%s", errPortTaken, port, tail(log, 4096))
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
	select {
	case <-s.exited:
		return fmt.Errorf("exited early (%v); output:\n%s", s.err, tail(s.out.String(), 4096))
	default:
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
