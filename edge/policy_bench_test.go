package edge

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/strata-cache/strata/edge/config"
	"github.com/strata-cache/strata/edge/store"
)

// Benchmarks of the behavior policies. Compare runs with
//
//	go test -run='^$' -bench='Behavior|PolicyKey|PolicyHit' -benchmem -count=10 ./edge | benchstat -

// benchPolicy keys on a query allow-list, one header and one cookie.
func benchPolicy() *config.CachePolicy {
	return &config.CachePolicy{
		Name: "bench", DefaultTTL: time.Hour, MaxTTL: 24 * time.Hour,
		QueryStrings: config.KeyFilter{Mode: config.FilterAllow, Names: []string{"page", "sort"}},
		Headers:      config.KeyFilter{Mode: config.FilterAllow, Names: []string{"Accept-Language"}, Fold: true},
		Cookies:      config.KeyFilter{Mode: config.FilterAllow, Names: []string{"lang"}},
	}
}

func benchPolicyRequest() *http.Request {
	r := httptest.NewRequest("GET", "http://example.com/api/products?utm_source=x&sort=price&page=3", nil)
	r.Header.Set("Accept-Language", "en-GB")
	r.Header.Set("Cookie", "session=abc123; lang=en")
	r.Header.Set("User-Agent", "bench")
	return r
}

// BenchmarkBehaviorSelect selects among 20 behaviors (19 path patterns and
// a default), the request matching the 15th.
func BenchmarkBehaviorSelect(b *testing.B) {
	origin := HandlerOrigin(http.NotFoundHandler())
	var bs []Behavior
	for i := range 19 {
		var p config.Pattern
		switch i % 3 {
		case 0:
			p = config.MustCompilePattern(fmt.Sprintf("/section%d/*", i))
		case 1:
			p = config.MustCompilePattern(fmt.Sprintf("/img%d/*.jpg", i))
		default:
			p = config.MustCompilePattern(fmt.Sprintf("/v?/s%d/*/x", i))
		}
		bs = append(bs, Behavior{Path: &p, Origin: origin})
	}
	bs = append(bs, Behavior{Pattern: "*", Origin: origin})
	st, _ := store.NewMemory(store.Options{MaxBytes: 1 << 20})
	b.Cleanup(st.Close)
	e, err := New(Config{Behaviors: bs, Store: st})
	if err != nil {
		b.Fatal(err)
	}
	u := httptest.NewRequest("GET", "http://example.com/section15/a/b/c", nil).URL
	if got := e.behavior(u); got.index != 15 {
		b.Fatalf("selected %d", got.index)
	}
	b.ReportAllocs()
	for b.Loop() {
		e.behavior(u)
	}
}

// BenchmarkPolicyKey builds a cache key under benchPolicy.
func BenchmarkPolicyKey(b *testing.B) {
	bh := Behavior{Pattern: "*", CachePolicy: benchPolicy(), Origin: HandlerOrigin(http.NotFoundHandler())}
	bh.state = newBehaviorState(&bh)
	e := &Edge{}
	r := benchPolicyRequest()
	b.ReportAllocs()
	for b.Loop() {
		e.requestKey(&bh, r)
	}
}

// BenchmarkPlainKey is the key of a behavior without a policy, for
// comparison.
func BenchmarkPlainKey(b *testing.B) {
	bh := Behavior{Pattern: "*", Origin: HandlerOrigin(http.NotFoundHandler())}
	bh.state = newBehaviorState(&bh)
	e := &Edge{}
	r := benchPolicyRequest()
	b.ReportAllocs()
	for b.Loop() {
		e.requestKey(&bh, r)
	}
}

// BenchmarkPolicyHit is a full hit through a behavior with benchPolicy, a
// path pattern and response headers, against the same hit through a plain
// behavior.
func BenchmarkPolicyHit(b *testing.B) {
	body := strings.Repeat("x", 2048)
	origin := HandlerOrigin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Date", time.Now().UTC().Format(http.TimeFormat))
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, body)
	}))
	for _, tc := range []struct {
		name string
		b    Behavior
	}{
		{"plain", Behavior{Pattern: "*", Origin: origin}},
		{"policy", Behavior{Path: pattern("/api/*"), Origin: origin, CachePolicy: benchPolicy(),
			AllowedMethods: config.MethodsAll, ViewerProtocol: config.AllowAll,
			ResponseHeaders: http.Header{"X-Frame-Options": {"DENY"}}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			st, _ := store.NewMemory(store.Options{MaxBytes: 64 << 20})
			b.Cleanup(st.Close)
			e, err := New(Config{Behaviors: []Behavior{tc.b}, Store: st})
			if err != nil {
				b.Fatal(err)
			}
			req := benchPolicyRequest()
			e.ServeHTTP(&discard{h: http.Header{}}, req)
			w := &discard{h: http.Header{}}
			e.ServeHTTP(w, req)
			if !strings.HasPrefix(w.h.Get("X-Cache"), "Hit") {
				b.Fatalf("not a hit: %v", w.h)
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					e.ServeHTTP(&discard{h: http.Header{}}, req)
				}
			})
		})
	}
}
