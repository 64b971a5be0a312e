package edge

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// HTTP caching scenarios as data: each step advances the clock, sends a
// request, says what the origin answers if it is asked, and what the client
// must see. The origin stamps Date from the test clock.

type originResp struct {
	status int
	header []string // key, value pairs
	body   string
}

type step struct {
	advance time.Duration
	method  string // default GET
	path    string // default /s
	req     []string
	origin  *originResp // nil: the origin must not be contacted
	status  int         // default 200
	xcache  string      // "hit", "miss", "refresh", "stale" or "" (not checked)
	body    string      // checked when not empty
	age     string      // checked when not empty
	csHas   string      // substring of Cache-Status, when not empty
}

type scenario struct {
	name  string
	steps []step
}

func ok(cc string, extra ...string) *originResp {
	return &originResp{status: 200, header: append([]string{"Cache-Control", cc}, extra...), body: "body"}
}

var scenarios = []scenario{
	{"max-age fresh then stale", []step{
		{origin: ok("max-age=10"), xcache: "miss"},
		{advance: 5 * time.Second, xcache: "hit", age: "5"},
		{advance: 6 * time.Second, origin: ok("max-age=10"), xcache: "miss"},
	}},
	{"s-maxage wins over max-age", []step{
		{origin: ok("max-age=1, s-maxage=100"), xcache: "miss"},
		{advance: 50 * time.Second, xcache: "hit"},
	}},
	{"max-age=0 is stored only to revalidate", []step{
		{origin: ok("max-age=0", "Etag", `"a"`), xcache: "miss", csHas: "stored"},
		{origin: &originResp{status: 304}, xcache: "refresh", body: "body"},
	}},
	{"no-cache revalidates every time", []step{
		{origin: ok("no-cache", "Etag", `"a"`), xcache: "miss"},
		{origin: &originResp{status: 304}, xcache: "refresh"},
		{origin: &originResp{status: 304}, xcache: "refresh"},
	}},
	{"no-store never stored", []step{
		{origin: ok("no-store"), xcache: "miss", csHas: "detail=no-store"},
		{origin: ok("no-store"), xcache: "miss"},
	}},
	{"private never stored", []step{
		{origin: ok("private, max-age=60"), csHas: "detail=private"},
		{origin: ok("max-age=60"), xcache: "miss"},
	}},
	{"Expires in the future", []step{
		{origin: &originResp{status: 200, header: []string{"Expires", "+30s"}, body: "e"}, xcache: "miss"},
		{advance: 20 * time.Second, xcache: "hit"},
		{advance: 20 * time.Second, origin: ok("max-age=1"), xcache: "miss"},
	}},
	{"Age from upstream counts", []step{
		{origin: ok("max-age=10", "Age", "8"), xcache: "miss"},
		{advance: 1 * time.Second, xcache: "hit", age: "9"},
		{advance: 2 * time.Second, origin: ok("max-age=10"), xcache: "miss"},
	}},
	{"heuristic freshness from Last-Modified", []step{
		{origin: &originResp{status: 200, header: []string{"Last-Modified", "-100m"}, body: "h"}, xcache: "miss"},
		{advance: 9 * time.Minute, xcache: "hit"},
		{advance: 2 * time.Minute, origin: ok("max-age=1"), xcache: "miss"},
	}},
	{"404 with max-age is stored", []step{
		{origin: &originResp{status: 404, header: []string{"Cache-Control", "max-age=60"}, body: "nf"}, status: 404, xcache: "miss"},
		{status: 404, xcache: "hit", body: "nf"},
	}},
	{"302 without freshness is not stored", []step{
		{origin: &originResp{status: 302, header: []string{"Location", "/x"}}, status: 302},
		{origin: &originResp{status: 302, header: []string{"Location", "/x"}}, status: 302},
	}},
	{"301 heuristically cacheable with Last-Modified", []step{
		{origin: &originResp{status: 301, header: []string{"Location", "/x", "Last-Modified", "-100m"}}, status: 301},
		{status: 301, xcache: "hit"},
	}},
	{"request max-age=0 forces revalidation", []step{
		{origin: ok("max-age=60", "Etag", `"a"`), xcache: "miss"},
		{req: []string{"Cache-Control", "max-age=0"}, origin: &originResp{status: 304}, xcache: "refresh", csHas: "fwd=request"},
	}},
	{"request min-fresh", []step{
		{origin: ok("max-age=60"), xcache: "miss"},
		{advance: 50 * time.Second, req: []string{"Cache-Control", "min-fresh=20"}, origin: ok("max-age=60"), xcache: "miss"},
	}},
	{"request max-stale allows stale", []step{
		{origin: ok("max-age=10"), xcache: "miss"},
		{advance: 15 * time.Second, req: []string{"Cache-Control", "max-stale=10"}, xcache: "hit"},
		{req: []string{"Cache-Control", "max-stale=2"}, origin: ok("max-age=10"), xcache: "miss"},
	}},
	{"max-stale never past must-revalidate", []step{
		{origin: ok("max-age=10, must-revalidate"), xcache: "miss"},
		{advance: 15 * time.Second, req: []string{"Cache-Control", "max-stale"}, origin: ok("max-age=10"), xcache: "miss"},
	}},
	{"only-if-cached with nothing stored", []step{
		{req: []string{"Cache-Control", "only-if-cached"}, status: 504},
	}},
	{"HEAD after GET is a hit", []step{
		{origin: ok("max-age=60"), xcache: "miss"},
		{method: "HEAD", xcache: "hit"},
	}},
	{"conditional request answered from the store", []step{
		{origin: ok("max-age=60", "Etag", `"v9"`), xcache: "miss"},
		{req: []string{"If-None-Match", `W/"v9"`}, status: 304, xcache: "hit"},
		{req: []string{"If-None-Match", `"other"`}, status: 200, xcache: "hit"},
	}},
	{"304 with new Cache-Control updates the stored response", []step{
		{origin: ok("max-age=1", "Etag", `"a"`), xcache: "miss"},
		{advance: 2 * time.Second, origin: &originResp{status: 304, header: []string{"Cache-Control", "max-age=100"}}, xcache: "refresh"},
		{advance: 50 * time.Second, xcache: "hit"},
	}},
	{"POST invalidates the stored GET", []step{
		{origin: ok("max-age=60"), xcache: "miss"},
		{method: "POST", origin: &originResp{status: 200}, csHas: "fwd=method"},
		{origin: ok("max-age=60"), xcache: "miss"},
	}},
	{"failed POST does not invalidate", []step{
		{origin: ok("max-age=60"), xcache: "miss"},
		{method: "POST", origin: &originResp{status: 500}, status: 500},
		{xcache: "hit"},
	}},
	{"CDN-Cache-Control overrides Cache-Control", []step{
		{origin: ok("no-store", "CDN-Cache-Control", "max-age=60"), xcache: "miss"},
		{xcache: "hit"},
	}},
	{"Surrogate-Control overrides and is removed", []step{
		{origin: ok("max-age=0", "Surrogate-Control", "max-age=60"), xcache: "miss"},
		{xcache: "hit"},
	}},
	{"Set-Cookie responses are not stored", []step{
		{origin: ok("max-age=60", "Set-Cookie", "a=b"), csHas: "detail=set-cookie"},
		{origin: ok("max-age=60"), xcache: "miss"},
	}},
	{"response to a request with Cookie is not shared by default", []step{
		{req: []string{"Cookie", "session=alice"}, origin: ok("max-age=60"), csHas: "detail=cookie"},
		{origin: ok("max-age=60"), xcache: "miss"},
		{req: []string{"Cookie", "session=bob"}, xcache: "hit"},
	}},
	{"public response to a request with Cookie is shared", []step{
		{req: []string{"Cookie", "session=alice"}, origin: ok("public, max-age=60"), xcache: "miss"},
		{xcache: "hit"},
	}},
	{"stale-if-error on 500", []step{
		{origin: ok("max-age=1, stale-if-error=60"), xcache: "miss"},
		{advance: 5 * time.Second, origin: &originResp{status: 500}, xcache: "stale", body: "body"},
	}},
	{"stale-while-revalidate window", []step{
		{origin: ok("max-age=1, stale-while-revalidate=60"), xcache: "miss"},
		{advance: 5 * time.Second, origin: ok("max-age=100"), xcache: "stale"},
	}},
}

func TestScenarios(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			var (
				mu     sync.Mutex
				next   *originResp
				called int
				h      *harness
			)
			o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				resp := next
				called++
				mu.Unlock()
				now := h.clock.Now()
				w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
				if resp == nil {
					w.WriteHeader(599)
					return
				}
				for i := 0; i+1 < len(resp.header); i += 2 {
					k, v := resp.header[i], resp.header[i+1]
					if (k == "Expires" || k == "Last-Modified") && (strings.HasPrefix(v, "+") || strings.HasPrefix(v, "-")) {
						d, _ := time.ParseDuration(v)
						v = now.Add(d).UTC().Format(http.TimeFormat)
					}
					w.Header().Add(k, v)
				}
				w.WriteHeader(resp.status)
				io.WriteString(w, resp.body)
			})
			h = newHarness(t, behaviorFor(t, o))
			for i, st := range sc.steps {
				h.clock.Advance(st.advance)
				mu.Lock()
				next, called = st.origin, 0
				mu.Unlock()
				method, path, status := st.method, st.path, st.status
				if method == "" {
					method = "GET"
				}
				if path == "" {
					path = "/s"
				}
				if status == 0 {
					status = 200
				}
				resp, body := h.do(t, method, path, st.req...)
				h.edge.Close() // let background revalidation finish before the next step
				mu.Lock()
				gotCalled := called
				mu.Unlock()
				if st.origin == nil && gotCalled > 0 {
					t.Errorf("step %d: the origin was contacted", i)
				}
				if st.origin != nil && gotCalled == 0 {
					t.Errorf("step %d: the origin was not contacted", i)
				}
				if resp.StatusCode != status {
					t.Errorf("step %d: status %d, want %d", i, resp.StatusCode, status)
				}
				want := map[string]string{"hit": "Hit from strata", "miss": "Miss from strata", "refresh": "RefreshHit from strata", "stale": "StaleHit from strata"}[st.xcache]
				if want != "" && resp.Header.Get("X-Cache") != want {
					t.Errorf("step %d: X-Cache %q, want %q (Cache-Status %q)", i, resp.Header.Get("X-Cache"), want, resp.Header.Get("Cache-Status"))
				}
				if st.body != "" && body != st.body {
					t.Errorf("step %d: body %q, want %q", i, body, st.body)
				}
				if st.age != "" && resp.Header.Get("Age") != st.age {
					t.Errorf("step %d: Age %q, want %q", i, resp.Header.Get("Age"), st.age)
				}
				if st.csHas != "" && !strings.Contains(resp.Header.Get("Cache-Status"), st.csHas) {
					t.Errorf("step %d: Cache-Status %q lacks %q", i, resp.Header.Get("Cache-Status"), st.csHas)
				}
			}
		})
	}
}
