package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A strata edge answers alike with and without -fast-hits: hits on fresh
// connections (the fast path's share), bodies that must reach the origin
// (handed to net/http), and oversized headers.
func TestEdgeFastHits(t *testing.T) {
	for _, mode := range []string{"-fast-hits=true", "-fast-hits=false"} {
		t.Run(mode, func(t *testing.T) {
			var calls atomic.Int64
			var posted atomic.Value
			origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				if r.Method == http.MethodPost {
					b, _ := io.ReadAll(r.Body)
					posted.Store(string(b))
				}
				w.Header().Set("Cache-Control", "max-age=60")
				w.Header().Set("Date", time.Now().Add(-5*time.Second).UTC().Format(http.TimeFormat))
				io.WriteString(w, "from origin")
			}))
			defer origin.Close()
			addr := freeAddr(t)
			start(t, "edge", []string{"STRATA_ADMIN_TOKEN=tok"}, "edge", "-origin", origin.URL, "-listen", addr,
				"-admin-addr", freeAddr(t), "-data-dir", t.TempDir(), mode)
			// Every request on a connection of its own: the first request of
			// a connection is the one the fast path can answer.
			fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			get := func(kv ...string) (*http.Response, string) {
				t.Helper()
				req, _ := http.NewRequest("GET", "http://"+addr+"/page", nil)
				for i := 0; i+1 < len(kv); i += 2 {
					req.Header.Set(kv[i], kv[i+1])
				}
				res, err := fresh.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				return res, string(b)
			}
			miss, _ := get()
			hit, body := get()
			if body != "from origin" || hit.Header.Get("X-Cache") != "Hit from strata" || calls.Load() != 1 {
				t.Fatalf("second request: %q X-Cache %q, origin calls %d", body, hit.Header.Get("X-Cache"), calls.Load())
			}
			if d := hit.Header.Get("Date"); d == "" || d != miss.Header.Get("Date") {
				t.Errorf("hit Date %q, want the stored %q", d, miss.Header.Get("Date"))
			}
			if a := hit.Header.Get("Age"); a == "" || a == "0" {
				t.Errorf("hit Age %q, want the stored response's age (>= 5)", a)
			}
			if cs := hit.Header.Get("Cache-Status"); !strings.HasPrefix(cs, "strata; hit; ttl=") {
				t.Errorf("hit Cache-Status %q", cs)
			}
			// A body reaches the origin intact.
			res, err := fresh.Post("http://"+addr+"/form", "text/plain", strings.NewReader("a=1&b=2"))
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if got, _ := posted.Load().(string); got != "a=1&b=2" {
				t.Errorf("origin got POST body %q", got)
			}
			// Header blocks above 20 KiB are refused, by either server.
			if res, _ := get("X-Big", strings.Repeat("x", 26<<10)); res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
				t.Errorf("26 KiB header: status %d, want 431", res.StatusCode)
			}
			if res, body := get("X-Big", strings.Repeat("x", 16<<10)); res.StatusCode != http.StatusOK || body != "from origin" {
				t.Errorf("16 KiB header: status %d %q, want the hit", res.StatusCode, body)
			}
			// A no-cache request is not a fresh hit: it revalidates.
			before := calls.Load()
			get("Pragma", "no-cache")
			if calls.Load() != before+1 {
				t.Errorf("Pragma: no-cache did not reach the origin")
			}
		})
	}
}
