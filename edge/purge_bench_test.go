package edge

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-cache/strata/edge/store"
	"github.com/strata-cache/strata/httpcache"
)

// Purge benchmarks, on one edge with 1,000,000 small stored responses, a
// tenth of them in each of the tags "group0" … "group9".
//
//	go test -run='^$' -bench='Purge|HitDuringPurge' -benchtime=20x -count=5 ./edge | tee purge.txt
//	benchstat purge.txt
//
// Building the store takes a few seconds and about 1.5 GB; it is built once
// and shared by the benchmarks of one run.

const (
	benchEntries = 1_000_000
	benchGroups  = 10 // tags; each carried by benchEntries/benchGroups entries
)

var bigEdge struct {
	once sync.Once
	e    *Edge
	st   *store.Memory
}

// benchEntry is the small stored response i: path /p/i, tag group<i%10>.
func benchEntry(i int, now time.Time) *store.Entry {
	path := "/p/" + strconv.Itoa(i)
	return &store.Entry{
		Key: "http://h" + path, Path: path, Status: http.StatusOK,
		Header: http.Header{"Content-Type": {"text/plain"}}, Body: []byte("ok"),
		Timing: httpcache.Timing{RequestTime: now, ResponseTime: now}, Lifetime: time.Hour,
		Tags: []string{"group" + strconv.Itoa(i%benchGroups), "item:" + strconv.Itoa(i)}, Retain: 2 * time.Hour,
	}
}

func bigBenchEdge(b *testing.B) (*Edge, *store.Memory) {
	bigEdge.once.Do(func() {
		st, err := store.NewMemory(store.Options{MaxBytes: 8 << 30}) // weights only: nothing is evicted
		if err != nil {
			b.Fatal(err)
		}
		origin := HandlerOrigin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "public, max-age=3600")
			w.Header().Set("Date", time.Now().UTC().Format(http.TimeFormat))
			w.Header().Set("Etag", `"hot"`)
			io.WriteString(w, "hot response body")
		}))
		e, err := New(Config{Behaviors: []Behavior{{Pattern: "*", Origin: origin}}, Store: st})
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		for i := range benchEntries {
			st.Set(benchEntry(i, now))
		}
		bigEdge.e, bigEdge.st = e, st
	})
	return bigEdge.e, bigEdge.st
}

// refill stores group g's entries again.
func refill(st *store.Memory, g int) {
	now := time.Now()
	for i := g; i < benchEntries; i += benchGroups {
		st.Set(benchEntry(i, now))
	}
}

// BenchmarkPurgeTag100k purges one tag carried by 100,000 of the 1,000,000
// entries (the entries are stored again, untimed, before each purge). The
// time is until Purge returns, when the entries are no longer served;
// reaped-ms is until the store has also removed them (see store.Purge).
func BenchmarkPurgeTag100k(b *testing.B) { benchPurgeTag(b, false) }

// BenchmarkPurgeLaterTag100k is BenchmarkPurgeTag100k with PurgeLater, as
// edge nodes apply purges: the time is until PurgeLater returns, when the
// entries are no longer served; counted-ms is until the reaper has claimed
// (marked and counted) them, reaped-ms until it has also removed them.
func BenchmarkPurgeLaterTag100k(b *testing.B) { benchPurgeTag(b, true) }

func benchPurgeTag(b *testing.B, later bool) {
	e, st := bigBenchEdge(b)
	var times, counted, reaped []time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		g := i % benchGroups
		refill(st, g)
		if os.Getenv("PURGE_GC") != "" {
			runtime.GC()
		}
		b.StartTimer()
		p := Purge{Tags: []string{"group" + strconv.Itoa(g)}}
		res := make(chan PurgeResult, 1)
		start := time.Now()
		if later {
			e.PurgeLater(p, func(r PurgeResult) { res <- r })
		} else {
			res <- e.Purge(p)
		}
		times = append(times, time.Since(start))
		b.StopTimer()
		r := <-res
		counted = append(counted, time.Since(start))
		st.CleanUp()
		reaped = append(reaped, time.Since(start))
		b.StartTimer()
		if r.Removed != benchEntries/benchGroups {
			b.Fatalf("removed %d", r.Removed)
		}
	}
	b.StopTimer()
	refill(st, 0)
	reportPercentiles(b, times, "purge")
	median := func(ds []time.Duration) float64 {
		slices.Sort(ds)
		return float64(ds[len(ds)/2]) / float64(time.Millisecond)
	}
	if later {
		b.ReportMetric(median(counted), "counted-p50-ms")
	}
	b.ReportMetric(median(reaped), "reaped-p50-ms")
}

// BenchmarkSoftPurgeTag100k marks the 100,000 entries of one tag stale.
func BenchmarkSoftPurgeTag100k(b *testing.B) {
	e, st := bigBenchEdge(b)
	var times []time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		g := i % benchGroups
		refill(st, g) // unmarked copies
		b.StartTimer()
		start := time.Now()
		r := e.Purge(Purge{Tags: []string{"group" + strconv.Itoa(g)}, Soft: true})
		times = append(times, time.Since(start))
		if r.Marked != benchEntries/benchGroups {
			b.Fatalf("marked %d", r.Marked)
		}
	}
	b.StopTimer()
	refill(st, 0)
	reportPercentiles(b, times, "purge")
}

// BenchmarkPurgeURL purges one URL of the 1,000,000 (a different one each
// time, stored again untimed). The p50/p99 metrics time Purge alone; ns/op
// also pays for stopping the timer.
func BenchmarkPurgeURL(b *testing.B) {
	e, st := bigBenchEdge(b)
	now := time.Now()
	times := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		n := (i * 7919) % benchEntries
		start := time.Now()
		r := e.Purge(Purge{URLs: []string{"http://h/p/" + strconv.Itoa(n)}})
		times = append(times, time.Since(start))
		if r.Removed != 1 {
			b.Fatalf("removed %d", r.Removed)
		}
		b.StopTimer()
		st.Set(benchEntry(n, now))
		b.StartTimer()
	}
	b.StopTimer()
	st.CleanUp()
	reportPercentiles(b, times, "url")
}

// BenchmarkPurgePrefix purges the prefix /p/1234*, which matches 111 of the
// 1,000,000 paths (/p/1234, /p/1234x, /p/1234xx).
func BenchmarkPurgePrefix(b *testing.B) {
	e, st := bigBenchEdge(b)
	now := time.Now()
	var matching []int
	for i := range benchEntries {
		if s := strconv.Itoa(i); len(s) >= 4 && s[:4] == "1234" {
			matching = append(matching, i)
		}
	}
	times := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		r := e.Purge(Purge{Paths: []string{"/p/1234*"}})
		times = append(times, time.Since(start))
		if r.Removed != len(matching) {
			b.Fatalf("removed %d, want %d", r.Removed, len(matching))
		}
		b.StopTimer()
		st.CleanUp()
		for _, i := range matching {
			st.Set(benchEntry(i, now))
		}
		b.StartTimer()
	}
	b.StopTimer()
	reportPercentiles(b, times, "prefix")
}

// BenchmarkHitDuringPurge measures cache-hit latency on the 1,000,000-entry
// edge, idle and while a goroutine purges 100,000-entry tags back to back
// (with Purge, or with PurgeLater as edge nodes do): purge, wait for the
// reaper, store the tag's entries again (as fills
// would), next tag. hit-p99-µs covers every hit; inpurge-p99-µs only the
// hits that started while a purge or its reaping was running. ns/op is
// throughput across all goroutines. Run it long enough for several purges:
//
//	go test -run='^$' -bench=HitDuringPurge -benchtime=5s -count=3 ./edge
func BenchmarkHitDuringPurge(b *testing.B) {
	e, st := bigBenchEdge(b)
	req := httptest.NewRequest("GET", "http://h/hot", nil)
	e.ServeHTTP(&discard{h: http.Header{}}, req)
	for _, name := range []string{"idle", "purging", "later"} {
		purging := name != "idle"
		b.Run(name, func(b *testing.B) {
			stop := make(chan struct{})
			var purges atomic.Int64
			var inPurge atomic.Bool
			var wg sync.WaitGroup
			if purging {
				wg.Go(func() {
					for g := 0; ; g = (g + 1) % benchGroups {
						select {
						case <-stop:
							return
						default:
						}
						inPurge.Store(true)
						p := Purge{Tags: []string{"group" + strconv.Itoa(g)}}
						if name == "later" {
							e.PurgeLater(p, func(PurgeResult) {})
						} else {
							e.Purge(p)
						}
						st.CleanUp() // the reaper's work is part of the purge
						inPurge.Store(false)
						purges.Add(1)
						refill(st, g)
					}
				})
			}
			var mu sync.Mutex
			var all, during []time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				times := make([]time.Duration, 0, 1<<16)
				var in []time.Duration
				w := &discard{h: http.Header{}}
				for pb.Next() {
					clear(w.h)
					p := inPurge.Load()
					start := time.Now()
					e.ServeHTTP(w, req)
					d := time.Since(start)
					times = append(times, d)
					if p {
						in = append(in, d)
					}
				}
				mu.Lock()
				all = append(all, times...)
				during = append(during, in...)
				mu.Unlock()
			})
			b.StopTimer()
			close(stop)
			wg.Wait()
			w := &discard{h: http.Header{}}
			e.ServeHTTP(w, req)
			if w.h.Get("X-Cache") != "Hit from strata" {
				b.Fatalf("the hot key was not a hit: %q", w.h.Get("X-Cache"))
			}
			reportPercentiles(b, all, "hit")
			if purging {
				reportPercentiles(b, during, "inpurge")
				b.ReportMetric(float64(purges.Load()), "purges")
			}
		})
	}
	st.CleanUp()
	for g := range benchGroups {
		refill(st, g)
	}
}

// reportPercentiles reports the p50, p99 and maximum of times.
func reportPercentiles(b *testing.B, times []time.Duration, what string) {
	if len(times) == 0 {
		return
	}
	slices.Sort(times)
	at := func(q float64) time.Duration { return times[min(len(times)-1, int(q*float64(len(times))))] }
	unit, div := "µs", float64(time.Microsecond)
	if what == "purge" || what == "reaped" {
		unit, div = "ms", float64(time.Millisecond)
	}
	b.ReportMetric(float64(at(0.50))/div, what+"-p50-"+unit)
	b.ReportMetric(float64(at(0.99))/div, what+"-p99-"+unit)
	b.ReportMetric(float64(times[len(times)-1])/div, what+"-max-"+unit)
}
