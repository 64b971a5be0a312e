package load

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeCatalog is the catalog, its edge and its admin API in one handler,
// which can be told to misbehave.
type fakeCatalog struct {
	products int
	// serveStale: reads return every product's first version forever.
	serveStale bool
	// putWaits: PUTs answer X-Invalidation: completed.
	putWaits bool
	// dataVersions: PUTs carry X-Data-Version and admin records carry
	// version and fromVersion.
	dataVersions bool
	// completeAfter is how long after its commit a record completes; its
	// records are listed as Completed with that completeTime right away.
	completeAfter time.Duration

	mu       sync.Mutex
	versions map[int64]int64
	seen     map[int64]bool
	loads    int
	scraped  int // loads at the last /metrics
	seq      uint64
	records  []map[string]any
}

func newFake(products int) *fakeCatalog {
	return &fakeCatalog{products: products, versions: map[int64]int64{}, seen: map[int64]bool{}}
}

func (f *fakeCatalog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	path := r.URL.Path
	admin := path == "/invalidations" || path == "/metrics"
	if (admin || r.Method == http.MethodPut) && r.Header.Get("Authorization") != "Bearer tok" {
		http.Error(w, `{"error": "unauthorized"}`, http.StatusUnauthorized)
		return
	}
	switch {
	case path == "/api/products":
		fmt.Fprintf(w, `{"items": [], "total": %d, "offset": 0, "limit": 1}`, f.products)
	case path == "/metrics":
		f.scraped = f.loads
		fmt.Fprintf(w, "# TYPE strata_app_cache_loads_total counter\nstrata_app_cache_loads_total{result=\"ok\"} %d\n", f.loads)
	case path == "/invalidations":
		json.NewEncoder(w).Encode(map[string]any{"invalidations": f.records})
	case strings.HasPrefix(path, "/api/products/"):
		id, err := strconv.ParseInt(strings.TrimPrefix(path, "/api/products/"), 10, 64)
		if err != nil || id < 1 || id > int64(f.products) {
			http.Error(w, `{"error": "not found"}`, http.StatusNotFound)
			return
		}
		if f.versions[id] == 0 {
			f.versions[id] = 1
		}
		if r.Method == http.MethodPut {
			f.versions[id]++
			f.seq++
			now := time.Now()
			if f.dataVersions {
				w.Header().Set("X-Data-Version", strconv.FormatUint(f.seq, 10))
				f.records = append([]map[string]any{{"status": "Completed", "createTime": now,
					"completeTime": now.Add(f.completeAfter), "version": f.seq, "fromVersion": f.seq}}, f.records...)
			}
			if f.putWaits {
				w.Header().Set("X-Invalidation", "completed")
			}
			w.Header().Set("Etag", fmt.Sprintf(`"p%d-v%d"`, id, f.versions[id]))
			fmt.Fprintf(w, `{"id": %d, "version": %d}`, id, f.versions[id])
			return
		}
		v := f.versions[id]
		if f.serveStale {
			v = 1
		}
		if f.seen[id] {
			w.Header().Set("X-Cache", "Hit from fake")
		} else {
			f.seen[id] = true
			f.loads++
			w.Header().Set("X-Cache", "Miss from fake")
		}
		fmt.Fprintf(w, `{"id": %d, "version": %d}`, id, v)
	default:
		http.NotFound(w, r)
	}
}

func runFake(t *testing.T, f *fakeCatalog, cfg Config) Result {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg.EdgeURL, cfg.APIURL, cfg.AdminURL, cfg.AdminToken = srv.URL, srv.URL+"/", srv.URL, "tok"
	if cfg.Duration == 0 {
		cfg.Duration = 300 * time.Millisecond
	}
	if cfg.UpdateRate == 0 {
		cfg.UpdateRate = 100
	}
	cfg.PollInterval, cfg.Drain, cfg.Concurrency = 10*time.Millisecond, time.Second, 2
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	res.WriteReport(&b)
	t.Logf("\n%s%s", b.String(), res.SummaryLine())
	if res.Reads == 0 || res.Updates == 0 || res.Errors != 0 {
		t.Fatalf("reads %d, updates %d, errors %d %q", res.Reads, res.Updates, res.Errors, res.ErrorSamples)
	}
	return res
}

func TestRunConsistentCatalog(t *testing.T) {
	f := newFake(50)
	f.putWaits, f.dataVersions = true, true
	res := runFake(t, f, Config{Products: 100})
	if res.StaleAfterComplete != 0 || res.StaleBeforeComplete != 0 {
		t.Errorf("stale after %d, before %d on a consistent catalog: %q", res.StaleAfterComplete, res.StaleBeforeComplete, res.StaleExamples)
	}
	if res.Products != 50 || len(res.Notes) != 1 {
		t.Errorf("products %d, notes %q: want 50 and a note", res.Products, res.Notes)
	}
	// The loads the metrics showed after the run: a read the run's end
	// cancelled may still reach the fake, and load, after that.
	f.mu.Lock()
	loads := f.scraped
	f.mu.Unlock()
	if want := 1 - float64(loads)/float64(res.Reads); res.OffloadSource != "metrics" || res.Offload != want {
		t.Errorf("offload %v from %s, want %v from metrics", res.Offload, res.OffloadSource, want)
	}
	if res.InvalidationSource != "records" || res.InvalidationsFromRecords != int(res.Updates) || res.InvalidationP99 != 0 {
		t.Errorf("invalidation latency p99 %v from %s (%d records)", res.InvalidationP99, res.InvalidationSource, res.InvalidationsFromRecords)
	}
}

// A catalog that keeps serving old versions is caught, and the checker
// tells whether the stale reads came after the invalidation completed.
func TestRunCatchesStaleReads(t *testing.T) {
	tests := []struct {
		name                   string
		putWaits, dataVersions bool
		completeAfter          time.Duration
		after, source          string
	}{
		// The PUT says the invalidation completed: every stale read
		// after it is a violation.
		{name: "PUT waited", putWaits: true, after: "some", source: "put"},
		// Records say the invalidation completed at the commit; the
		// stale reads are classified once the records are seen.
		{name: "records completed", dataVersions: true, after: "some", source: "records"},
		// Records say the invalidations complete an hour later: stale,
		// but not yet a violation.
		{name: "records not yet completed", dataVersions: true, completeAfter: time.Hour, after: "none", source: "records"},
		// Nothing says when the invalidation completed: not provably
		// a violation.
		{name: "nothing known", after: "none", source: "none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(1)
			f.serveStale, f.putWaits, f.dataVersions, f.completeAfter = true, tt.putWaits, tt.dataVersions, tt.completeAfter
			res := runFake(t, f, Config{UpdateRate: 50})
			if tt.after == "some" && (res.StaleAfterComplete == 0 || res.StaleBeforeComplete != 0) ||
				tt.after == "none" && (res.StaleAfterComplete != 0 || res.StaleBeforeComplete == 0) {
				t.Errorf("stale after %d, before %d; want %s after", res.StaleAfterComplete, res.StaleBeforeComplete, tt.after)
			}
			if len(res.StaleExamples) == 0 {
				t.Error("no stale examples")
			}
			if res.InvalidationSource != tt.source {
				t.Errorf("invalidation source %s, want %s", res.InvalidationSource, tt.source)
			}
		})
	}
}

func TestSummaryLine(t *testing.T) {
	res := Result{Reads: 10, Updates: 2, Offload: 0.5, OffloadSource: "metrics", InvalidationSource: "none",
		ReadP50: time.Millisecond, ReadP99: 1500 * time.Microsecond, ReadMax: 2 * time.Millisecond,
		InvalidationP50: -1, InvalidationP99: -1, Duration: time.Second, Products: 3}
	line := res.SummaryLine()
	m, err := ParseSummary(line)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"reads": "10", "updates": "2", "offload": "0.5000", "stale_after_complete": "0",
		"stale_before_complete": "0", "invalidation_p50_ms": "NaN", "invalidation_p99_ms": "NaN",
		"read_p50_ms": "1.000", "read_p99_ms": "1.500", "errors": "0"}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s=%q, want %q in %s", k, m[k], v, line)
		}
	}
	if strings.Contains(line, "\n") {
		t.Errorf("summary spans lines: %q", line)
	}
	for _, bad := range []string{"", "reads", "a=1 a=2"} {
		if _, err := ParseSummary(bad); err == nil {
			t.Errorf("ParseSummary(%q) accepted", bad)
		}
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no edge", Config{}},
		{"edge not http", Config{EdgeURL: "ftp://x"}},
		{"zipf 1", Config{EdgeURL: "http://x", Zipf: 1}},
		{"zipf below 1", Config{EdgeURL: "http://x", Zipf: 0.5}},
		{"negative rate", Config{EdgeURL: "http://x", UpdateRate: -1}},
		{"updates without API", Config{EdgeURL: "http://x", UpdateRate: 1, AdminToken: "t"}},
		{"updates without token", Config{EdgeURL: "http://x", APIURL: "http://x", UpdateRate: 1}},
		{"negative duration", Config{EdgeURL: "http://x", Duration: -time.Second}},
	}
	for _, tt := range tests {
		if _, err := Run(context.Background(), tt.cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", tt.name, err)
		}
	}
}

func TestRunEmptyCatalog(t *testing.T) {
	srv := httptest.NewServer(newFake(0))
	defer srv.Close()
	_, err := Run(context.Background(), Config{EdgeURL: srv.URL, Duration: time.Second})
	if err == nil || !strings.Contains(err.Error(), "no products") {
		t.Errorf("err = %v", err)
	}
}

// Reads are spread by Zipf over a permutation: the hottest product is not
// product 1 for every seed, and one seed always picks the same.
func TestPickerPermutes(t *testing.T) {
	hottest := func(seed uint64) int64 {
		cfg := Config{Seed: seed, Zipf: 1.1}
		perm := newPermutation(cfg.Seed, 1000)
		p := newPicker(newRand(seed, 1), cfg.Zipf, perm)
		counts := map[int64]int{}
		for range 10000 {
			counts[p.next()]++
		}
		best := int64(0)
		for id, n := range counts {
			if id < 1 || id > 1000 {
				t.Fatalf("id %d out of range", id)
			}
			if best == 0 || n > counts[best] {
				best = id
			}
		}
		return best
	}
	seen := map[int64]bool{}
	for seed := range uint64(5) {
		first, again := hottest(seed), hottest(seed)
		if first != again {
			t.Fatal("the same seed picked differently")
		}
		seen[first] = true
	}
	if len(seen) < 2 {
		t.Errorf("five seeds share the hottest product: %v", seen)
	}
}

// Warmup reads every product before the run, and its loads are not
// counted: on a catalog that never changes a product's load state, the
// run's offload is then exactly 1.
func TestRunWarmup(t *testing.T) {
	f := newFake(40)
	f.putWaits, f.dataVersions = true, true
	res := runFake(t, f, Config{Products: 40, Warmup: true})
	f.mu.Lock()
	seen, loads := len(f.seen), f.loads
	f.mu.Unlock()
	if seen != 40 || loads != 40 {
		t.Fatalf("after warming up, %d products seen and %d loads; want all 40", seen, loads)
	}
	if res.Offload != 1 || res.OffloadSource != "metrics" {
		t.Errorf("offload %v from %s; want 1: warm-up loads are not the run's", res.Offload, res.OffloadSource)
	}
}
