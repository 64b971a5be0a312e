package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/strata-cache/strata/internal/testenv"
)

// binary is the strata binary built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "strata-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "strata")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building strata: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running strata process.
type proc struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr *strings.Builder
}

// start runs strata with args and waits until its startup banner has printed
// a line containing ready.
func start(t *testing.T, ready string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	stdout, _ := cmd.StdoutPipe()
	p := &proc{cmd: cmd, lines: make(chan string, 100), stderr: &strings.Builder{}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	timeout := time.After(30 * time.Second)
	var seen []string
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				cmd.Wait()
				t.Fatalf("strata exited before %q; stdout %q, stderr:\n%s", ready, seen, p.stderr)
			}
			seen = append(seen, line)
			if strings.Contains(line, ready) {
				return p
			}
		case <-timeout:
			t.Fatalf("strata did not print %q in 30s; stdout %q", ready, seen)
		}
	}
}

func freeAddr(t *testing.T) string {
	return fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
}

type client struct{ t *testing.T }

func (c client) do(method, url, body string, kv ...string) (*http.Response, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Set(kv[i], kv[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestServeEndToEnd(t *testing.T) {
	dataDir := t.TempDir()
	edgeAddr, apiAddr, adminAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	start(t, "admin token", nil, "serve", "-data-dir", dataDir,
		"-edge-addr", edgeAddr, "-api-addr", apiAddr, "-admin-addr", adminAddr)
	tokenBytes, err := os.ReadFile(filepath.Join(dataDir, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tokenBytes))
	edge, api, adm := "http://"+edgeAddr, "http://"+apiAddr, "http://"+adminAddr
	c := client{t}

	// The static site through the edge.
	resp, body := c.do("GET", edge+"/", "")
	if resp.StatusCode != 200 || !strings.Contains(body, "/api/data") || resp.Header.Get("Cache-Control") == "" ||
		resp.Header.Get("Cache-Status") == "" || resp.Header.Get("X-Cache") != "Miss from strata" {
		t.Fatalf("GET / through the edge: %d %v", resp.StatusCode, resp.Header)
	}

	// The API origin: cache-aside in the application cache.
	var data struct {
		CacheHit bool   `json:"cache_hit"`
		Source   string `json:"source"`
	}
	_, body = c.do("GET", api+"/api/data", "")
	json.Unmarshal([]byte(body), &data)
	if data.CacheHit || data.Source != "database" {
		t.Errorf("first API read: %s", body)
	}
	_, body = c.do("GET", api+"/api/data", "")
	json.Unmarshal([]byte(body), &data)
	if !data.CacheHit || data.Source != "l1" {
		t.Errorf("second API read: %s", body)
	}

	// The same URL through the edge: a miss, then a hit.
	resp, _ = c.do("GET", edge+"/api/data", "")
	if resp.Header.Get("X-Cache") != "Miss from strata" || !strings.HasPrefix(resp.Header.Get("Cache-Status"), "strata; fwd=uri-miss") {
		t.Errorf("first edge read: %v", resp.Header)
	}
	resp, _ = c.do("GET", edge+"/api/data", "")
	if resp.Header.Get("X-Cache") != "Hit from strata" || resp.Header.Get("Age") == "" ||
		!strings.HasPrefix(resp.Header.Get("Cache-Status"), "strata; hit") {
		t.Errorf("second edge read: %v", resp.Header)
	}

	// strata invalidate -wait makes the next edge request a miss.
	out, err := exec.Command(binary, "invalidate", "-admin", adm, "-admin-token", token, "-paths", "/api/*", "-wait").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Completed") {
		t.Fatalf("strata invalidate: %v\n%s", err, out)
	}
	if resp, _ = c.do("GET", edge+"/api/data", ""); resp.Header.Get("X-Cache") != "Miss from strata" {
		t.Errorf("after invalidation: %v", resp.Header)
	}

	// A PUT changes what the edge returns next.
	if _, body = c.do("GET", edge+"/api/products/5", ""); !strings.Contains(body, "Purge Eraser") {
		t.Fatalf("product 5: %s", body)
	}
	if resp, _ = c.do("GET", edge+"/api/products/5", ""); resp.Header.Get("X-Cache") != "Hit from strata" {
		t.Fatalf("product 5 not cached: %v", resp.Header)
	}
	resp, body = c.do("PUT", api+"/api/products/5", `{"name":"Soft Purge Eraser"}`, "Authorization", "Bearer "+token)
	if resp.StatusCode != 200 || resp.Header.Get("X-Invalidation") != "completed" {
		t.Fatalf("PUT: %d %s", resp.StatusCode, body)
	}
	resp, body = c.do("GET", edge+"/api/products/5", "")
	if !strings.Contains(body, "Soft Purge Eraser") || resp.Header.Get("X-Cache") != "Miss from strata" {
		t.Errorf("after PUT the edge returned %v %s", resp.Header, body)
	}

	// Admin calls without the token are refused.
	for _, path := range []string{"/metrics", "/invalidations/I1", "/cache/inventory"} {
		if resp, _ = c.do("GET", adm+path, ""); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without token: %d", path, resp.StatusCode)
		}
	}
	if resp, _ = c.do("POST", adm+"/invalidations", `{"paths":["/"]}`); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST /invalidations without token: %d", resp.StatusCode)
	}
	if resp, _ = c.do("PUT", edge+"/api/products/5", `{"name":"x"}`); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("PUT without token: %d", resp.StatusCode)
	}
	// Malformed JSON gets 400 from the admin API and the catalog API.
	if resp, _ = c.do("POST", adm+"/invalidations", `{"paths":`, "Authorization", "Bearer "+token); resp.StatusCode != 400 {
		t.Errorf("malformed admin JSON: %d", resp.StatusCode)
	}
	if resp, _ = c.do("PUT", api+"/api/products/5", `{"name":`, "Authorization", "Bearer "+token); resp.StatusCode != 400 {
		t.Errorf("malformed API JSON: %d", resp.StatusCode)
	}

	// Metrics show the edge and the application cache at work.
	_, body = c.do("GET", adm+"/metrics", "", "Authorization", "Bearer "+token)
	for _, want := range []string{`strata_edge_requests_total{behavior="api",result="hit"}`, `strata_edge_hit_ratio`,
		`strata_edge_origin_fetches_total`, `strata_app_cache_requests_total{result="hit",tier="l1"}`,
		`strata_edge_stored_objects`, `strata_edge_purge_backlog{unit="objects"}`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// The inventory names the hot keys and the triggers that invalidate them.
	resp, body = c.do("GET", adm+"/cache/inventory?n=5", "", "Authorization", "Bearer "+token)
	if resp.StatusCode != 200 || !strings.Contains(body, `"products_outbox_update"`) || !strings.Contains(body, `"key": "product:5"`) {
		t.Errorf("inventory: %d %s", resp.StatusCode, body)
	}
}

// With -redis, the catalog's caches share an L2 on a real Redis: a read
// fills it, and a write leaves a tombstone there, not the old value.
func TestServeWithRedis(t *testing.T) {
	redisAddr := testenv.Redis(t)
	edgeAddr, apiAddr, adminAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	start(t, "  data", []string{"STRATA_ADMIN_TOKEN=secret"}, "serve", "-data-dir", t.TempDir(),
		"-edge-addr", edgeAddr, "-api-addr", apiAddr, "-admin-addr", adminAddr, "-redis", "redis://"+redisAddr)
	c := client{t}
	api := "http://" + apiAddr
	if resp, body := c.do("GET", api+"/api/products/3", ""); resp.StatusCode != 200 || !strings.Contains(body, `"version"`) {
		t.Fatalf("GET product: %d %s", resp.StatusCode, body)
	}
	rc := redisConn(t, redisAddr)
	const key = "strata:catalog:products:{product:3}"
	if v := rc.cmd("GET", key); len(v) < 2 || v[1] != 'v' {
		t.Fatalf("L2 entry after a read = %q, want a value", v)
	}
	if resp, body := c.do("PUT", api+"/api/products/3", `{"price_cents":4242}`, "Authorization", "Bearer secret"); resp.StatusCode != 200 {
		t.Fatalf("PUT: %d %s", resp.StatusCode, body)
	}
	if v := rc.cmd("GET", key); len(v) < 2 || v[1] != 't' {
		t.Fatalf("L2 entry after a write = %q, want a tombstone", v)
	}
	if _, body := c.do("GET", api+"/api/products/3", ""); !strings.Contains(body, `"price_cents": 4242`) {
		t.Errorf("read after the write: %s", body)
	}
}

// respConn is the least RESP client a test needs.
type respConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func redisConn(t *testing.T, addr string) *respConn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &respConn{t, c, bufio.NewReader(c)}
}

// cmd sends a command and returns a bulk-string reply ("" for nil).
func (rc *respConn) cmd(args ...string) string {
	rc.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := rc.c.Write([]byte(b.String())); err != nil {
		rc.t.Fatal(err)
	}
	line, err := rc.r.ReadString('\n')
	if err != nil || len(line) < 3 {
		rc.t.Fatalf("redis reply %q: %v", line, err)
	}
	if line[0] != '$' {
		rc.t.Fatalf("redis reply %q, want a bulk string", line)
	}
	var n int
	fmt.Sscanf(line[1:], "%d", &n)
	if n < 0 {
		return ""
	}
	buf := make([]byte, n+2)
	if _, err := io.ReadFull(rc.r, buf); err != nil {
		rc.t.Fatal(err)
	}
	return string(buf[:n])
}

func TestServeShutsDownOnSignal(t *testing.T) {
	p := start(t, "admin token", nil, "serve", "-data-dir", t.TempDir(),
		"-edge-addr", freeAddr(t), "-api-addr", freeAddr(t), "-admin-addr", freeAddr(t))
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "shutting down") {
		t.Errorf("stderr: %s", p.stderr)
	}
}

func TestEdgeCommand(t *testing.T) {
	var calls atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "from origin")
	}))
	defer origin.Close()
	addr := freeAddr(t)
	start(t, "edge", []string{"STRATA_ADMIN_TOKEN=tok"}, "edge", "-origin", origin.URL, "-listen", addr,
		"-admin-addr", freeAddr(t), "-data-dir", t.TempDir())
	c := client{t}
	for i, want := range []string{"Miss from strata", "Hit from strata"} {
		resp, body := c.do("GET", "http://"+addr+"/page", "")
		if body != "from origin" || resp.Header.Get("X-Cache") != want {
			t.Errorf("request %d: %q %v", i, body, resp.Header)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("origin calls = %d, want 1", n)
	}
}

// Bad input gets a clear error and a non-zero exit, never a panic.
func TestBadInvocations(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no command", nil, 2, "no command"},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
		{"unknown flag", []string{"serve", "-bogus"}, 2, "flag provided but not defined"},
		{"stray argument", []string{"serve", "extra"}, 2, "unexpected arguments"},
		{"bad log level", []string{"serve", "-log-level", "loud"}, 2, "-log-level"},
		{"unusable data dir", []string{"serve", "-data-dir", filepath.Join(file, "sub")}, 1, "data dir"},
		{"port in use", []string{"serve", "-data-dir", t.TempDir(), "-edge-addr", busy.Addr().String()}, 1, "address already in use"},
		{"missing site dir", []string{"serve", "-data-dir", t.TempDir(), "-site-dir", filepath.Join(file, "x")}, 1, "site"},
		{"dead redis", []string{"serve", "-data-dir", t.TempDir(), "-edge-addr", freeAddr(t), "-api-addr", freeAddr(t), "-admin-addr", freeAddr(t), "-redis", "redis://" + closedAddr(t)}, 1, "-redis"},
		{"bad redis URL", []string{"serve", "-data-dir", t.TempDir(), "-redis", "ftp://x"}, 1, "-redis"},
		{"edge without origin", []string{"edge"}, 2, "-origin is required"},
		{"edge bad origin", []string{"edge", "-origin", "ftp://x"}, 2, "must be an http"},
		{"invalidate nothing", []string{"invalidate"}, 2, "give -paths, -urls, -tags or -all"},
		{"purge nothing", []string{"purge"}, 2, "give -paths, -urls, -tags or -all"},
		{"all with paths", []string{"purge", "-all", "-paths", "/x"}, 2, "-all goes alone"},
		{"purge dead admin", []string{"purge", "-urls", "http://x/y", "-admin-token", "t", "-admin", "http://" + closedAddr(t)}, 1, "connection refused"},
		{"invalidate no token", []string{"invalidate", "-paths", "/x", "-data-dir", t.TempDir()}, 2, "no admin token"},
		{"invalidate dead admin", []string{"invalidate", "-paths", "/x", "-admin-token", "t", "-admin", "http://" + closedAddr(t)}, 1, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(binary, tt.args...)
			cmd.Env = append(os.Environ(), "STRATA_ADMIN_TOKEN=")
			out, _ := cmd.CombinedOutput()
			if code := cmd.ProcessState.ExitCode(); code != tt.code || !strings.Contains(string(out), tt.msg) {
				t.Errorf("exit %d (want %d), output lacks %q:\n%s", code, tt.code, tt.msg, out)
			}
			if strings.Contains(string(out), "panic") {
				t.Errorf("panicked:\n%s", out)
			}
		})
	}
}

// closedAddr returns an address nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestVersion(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), []string{"version"}, &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "strata ") {
		t.Errorf("version: %q %v", out.String(), err)
	}
}
