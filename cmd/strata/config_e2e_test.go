package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// strata edge -config serves a distribution; a reload through the admin API
// changes the routing and keeps the cache; a bad file sent by SIGHUP or the
// admin API is refused with its problems while the old one keeps serving.
func TestEdgeConfigReload(t *testing.T) {
	a, b := namedOrigin(t, "A"), namedOrigin(t, "B")
	file := filepath.Join(t.TempDir(), "strata.yaml")
	write := func(behaviors string) {
		t.Helper()
		data := fmt.Sprintf("tls:\n  self_signed: true\norigins:\n  a:\n    url: %s\n  b:\n    url: %s\n%sdefault_behavior:\n  origin: a\n", a.URL, b.URL, behaviors)
		if err := os.WriteFile(file, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("behaviors:\n  - path: /b/*\n    origin: b\n  - path: /s/*\n    origin: a\n    viewer_protocol: redirect-to-https\n")
	plain, secure, adminAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	p := startWatched(t, "strata edge", []string{"STRATA_ADMIN_TOKEN=tok"}, "edge", "-config", file, "-listen", plain,
		"-https-addr", secure, "-admin-addr", adminAddr, "-data-dir", t.TempDir())
	c := client{t}
	get := func(path string) (string, string) {
		t.Helper()
		resp, body := c.do("GET", "http://"+plain+path, "")
		return body, resp.Header.Get("X-Cache")
	}
	for _, tt := range []struct{ path, body, cache string }{
		{"/b/x", "B:/b/x", "Miss from strata"},
		{"/c/y", "A:/c/y", "Miss from strata"},
		{"/c/y", "A:/c/y", "Hit from strata"},
	} {
		if body, cache := get(tt.path); body != tt.body || cache != tt.cache {
			t.Errorf("GET %s: %q %s, want %q %s", tt.path, body, cache, tt.body, tt.cache)
		}
	}
	// The distribution's tls section: HTTPS with HTTP/2 on -https-addr,
	// where redirect-to-https behaviors send plain HTTP clients.
	if resp, body, _ := tlsGet(t, nil, "https://"+secure+"/b/x"); resp.Proto != "HTTP/2.0" || body != "B:/b/x" {
		t.Errorf("HTTPS: %s %q", resp.Proto, body)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if resp, err := noRedirect.Get("http://" + plain + "/s/1?q=2"); err != nil || resp.StatusCode != 301 || resp.Header.Get("Location") != "https://"+secure+"/s/1?q=2" {
		t.Errorf("redirect to HTTPS: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if resp, body, _ := tlsGet(t, nil, "https://"+secure+"/s/1?q=2"); body != "A:/s/1" {
		t.Errorf("the redirect's target: %d %q", resp.StatusCode, body)
	}

	adm := "http://" + adminAddr
	write("behaviors:\n  - path: /b/*\n    origin: b\n  - path: /d/*\n    origin: b\n")
	resp, body := c.do("POST", adm+"/config/reload", "", "Authorization", "Bearer tok")
	var sum struct {
		Reloaded  bool
		Behaviors int
		Source    string
	}
	json.Unmarshal([]byte(body), &sum)
	if resp.StatusCode != 200 || !sum.Reloaded || sum.Behaviors != 3 || sum.Source != file {
		t.Fatalf("reload: %d %s", resp.StatusCode, body)
	}
	if line := p.wait(p.err, "msg=reloaded"); !strings.Contains(line, "by=admin@127.0.0.1:") {
		t.Errorf("log: %s", line)
	}
	if body, _ := get("/d/z"); body != "B:/d/z" {
		t.Errorf("after reload, /d/z: %q", body)
	}
	if body, cache := get("/c/y"); body != "A:/c/y" || cache != "Hit from strata" {
		t.Errorf("the cache was not kept: %q %s", body, cache)
	}

	// A bad file: SIGHUP logs its problems, the distribution stays.
	os.WriteFile(file, []byte("origins:\n  a:\n    url: ftp://x\ndefault_behavior:\n  origin: nowhere\n"), 0o600)
	p.cmd.Process.Signal(syscall.SIGHUP)
	if line := p.wait(p.err, "reload failed"); !strings.Contains(line, "by=SIGHUP") || !strings.Contains(line, file+":3:") {
		t.Errorf("log: %s", line)
	}
	if body, _ := get("/d/z"); body != "B:/d/z" {
		t.Errorf("after a bad file, /d/z: %q", body)
	}
	resp, body = c.do("POST", adm+"/config/reload", "", "Authorization", "Bearer tok")
	var bad struct {
		Errors []struct{ Pos, Message string }
	}
	json.Unmarshal([]byte(body), &bad)
	if resp.StatusCode != 400 || len(bad.Errors) < 2 || !strings.HasPrefix(bad.Errors[0].Pos, file+":3:") {
		t.Errorf("admin reload of a bad file: %d %s", resp.StatusCode, body)
	}
	if resp, _ = c.do("POST", adm+"/config/reload", ""); resp.StatusCode != 401 {
		t.Errorf("reload without the token: %d", resp.StatusCode)
	}
}

// strata serve -config routes the edge by the distribution file instead of
// its built-in /api/* and site behaviors, and reloads it through the admin
// API; the catalog API keeps serving on its own listener.
func TestServeConfig(t *testing.T) {
	a, b := namedOrigin(t, "A"), namedOrigin(t, "B")
	file := filepath.Join(t.TempDir(), "strata.yaml")
	write := func(def string) {
		t.Helper()
		data := fmt.Sprintf("origins:\n  a:\n    url: %s\n  b:\n    url: %s\nbehaviors:\n  - path: /b/*\n    origin: b\ndefault_behavior:\n  origin: %s\n", a.URL, b.URL, def)
		if err := os.WriteFile(file, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("a")
	edgeAddr, apiAddr, adminAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	start(t, "  data ", []string{"STRATA_ADMIN_TOKEN=tok"}, "serve", "-config", file, "-data-dir", t.TempDir(),
		"-edge-addr", edgeAddr, "-api-addr", apiAddr, "-admin-addr", adminAddr)
	c := client{t}
	for _, tt := range []struct{ path, body, cache string }{
		{"/b/x", "B:/b/x", "Miss from strata"},
		{"/b/x", "B:/b/x", "Hit from strata"},
		{"/api/products", "A:/api/products", "Miss from strata"}, // the file's routing, not the built-in /api/*
	} {
		resp, body := c.do("GET", "http://"+edgeAddr+tt.path, "")
		if body != tt.body || resp.Header.Get("X-Cache") != tt.cache {
			t.Errorf("GET %s: %q %q, want %q %q", tt.path, body, resp.Header.Get("X-Cache"), tt.body, tt.cache)
		}
	}
	if resp, body := c.do("GET", "http://"+apiAddr+"/api/products/1", ""); resp.StatusCode != 200 || !strings.Contains(body, `"id"`) {
		t.Errorf("catalog API on its own listener: %d %.80s", resp.StatusCode, body)
	}
	write("b")
	if resp, body := c.do("POST", "http://"+adminAddr+"/config/reload", "", "Authorization", "Bearer tok"); resp.StatusCode != 200 {
		t.Fatalf("reload: %d %s", resp.StatusCode, body)
	}
	if _, body := c.do("GET", "http://"+edgeAddr+"/c/y", ""); body != "B:/c/y" {
		t.Errorf("after reload, default behavior answered %q, want origin B", body)
	}
	if resp, body := c.do("GET", "http://"+edgeAddr+"/b/x", ""); body != "B:/b/x" || resp.Header.Get("X-Cache") != "Hit from strata" {
		t.Errorf("after reload: %q %q, want the cached B:/b/x (a reload keeps the cache)", body, resp.Header.Get("X-Cache"))
	}
}

// namedOrigin is an origin that answers "NAME:PATH", cacheable for 10
// minutes.
func namedOrigin(t *testing.T, name string) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprintf(w, "%s:%s", name, r.URL.Path)
	}))
	t.Cleanup(s.Close)
	return s
}
