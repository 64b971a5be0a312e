package edge

import (
	"bufio"
	"github.com/strata-cache/strata/edge/store"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// rawRequest sends raw bytes to the harness's server and returns the status
// line's code.
func rawRequest(t *testing.T, h *harness, raw string) int {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, raw)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading response to %q: %v", raw, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Smuggling attempts and malformed requests get a 4xx and never poison the
// cache for other clients.
func TestBadRequestsDoNotPoison(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "clean "+r.URL.Path+" "+r.Header.Get("X-Original-Url")+r.Header.Get("X-Http-Method-Override"))
	})
	h := newHarness(t, behaviorFor(t, o))
	// Content-Length with Transfer-Encoding: the server frames the body by
	// Transfer-Encoding, as RFC 9112 section 6.3 says, and the origin gets a
	// request re-framed by the edge, so nothing is smuggled past it.
	smuggle := "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /poison HTTP/1.1\r\nHost: x\r\n\r\n"
	if code := rawRequest(t, h, smuggle); code >= 500 {
		t.Errorf("CL+TE request: status %d", code)
	}
	for _, raw := range []string{
		"GET /p HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
		"GET /p HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n",
		"GET /p HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 2<<20) + "\r\n\r\n",
		"GET /p HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
	} {
		if code := rawRequest(t, h, raw); code < 400 || code > 499 {
			t.Errorf("%.60q: status %d, want 4xx", raw, code)
		}
	}
	// Override headers never reach the origin on cacheable requests, so one
	// client cannot store another resource under this URL.
	_, body := h.do(t, "GET", "/p", "X-Original-URL", "/admin", "X-HTTP-Method-Override", "DELETE")
	if body != "clean /p " {
		t.Errorf("override headers reached the origin: %q", body)
	}
	if _, body = h.do(t, "GET", "/p"); body != "clean /p " {
		t.Errorf("cache poisoned: %q", body)
	}
}

// Malformed freshness information from the origin makes a response stale,
// never fresh for longer than it said.
func TestMalformedFreshnessIsStale(t *testing.T) {
	for _, kv := range [][]string{
		{"Cache-Control", "max-age=abc"},
		{"Cache-Control", "max-age=10, max-age=20"},
		{"Expires", "not a date"},
		{"Expires", "0"},
	} {
		t.Run(kv[0]+" "+kv[1], func(t *testing.T) {
			o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set(kv[0], kv[1])
				io.WriteString(w, "x")
			})
			h := newHarness(t, behaviorFor(t, o))
			h.do(t, "GET", "/m")
			if resp, _ := h.do(t, "GET", "/m"); resp.Header.Get("X-Cache") == "Hit from strata" {
				t.Errorf("served as a fresh hit: %v", resp.Header)
			}
		})
	}
}

func TestRFCStrictStoresSetCookie(t *testing.T) {
	o := newOrigin(t, fixed("max-age=60", "Set-Cookie", "a=b"))
	st, _ := store.NewMemory(store.Options{MaxBytes: 1 << 20})
	defer st.Close()
	u, _ := url.Parse(o.srv.URL)
	e, err := New(Config{Behaviors: []Behavior{{Pattern: "*", Origin: URLOrigin(u, nil)}}, Store: st, RFCStrict: true})
	if err != nil {
		t.Fatal(err)
	}
	get(e, "/c")
	if rec := get(e, "/c"); rec.Header().Get("X-Cache") != "Hit from strata" || rec.Header().Get("Set-Cookie") != "a=b" {
		t.Errorf("strict mode: %v", rec.Header())
	}
}

func FuzzVaryAndKey(f *testing.F) {
	f.Add("Accept-Encoding, accept-language", "gzip,  br", "Example.COM:80", "/a?b=c")
	f.Add("*, x", "", "", "")
	f.Fuzz(func(t *testing.T, vary, value, host, uri string) {
		resp := http.Header{"Vary": {vary}}
		req := http.Header{}
		for _, n := range varyNames(resp) {
			if n == "*" || n == "" {
				t.Fatalf("varyNames kept %q", n)
			}
			req[n] = []string{value}
		}
		names := varyNames(resp)
		if !slices.IsSorted(names) {
			t.Fatalf("names not sorted: %q", names)
		}
		if !varyMatches(varyValues(resp, req), req) {
			t.Fatalf("a request does not match the values recorded from it")
		}
		marker := &store.Entry{VaryNames: names, Generation: 1}
		if secondaryKey("k", marker, req) != secondaryKey("k", marker, req.Clone()) {
			t.Fatal("secondary key not deterministic")
		}
		k := keyFor("http", host, uri)
		if !strings.HasPrefix(k, "http://") || strings.ToLower(k) != "http://"+strings.ToLower(host)+strings.ToLower(uri) {
			t.Fatalf("key %q", k)
		}
	})
}
