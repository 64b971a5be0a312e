package appcache

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// This module cannot import the main module's internal/testenv, so it
// starts its own redis-server: one for the whole test binary, shared by
// both libraries, on a free 127.0.0.1 port, without persistence.

var (
	redisAddr string // "127.0.0.1:PORT" while the server runs
	redisSkip string // why there is no server (redis-server missing)
)

func TestMain(m *testing.M) {
	code := func() int {
		addr, stop, err := startRedis()
		switch {
		case errors.Is(err, exec.ErrNotFound) && os.Getenv("STRATA_INTEGRATION") != "require":
			redisSkip = "redis-server not found on PATH (apt-get install redis-server); set STRATA_INTEGRATION=require to fail instead"
		case err != nil:
			fmt.Fprintln(os.Stderr, "appcache: start redis-server:", err)
			return 1
		default:
			redisAddr = addr
			defer stop()
		}
		defer closeFixtures()
		return m.Run()
	}()
	os.Exit(code)
}

// needRedis returns the shared server's address, or skips tb.
func needRedis(tb testing.TB) string {
	tb.Helper()
	if redisAddr == "" {
		tb.Skip(redisSkip)
	}
	return redisAddr
}

// startRedis starts redis-server on a free port, retrying with another
// port when one is taken between choosing it and binding it.
func startRedis() (addr string, stop func(), err error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp("", "appcache-redis-")
	if err != nil {
		return "", nil, err
	}
	for range 3 {
		var port int
		if port, err = freePort(); err != nil {
			break
		}
		var stopServer func()
		addr, stopServer, err = startRedisOn(bin, dir, port)
		if err == nil {
			return addr, func() { stopServer(); os.RemoveAll(dir) }, nil
		}
		if !strings.Contains(err.Error(), "Address already in use") {
			break
		}
	}
	os.RemoveAll(dir)
	return "", nil, err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startRedisOn(bin, dir string, port int) (string, func(), error) {
	cmd := exec.Command(bin,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir,
		"--daemonize", "no", "--logfile", "", "--loglevel", "notice")
	cmd.Dir = dir
	cmd.SysProcAttr = childSysProcAttr()
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	ready := make(chan struct{})
	var log strings.Builder // until ready; read only after done or ready
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "Ready to accept connections") {
				close(ready)
				_, _ = io.Copy(io.Discard, out) // keep the pipe drained
				return
			}
		}
	}()
	exited := make(chan error, 1)
	go func() { <-done; exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	select {
	case <-ready:
		return "127.0.0.1:" + strconv.Itoa(port), stop, nil
	case err := <-exited:
		return "", nil, fmt.Errorf("redis-server exited before it was ready (%v):\n%s", err, log.String())
	case <-time.After(30 * time.Second):
		stop()
		return "", nil, fmt.Errorf("redis-server not ready after 30s")
	}
}
