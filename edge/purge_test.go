package edge

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/strata-cache/strata/edge/store"
)

// purgeOrigin is an in-process origin for purge tests. Every response
// carries an ETag naming the origin's current version, a Surrogate-Key and
// a Cache-Tag derived from its path ("sk:/a all-sk", "ct:/a, all-ct"), and
// a body naming the version and the request.
type purgeOrigin struct {
	cc       string // Cache-Control
	vary     string // Vary, if any
	noLength bool   // no Content-Length: the fetch reads the body before it answers anyone
	noETag   bool

	mu      sync.Mutex
	version int
	status  int           // when not 0, every response has this status
	gate    chan struct{} // when set, the next request takes it and waits for it to close

	calls       atomic.Int64
	conditional atomic.Int64 // requests that carried If-None-Match
}

func (o *purgeOrigin) set(f func(o *purgeOrigin)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	f(o)
}

func (o *purgeOrigin) RoundTrip(r *http.Request) (*http.Response, error) {
	o.calls.Add(1)
	o.mu.Lock()
	v, status, gate := o.version, o.status, o.gate
	o.gate = nil
	o.mu.Unlock()
	if gate != nil {
		<-gate // the response was made before the test's purge: it is old
	}
	h := http.Header{}
	h.Set("Cache-Control", o.cc)
	etag := fmt.Sprintf(`"v%d"`, v)
	if !o.noETag {
		h.Set("Etag", etag)
	}
	h.Set("Surrogate-Key", "sk:"+r.URL.Path+" all-sk")
	h.Set("Cache-Tag", "ct:"+r.URL.Path+", all-ct")
	if o.vary != "" {
		h.Set("Vary", o.vary)
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		o.conditional.Add(1)
		if inm == etag && status == 0 && !o.noETag {
			status = http.StatusNotModified
		}
	}
	if status == 0 {
		status = http.StatusOK
	}
	body := ""
	if status != http.StatusNotModified {
		body = fmt.Sprintf("v%d %s%s lang=%s enc=%s", v, r.Host, r.URL.RequestURI(), r.Header.Get("Accept-Language"), r.Header.Get("Accept-Encoding"))
	}
	length := int64(len(body))
	if o.noLength {
		length = -1
	}
	return &http.Response{
		Status: http.StatusText(status), StatusCode: status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(strings.NewReader(body)), ContentLength: length, Request: r,
	}, nil
}

// getURL asks e for an absolute URL.
func getURL(e *Edge, rawURL string, kv ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", rawURL, nil)
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Add(kv[i], kv[i+1])
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

func xcache(rec *httptest.ResponseRecorder) string {
	return strings.TrimSuffix(rec.Header().Get("X-Cache"), " from strata")
}

// purgeRecorder records the edge's purge measurements.
type purgeRecorder struct {
	mu    sync.Mutex
	calls []string
}

func (*purgeRecorder) Request(string, string)  {}
func (*purgeRecorder) OriginFetch(string, int) {}
func (r *purgeRecorder) Purge(selector string, removed, marked int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf("%s %d %d", selector, removed, marked))
}

func newPurgeEdge(t *testing.T, o http.RoundTripper, rec Recorder) (*Edge, *store.Memory) {
	t.Helper()
	st, err := store.NewMemory(store.Options{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{Behaviors: []Behavior{{Pattern: "*", Origin: o}}, Store: st, Recorder: rec})
	if err != nil {
		t.Fatal(err)
	}
	return e, st
}

var purgeURLs = []string{"http://h/a", "http://h/a?x=1", "http://h2/a", "http://h/a/b", "http://h/ab", "http://h/b"}

// purgeCases are the selectors, and the URLs of purgeURLs each must
// remove: exactly those, and nothing else.
var purgeCases = []struct {
	name string
	p    Purge
	gone []string
}{
	{"url", Purge{URLs: []string{"http://H/a"}}, []string{"http://h/a"}},
	{"url with query", Purge{URLs: []string{"http://h/a?x=1"}}, []string{"http://h/a?x=1"}},
	{"path", Purge{Paths: []string{"/a"}}, []string{"http://h/a", "http://h/a?x=1", "http://h2/a"}},
	{"prefix", Purge{Paths: []string{"/a*"}}, []string{"http://h/a", "http://h/a?x=1", "http://h2/a", "http://h/a/b", "http://h/ab"}},
	{"directory prefix", Purge{Paths: []string{"/a/*"}}, []string{"http://h/a/b"}},
	{"surrogate key", Purge{Tags: []string{"sk:/b"}}, []string{"http://h/b"}},
	{"cache tag", Purge{Tags: []string{"ct:/a"}}, []string{"http://h/a", "http://h/a?x=1", "http://h2/a"}},
	{"shared tag", Purge{Tags: []string{"all-ct"}}, purgeURLs},
	{"several selectors", Purge{URLs: []string{"http://h/b"}, Tags: []string{"sk:/ab"}, Paths: []string{"/b"}}, []string{"http://h/b", "http://h/ab"}},
	{"everything", Purge{All: true}, purgeURLs},
	{"path star", Purge{Paths: []string{"*"}}, purgeURLs},
	{"nothing matches", Purge{URLs: []string{"https://h/a"}, Paths: []string{"/c"}, Tags: []string{"nope"}}, nil},
}

// Every selector removes (or, soft, marks) exactly what it should and
// nothing else; a removed URL's next request goes to the origin, a marked
// one's is a conditional request answered 304 (RefreshHit).
//
// PurgeLater (later=true) gives the same counts, and its purge is in
// effect when it returns, before it has counted.
func TestPurgeSelectors(t *testing.T) {
	for _, later := range []bool{false, true} {
		for _, soft := range []bool{false, true} {
			for _, tc := range purgeCases {
				t.Run(fmt.Sprintf("%s/soft=%v/later=%v", tc.name, soft, later), func(t *testing.T) {
					synctest.Test(t, func(t *testing.T) {
						o := &purgeOrigin{cc: "max-age=60"}
						e, st := newPurgeEdge(t, o, nil)
						defer st.Close()
						for _, u := range purgeURLs {
							getURL(e, u)
						}
						p := tc.p
						p.Soft = soft
						want := PurgeResult{Removed: len(tc.gone)}
						if soft {
							want = PurgeResult{Marked: len(tc.gone)}
						}
						var counted chan PurgeResult
						if later {
							counted = make(chan PurgeResult, 1)
							e.PurgeLater(p, func(r PurgeResult) { counted <- r })
						} else if got := e.Purge(p); got != want {
							t.Errorf("Purge = %+v, want %+v", got, want)
						}
						for _, u := range purgeURLs {
							wantX := "Hit"
							switch gone := contains(tc.gone, u); {
							case gone && soft:
								wantX = "RefreshHit"
							case gone:
								wantX = "Miss"
							}
							if x := xcache(getURL(e, u)); x != wantX {
								t.Errorf("%s after the purge: %s, want %s", u, x, wantX)
							}
						}
						if soft && o.conditional.Load() != int64(len(tc.gone)) {
							t.Errorf("%d conditional requests, want %d", o.conditional.Load(), len(tc.gone))
						}
						if later {
							if got := <-counted; got != want {
								t.Errorf("PurgeLater counted %+v, want %+v", got, want)
							}
						}
						e.Close()
					})
				})
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// A purge by any selector leaves no Vary variant behind: afterwards every
// variant's request goes to the origin, and (hard) the store holds none.
func TestPurgeRemovesEveryVariant(t *testing.T) {
	variants := [][]string{
		{"Accept-Language", "fr", "Accept-Encoding", "gzip"},
		{"Accept-Language", "fr", "Accept-Encoding", "br"},
		{"Accept-Language", "de", "Accept-Encoding", "gzip"},
		{"Accept-Language", "de, en;q=0.5", "Accept-Encoding", "identity"},
	}
	selectors := map[string]Purge{
		"url":           {URLs: []string{"http://h/v"}},
		"path":          {Paths: []string{"/v"}},
		"prefix":        {Paths: []string{"/*"}},
		"surrogate key": {Tags: []string{"sk:/v"}},
		"cache tag":     {Tags: []string{"ct:/v"}},
		"everything":    {All: true},
	}
	for name, p := range selectors {
		for _, soft := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/soft=%v", name, soft), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					o := &purgeOrigin{cc: "max-age=60", vary: "Accept-Language, Accept-Encoding"}
					e, st := newPurgeEdge(t, o, nil)
					defer st.Close()
					for round, want := range []string{"Miss", "Hit"} {
						for _, v := range variants {
							if x := xcache(getURL(e, "http://h/v", v...)); x != want {
								t.Fatalf("round %d, %v: %s", round, v, x)
							}
						}
					}
					p.Soft = soft
					r := e.Purge(p)
					if n := r.Removed + r.Marked; n != len(variants) {
						t.Errorf("Purge = %+v, want %d variants", r, len(variants))
					}
					before := o.calls.Load()
					want := "Miss"
					if soft {
						want = "RefreshHit"
					}
					for _, v := range variants {
						rec := getURL(e, "http://h/v", v...)
						if x := xcache(rec); x != want {
							t.Errorf("%v after the purge: %s, want %s", v, x, want)
						}
						if !strings.Contains(rec.Body.String(), "lang="+v[1]+" enc="+v[3]) {
							t.Errorf("%v got %q", v, rec.Body.String())
						}
					}
					if n := o.calls.Load() - before; n != int64(len(variants)) {
						t.Errorf("%d origin requests after the purge, want one per variant (%d)", n, len(variants))
					}
					if !soft {
						// Refill, purge again, and count what is left.
						for _, v := range variants {
							getURL(e, "http://h/v", v...)
						}
						e.Purge(p)
						if n := st.Purge(store.Selector{Kind: store.KindAll}); n != 0 {
							t.Errorf("%d variants left in the store after the purge", n)
						}
					}
					e.Close()
				})
			})
		}
	}
}

// The purge–fill race, for every selector, hard and soft, whether the
// response streams to waiters (announced length) or is read first: the
// origin makes its response, then waits until the test has purged. The
// old response is never stored as fresh: the next request goes to the
// origin (a soft purge lets the old response be stored stale, so that
// request is conditional).
func TestPurgeDuringFetch(t *testing.T) {
	selectors := map[string]Purge{
		"url":           {URLs: []string{"http://h/a"}},
		"path":          {Paths: []string{"/a"}},
		"prefix":        {Paths: []string{"/*"}},
		"surrogate key": {Tags: []string{"sk:/a"}},
		"cache tag":     {Tags: []string{"ct:/a"}},
		"everything":    {All: true},
	}
	for name, p := range selectors {
		for _, soft := range []bool{false, true} {
			for _, noLength := range []bool{false, true} {
				for _, revalidating := range []bool{false, true} {
					t.Run(fmt.Sprintf("%s/soft=%v/noLength=%v/revalidating=%v", name, soft, noLength, revalidating), func(t *testing.T) {
						synctest.Test(t, func(t *testing.T) {
							o := &purgeOrigin{cc: "max-age=60", noLength: noLength}
							e, st := newPurgeEdge(t, o, nil)
							defer st.Close()
							if revalidating {
								// A stale copy: the fetch in flight is a
								// revalidation, answered 304.
								getURL(e, "http://h/a")
								time.Sleep(61 * time.Second)
							}
							gate := make(chan struct{})
							o.set(func(o *purgeOrigin) { o.gate = gate })
							done := make(chan string)
							go func() { done <- xcache(getURL(e, "http://h/a")) }()
							synctest.Wait() // the origin has made its response and waits
							p.Soft = soft
							e.Purge(p)
							o.set(func(o *purgeOrigin) { o.version = 1 })
							close(gate)
							<-done
							calls := o.calls.Load()
							rec := getURL(e, "http://h/a")
							if o.calls.Load() != calls+1 {
								t.Fatalf("the response fetched before the purge was served from the store: %s %q", xcache(rec), rec.Body.String())
							}
							if !strings.HasPrefix(rec.Body.String(), "v1 ") {
								t.Errorf("after the purge: %q", rec.Body.String())
							}
							if wantCond := soft; (o.conditional.Load() > int64(btoi(revalidating))) != wantCond {
								t.Errorf("conditional requests %d: soft purge should keep the old response stale, a hard one nothing", o.conditional.Load())
							}
							if x := xcache(getURL(e, "http://h/a")); x != "Hit" {
								t.Errorf("the new response was not stored: %s", x)
							}
							e.Close()
						})
					})
				}
			}
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// A request that arrives after a purge does not join a fetch that started
// before it, for every selector.
func TestRequestAfterPurgeFetchesAnew(t *testing.T) {
	for _, tc := range purgeCases {
		if len(tc.gone) == 0 || !contains(tc.gone, "http://h/a") {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				o := &purgeOrigin{cc: "max-age=60"}
				e, st := newPurgeEdge(t, o, nil)
				defer st.Close()
				gate := make(chan struct{})
				o.set(func(o *purgeOrigin) { o.gate = gate })
				var wg sync.WaitGroup
				wg.Go(func() { getURL(e, "http://h/a") })
				synctest.Wait()
				o.set(func(o *purgeOrigin) { o.version = 1 })
				e.Purge(tc.p)
				var after string
				wg.Go(func() { after = getURL(e, "http://h/a").Body.String() })
				synctest.Wait()
				close(gate)
				wg.Wait()
				if !strings.HasPrefix(after, "v1 ") {
					t.Errorf("request made after the purge got %q", after)
				}
				e.Close()
			})
		})
	}
}

// Soft purge: the next request revalidates; while it does, the entry is
// served stale exactly as stale-while-revalidate and stale-if-error allow.
func TestSoftPurge(t *testing.T) {
	t.Run("revalidates", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			o := &purgeOrigin{cc: "max-age=600"}
			e, st := newPurgeEdge(t, o, nil)
			defer st.Close()
			getURL(e, "http://h/a")
			e.Purge(Purge{Paths: []string{"/a"}, Soft: true})
			rec := getURL(e, "http://h/a")
			if xcache(rec) != "RefreshHit" || o.conditional.Load() != 1 || !strings.HasPrefix(rec.Body.String(), "v0 ") {
				t.Fatalf("after a soft purge: %s, %d conditional, %q", xcache(rec), o.conditional.Load(), rec.Body.String())
			}
			if rec = getURL(e, "http://h/a"); xcache(rec) != "Hit" {
				t.Errorf("the 304 did not refresh the entry: %s", xcache(rec))
			}
			// The origin changed: a 200 replaces the entry.
			o.set(func(o *purgeOrigin) { o.version = 1 })
			e.Purge(Purge{Tags: []string{"sk:/a"}, Soft: true})
			if rec = getURL(e, "http://h/a"); xcache(rec) != "Miss" || !strings.HasPrefix(rec.Body.String(), "v1 ") {
				t.Errorf("changed: %s %q", xcache(rec), rec.Body.String())
			}
			e.Close()
		})
	})
	t.Run("refresh is fresh and shared", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			o := &purgeOrigin{cc: "max-age=600"}
			e, st := newPurgeEdge(t, o, nil)
			defer st.Close()
			getURL(e, "http://h/a")
			e.Purge(Purge{Paths: []string{"/a"}, Soft: true})
			gate := make(chan struct{})
			o.set(func(o *purgeOrigin) { o.gate = gate })
			recs := make([]*httptest.ResponseRecorder, 3)
			var wg sync.WaitGroup
			for i := range recs {
				wg.Go(func() { recs[i] = getURL(e, "http://h/a") })
			}
			synctest.Wait() // one revalidation in flight, the others waiting on it
			close(gate)
			wg.Wait()
			if n := o.calls.Load(); n != 2 {
				t.Errorf("%d origin requests, want the fill and one collapsed revalidation", n)
			}
			for _, rec := range recs {
				if cs := rec.Header().Get("Cache-Status"); !strings.Contains(cs, "ttl=600") && !strings.Contains(cs, "ttl=599") {
					t.Errorf("refreshed response: X-Cache %s, Cache-Status %q", xcache(rec), cs)
				}
			}
			e.Close()
		})
	})
	t.Run("stale-while-revalidate", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			o := &purgeOrigin{cc: "max-age=600, stale-while-revalidate=30"}
			e, st := newPurgeEdge(t, o, nil)
			defer st.Close()
			getURL(e, "http://h/a")
			o.set(func(o *purgeOrigin) { o.version = 1 })
			e.Purge(Purge{URLs: []string{"http://h/a"}, Soft: true})
			rec := getURL(e, "http://h/a")
			if xcache(rec) != "StaleHit" || !strings.HasPrefix(rec.Body.String(), "v0 ") {
				t.Fatalf("within stale-while-revalidate: %s %q", xcache(rec), rec.Body.String())
			}
			synctest.Wait() // the background revalidation
			if rec = getURL(e, "http://h/a"); xcache(rec) != "Hit" || !strings.HasPrefix(rec.Body.String(), "v1 ") {
				t.Errorf("after the background revalidation: %s %q", xcache(rec), rec.Body.String())
			}
			// Past the window the request waits for the origin.
			e.Purge(Purge{URLs: []string{"http://h/a"}, Soft: true})
			time.Sleep(31 * time.Second)
			if rec = getURL(e, "http://h/a"); xcache(rec) != "RefreshHit" {
				t.Errorf("past stale-while-revalidate: %s", xcache(rec))
			}
			e.Close()
		})
	})
	t.Run("stale-if-error", func(t *testing.T) {
		for _, cc := range []string{"max-age=600, stale-if-error=60", "max-age=600"} {
			synctest.Test(t, func(t *testing.T) {
				o := &purgeOrigin{cc: cc}
				e, st := newPurgeEdge(t, o, nil)
				defer st.Close()
				getURL(e, "http://h/a")
				e.Purge(Purge{All: true, Soft: true})
				o.set(func(o *purgeOrigin) { o.status = http.StatusServiceUnavailable })
				rec := getURL(e, "http://h/a")
				wantStale := strings.Contains(cc, "stale-if-error")
				if got := xcache(rec) == "StaleHit"; got != wantStale || (!wantStale && rec.Code != http.StatusServiceUnavailable) {
					t.Errorf("%s, origin failing: %s %d", cc, xcache(rec), rec.Code)
				}
				e.Close()
			})
		}
	})
	t.Run("must-revalidate", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			o := &purgeOrigin{cc: "max-age=600, must-revalidate, stale-while-revalidate=30"}
			e, st := newPurgeEdge(t, o, nil)
			defer st.Close()
			getURL(e, "http://h/a")
			e.Purge(Purge{Paths: []string{"/a"}, Soft: true})
			if rec := getURL(e, "http://h/a"); xcache(rec) != "RefreshHit" {
				t.Errorf("must-revalidate, soft purged: %s", xcache(rec))
			}
			e.Close()
		})
	})
	t.Run("without validators", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			o := &purgeOrigin{cc: "max-age=600", noETag: true}
			e, st := newPurgeEdge(t, o, nil)
			defer st.Close()
			getURL(e, "http://h/a")
			o.set(func(o *purgeOrigin) { o.version = 1 })
			e.Purge(Purge{Paths: []string{"/a"}, Soft: true})
			if rec := getURL(e, "http://h/a"); xcache(rec) != "Miss" || !strings.HasPrefix(rec.Body.String(), "v1 ") {
				t.Errorf("no validator: %s %q", xcache(rec), rec.Body.String())
			}
			e.Close()
		})
	})
}

func TestPurgeRecorder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &purgeRecorder{}
		e, st := newPurgeEdge(t, &purgeOrigin{cc: "max-age=60"}, rec)
		defer st.Close()
		for _, u := range purgeURLs {
			getURL(e, u)
		}
		e.Purge(Purge{URLs: []string{"http://h/b"}, Tags: []string{"sk:/ab"}, Paths: []string{"/a/*", "/nothing"}})
		e.Purge(Purge{All: true, Soft: true})
		want := []string{"url 1 0", "path 0 0", "prefix 1 0", "tag 1 0", "all 0 3"}
		if fmt.Sprint(rec.calls) != fmt.Sprint(want) {
			t.Errorf("recorded %q, want %q", rec.calls, want)
		}
		e.Close()
	})
}

// PurgeLater records each kind's counts once, when the last is known, and
// reports the total once.
func TestPurgeLaterRecorder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &purgeRecorder{}
		e, st := newPurgeEdge(t, &purgeOrigin{cc: "max-age=60"}, rec)
		defer st.Close()
		for _, u := range purgeURLs {
			getURL(e, u)
		}
		done := make(chan PurgeResult, 2)
		e.PurgeLater(Purge{URLs: []string{"http://h/b"}, Tags: []string{"sk:/ab", "all-ct"}, Paths: []string{"/nothing"}},
			func(r PurgeResult) { done <- r })
		if r := <-done; r != (PurgeResult{Removed: len(purgeURLs)}) {
			t.Errorf("PurgeLater counted %+v, want %d removed", r, len(purgeURLs))
		}
		st.CleanUp()
		synctest.Wait()
		if len(done) != 0 {
			t.Error("done was called twice")
		}
		want := []string{"url 1 0", "path 0 0", "tag 5 0"}
		if fmt.Sprint(rec.calls) != fmt.Sprint(want) {
			t.Errorf("recorded %q, want %q", rec.calls, want)
		}
		e.Close()
	})
}

func TestPurgeValidate(t *testing.T) {
	for _, tt := range []struct {
		p  Purge
		ok bool
	}{
		{Purge{URLs: []string{"https://h/a?b"}}, true},
		{Purge{Paths: []string{"/a", "/b*", "*"}, Tags: []string{"t"}}, true},
		{Purge{All: true}, true},
		{Purge{}, false},
		{Purge{URLs: []string{"/a"}}, false},
		{Purge{URLs: []string{"ftp://h/a"}}, false},
		{Purge{Paths: []string{"a"}}, false},
		{Purge{Tags: []string{""}}, false},
	} {
		if err := tt.p.Validate(); (err == nil) != tt.ok {
			t.Errorf("%+v: Validate() = %v", tt.p, err)
		}
	}
}

func TestSurrogateKeys(t *testing.T) {
	h := http.Header{}
	h.Add("Surrogate-Key", "a  b")
	h.Add("Surrogate-Key", "c a")
	h.Add("Cache-Tag", "d, b,e ,,")
	if got := fmt.Sprint(surrogateKeys(h)); got != "[a b c d e]" {
		t.Errorf("surrogateKeys = %s", got)
	}
	var many, want []string
	for i := range 40 {
		many = append(many, fmt.Sprint("k", i%30))
		if i < 30 {
			want = append(want, fmt.Sprint("k", i))
		}
	}
	h = http.Header{"Surrogate-Key": {strings.Join(many, " ")}, "Cache-Tag": {"k3, z"}}
	if got, want := fmt.Sprint(surrogateKeys(h)), fmt.Sprint(append(want, "z")); got != want {
		t.Errorf("surrogateKeys = %s, want %s", got, want)
	}
}

// versionedOrigin answers with X-Cache-Version: the data version its
// (lagging) application tier read the response at.
type versionedOrigin struct {
	version atomic.Int64
	calls   atomic.Int64
}

func (o *versionedOrigin) RoundTrip(r *http.Request) (*http.Response, error) {
	o.calls.Add(1)
	v := o.version.Load()
	h := http.Header{}
	h.Set("Cache-Control", "public, max-age=60")
	h.Set("Surrogate-Key", "product:5 "+r.URL.Path)
	h.Set("X-Cache-Version", fmt.Sprint(v))
	body := fmt.Sprintf("v%d", v)
	return &http.Response{StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h,
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: r}, nil
}

// A purge about data version 7 keeps the edge from storing a response its
// origin read at an older version, even from a fetch that starts after the
// purge (an API instance whose L1 has not applied the change yet): the
// client gets it, the next request asks again, and once the origin serves
// version 7 that is stored. With the check turned off it would be stored.
func TestPurgeRefusesOlderDataVersion(t *testing.T) {
	for _, header := range []string{"", "-"} {
		o := &versionedOrigin{}
		o.version.Store(6)
		st, _ := store.NewMemory(store.Options{MaxBytes: 1 << 20})
		e, err := New(Config{Behaviors: []Behavior{{Pattern: "*", Origin: o}}, Store: st, VersionHeader: header})
		if err != nil {
			t.Fatal(err)
		}
		get := func() (string, string) {
			rec := getURL(e, "http://h/p/5")
			return xcache(rec), rec.Body.String()
		}
		get()
		if x, _ := get(); x != "Hit" {
			t.Fatalf("before the purge: %s", x)
		}
		e.Purge(Purge{Tags: []string{"product:5"}, Version: 7})
		if x, body := get(); x != "Miss" || body != "v6" {
			t.Fatalf("after the purge: %s %q, want a miss answered with the lagging v6", x, body)
		}
		x, _ := get()
		if header == "-" {
			if x != "Hit" {
				t.Errorf("with the version check off, the v6 response was not stored: %s", x)
			}
			continue
		}
		if x != "Miss" {
			t.Fatalf("the v6 response read before the purge's version was stored: second request %s", x)
		}
		o.version.Store(7)
		get()
		if x, body := get(); x != "Hit" || body != "v7" {
			t.Errorf("once the origin serves v7: %s %q, want a hit on v7", x, body)
		}
		// An unrelated purge about a later version does not touch it.
		e.Purge(Purge{Tags: []string{"product:6"}, Version: 9})
		if x, _ := get(); x != "Hit" {
			t.Errorf("a purge of another tag at a later version removed it: %s", x)
		}
		st.Close()
	}
}

// gatedVersionOrigin is versionedOrigin whose first request waits for gate.
type gatedVersionOrigin struct {
	versionedOrigin
	gate chan struct{}
	once sync.Once
}

func (o *gatedVersionOrigin) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := o.versionedOrigin.RoundTrip(r) // the version is read now
	o.once.Do(func() { <-o.gate })
	return resp, err
}

// A request that joins a collapsed fetch whose response turns out to be
// older than a purge's data version is not given it: the fetch started
// after this edge applied the purge but reached a tier that had not (an
// API instance a moment behind), and the joiner, which may have asked
// after the invalidation completed everywhere, fetches on its own.
// (strata bench caught a reader served the old version this way.)
func TestCollapsedWaiterNotGivenResponseOlderThanPurge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := &gatedVersionOrigin{gate: make(chan struct{})}
		o.version.Store(6)
		st, _ := store.NewMemory(store.Options{MaxBytes: 1 << 20})
		defer st.Close()
		e, err := New(Config{Behaviors: []Behavior{{Pattern: "*", Origin: o}}, Store: st})
		if err != nil {
			t.Fatal(err)
		}
		e.Purge(Purge{Tags: []string{"product:5"}, Version: 7})
		bodies := make(chan string, 2)
		go func() { bodies <- getURL(e, "http://h/p/5").Body.String() }() // leads; its origin read is lagging
		synctest.Wait()
		go func() { bodies <- getURL(e, "http://h/p/5").Body.String() }() // joins
		synctest.Wait()
		o.version.Store(7) // the tier behind the edge has applied the change
		close(o.gate)
		got := []string{<-bodies, <-bodies}
		slices.Sort(got)
		if got[0] != "v6" || got[1] != "v7" {
			t.Errorf("bodies %q: want the leader's lagging v6 and the joiner's own v7", got)
		}
		if n := o.calls.Load(); n != 2 {
			t.Errorf("%d origin requests, want 2 (the joiner fetched on its own)", n)
		}
	})
}
