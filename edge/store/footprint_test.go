package store

import (
	"fmt"
	"net/http"
	"runtime"
	"testing"
	"time"
)

// BenchmarkEntryFootprint reports how much heap a stored entry really
// takes (heap-B/entry) against what the store counts for it
// (weight-B/entry): heap/weight above 1 means the store's byte bound
// undercounts, and resident memory outgrows -edge-max-bytes.
func BenchmarkEntryFootprint(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10} {
		b.Run(fmt.Sprintf("body=%d", size), func(b *testing.B) {
			const n = 20000
			for range b.N {
				m, err := NewMemory(Options{MaxBytes: 1 << 34})
				if err != nil {
					b.Fatal(err)
				}
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				for i := range n {
					key := fmt.Sprintf("http://127.0.0.1:18100/obj/1k/%d", i)
					h := http.Header{
						"Cache-Control":  {"public, max-age=3600"},
						"Content-Type":   {"application/octet-stream"},
						"Content-Length": {fmt.Sprint(size)},
						"Date":           {"Mon, 07 Dec 2026 12:57:54 GMT"},
						"Etag":           {fmt.Sprintf(`"%d-%d"`, size, i)},
					}
					m.Set(&Entry{Key: key, Path: key[len("http://127.0.0.1:18100"):], Status: 200, Header: h,
						Body: make([]byte, size), Lifetime: time.Hour})
				}
				m.CleanUp()
				runtime.GC()
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heap-B/entry")
				b.ReportMetric(float64(m.Bytes())/n, "weight-B/entry")
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(m.Bytes()), "heap/weight")
				runtime.KeepAlive(m)
				m.Close()
			}
		})
	}
}
