package testenv_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/rueidis"

	"github.com/strata-cache/strata/internal/testenv"
)

func TestRequired(t *testing.T) {
	for _, tc := range []struct {
		val  string
		want bool
	}{
		{"", false},
		{"0", false},
		{"optional", false},
		{"require", true},
	} {
		t.Setenv(testenv.EnvIntegration, tc.val)
		if got := testenv.Required(); got != tc.want {
			t.Errorf("Required() with %s=%q = %v, want %v", testenv.EnvIntegration, tc.val, got, tc.want)
		}
	}
}

func TestFreePort(t *testing.T) {
	port := testenv.FreePort(t)
	if port <= 0 || port > 65535 {
		t.Fatalf("FreePort() = %d, want a valid TCP port", port)
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatalf("port %d from FreePort is not bindable: %v", port, err)
	}
	l.Close()
}

func TestRedis(t *testing.T) {
	t.Parallel()
	addr := testenv.Redis(t)
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("Redis() = %q, want 127.0.0.1:PORT", addr)
	}

	client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	if err != nil {
		t.Fatalf("rueidis.NewClient(%s): %v", addr, err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	pong, err := client.Do(ctx, client.B().Ping().Build()).ToString()
	if err != nil || pong != "PONG" {
		t.Fatalf("PING = %q, %v; want PONG", pong, err)
	}
	if err := client.Do(ctx, client.B().Set().Key("testenv:k").Value("hello strata").Build()).Error(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	got, err := client.Do(ctx, client.B().Get().Key("testenv:k").Build()).ToString()
	if err != nil || got != "hello strata" {
		t.Fatalf("GET = %q, %v; want %q", got, err, "hello strata")
	}
	// Persistence is off, as the package promises.
	cfg, err := client.Do(ctx, client.B().ConfigGet().Parameter("appendonly").Build()).AsStrMap()
	if err != nil || cfg["appendonly"] != "no" {
		t.Fatalf("CONFIG GET appendonly = %v, %v; want no", cfg, err)
	}
}

// TestRedisIsolated checks that two servers started by one test are
// distinct: a key written to one is absent from the other.
func TestRedisIsolated(t *testing.T) {
	t.Parallel()
	a, b := testenv.Redis(t), testenv.Redis(t)
	if a == b {
		t.Fatalf("two Redis() calls returned the same address %s", a)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ca, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{a}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	cb, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{b}, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	if err := ca.Do(ctx, ca.B().Set().Key("only-a").Value("1").Build()).Error(); err != nil {
		t.Fatalf("SET on %s: %v", a, err)
	}
	if err := cb.Do(ctx, cb.B().Get().Key("only-a").Build()).Error(); !rueidis.IsRedisNil(err) {
		t.Fatalf("GET only-a on %s: err = %v, want redis nil", b, err)
	}
}

// respConn is a minimal RESP client over a plain connection, so that the
// tests see exactly what the server does, without a client library's
// reconnects.
type respConn struct {
	net.Conn
	r *bufio.Reader
}

func dialRESP(addr string) (*respConn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		c.Close()
		return nil, err
	}
	return &respConn{Conn: c, r: bufio.NewReader(c)}, nil
}

// do sends a command and returns a simple-string, integer or bulk reply;
// a nil bulk reply is returned as "(nil)".
func (c *respConn) do(args ...string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		return "", err
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	switch {
	case line == "":
		return "", errors.New("empty reply")
	case line[0] == '+' || line[0] == ':':
		return line[1:], nil
	case line[0] == '-':
		return "", errors.New(line[1:])
	case line == "$-1":
		return "(nil)", nil
	case line[0] == '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", fmt.Errorf("bad bulk header %q", line)
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}

// command dials addr, runs one command and closes the connection.
func command(addr string, args ...string) (string, error) {
	c, err := dialRESP(addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	return c.do(args...)
}

func mustPing(t *testing.T, addr string) {
	t.Helper()
	if got, err := command(addr, "PING"); err != nil || got != "PONG" {
		t.Fatalf("PING %s = %q, %v; want PONG", addr, got, err)
	}
}

// TestStartRedisRestart checks that Restart keeps the address, whether the
// server is running or stopped, and that the restarted server answers.
func TestStartRedisRestart(t *testing.T) {
	t.Parallel()
	p := testenv.StartRedis(t)
	addr := p.Addr()
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("Addr() = %q, want 127.0.0.1:PORT", addr)
	}
	mustPing(t, addr)
	if got, err := command(addr, "SET", "k", "v"); err != nil || got != "OK" {
		t.Fatalf("SET = %q, %v", got, err)
	}

	// A graceful restart of a running server.
	p.Restart(t)
	if p.Addr() != addr {
		t.Fatalf("Addr() after Restart = %q, want %q", p.Addr(), addr)
	}
	mustPing(t, addr)
	// Persistence is off, so the restarted server starts empty.
	if got, err := command(addr, "GET", "k"); err != nil || got != "(nil)" {
		t.Fatalf("GET k after restart = %q, %v; want (nil)", got, err)
	}

	// Stop, then Restart from stopped; Stop twice is harmless.
	p.Stop()
	p.Stop()
	if _, err := command(addr, "PING"); err == nil {
		t.Fatalf("PING %s succeeded after Stop", addr)
	}
	p.Restart(t)
	mustPing(t, addr)
}

func TestStartRedisKill(t *testing.T) {
	t.Parallel()
	p := testenv.StartRedis(t)
	addr := p.Addr()
	conn, err := dialRESP(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if got, err := conn.do("PING"); err != nil || got != "PONG" {
		t.Fatalf("PING = %q, %v; want PONG", got, err)
	}

	p.Kill()
	// The open connection is gone, and new ones are refused.
	if got, err := conn.do("PING"); err == nil {
		t.Fatalf("PING on a connection to a killed server = %q, want an error", got)
	}
	if _, err := net.DialTimeout("tcp", addr, 5*time.Second); err == nil {
		t.Fatalf("dial %s succeeded after Kill", addr)
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Logf("dial after Kill: %v (not ECONNREFUSED)", err)
	}
	p.Kill() // no-op once stopped

	p.Restart(t)
	if p.Addr() != addr {
		t.Fatalf("Addr() after Restart = %q, want %q", p.Addr(), addr)
	}
	mustPing(t, addr)
}

// TestStartRedisRestartExited checks that Restart brings back a server that
// went away on its own, here through SHUTDOWN.
func TestStartRedisRestartExited(t *testing.T) {
	t.Parallel()
	p := testenv.StartRedis(t)
	conn, err := dialRESP(p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// SHUTDOWN closes the connection instead of replying.
	if got, err := conn.do("SHUTDOWN", "NOSAVE"); err == nil {
		t.Fatalf("SHUTDOWN replied %q", got)
	}
	p.Restart(t)
	mustPing(t, p.Addr())
}

// fatalTB records a Fatalf instead of failing the real test, and stops the
// calling goroutine as the real Fatalf would.
type fatalTB struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.msg = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func TestStartRedisRestartPortTaken(t *testing.T) {
	t.Parallel()
	p := testenv.StartRedis(t)
	p.Kill()
	l, err := net.Listen("tcp", p.Addr())
	if err != nil {
		t.Fatalf("listen on %s after Kill: %v", p.Addr(), err)
	}
	defer l.Close()

	ftb := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Restart(ftb)
	}()
	<-done
	if !strings.Contains(ftb.msg, "taken") {
		t.Fatalf("Restart with the port taken: failure %q, want one saying the port was taken", ftb.msg)
	}
	// The handle is still stopped; the real test's cleanup has nothing to
	// stop and nothing to report.
}

func TestRedisCluster(t *testing.T) {
	t.Parallel()
	addrs := testenv.RedisCluster(t)
	if len(addrs) != 3 {
		t.Fatalf("RedisCluster() = %v, want 3 addresses", addrs)
	}
	seen := make(map[string]bool)
	for _, a := range addrs {
		if !strings.HasPrefix(a, "127.0.0.1:") || seen[a] {
			t.Fatalf("RedisCluster() = %v, want 3 distinct 127.0.0.1:PORT", addrs)
		}
		seen[a] = true
		info, err := command(a, "CLUSTER", "INFO")
		if err != nil {
			t.Fatalf("CLUSTER INFO on %s: %v", a, err)
		}
		for _, want := range []string{"cluster_state:ok", "cluster_slots_assigned:16384", "cluster_known_nodes:3", "cluster_size:3"} {
			if !strings.Contains(info, want+"\r\n") {
				t.Errorf("CLUSTER INFO on %s lacks %q:\n%s", a, want, info)
			}
		}
	}

	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		cli = "/usr/bin/redis-cli"
	}
	redisCLI := func(addr string, args ...string) string {
		t.Helper()
		host, port, _ := net.SplitHostPort(addr)
		out, err := exec.Command(cli, append([]string{"-h", host, "-p", port}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli -p %s %v: %v\n%s", port, args, err, out)
		}
		return strings.TrimSpace(string(out))
	}

	// Keys spread over the slots: each is written through node 0, following
	// redirects, and read through the other nodes. Without -c, some keys
	// must be refused with MOVED, or the slots would not be spread.
	moved := 0
	for i := 0; i < 20; i++ {
		key, val := "key:"+strconv.Itoa(i), "val-"+strconv.Itoa(i)
		if got := redisCLI(addrs[0], "-c", "SET", key, val); got != "OK" {
			t.Fatalf("SET %s through %s = %q, want OK", key, addrs[0], got)
		}
		for _, a := range addrs[1:] {
			if got := redisCLI(a, "-c", "GET", key); got != val {
				t.Fatalf("GET %s through %s = %q, want %q", key, a, got, val)
			}
		}
		if _, err := command(addrs[0], "GET", key); err != nil && strings.HasPrefix(err.Error(), "MOVED ") {
			moved++
		}
	}
	if moved == 0 || moved == 20 {
		t.Errorf("%d of 20 keys were MOVED away from %s; want some but not all", moved, addrs[0])
	}
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	url := testenv.Postgres(t)
	if !strings.HasPrefix(url, "postgres://strata@127.0.0.1:") || !strings.HasSuffix(url, "/strata?sslmode=disable") {
		t.Fatalf("Postgres() = %q, want postgres://strata@127.0.0.1:PORT/strata?sslmode=disable", url)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("pgx.Connect(%s): %v", url, err)
	}
	defer conn.Close(context.Background())

	var db, usr string
	if err := conn.QueryRow(ctx, "SELECT current_database(), current_user").Scan(&db, &usr); err != nil {
		t.Fatalf("select current_database: %v", err)
	}
	if db != "strata" || usr != "strata" {
		t.Fatalf("connected to database %q as %q, want strata as strata", db, usr)
	}

	if _, err := conn.Exec(ctx, `CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL, size int NOT NULL)`); err != nil {
		t.Fatalf("create table: %v", err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO items (id, name, size) VALUES ($1, $2, $3)`, 42, "héllo ✓", 1234); err != nil {
		t.Fatalf("insert: %v", err)
	}
	var (
		name string
		size int
	)
	if err := conn.QueryRow(ctx, `SELECT name, size FROM items WHERE id = $1`, 42).Scan(&name, &size); err != nil {
		t.Fatalf("select: %v", err)
	}
	if name != "héllo ✓" || size != 1234 {
		t.Fatalf("row = (%q, %d), want (%q, %d)", name, size, "héllo ✓", 1234)
	}
	var enc string
	if err := conn.QueryRow(ctx, `SHOW server_encoding`).Scan(&enc); err != nil || enc != "UTF8" {
		t.Fatalf("server_encoding = %q, %v; want UTF8", enc, err)
	}
}
