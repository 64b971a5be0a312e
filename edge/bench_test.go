package edge

import (
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-cache/strata/edge/store"
)

// discard is a minimal ResponseWriter so benchmarks measure the edge, not a
// recorder's buffering.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

func benchEdge(b *testing.B) *Edge {
	body := strings.Repeat("x", 2048)
	origin := HandlerOrigin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Date", time.Now().UTC().Format(http.TimeFormat)) // as every real origin sends
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Etag", `"abc"`)
		io.WriteString(w, body)
	}))
	st, err := store.NewMemory(store.Options{MaxBytes: 256 << 20})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(st.Close)
	e, err := New(Config{Behaviors: []Behavior{{Pattern: "*", Origin: origin}}, Store: st})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// BenchmarkEdgeHit measures the hit path: lookup, age, headers, body write.
//
//	go test -run='^$' -bench=EdgeHit -benchmem -count=10 ./edge | benchstat -
func BenchmarkEdgeHit(b *testing.B) {
	e := benchEdge(b)
	req := httptest.NewRequest("GET", "http://example.com/page", nil)
	e.ServeHTTP(&discard{h: http.Header{}}, req)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			e.ServeHTTP(&discard{h: http.Header{}}, req)
		}
	})
}

// BenchmarkEdgeZipf requests 10 000 URLs with Zipf-distributed popularity, so
// misses, fills and hits mix as they do in front of a real site.
func BenchmarkEdgeZipf(b *testing.B) {
	e := benchEdge(b)
	reqs := make([]*http.Request, 10_000)
	for i := range reqs {
		reqs[i] = httptest.NewRequest("GET", "http://example.com/p/"+strconv.Itoa(i), nil)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		z := rand.NewZipf(rand.New(rand.NewPCG(rand.Uint64(), 1)), 1.1, 1, uint64(len(reqs)-1))
		for pb.Next() {
			e.ServeHTTP(&discard{h: http.Header{}}, reqs[z.Uint64()])
		}
	})
}
