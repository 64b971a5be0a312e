package site

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-cache/strata/edge/oac"
)

func get(t *testing.T, h http.Handler, path string, kv ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Set(kv[i], kv[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestEmbedded(t *testing.T) {
	h, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	rec := get(t, h, "/")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "/api/data") {
		t.Fatalf("GET / = %d %q", rec.Code, rec.Body.String()[:min(80, rec.Body.Len())])
	}
	etag := rec.Header().Get("Etag")
	if rec.Header().Get("Cache-Control") != "public, max-age=300" || etag == "" {
		t.Errorf("headers = %v", rec.Header())
	}
	if rec := get(t, h, "/", "If-None-Match", etag); rec.Code != http.StatusNotModified {
		t.Errorf("conditional GET / = %d", rec.Code)
	}
	if rec := get(t, h, "/app.js"); rec.Code != 200 || rec.Header().Get("Etag") == "" {
		t.Errorf("GET /app.js = %d %v", rec.Code, rec.Header())
	}
	for _, p := range []string{"/missing", "/../../etc/passwd", "/static/"} {
		if rec := get(t, h, p); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d", p, rec.Code)
		}
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST / = %d", rec.Code)
	}
}

func TestDir(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("hello"), 0o644)
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	h, err := New(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if rec := get(t, h, "/"); rec.Body.String() != "hello" || rec.Header().Get("Last-Modified") == "" {
		t.Errorf("GET / = %q %v", rec.Body.String(), rec.Header())
	}
	if rec := get(t, h, "/sub/"); rec.Code != http.StatusNotFound {
		t.Errorf("directory without index listed: %d", rec.Code)
	}
	if _, err := New(Config{Dir: filepath.Join(dir, "nope")}); err == nil {
		t.Error("missing dir accepted")
	}
	if _, err := New(Config{Dir: filepath.Join(dir, "index.html")}); err == nil {
		t.Error("file accepted as dir")
	}
}

func TestOAC(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("hello"), 0o644)
	secret := []byte("0123456789abcdef0123")
	h, err := New(Config{Dir: dir, OAC: &oac.Verifier{Keys: map[string][]byte{"edge-1": secret}}})
	if err != nil {
		t.Fatal(err)
	}
	if rec := get(t, h, "/"); rec.Code != http.StatusForbidden || rec.Body.String() == "hello" {
		t.Errorf("unsigned GET / = %d %q, want 403", rec.Code, rec.Body.String())
	}
	req := httptest.NewRequest("GET", "/", nil)
	oac.Sign(req, "edge-1", secret, time.Now())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Body.String() != "hello" {
		t.Errorf("signed GET / = %d %q", rec.Code, rec.Body.String())
	}
	req = httptest.NewRequest("GET", "/", nil)
	oac.Sign(req, "edge-1", []byte("another secret, not the site's"), time.Now())
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Errorf("GET / signed with another secret = %d, want 403", rec.Code)
	}
}
