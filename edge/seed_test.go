package edge

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-cache/strata/edge/config"
	"github.com/strata-cache/strata/edge/config/cloudfront"
)

// TestSeedDistribution runs the edge from the seed CloudFront distribution,
// imported and compiled as `strata config import-cloudfront` does: the
// static site from the default behavior, compressed, and /api/* from the
// API origin under the seed-api cache policy (DefaultTTL 60, MaxTTL 300,
// every query string in the key).
func TestSeedDistribution(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("config", "cloudfront", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	siteDir := t.TempDir()
	page := "<!doctype html><title>seed</title>" + strings.Repeat("<p>static site paragraph</p>\n", 200)
	os.WriteFile(filepath.Join(siteDir, "index.html"), []byte(page), 0o644)
	var clk atomic.Pointer[clock] // the edge's: the origin's Date is on the same clock
	api := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", clk.Load().Now().UTC().Format(http.TimeFormat))
		if r.URL.Path == "/api/long" {
			w.Header().Set("Cache-Control", "max-age=3600")
		}
		io.WriteString(w, r.URL.Path+"?"+r.URL.RawQuery+" verify="+r.Header.Get("X-Origin-Verify"))
	})
	f, warnings, err := cloudfront.Import(read("seed-distribution.json"), cloudfront.ImportOptions{
		OriginMap: map[string]string{
			"strata-seed-site.s3.us-east-1.amazonaws.com": siteDir,
			"api.seed.example.com":                        api.srv.URL,
		},
		CachePolicies: map[string][]byte{"seed-api": read("seed-api-cache-policy.json")},
	})
	if err != nil || len(warnings) > 0 {
		t.Fatalf("import: %v %v", err, warnings)
	}
	cfg, err := config.Compile(filepath.Join(t.TempDir(), "seed.yaml"), f)
	if err != nil {
		t.Fatal(err)
	}
	h := fromConfig(t, cfg, FromConfigOptions{}, nil)
	clk.Store(h.clock)
	srv := httptest.NewTLSServer(h.edge)
	defer srv.Close()
	get := func(path string, kv ...string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Accept-Encoding", "identity") // the client must not decompress on its own
		for i := 0; i+1 < len(kv); i += 2 {
			req.Header.Set(kv[i], kv[i+1])
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body io.Reader = resp.Body
		if resp.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			body = zr
		}
		b, _ := io.ReadAll(body)
		return resp, string(b)
	}

	// The static site, compressed, from the default behavior.
	resp, body := get("/", "Accept-Encoding", "gzip")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" || body != page {
		t.Errorf("GET / = %d %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Encoding"), len(body))
	}
	// redirect-to-https on the default behavior, https-only on /api/*.
	if resp, _ := h.do(t, "GET", "/"); resp.StatusCode != http.StatusMovedPermanently {
		t.Errorf("plain GET / = %d, want 301", resp.StatusCode)
	}
	if resp, _ := h.do(t, "GET", "/api/x"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("plain GET /api/x = %d, want 403", resp.StatusCode)
	}

	// /api/*: a response without Cache-Control lives DefaultTTL (60s).
	if _, body := get("/api/nocc?b=2&a=1"); body != "/api/nocc?b=2&a=1 verify=seed-shared-value" {
		t.Errorf("API origin got %q", body)
	}
	h.clock.Advance(59 * time.Second)
	get("/api/nocc?a=1&b=2") // every query string is in the key, in any order
	if api.calls.Load() != 1 {
		t.Errorf("%d API calls: not cached for DefaultTTL, or the query order split the key", api.calls.Load())
	}
	get("/api/nocc?a=1&b=3")
	if api.calls.Load() != 2 {
		t.Errorf("%d API calls: a different query shared the entry", api.calls.Load())
	}
	h.clock.Advance(2 * time.Second)
	get("/api/nocc?a=1&b=2")
	if api.calls.Load() != 3 {
		t.Errorf("%d API calls: kept past DefaultTTL", api.calls.Load())
	}

	// max-age=3600 is lowered to MaxTTL (300s).
	get("/api/long")
	h.clock.Advance(299 * time.Second)
	get("/api/long")
	if api.calls.Load() != 4 {
		t.Errorf("%d API calls: max-age=3600 not cached", api.calls.Load())
	}
	h.clock.Advance(2 * time.Second)
	get("/api/long")
	if api.calls.Load() != 5 {
		t.Errorf("%d API calls: max-age=3600 kept past MaxTTL", api.calls.Load())
	}
}
