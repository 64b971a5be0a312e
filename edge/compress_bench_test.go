package edge

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/strata-cache/strata/edge/compress"
	"github.com/strata-cache/strata/edge/store"
)

// Compression benchmarks. The hit benchmarks show that a compressed hit
// does no compression work: it costs what an identity hit costs (one more
// store probe and its key), against the tens of microseconds of
// BenchmarkCompressVariant.
//
//	go test -run='^$' -bench='CompressHit|CompressVariant' -benchmem -count=10 ./edge | benchstat -

// benchHTML and benchJSON are 16 KiB of realistic text: a product listing
// and its API form, with varying names, prices and ids.
var benchHTML, benchJSON = benchBodies(16 << 10)

func benchBodies(size int) (string, string) {
	rnd := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("red blue green classic slim organic wool cotton lamp chair desk mug kettle bottle notebook pen jacket boots")
	var h, j strings.Builder
	h.WriteString("<!doctype html><html><head><title>Catalog</title></head><body><ul class=\"products\">\n")
	j.WriteString(`{"products":[`)
	for i := 0; h.Len() < size || j.Len() < size; i++ {
		name := words[rnd.IntN(len(words))] + " " + words[rnd.IntN(len(words))]
		price := fmt.Sprintf("%d.%02d", rnd.IntN(200), rnd.IntN(100))
		id := rnd.IntN(1_000_000)
		fmt.Fprintf(&h, `<li class="product" data-id="%d"><a href="/products/%d">%s</a> <span class="price">%s</span></li>`+"\n", id, id, name, price)
		if i > 0 {
			j.WriteByte(',')
		}
		fmt.Fprintf(&j, `{"id":%d,"name":%q,"price":%s,"version":%d,"tags":["%s"]}`, id, name, price, rnd.IntN(100), words[rnd.IntN(len(words))])
	}
	return h.String()[:size], j.String()[:size]
}

func compressBenchEdge(b *testing.B, body string) *Edge {
	origin := HandlerOrigin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Date", time.Now().UTC().Format(http.TimeFormat))
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Etag", `"abc"`)
		io.WriteString(w, body)
	}))
	st, err := store.NewMemory(store.Options{MaxBytes: 256 << 20})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(st.Close)
	e, err := New(Config{Behaviors: []Behavior{{Pattern: "*", Origin: origin, Compress: true}}, Store: st})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// BenchmarkCompressHit serves 16 KiB of HTML from the store: identity, and
// each compressed variant (stored by the first request).
func BenchmarkCompressHit(b *testing.B) {
	for _, ae := range []string{"identity", "gzip", "br", "zstd"} {
		b.Run(ae, func(b *testing.B) {
			e := compressBenchEdge(b, benchHTML)
			req := httptest.NewRequest("GET", "http://example.com/page", nil)
			req.Header.Set("Accept-Encoding", ae)
			e.ServeHTTP(&discard{h: http.Header{}}, req) // miss: stores source and variant
			w := &discard{h: http.Header{}}
			e.ServeHTTP(w, req)
			if w.h.Get("X-Cache") != "Hit from strata" || (ae != "identity") != (w.h.Get("Content-Encoding") == ae) {
				b.Fatalf("not a %s hit: %v", ae, w.h)
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

// BenchmarkCompressVariant is the one-time cost of building a compressed
// variant of 16 KiB of HTML or JSON (compression and the variant's
// header), paid once per stored response and coding. ratio is the
// compressed size over the original.
func BenchmarkCompressVariant(b *testing.B) {
	for _, body := range []struct{ name, body string }{{"html", benchHTML}, {"json", benchJSON}} {
		src := &store.Entry{
			Key: "http://example.com/page", Path: "/page", Status: 200, Body: []byte(body.body),
			Header: http.Header{"Content-Type": {"text/html"}, "Etag": {`"abc"`}, "Cache-Control": {"max-age=60"}},
		}
		for _, enc := range offeredCodings {
			b.Run(body.name+"/"+enc, func(b *testing.B) {
				b.SetBytes(int64(len(src.Body)))
				b.ReportAllocs()
				var n int
				for b.Loop() {
					c, err := compress.Compress(enc, src.Body)
					if err != nil {
						b.Fatal(err)
					}
					n = len(newVariant(src, enc, c).Body)
				}
				b.ReportMetric(float64(n)/float64(len(src.Body)), "ratio")
			})
		}
	}
}
