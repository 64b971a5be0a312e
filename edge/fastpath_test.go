package edge

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/strata-cache/strata/edge/fastpath"
	"github.com/strata-cache/strata/edge/store"
)

// startEdge serves e on a loopback socket, behind edge/fastpath when fast
// is set, and returns its base URL.
func startEdge(t testing.TB, e *Edge, fast bool) string {
	t.Helper()
	if !fast {
		srv := httptest.NewServer(e)
		t.Cleanup(srv.Close)
		return srv.URL
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fs := fastpath.New(fastpath.Config{Hit: e.ServeFresh, Fallback: &http.Server{Handler: e}})
	done := make(chan error, 1)
	go func() { done <- fs.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		fs.Shutdown(ctx)
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("fastpath Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// ServeFresh answers exactly the requests that are fresh hits needing no
// origin, and writes nothing for the others.
func TestServeFresh(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		cc := "public, max-age=60"
		if r.URL.Path == "/s" {
			cc = "public, max-age=10"
		}
		fixed(cc, "Etag", `"v1"`)(w, r)
	})
	h := newHarness(t, behaviorFor(t, o))
	h.do(t, "GET", "/a")              // stored
	h.do(t, "GET", "/s")              // stored for 10 s
	h.clock.Advance(30 * time.Second) // /a is fresh, /s stale
	host := strings.TrimPrefix(h.srv.URL, "http://")

	try := func(method, path string, kv ...string) (*httptest.ResponseRecorder, bool) {
		r := httptest.NewRequest(method, "http://"+host+path, nil)
		for i := 0; i+1 < len(kv); i += 2 {
			r.Header.Set(kv[i], kv[i+1])
		}
		w := httptest.NewRecorder()
		return w, h.edge.ServeFresh(w, r)
	}
	w, ok := try("GET", "/a")
	if !ok || w.Code != 200 || w.Body.String() != "body of /a" || w.Header().Get("Age") != "30" || w.Header().Get("X-Cache") != "Hit from strata" {
		t.Fatalf("fresh hit: ok=%v %d %q Age=%q", ok, w.Code, w.Body.String(), w.Header().Get("Age"))
	}
	if w, ok := try("HEAD", "/a"); !ok || w.Body.Len() != 0 || w.Header().Get("Content-Length") != "10" {
		t.Fatalf("HEAD hit: ok=%v body %q length %q", ok, w.Body.String(), w.Header().Get("Content-Length"))
	}
	// The client's own preconditions and ranges are answered from the
	// stored response.
	if w, ok := try("GET", "/a", "If-None-Match", `"v1"`); !ok || w.Code != http.StatusNotModified || w.Body.Len() != 0 {
		t.Fatalf("conditional hit: ok=%v %d %q", ok, w.Code, w.Body.String())
	}
	if w, ok := try("GET", "/a", "Range", "bytes=0-3"); !ok || w.Code != http.StatusPartialContent || w.Body.String() != "body" {
		t.Fatalf("range hit: ok=%v %d %q", ok, w.Code, w.Body.String())
	}
	for _, tc := range []struct {
		name, method, path string
		kv                 []string
	}{
		{"miss", "GET", "/nothing", nil},
		{"stale", "GET", "/s", nil},
		{"unsafe method", "POST", "/a", nil},
		{"dot segments", "GET", "/x/../a", nil},
	} {
		calls := o.calls.Load()
		w, ok := try(tc.method, tc.path, tc.kv...)
		if ok || w.Body.Len() != 0 || len(w.Header()) != 0 || w.Code != 200 {
			t.Errorf("%s: ServeFresh answered (ok=%v, %d %q, header %v)", tc.name, ok, w.Code, w.Body.String(), w.Header())
		}
		if o.calls.Load() != calls {
			t.Errorf("%s: ServeFresh asked the origin", tc.name)
		}
	}
}

// Ranges of a large stored body, answered on the fast path: http.ServeContent
// writes them through a reused buffer, which must not reach the client
// twice or overwritten.
func TestFastPathRangesOfLargeBody(t *testing.T) {
	body := make([]byte, 200<<10)
	for i := range body {
		body[i] = byte('a' + i%26 + i/4096%3)
	}
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write(body)
	})
	st, err := store.NewMemory(store.Options{MaxBytes: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	e, err := New(Config{Behaviors: []Behavior{behaviorFor(t, o)}, Store: st, MaxObjectSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	base := startEdge(t, e, true)
	get := func(rng string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/big", nil)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		// A connection per request: the first request of a connection is
		// the fast path's.
		res, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}
	get("") // stored
	if o.calls.Load() != 1 {
		t.Fatalf("origin calls %d", o.calls.Load())
	}
	res, b := get("bytes=1000-150000")
	if res.StatusCode != http.StatusPartialContent || !bytes.Equal(b, body[1000:150001]) || res.Header.Get("X-Cache") != "Hit from strata" {
		t.Fatalf("range: %d, %d bytes, equal=%v, X-Cache %q", res.StatusCode, len(b), bytes.Equal(b, body[1000:150001]), res.Header.Get("X-Cache"))
	}
	res, b = get("bytes=0-40000,100000-180000")
	if res.StatusCode != http.StatusPartialContent || !strings.HasPrefix(res.Header.Get("Content-Type"), "multipart/byteranges") {
		t.Fatalf("multiple ranges: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if !bytes.Contains(b, body[0:40001]) || !bytes.Contains(b, body[100000:180001]) {
		t.Fatal("a part of the multipart answer is not the stored bytes")
	}
	if o.calls.Load() != 1 {
		t.Fatalf("origin calls %d, want the ranges answered from the store", o.calls.Load())
	}
}
