package edge

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/strata-cache/strata/edge/compress"
	"github.com/strata-cache/strata/edge/store"
)

// page is a compressible body above the default CompressMinSize.
var page = strings.Repeat("<p>Strata caches content, compressed once.</p>\n", 100)

// rawClient shows bodies as sent: Go's transport must not ask for gzip and
// decompress behind the test's back.
var rawClient = &http.Client{Transport: &http.Transport{DisableCompression: true}}

// newCompressHarness is newHarness with Compress on and room for bodies of
// a few KiB.
func newCompressHarness(t *testing.T, o *origin) *harness {
	t.Helper()
	st, err := store.NewMemory(store.Options{MaxBytes: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	u, _ := url.Parse(o.srv.URL)
	c := &clock{now: time.Now().Truncate(time.Second)}
	e, err := New(Config{
		Behaviors: []Behavior{{Pattern: "*", Origin: URLOrigin(u, nil), Compress: true}},
		Store:     st, Now: c.Now, MaxObjectSize: 64 << 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{edge: e, clock: c, store: st, srv: httptest.NewServer(e)}
	t.Cleanup(h.srv.Close)
	return h
}

// get requests path with the header fields kv and returns the response and
// its body decoded per Content-Encoding.
func (h *harness) get(t *testing.T, method, path string, kv ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, h.srv.URL+path, nil)
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Add(kv[i], kv[i+1])
	}
	resp, err := rawClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if cl := resp.Header.Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(raw)) && method != "HEAD" {
		t.Errorf("%s %s: Content-Length %s, body %d bytes", method, path, cl, len(raw))
	}
	d, err := compress.NewDecoder(strings.NewReader(string(raw)), resp.Header.Get("Content-Encoding"))
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	body, err := io.ReadAll(d)
	if err != nil {
		t.Fatalf("%s %s: decoding %s: %v", method, path, resp.Header.Get("Content-Encoding"), err)
	}
	return resp, string(body)
}

// htmlOrigin serves page (or body) as cacheable HTML with an ETag and a
// surrogate key, answering If-None-Match with 304.
func htmlOrigin(t *testing.T, ct, body string, extra ...string) *origin {
	return newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		w.Header().Set("Etag", `"v1"`)
		w.Header().Set("Surrogate-Key", "pages")
		w.Header().Set("Content-Type", ct)
		for i := 0; i+1 < len(extra); i += 2 {
			w.Header().Add(extra[i], extra[i+1])
		}
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, body)
	})
}

func varyHas(resp *http.Response, f string) bool {
	for _, v := range resp.Header.Values("Vary") {
		for _, x := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(x), f) {
				return true
			}
		}
	}
	return false
}

func TestCompressNegotiation(t *testing.T) {
	o := htmlOrigin(t, "text/html; charset=utf-8", page)
	h := newCompressHarness(t, o)
	for _, tc := range []struct{ ae, want string }{
		{"gzip", "gzip"},
		{"br", "br"},
		{"zstd", "zstd"},
		{"gzip, deflate, br, zstd", "br"},
		{"gzip;q=1.0, br;q=0.5", "gzip"},
		{"zstd;q=0.9, br;q=0.1, gzip;q=0.2", "zstd"},
		{"br;q=0, *", "zstd"},
		{"deflate", ""},
		{"", ""},
		{"gzip;q=0.5, identity", ""},
		{"identity;q=0", ""}, // nothing acceptable: identity anyway
		{"*;q=0", ""},
	} {
		for round := range 2 { // the second is served from the stored variant
			resp, body := h.get(t, "GET", "/page", "Accept-Encoding", tc.ae)
			if got := resp.Header.Get("Content-Encoding"); got != tc.want {
				t.Errorf("%q round %d: Content-Encoding %q, want %q", tc.ae, round, got, tc.want)
			}
			if body != page {
				t.Errorf("%q round %d: body decodes to %d bytes, want the page", tc.ae, round, len(body))
			}
			if !varyHas(resp, "Accept-Encoding") {
				t.Errorf("%q round %d: Vary %q lacks Accept-Encoding", tc.ae, round, resp.Header.Values("Vary"))
			}
			wantTag := `"v1"`
			if tc.want != "" {
				wantTag = `W/"v1-` + tc.want + `"`
			}
			if got := resp.Header.Get("Etag"); got != wantTag {
				t.Errorf("%q round %d: ETag %q, want %q", tc.ae, round, got, wantTag)
			}
			if round == 1 && resp.Header.Get("X-Cache") != "Hit from strata" {
				t.Errorf("%q second request: X-Cache %q", tc.ae, resp.Header.Get("X-Cache"))
			}
		}
	}
	// One origin response served every coding, and the origin was asked
	// for identity.
	if n := o.calls.Load(); n != 1 {
		t.Errorf("origin calls = %d, want 1", n)
	}
	if got := o.lastReq.Load().Header.Get("Accept-Encoding"); got != "identity" {
		t.Errorf("origin saw Accept-Encoding %q", got)
	}
}

func TestCompressMissStoresVariant(t *testing.T) {
	o := htmlOrigin(t, "application/json", page)
	h := newCompressHarness(t, o)
	resp, body := h.get(t, "GET", "/j", "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" || body != page || resp.Header.Get("X-Cache") != "Miss from strata" {
		t.Fatalf("miss: %q %q, %d bytes", resp.Header.Get("Content-Encoding"), resp.Header.Get("X-Cache"), len(body))
	}
	src, ok := h.store.Get("http://" + h.srv.Listener.Addr().String() + "/j")
	if !ok {
		t.Fatal("source not stored")
	}
	v, ok := h.store.Get(compressedKey(src, "gzip"))
	if !ok {
		t.Fatal("gzip variant not stored by the miss")
	}
	if v.Header.Get("Content-Encoding") != "gzip" || v.Primary != src.Key || !strings.Contains(strings.Join(v.Tags, " "), "pages") {
		t.Errorf("variant: %v, Primary %q, Tags %q", v.Header, v.Primary, v.Tags)
	}
	// The hit sends the stored bytes.
	req, _ := http.NewRequest("GET", h.srv.URL+"/j", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	r2, err := rawClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	if string(raw) != string(v.Body) || r2.Header.Get("X-Cache") != "Hit from strata" {
		t.Errorf("hit did not send the stored variant (%d vs %d bytes, %q)", len(raw), len(v.Body), r2.Header.Get("X-Cache"))
	}
}

func TestCompressSkips(t *testing.T) {
	gz, _ := compress.Compress("gzip", []byte(page))
	for _, tc := range []struct {
		name     string
		ct, body string
		extra    []string
		wantCE   string
		wantVary bool
	}{
		{"small", "text/html", "tiny", nil, "", false},
		{"png", "image/png", page, nil, "", false},
		{"svg", "image/svg+xml", page, nil, "br", true},
		{"no content type", "", page, nil, "", false},
		{"no-transform", "text/html", page, []string{"Cache-Control", "no-transform"}, "", false},
		{"already encoded", "text/html", string(gz), []string{"Content-Encoding", "gzip"}, "gzip", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := htmlOrigin(t, tc.ct, tc.body, tc.extra...)
			h := newCompressHarness(t, o)
			for round := range 2 {
				resp, body := h.get(t, "GET", "/x", "Accept-Encoding", "br, gzip")
				if got := resp.Header.Get("Content-Encoding"); got != tc.wantCE {
					t.Errorf("round %d: Content-Encoding %q, want %q", round, got, tc.wantCE)
				}
				want := tc.body
				if tc.wantCE != "" {
					want = page
				}
				if body != want {
					t.Errorf("round %d: body %d bytes, want %d", round, len(body), len(want))
				}
				if varyHas(resp, "Accept-Encoding") != tc.wantVary {
					t.Errorf("round %d: Vary %q", round, resp.Header.Values("Vary"))
				}
			}
			if n := o.calls.Load(); n != 1 {
				t.Errorf("origin calls = %d, want 1 (stored)", n)
			}
		})
	}
}

func TestCompressStatusWithoutBodyAndErrors(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Cache-Control", "max-age=60")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, page)
	})
	h := newCompressHarness(t, o)
	resp, body := h.get(t, "GET", "/missing", "Accept-Encoding", "gzip")
	if resp.StatusCode != 404 || resp.Header.Get("Content-Encoding") != "" || body != page {
		t.Errorf("404: %d %q", resp.StatusCode, resp.Header.Get("Content-Encoding"))
	}
}

func TestCompressHeadAndRange(t *testing.T) {
	o := htmlOrigin(t, "text/html", page)
	h := newCompressHarness(t, o)
	h.get(t, "GET", "/r", "Accept-Encoding", "gzip") // store source and gzip variant

	resp, body := h.get(t, "HEAD", "/r", "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "" || body != "" || resp.Header.Get("Content-Length") != strconv.Itoa(len(page)) {
		t.Errorf("HEAD: Content-Encoding %q, Content-Length %q, body %q", resp.Header.Get("Content-Encoding"), resp.Header.Get("Content-Length"), body)
	}
	if !varyHas(resp, "Accept-Encoding") || resp.Header.Get("X-Cache") != "Hit from strata" {
		t.Errorf("HEAD: Vary %q, X-Cache %q", resp.Header.Values("Vary"), resp.Header.Get("X-Cache"))
	}

	resp, body = h.get(t, "GET", "/r", "Accept-Encoding", "gzip", "Range", "bytes=3-11")
	if resp.StatusCode != http.StatusPartialContent || resp.Header.Get("Content-Encoding") != "" || body != page[3:12] {
		t.Errorf("Range: %d, Content-Encoding %q, body %q", resp.StatusCode, resp.Header.Get("Content-Encoding"), body)
	}
	if !varyHas(resp, "Accept-Encoding") {
		t.Errorf("Range: Vary %q", resp.Header.Values("Vary"))
	}
	if n := o.calls.Load(); n != 1 {
		t.Errorf("origin calls = %d", n)
	}
}

func TestCompressConditional(t *testing.T) {
	o := htmlOrigin(t, "text/html", page)
	h := newCompressHarness(t, o)
	resp, _ := h.get(t, "GET", "/c", "Accept-Encoding", "zstd")
	etag := resp.Header.Get("Etag")
	if etag != `W/"v1-zstd"` {
		t.Fatalf("ETag %q", etag)
	}
	if resp, _ = h.get(t, "GET", "/c", "Accept-Encoding", "zstd", "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match with the variant's ETag: %d", resp.StatusCode)
	}
	if resp, _ = h.get(t, "GET", "/c", "Accept-Encoding", "zstd", "If-None-Match", `"v1"`); resp.StatusCode != http.StatusOK {
		t.Errorf("If-None-Match with the identity ETag, asking for zstd: %d", resp.StatusCode)
	}
	if resp, _ = h.get(t, "GET", "/c", "Accept-Encoding", "gzip", "If-None-Match", etag); resp.StatusCode != http.StatusOK {
		t.Errorf("If-None-Match with the zstd ETag, asking for gzip: %d", resp.StatusCode)
	}
	if resp, _ = h.get(t, "GET", "/c", "If-None-Match", `"v1"`); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match with the identity ETag, identity: %d", resp.StatusCode)
	}

	// Stale: the edge revalidates with the origin's own validator and
	// answers the client's conditional request from the refreshed variant.
	h.clock.Advance(2 * time.Minute)
	calls := o.calls.Load()
	resp, _ = h.get(t, "GET", "/c", "Accept-Encoding", "zstd", "If-None-Match", etag)
	if resp.StatusCode != http.StatusNotModified || resp.Header.Get("X-Cache") != "RefreshHit from strata" {
		t.Errorf("stale conditional: %d %q", resp.StatusCode, resp.Header.Get("X-Cache"))
	}
	if o.calls.Load() != calls+1 {
		t.Errorf("origin not asked to revalidate")
	}
	if got := o.lastReq.Load().Header.Get("If-None-Match"); got != `"v1"` {
		t.Errorf("revalidation sent If-None-Match %q, want the origin's own \"v1\"", got)
	}
	// (The origin's Date is the real clock's, behind the test's, so the
	// refreshed response is stale again at once: every request revalidates.)
	resp, body := h.get(t, "GET", "/c", "Accept-Encoding", "zstd")
	if resp.Header.Get("Content-Encoding") != "zstd" || body != page || resp.Header.Get("Etag") != etag {
		t.Errorf("after refresh: %q, ETag %q", resp.Header.Get("Content-Encoding"), resp.Header.Get("Etag"))
	}
}

// Purges reach compressed variants the way they reach the source.
func TestCompressPurgesVariants(t *testing.T) {
	for _, tc := range []struct {
		name  string
		purge func(h *harness) Purge
		soft  bool
	}{
		{"url", func(h *harness) Purge { return Purge{URLs: []string{h.srv.URL + "/p?q=1"}} }, false},
		{"tag", func(*harness) Purge { return Purge{Tags: []string{"pages"}} }, false},
		{"path", func(*harness) Purge { return Purge{Paths: []string{"/p"}} }, false},
		{"prefix", func(*harness) Purge { return Purge{Paths: []string{"/*"}} }, false},
		{"soft tag", func(*harness) Purge { return Purge{Tags: []string{"pages"}, Soft: true} }, true},
		{"soft url", func(h *harness) Purge { return Purge{URLs: []string{h.srv.URL + "/p?q=1"}, Soft: true} }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := htmlOrigin(t, "text/html", page)
			h := newCompressHarness(t, o)
			for _, ae := range []string{"gzip", "br", "zstd", ""} {
				h.get(t, "GET", "/p?q=1", "Accept-Encoding", ae)
			}
			key := "http://" + h.srv.Listener.Addr().String() + "/p?q=1"
			src, ok := h.store.Get(key)
			if !ok {
				t.Fatal("source not stored")
			}
			var keys []string
			for _, enc := range []string{"gzip", "br", "zstd"} {
				k := compressedKey(src, enc)
				if _, ok := h.store.Get(k); !ok {
					t.Fatalf("%s variant not stored", enc)
				}
				keys = append(keys, k)
			}
			res := h.edge.Purge(tc.purge(h))
			if tc.soft {
				if res.Marked != 4 {
					t.Errorf("marked %d, want 4 (source and 3 variants)", res.Marked)
				}
				for _, k := range append(keys, key) {
					en, ok := h.store.Get(k)
					if !ok {
						t.Fatalf("%q gone after a soft purge", k)
					}
					if _, stale := en.StaleSince(); !stale {
						t.Errorf("%q not marked stale", k)
					}
				}
				calls := o.calls.Load()
				resp, body := h.get(t, "GET", "/p?q=1", "Accept-Encoding", "gzip")
				if o.calls.Load() != calls+1 || resp.Header.Get("X-Cache") != "RefreshHit from strata" || resp.Header.Get("Content-Encoding") != "gzip" || body != page {
					t.Errorf("after soft purge: calls %d→%d, %q %q", calls, o.calls.Load(), resp.Header.Get("X-Cache"), resp.Header.Get("Content-Encoding"))
				}
				return
			}
			if res.Removed != 4 {
				t.Errorf("removed %d, want 4 (source and 3 variants)", res.Removed)
			}
			for _, k := range append(keys, key) {
				if _, ok := h.store.Get(k); ok {
					t.Errorf("%q still stored after the purge", k)
				}
			}
			resp, _ := h.get(t, "GET", "/p?q=1", "Accept-Encoding", "br")
			if resp.Header.Get("X-Cache") != "Miss from strata" || o.calls.Load() != 2 {
				t.Errorf("after purge: %q, origin calls %d", resp.Header.Get("X-Cache"), o.calls.Load())
			}
		})
	}
}

func TestCompressOriginVary(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Vary", "Accept-Encoding, Accept-Language")
		io.WriteString(w, r.Header.Get("Accept-Language")+page)
	})
	h := newCompressHarness(t, o)
	for _, tc := range []struct{ ae, lang string }{
		{"gzip", "en"}, {"gzip, deflate", "en"}, {"br", "en"}, {"", "en"}, {"gzip", "fr"}, {"br", "fr"},
	} {
		resp, body := h.get(t, "GET", "/v", "Accept-Encoding", tc.ae, "Accept-Language", tc.lang)
		if body != tc.lang+page {
			t.Errorf("%q %q: wrong body", tc.ae, tc.lang)
		}
		if !varyHas(resp, "Accept-Language") || !varyHas(resp, "Accept-Encoding") {
			t.Errorf("%q %q: Vary %q", tc.ae, tc.lang, resp.Header.Values("Vary"))
		}
	}
	// One origin request per language: the clients' Accept-Encoding does
	// not select the origin's (identity) response.
	if n := o.calls.Load(); n != 2 {
		t.Errorf("origin calls = %d, want 2", n)
	}
}

func TestCompressOffByDefault(t *testing.T) {
	o := htmlOrigin(t, "text/html", page)
	h := newHarness(t, behaviorFor(t, o))
	resp, _ := h.get(t, "GET", "/", "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "" || varyHas(resp, "Accept-Encoding") {
		t.Errorf("compressed without Compress: %q, Vary %q", resp.Header.Get("Content-Encoding"), resp.Header.Values("Vary"))
	}
	if got := o.lastReq.Load().Header.Get("Accept-Encoding"); got != "gzip" {
		t.Errorf("origin saw Accept-Encoding %q, want the client's", got)
	}
}

func TestCompressTooLargeStreams(t *testing.T) {
	big := strings.Repeat(page, 30) // > 64 KiB MaxObjectSize
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, big)
	})
	h := newCompressHarness(t, o)
	for range 2 {
		resp, body := h.get(t, "GET", "/big", "Accept-Encoding", "gzip")
		if resp.Header.Get("Content-Encoding") != "gzip" || body != big {
			t.Errorf("Content-Encoding %q, body %d bytes, want %d", resp.Header.Get("Content-Encoding"), len(body), len(big))
		}
	}
	if n := o.calls.Load(); n != 2 {
		t.Errorf("origin calls = %d, want 2 (too large to store)", n)
	}
}

func TestCompressUncacheableStillCompressed(t *testing.T) {
	o := htmlOrigin(t, "text/html", page, "Cache-Control", "private")
	h := newCompressHarness(t, o)
	resp, body := h.get(t, "GET", "/me", "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" || body != page {
		t.Errorf("private response: %q", resp.Header.Get("Content-Encoding"))
	}
	if h.store.Len() != 0 {
		t.Errorf("stored %d entries for a private response", h.store.Len())
	}
}

// Waiters for one fetch each get their own coding, streamed from the one
// origin response, and the variants are stored.
func TestCompressCollapsingMixedEncodings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int64
		release := make(chan struct{})
		origin := HandlerOrigin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			<-release
			w.Header().Set("Cache-Control", "max-age=60")
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Etag", `"c"`)
			io.WriteString(w, page)
		}))
		st, err := store.NewMemory(store.Options{MaxBytes: 16 << 20})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		e, err := New(Config{Behaviors: []Behavior{{Pattern: "*", Origin: origin, Compress: true}}, Store: st})
		if err != nil {
			t.Fatal(err)
		}
		aes := []string{"gzip", "br", "zstd", "", "gzip", "identity;q=0", "br;q=0.5, gzip;q=0.6"}
		wants := []string{"gzip", "br", "zstd", "", "gzip", "", "gzip"}
		recs := make([]*httptest.ResponseRecorder, len(aes))
		var wg sync.WaitGroup
		for i, ae := range aes {
			wg.Go(func() {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest("GET", "http://h/c", nil)
				req.Header.Set("Accept-Encoding", ae)
				e.ServeHTTP(rec, req)
				recs[i] = rec
			})
		}
		synctest.Wait()
		close(release)
		wg.Wait()
		e.Close()
		if n := calls.Load(); n != 1 {
			t.Errorf("origin calls = %d, want 1", n)
		}
		collapsed := 0
		for i, rec := range recs {
			if got := rec.Header().Get("Content-Encoding"); got != wants[i] {
				t.Errorf("%q: Content-Encoding %q, want %q", aes[i], got, wants[i])
			}
			d, _ := compress.NewDecoder(rec.Body, wants[i])
			if body, err := io.ReadAll(d); err != nil || string(body) != page {
				t.Errorf("%q: body does not decode to the page (%v)", aes[i], err)
			}
			if strings.Contains(rec.Header().Get("Cache-Status"), "collapsed") {
				collapsed++
			}
		}
		if collapsed != len(aes)-1 {
			t.Errorf("%d collapsed, want %d", collapsed, len(aes)-1)
		}
		src, ok := st.Get("http://h/c")
		if !ok {
			t.Fatal("source not stored")
		}
		for _, enc := range []string{"gzip", "br", "zstd"} {
			if _, ok := st.Get(compressedKey(src, enc)); !ok {
				t.Errorf("%s variant not stored", enc)
			}
		}
	})
}

func TestNewRejectsNegativeCompressMinSize(t *testing.T) {
	st, _ := store.NewMemory(store.Options{MaxBytes: 1 << 20})
	defer st.Close()
	_, err := New(Config{Behaviors: []Behavior{{Origin: HandlerOrigin(http.NotFoundHandler())}}, Store: st, CompressMinSize: -1})
	if err == nil {
		t.Error("negative CompressMinSize accepted")
	}
}

func TestVariantETag(t *testing.T) {
	for etag, want := range map[string]string{
		`"a"`:   `W/"a-gzip"`,
		`W/"a"`: `W/"a-gzip"`,
		`""`:    `W/"-gzip"`,
		`a`:     "",
		`"a`:    "",
		`W/`:    "",
		``:      "",
	} {
		got, ok := variantETag(etag, "gzip")
		if got != want || ok != (want != "") {
			t.Errorf("variantETag(%q) = %q, %v; want %q", etag, got, ok, want)
		}
	}
}

// A response revalidated on every request is compressed once, not on every
// request: a 304 carries the stored variants over to the refreshed source.
func TestCompressRevalidatedEveryTimeCompressesOnce(t *testing.T) {
	o := htmlOrigin(t, "text/html", page, "Cache-Control", "no-cache")
	h := newCompressHarness(t, o)
	key := "http://" + h.srv.Listener.Addr().String() + "/nc"
	var variants []*store.Entry
	for i := range 4 {
		h.clock.Advance(time.Second) // every refresh has a new timing
		resp, body := h.get(t, "GET", "/nc", "Accept-Encoding", "br")
		if resp.Header.Get("Content-Encoding") != "br" || body != page {
			t.Fatalf("request %d: %q", i, resp.Header.Get("Content-Encoding"))
		}
		if i == 0 {
			continue
		}
		if resp.Header.Get("X-Cache") != "RefreshHit from strata" {
			t.Errorf("request %d: X-Cache %q", i, resp.Header.Get("X-Cache"))
		}
		src, ok := h.store.Get(key)
		if !ok {
			t.Fatal("source not stored")
		}
		v, ok := h.store.Get(compressedKey(src, "br"))
		if !ok {
			t.Fatalf("request %d: no br variant for the refreshed source", i)
		}
		variants = append(variants, v)
	}
	// Every carried variant shares the body compressed by the first refresh.
	for i, v := range variants[1:] {
		if &v.Body[0] != &variants[0].Body[0] {
			t.Errorf("refresh %d compressed again", i+2)
		}
	}
}
