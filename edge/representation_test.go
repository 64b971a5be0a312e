package edge

import (
	"net/http"
	"strings"
	"testing"
)

func TestRangeFromStoredResponse(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Range") != "" {
			t.Error("the edge forwarded a Range request instead of fetching the whole response")
		}
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Etag", `"r1"`)
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("0123456789"))
	})
	h := newHarness(t, behaviorFor(t, o))
	tests := []struct {
		name   string
		kv     []string
		status int
		body   string
		cr     string
	}{
		{"miss with range", []string{"Range", "bytes=2-4"}, 206, "234", "bytes 2-4/10"},
		{"hit with range", []string{"Range", "bytes=7-"}, 206, "789", "bytes 7-9/10"},
		{"suffix range", []string{"Range", "bytes=-2"}, 206, "89", "bytes 8-9/10"},
		{"unsatisfiable", []string{"Range", "bytes=20-30"}, 416, "", "bytes */10"},
		{"if-range matches", []string{"Range", "bytes=0-0", "If-Range", `"r1"`}, 206, "0", "bytes 0-0/10"},
		{"if-range stale validator", []string{"Range", "bytes=0-0", "If-Range", `"old"`}, 200, "0123456789", ""},
		{"malformed range refused", []string{"Range", "bytes=x-y"}, 416, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := h.do(t, "GET", "/file.txt", tt.kv...)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%q)", resp.StatusCode, tt.status, body)
			}
			if tt.status != 416 && body != tt.body {
				t.Errorf("body %q, want %q", body, tt.body)
			}
			if tt.cr != "" && resp.Header.Get("Content-Range") != tt.cr {
				t.Errorf("Content-Range %q, want %q", resp.Header.Get("Content-Range"), tt.cr)
			}
		})
	}
	resp, body := h.do(t, "GET", "/file.txt", "Range", "bytes=0-1,8-9")
	if resp.StatusCode != 206 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "multipart/byteranges") || !strings.Contains(body, "01") {
		t.Errorf("multiple ranges: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if n := o.calls.Load(); n != 1 {
		t.Errorf("origin calls = %d, want 1 (every range served from the stored response)", n)
	}
}

func TestManyVariantsPerURL(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "accept-language, Accept-Encoding")
		w.Write([]byte("lang=" + r.Header.Get("Accept-Language") + " enc=" + r.Header.Get("Accept-Encoding")))
	})
	h := newHarness(t, behaviorFor(t, o))
	langs := []string{"fr", "de", "en", "ja"}
	for round, want := range []string{"Miss from strata", "Hit from strata"} {
		for _, l := range langs {
			resp, body := h.do(t, "GET", "/v", "Accept-Language", l, "Accept-Encoding", "identity")
			if body != "lang="+l+" enc=identity" || resp.Header.Get("X-Cache") != want {
				t.Errorf("round %d %s: %q %q", round, l, body, resp.Header.Get("X-Cache"))
			}
		}
	}
	if n := o.calls.Load(); n != int64(len(langs)) {
		t.Errorf("origin calls = %d, want %d: each variant fetched once", n, len(langs))
	}
	// A successful POST invalidates every variant of the URL.
	h.do(t, "POST", "/v")
	for _, l := range langs {
		if resp, _ := h.do(t, "GET", "/v", "Accept-Language", l, "Accept-Encoding", "identity"); resp.Header.Get("X-Cache") != "Miss from strata" {
			t.Errorf("%s variant survived the POST", l)
		}
	}
	// The POST removed the variants themselves, not only the marker, so a
	// path purge now finds only the current ones (and their marker, which
	// is not counted: it holds no response).
	if r := h.edge.Purge(Purge{Paths: []string{"/v"}}); r.Removed != len(langs) {
		t.Errorf("path purge removed %d responses, want %d", r.Removed, len(langs))
	}
	h.store.CleanUp() // purged entries are removed in the background
	if h.store.Len() != 0 {
		t.Errorf("%d entries left after the path purge", h.store.Len())
	}
}
