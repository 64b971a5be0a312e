package load

import (
	"math"
	"strings"
	"testing"
	"time"
)

// fakeClock is a clock the test moves.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

var t0 = time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// The checker's classification, with explicit times: what was acknowledged
// before a read started, and whether its invalidation had completed.
func TestCheckerClassifies(t *testing.T) {
	type commitAt struct {
		ackMS     int
		version   int64
		dv        uint64
		completed bool // X-Invalidation: completed
	}
	type rec struct {
		dv                   uint64
		createMS, completeMS int
	}
	tests := []struct {
		name          string
		commits       []commitAt
		recs          []rec // seen before the reads
		lateRecs      []rec // seen after the reads, before finish
		readMS        int
		version       int64
		after, before int64
	}{
		{name: "no commits", readMS: 50, version: 1},
		{name: "current version", commits: []commitAt{{10, 2, 0, true}}, readMS: 50, version: 2},
		{name: "newer than committed", commits: []commitAt{{10, 2, 0, true}}, readMS: 50, version: 3},
		{name: "commit acknowledged after the read started", commits: []commitAt{{60, 2, 0, true}}, readMS: 50, version: 1},
		{name: "commit acknowledged as the read started", commits: []commitAt{{50, 2, 0, true}}, readMS: 50, version: 1},
		{name: "stale after a completed PUT", commits: []commitAt{{10, 2, 0, true}}, readMS: 50, version: 1, after: 1},
		{name: "stale, PUT did not wait, no record ever", commits: []commitAt{{10, 2, 0, false}}, readMS: 50, version: 1, before: 1},
		{name: "stale, record completed before the read", commits: []commitAt{{10, 2, 7, false}},
			recs: []rec{{7, 5, 20}}, readMS: 50, version: 1, after: 1},
		{name: "stale, record completed after the read", commits: []commitAt{{10, 2, 7, false}},
			recs: []rec{{7, 5, 80}}, readMS: 50, version: 1, before: 1},
		{name: "stale, record seen only after the read", commits: []commitAt{{10, 2, 7, false}},
			lateRecs: []rec{{7, 5, 20}}, readMS: 50, version: 1, after: 1},
		{name: "stale, record for another write", commits: []commitAt{{10, 2, 7, false}},
			lateRecs: []rec{{8, 5, 20}}, readMS: 50, version: 1, before: 1},
		{name: "two behind, the older one completed", commits: []commitAt{{10, 2, 0, true}, {40, 3, 9, false}},
			readMS: 50, version: 1, after: 1},
		{name: "one behind, its invalidation open", commits: []commitAt{{10, 2, 0, true}, {40, 3, 9, false}},
			recs: []rec{{9, 35, 90}}, readMS: 50, version: 2, before: 1},
		{name: "newest acknowledged first", commits: []commitAt{{10, 3, 0, true}, {20, 2, 0, true}},
			readMS: 50, version: 2, after: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &fakeClock{t0}
			k := newChecker(clk.now)
			for _, c := range tt.commits {
				clk.t = at(c.ackMS)
				k.commitAcked(42, c.version, at(c.ackMS-2), c.dv, c.completed)
			}
			seen := func(rs []rec) {
				var recs []invalidationRecord
				for _, r := range rs {
					recs = append(recs, invalidationRecord{from: r.dv, to: r.dv, createTime: at(r.createMS), completeTime: at(r.completeMS)})
				}
				k.recordsSeen(recs)
			}
			seen(tt.recs)
			k.read(42, at(tt.readMS), tt.version)
			k.read(7, at(tt.readMS), 1) // another product: never stale
			seen(tt.lateRecs)
			after, before, _, examples := k.finish()
			if after != tt.after || before != tt.before {
				t.Errorf("stale after, before = %d, %d; want %d, %d", after, before, tt.after, tt.before)
			}
			if int64(len(examples)) != after+before {
				t.Errorf("examples %q", examples)
			}
		})
	}
}

func TestRecordsCoverRanges(t *testing.T) {
	clk := &fakeClock{t0}
	k := newChecker(clk.now)
	for dv := uint64(1); dv <= 10; dv++ {
		k.commitAcked(int64(dv), 2, t0, dv, false)
	}
	n := k.recordsSeen([]invalidationRecord{
		{from: 2, to: 4, createTime: at(1), completeTime: at(3)},
		{from: 9, to: 1 << 40, createTime: at(1), completeTime: at(4)}, // a wide range: scans pending
		{from: 5, to: 5},                      // not complete: ignored
		{from: 7, to: 6, completeTime: at(5)}, // malformed: ignored
		{from: 6, to: 6, createTime: at(2), completeTime: at(7)},
	})
	if n != 6 || k.pendingCount() != 4 {
		t.Errorf("resolved %d, pending %d; want 6, 4", n, k.pendingCount())
	}
	h, fromRecords, fromPuts, unknown := k.invalidationLatencies()
	if fromRecords != 6 || fromPuts != 0 || unknown != 4 {
		t.Errorf("latencies from records %d, puts %d, unknown %d", fromRecords, fromPuts, unknown)
	}
	if got := h.quantile(1); got != 5*time.Millisecond {
		t.Errorf("max invalidation latency %v, want 5ms", got)
	}
}

func TestHistogram(t *testing.T) {
	var h histogram
	if h.quantile(0.5) != -1 {
		t.Fatal("empty histogram has a median")
	}
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {1, 1000 * time.Microsecond}, {0.001, time.Microsecond}} {
		got := h.quantile(c.q)
		if math.Abs(float64(got-c.want)) > float64(c.want)/100 {
			t.Errorf("quantile(%v) = %v, want %v within 1%%", c.q, got, c.want)
		}
	}
	var o histogram
	o.record(time.Hour)
	h.merge(&o)
	if h.n != 1001 || h.quantile(1) != time.Hour {
		t.Errorf("after merge: n %d, max %v", h.n, h.quantile(1))
	}
	for _, v := range []uint64{0, 1, 255, 256, 257, 1 << 20, 1<<63 + 12345, math.MaxUint64} {
		i := bucketOf(v)
		if i < 0 || i >= numBuckets {
			t.Fatalf("bucketOf(%d) = %d, out of range", v, i)
		}
		if mid := bucketMid(i); float64(mid) < float64(v)*0.99 || float64(mid) > float64(v)*1.01+1 {
			t.Errorf("bucket of %d has midpoint %d", v, mid)
		}
	}
}

func TestEdgeHit(t *testing.T) {
	tests := []struct {
		xcache, status string
		hit            bool
	}{
		{"Hit from strata", "", true},
		{"Miss from strata", "strata; hit", false}, // X-Cache wins
		{"", "strata; hit", true},
		{"", "strata; fwd=uri-miss; stored", false},
		{"", "origin; hit, strata; fwd=miss", false},
		{"", "origin; fwd=miss, strata; hit; ttl=30", true},
		{"", "", false},
	}
	for _, tt := range tests {
		h := make(map[string][]string)
		if tt.xcache != "" {
			h["X-Cache"] = []string{tt.xcache}
		}
		if tt.status != "" {
			h["Cache-Status"] = []string{tt.status}
		}
		if got := edgeHit(h); got != tt.hit {
			t.Errorf("X-Cache %q, Cache-Status %q: hit %v", tt.xcache, tt.status, got)
		}
	}
}

func TestSumSeries(t *testing.T) {
	text := `# HELP strata_app_cache_loads_total Application-cache loader calls by result (ok, error).
# TYPE strata_app_cache_loads_total counter
strata_app_cache_loads_total{result="ok"} 40
strata_app_cache_loads_total{result="error"} 2
strata_app_cache_loads_total_other 1000
strata_app_cache_load_seconds_count 99
`
	if n, ok := sumSeries([]byte(text), loadsSeries); !ok || n != 42 {
		t.Errorf("sum = %v %v, want 42", n, ok)
	}
	if _, ok := sumSeries([]byte("other 1\n"), loadsSeries); ok {
		t.Error("found a series that is not there")
	}
	if !strings.HasPrefix(loadsSeries, "strata_") {
		t.Error(loadsSeries)
	}
}
