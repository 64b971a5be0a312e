package edge

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/strata-cache/strata/edge/store"
)

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// origin is a real HTTP origin whose responses the test scripts.
type origin struct {
	calls   atomic.Int64
	handler http.HandlerFunc
	srv     *httptest.Server
	lastReq atomic.Pointer[http.Request]
}

func newOrigin(t testing.TB, h http.HandlerFunc) *origin {
	o := &origin{handler: h}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.calls.Add(1)
		o.lastReq.Store(r)
		o.handler(w, r)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

type harness struct {
	edge  *Edge
	clock *clock
	srv   *httptest.Server
	store *store.Memory
}

func newHarness(t *testing.T, origins ...Behavior) *harness {
	t.Helper()
	st, err := store.NewMemory(store.Options{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	c := &clock{now: time.Now().Truncate(time.Second)}
	e, err := New(Config{Behaviors: origins, Store: st, Now: c.Now, MaxObjectSize: 1024})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{edge: e, clock: c, store: st, srv: httptest.NewServer(e)}
	t.Cleanup(h.srv.Close)
	return h
}

func behaviorFor(t *testing.T, o *origin) Behavior {
	u, _ := url.Parse(o.srv.URL)
	return Behavior{Pattern: "*", Origin: URLOrigin(u, nil)}
}

func (h *harness) do(t *testing.T, method, path string, kv ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, h.srv.URL+path, nil)
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Add(kv[i], kv[i+1])
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// noRedirects is a client that shows redirects instead of following them.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func fixed(cc string, extra ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		for i := 0; i+1 < len(extra); i += 2 {
			w.Header().Add(extra[i], extra[i+1])
		}
		io.WriteString(w, "body of "+r.URL.Path)
	}
}

func TestMissThenHit(t *testing.T) {
	o := newOrigin(t, fixed("public, max-age=60", "Surrogate-Key", "a b"))
	h := newHarness(t, behaviorFor(t, o))

	resp, body := h.do(t, "GET", "/x")
	if resp.Header.Get("X-Cache") != "Miss from strata" || body != "body of /x" {
		t.Fatalf("first: X-Cache %q body %q", resp.Header.Get("X-Cache"), body)
	}
	if cs := resp.Header.Get("Cache-Status"); cs != "strata; fwd=uri-miss; fwd-status=200; stored" {
		t.Errorf("first Cache-Status = %q", cs)
	}
	h.clock.Advance(10 * time.Second)
	resp, body = h.do(t, "GET", "/x")
	if resp.Header.Get("X-Cache") != "Hit from strata" || body != "body of /x" {
		t.Fatalf("second: X-Cache %q body %q", resp.Header.Get("X-Cache"), body)
	}
	if resp.Header.Get("Age") != "10" {
		t.Errorf("Age = %q, want 10", resp.Header.Get("Age"))
	}
	if cs := resp.Header.Get("Cache-Status"); cs != "strata; hit; ttl=50" {
		t.Errorf("hit Cache-Status = %q", cs)
	}
	if n := o.calls.Load(); n != 1 {
		t.Errorf("origin calls = %d, want 1", n)
	}
	h.clock.Advance(51 * time.Second)
	if resp, _ = h.do(t, "GET", "/x"); resp.Header.Get("X-Cache") != "Miss from strata" {
		t.Errorf("after expiry X-Cache = %q", resp.Header.Get("X-Cache"))
	}
}

func TestNotSharedResponses(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		reqKV   []string
		detail  string
	}{
		{"no-store", fixed("no-store, max-age=60"), nil, "no-store"},
		{"private", fixed("private, max-age=60"), nil, "private"},
		{"set-cookie", fixed("max-age=60", "Set-Cookie", "session=alice"), nil, "set-cookie"},
		{"authorization", fixed("max-age=60"), []string{"Authorization", "Bearer alice"}, "authorization"},
		{"vary star", fixed("max-age=60", "Vary", "*"), nil, "vary-star"},
		{"request no-store", fixed("max-age=60"), []string{"Cache-Control", "no-store"}, "request-no-store"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newOrigin(t, tt.handler)
			h := newHarness(t, behaviorFor(t, o))
			for range 2 {
				resp, _ := h.do(t, "GET", "/p", tt.reqKV...)
				if resp.Header.Get("X-Cache") != "Miss from strata" {
					t.Fatalf("X-Cache = %q", resp.Header.Get("X-Cache"))
				}
				if cs := resp.Header.Get("Cache-Status"); !strings.Contains(cs, "detail="+tt.detail) || strings.Contains(cs, "stored") {
					t.Errorf("Cache-Status = %q, want detail=%s and not stored", cs, tt.detail)
				}
			}
			if n := o.calls.Load(); n != 2 {
				t.Errorf("origin calls = %d, want 2", n)
			}
		})
	}
}

func TestRevalidation(t *testing.T) {
	var h *harness
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", h.clock.Now().UTC().Format(http.TimeFormat))
		w.Header().Set("Cache-Control", "max-age=10")
		w.Header().Set("Etag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.Header().Set("X-Refreshed", "yes")
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, "content")
	})
	h = newHarness(t, behaviorFor(t, o))
	h.do(t, "GET", "/r")
	h.clock.Advance(11 * time.Second)
	resp, body := h.do(t, "GET", "/r")
	if resp.StatusCode != 200 || body != "content" || resp.Header.Get("X-Cache") != "RefreshHit from strata" {
		t.Fatalf("revalidated: %d %q %q", resp.StatusCode, body, resp.Header.Get("X-Cache"))
	}
	if resp.Header.Get("X-Refreshed") != "yes" {
		t.Error("304's headers were not merged into the stored response")
	}
	resp, _ = h.do(t, "GET", "/r")
	if resp.Header.Get("X-Cache") != "Hit from strata" {
		t.Errorf("after refresh X-Cache = %q", resp.Header.Get("X-Cache"))
	}
	// The client's own conditional request is answered from the store.
	resp, body = h.do(t, "GET", "/r", "If-None-Match", `"v1"`)
	if resp.StatusCode != http.StatusNotModified || body != "" {
		t.Errorf("conditional: %d %q", resp.StatusCode, body)
	}
	if n := o.calls.Load(); n != 2 {
		t.Errorf("origin calls = %d, want 2", n)
	}
}

func TestRequestDirectives(t *testing.T) {
	o := newOrigin(t, fixed("max-age=60"))
	h := newHarness(t, behaviorFor(t, o))
	if resp, _ := h.do(t, "GET", "/d", "Cache-Control", "only-if-cached"); resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("only-if-cached on empty store: %d", resp.StatusCode)
	}
	h.do(t, "GET", "/d")
	h.clock.Advance(30 * time.Second)
	if resp, _ := h.do(t, "GET", "/d", "Cache-Control", "max-age=10"); resp.Header.Get("X-Cache") != "Miss from strata" {
		t.Errorf("max-age=10 on a 30s old response should go to the origin")
	}
	if resp, _ := h.do(t, "GET", "/d", "Pragma", "no-cache"); resp.Header.Get("X-Cache") != "Miss from strata" {
		t.Errorf("Pragma: no-cache should go to the origin")
	}
	if resp, _ := h.do(t, "HEAD", "/d"); resp.Header.Get("X-Cache") != "Hit from strata" || resp.ContentLength != int64(len("body of /d")) {
		t.Errorf("HEAD from stored GET: %q len %d", resp.Header.Get("X-Cache"), resp.ContentLength)
	}
}

func TestVary(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Language")
		io.WriteString(w, "lang="+r.Header.Get("Accept-Language"))
	})
	h := newHarness(t, behaviorFor(t, o))
	h.do(t, "GET", "/v", "Accept-Language", "fr")
	resp, body := h.do(t, "GET", "/v", "Accept-Language", "de")
	if body != "lang=de" || !strings.Contains(resp.Header.Get("Cache-Status"), "fwd=vary-miss") {
		t.Errorf("other language got %q, %q", body, resp.Header.Get("Cache-Status"))
	}
	if resp, body = h.do(t, "GET", "/v", "Accept-Language", " de "); body != "lang=de" || resp.Header.Get("X-Cache") != "Hit from strata" {
		t.Errorf("normalised value: %q %q", body, resp.Header.Get("X-Cache"))
	}
}

func TestUnsafeMethodInvalidates(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.Header().Set("Location", "/other")
			w.WriteHeader(http.StatusCreated)
			return
		}
		fixed("max-age=60")(w, r)
	})
	h := newHarness(t, behaviorFor(t, o))
	h.do(t, "GET", "/target")
	h.do(t, "GET", "/other")
	resp, _ := h.do(t, "POST", "/target")
	if resp.StatusCode != http.StatusCreated || !strings.Contains(resp.Header.Get("Cache-Status"), "fwd=method") {
		t.Fatalf("POST: %d %q", resp.StatusCode, resp.Header.Get("Cache-Status"))
	}
	for _, p := range []string{"/target", "/other"} {
		if resp, _ := h.do(t, "GET", p); resp.Header.Get("X-Cache") != "Miss from strata" {
			t.Errorf("%s still cached after POST", p)
		}
	}
}

func TestPurge(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Surrogate-Key", "k"+r.URL.Path)
		fixed("max-age=60")(w, r)
	})
	h := newHarness(t, behaviorFor(t, o))
	for _, p := range []string{"/api/a", "/api/b?x=1", "/site"} {
		h.do(t, "GET", p)
	}
	if r := h.edge.Purge(Purge{Paths: []string{"/api/*"}}); r != (PurgeResult{Removed: 2}) {
		t.Errorf("wildcard purge: %+v, want 2 removed", r)
	}
	if r := h.edge.Purge(Purge{Tags: []string{"k/site"}}); r != (PurgeResult{Removed: 1}) {
		t.Errorf("tag purge: %+v, want 1 removed", r)
	}
	h.store.CleanUp() // purged entries are removed in the background
	if h.store.Len() != 0 {
		t.Errorf("store has %d entries after purges", h.store.Len())
	}
}

func TestTooBigIsStreamedNotStored(t *testing.T) {
	big := strings.Repeat("z", 5000)
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, big)
	})
	h := newHarness(t, behaviorFor(t, o))
	for range 2 {
		resp, body := h.do(t, "GET", "/big")
		if body != big || !strings.Contains(resp.Header.Get("Cache-Status"), "detail=too-large") {
			t.Fatalf("got %d bytes, Cache-Status %q", len(body), resp.Header.Get("Cache-Status"))
		}
	}
}

func TestOriginDown(t *testing.T) {
	u, _ := url.Parse("http://127.0.0.1:1")
	h := newHarness(t, Behavior{Pattern: "*", Origin: URLOrigin(u, nil)})
	if resp, _ := h.do(t, "GET", "/"); resp.StatusCode != http.StatusBadGateway {
		t.Errorf("status %d, want 502", resp.StatusCode)
	}
}

func TestBehaviorRouting(t *testing.T) {
	api := newOrigin(t, fixed("max-age=1"))
	site := HandlerOrigin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "site") }))
	u, _ := url.Parse(api.srv.URL)
	h := newHarness(t, Behavior{Pattern: "/api/*", Origin: URLOrigin(u, nil)}, Behavior{Pattern: "*", Origin: site})
	if _, body := h.do(t, "GET", "/api/data"); body != "body of /api/data" {
		t.Errorf("/api/data went to %q", body)
	}
	if _, body := h.do(t, "GET", "/index.html"); body != "site" {
		t.Errorf("/index.html went to %q", body)
	}
	if got := api.lastReq.Load().Header.Get("X-Forwarded-For"); got == "" {
		t.Error("origin request has no X-Forwarded-For")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	st, _ := store.NewMemory(store.Options{MaxBytes: 1})
	defer st.Close()
	for _, cfg := range []Config{
		{},
		{Store: st},
		{Store: st, Behaviors: []Behavior{{Pattern: "*"}}},
		{Store: st, Behaviors: []Behavior{{Pattern: "api/*", Origin: HandlerOrigin(http.NotFoundHandler())}}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

// gatedOrigin serves in process and blocks each request until released.
func gatedOrigin(cc string, calls *atomic.Int64, release <-chan struct{}) http.RoundTripper {
	return HandlerOrigin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		<-release
		w.Header().Set("Cache-Control", cc)
		io.WriteString(w, "gated")
	}))
}

func newSyncEdge(t *testing.T, rt http.RoundTripper) (*Edge, *store.Memory) {
	st, err := store.NewMemory(store.Options{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{Behaviors: []Behavior{{Pattern: "*", Origin: rt}}, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	return e, st
}

func TestCollapsing(t *testing.T) {
	for _, tt := range []struct {
		cc        string
		wantCalls int64
	}{
		{"max-age=60", 1}, // one fetch answers every waiter
		{"private", 5},    // not shareable: every waiter fetches its own
	} {
		// Requests the origin was asked for are misses; those answered by
		// another's fetch are collapsed hits.
		wantHits := 5 - int(tt.wantCalls)
		t.Run(tt.cc, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var calls atomic.Int64
				release := make(chan struct{})
				e, st := newSyncEdge(t, gatedOrigin(tt.cc, &calls, release))
				defer st.Close()
				var wg sync.WaitGroup
				bodies := make([]string, 5)
				var hits atomic.Int64
				for i := range bodies {
					wg.Go(func() {
						rec := httptest.NewRecorder()
						e.ServeHTTP(rec, httptest.NewRequest("GET", "http://h/c", nil))
						bodies[i] = rec.Body.String()
						if rec.Header().Get("X-Cache") == "Hit from strata" && strings.Contains(rec.Header().Get("Cache-Status"), "collapsed") {
							hits.Add(1)
						}
					})
				}
				synctest.Wait() // every request is now in the origin or waiting on it
				close(release)
				wg.Wait()
				if n := calls.Load(); n != tt.wantCalls {
					t.Errorf("origin calls = %d, want %d", n, tt.wantCalls)
				}
				if n := hits.Load(); n != int64(wantHits) {
					t.Errorf("collapsed hits = %d, want %d", n, wantHits)
				}
				for i, b := range bodies {
					if b != "gated" {
						t.Errorf("request %d got %q", i, b)
					}
				}
			})
		})
	}
}

func TestPurgeDuringFetchIsNotStored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int64
		release := make(chan struct{})
		e, st := newSyncEdge(t, gatedOrigin("max-age=60", &calls, release))
		defer st.Close()
		done := make(chan string)
		go func() {
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequest("GET", "http://h/p", nil))
			done <- rec.Header().Get("Cache-Status")
		}()
		synctest.Wait()
		e.Purge(Purge{Paths: []string{"/p"}})
		close(release)
		if cs := <-done; !strings.Contains(cs, "detail=purged-during-fetch") {
			t.Errorf("Cache-Status = %q", cs)
		}
		if _, ok := st.Get("http://h/p"); ok {
			t.Error("a response fetched before the purge was stored")
		}
	})
}

// The edge forwards Accept-Encoding as the client sent it: Go's transport
// must not add gzip and decompress behind the edge's back.
func TestTransportKeepsRepresentation(t *testing.T) {
	o := newOrigin(t, fixed("max-age=60"))
	h := newHarness(t, behaviorFor(t, o))
	rec := httptest.NewRecorder()
	h.edge.ServeHTTP(rec, httptest.NewRequest("GET", "http://h/plain", nil))
	if got := o.lastReq.Load().Header.Get("Accept-Encoding"); got != "" {
		t.Errorf("origin saw Accept-Encoding %q for a request without one", got)
	}
}

func TestVia(t *testing.T) {
	o := newOrigin(t, fixed("max-age=60", "Via", "1.0 upstream"))
	h := newHarness(t, behaviorFor(t, o))
	for i := range 2 {
		if resp, _ := h.do(t, "GET", "/via"); resp.Header.Get("Via") != "1.0 upstream, 1.1 strata" {
			t.Errorf("response %d Via = %q", i, resp.Header.Get("Via"))
		}
	}
	if via := o.lastReq.Load().Header.Get("Via"); via != "1.1 strata" {
		t.Errorf("request Via = %q", via)
	}
}
