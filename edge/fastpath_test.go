package edge

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/strata-cache/strata/edge/fastpath"
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

// ServeFresh answers exactly the requests that are fresh hits needing
// nothing else, and writes nothing for the others.
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
	for _, tc := range []struct {
		name, method, path string
		kv                 []string
	}{
		{"miss", "GET", "/nothing", nil},
		{"stale", "GET", "/s", nil},
		{"unsafe method", "POST", "/a", nil},
		{"conditional", "GET", "/a", []string{"If-None-Match", `"v1"`}},
		{"range", "GET", "/a", []string{"Range", "bytes=0-1"}},
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
