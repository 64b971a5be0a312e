package load

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Result is what a run measured. Durations are -1 when nothing was measured.
type Result struct {
	// Duration is how long reads ran.
	Duration time.Duration
	// Products is how many products were read and updated (ids 1..Products).
	Products int
	// Interrupted: the run's context ended before Duration.
	Interrupted bool
	// Notes are remarks on the run, e.g. fewer products than asked for.
	Notes []string

	// Reads counts successful reads; EdgeHits those the edge answered
	// from its cache.
	Reads, EdgeHits int64
	// ReadP50, ReadP99 and ReadMax are read latencies at the client.
	ReadP50, ReadP99, ReadMax time.Duration

	// Updates counts acknowledged updates; UpdatesSkipped those not sent
	// because MaxUpdatesInFlight PUTs were already running;
	// InvalidationsPending the PUTs that answered "X-Invalidation: pending".
	Updates, UpdatesSkipped, InvalidationsPending int64
	// UpdatesWithoutDataVersion counts acknowledged updates whose PUT
	// carried no X-Data-Version: their invalidation records cannot be
	// found (and with strata serve, such a write was not relayed).
	UpdatesWithoutDataVersion int64

	// DatabaseLoads is the growth of the database-load counter over the
	// run (OffloadSource "metrics"); 0 when it was not measured.
	DatabaseLoads float64
	// Offload is the share of reads that did not reach the database: with
	// OffloadSource "metrics", 1 - DatabaseLoads/Reads (at least 0); with
	// "edge" (no metrics), EdgeHits/Reads, a lower bound.
	Offload       float64
	OffloadSource string

	// StaleAfterComplete and StaleBeforeComplete count stale reads (see
	// the package doc). StaleUnclassified counts stale reads past the
	// checker's memory, included in StaleBeforeComplete.
	StaleAfterComplete, StaleBeforeComplete, StaleUnclassified int64
	// StaleExamples describe the first few stale reads.
	StaleExamples []string

	// InvalidationP50 and InvalidationP99 are commit-to-completion
	// latencies of the updates' invalidations: from the invalidation
	// records (createTime to completeTime) where they were found, else the
	// round trip of PUTs that waited for completion (an upper bound).
	InvalidationP50, InvalidationP99 time.Duration
	// InvalidationSource says which: "records", "put", "mixed" or "none",
	// with how many updates each way and how many had neither.
	InvalidationSource                                                    string
	InvalidationsFromRecords, InvalidationsFromPuts, InvalidationsUnknown int

	// Errors counts failed requests (reads, updates, admin calls; not
	// those cut short by the end of the run); ErrorSamples are the first
	// few distinct messages.
	Errors       int64
	ErrorSamples []string
}

func (r Result) offload() float64 {
	if r.Reads == 0 {
		return math.NaN()
	}
	if r.OffloadSource == "metrics" {
		return math.Max(0, 1-r.DatabaseLoads/float64(r.Reads))
	}
	return float64(r.EdgeHits) / float64(r.Reads)
}

// ReadsPerSecond is the read throughput.
func (r Result) ReadsPerSecond() float64 {
	if r.Duration <= 0 {
		return 0
	}
	return float64(r.Reads) / r.Duration.Seconds()
}

// EdgeHitRatio is the share of reads the edge answered from its cache.
func (r Result) EdgeHitRatio() float64 {
	if r.Reads == 0 {
		return math.NaN()
	}
	return float64(r.EdgeHits) / float64(r.Reads)
}

// ms formats a duration in milliseconds, NaN when not measured.
func ms(d time.Duration) string {
	if d < 0 {
		return "NaN"
	}
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 3, 64)
}

func ratio(f float64) string { return strconv.FormatFloat(f, 'f', 4, 64) }

// SummaryLine is the run's result as one line of space-separated key=value
// pairs, without spaces in values: the keys reads, updates, errors,
// offload, stale_after_complete, stale_before_complete,
// invalidation_p50_ms, invalidation_p99_ms, read_p50_ms, read_p99_ms
// always, and more after them. Unmeasured numbers are NaN.
func (r Result) SummaryLine() string {
	kv := []string{
		"reads=" + strconv.FormatInt(r.Reads, 10),
		"updates=" + strconv.FormatInt(r.Updates, 10),
		"errors=" + strconv.FormatInt(r.Errors, 10),
		"offload=" + ratio(r.Offload),
		"stale_after_complete=" + strconv.FormatInt(r.StaleAfterComplete, 10),
		"stale_before_complete=" + strconv.FormatInt(r.StaleBeforeComplete, 10),
		"invalidation_p50_ms=" + ms(r.InvalidationP50),
		"invalidation_p99_ms=" + ms(r.InvalidationP99),
		"read_p50_ms=" + ms(r.ReadP50),
		"read_p99_ms=" + ms(r.ReadP99),
		"read_max_ms=" + ms(r.ReadMax),
		"reads_per_s=" + strconv.FormatFloat(r.ReadsPerSecond(), 'f', 1, 64),
		"edge_hit_ratio=" + ratio(r.EdgeHitRatio()),
		"offload_source=" + r.OffloadSource,
		"invalidation_source=" + r.InvalidationSource,
		"updates_skipped=" + strconv.FormatInt(r.UpdatesSkipped, 10),
		"invalidations_pending=" + strconv.FormatInt(r.InvalidationsPending, 10),
		"updates_without_data_version=" + strconv.FormatInt(r.UpdatesWithoutDataVersion, 10),
		"products=" + strconv.Itoa(r.Products),
		"duration_s=" + strconv.FormatFloat(r.Duration.Seconds(), 'f', 3, 64),
		"interrupted=" + strconv.FormatBool(r.Interrupted),
	}
	return strings.Join(kv, " ")
}

// ParseSummary parses a SummaryLine into its keys and values.
func ParseSummary(line string) (map[string]string, error) {
	m := map[string]string{}
	for _, f := range strings.Fields(line) {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("load: summary field %q is not key=value", f)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("load: summary key %q repeated", k)
		}
		m[k] = v
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("load: empty summary line")
	}
	return m, nil
}

// WriteReport writes the result for people, over several lines.
func (r Result) WriteReport(w io.Writer) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	state := ""
	if r.Interrupted {
		state = " (interrupted)"
	}
	p("strata bench: %d products for %.1fs%s", r.Products, r.Duration.Seconds(), state)
	for _, n := range r.Notes {
		p("  note: %s", n)
	}
	p("reads        %d (%.1f/s), edge hit ratio %s", r.Reads, r.ReadsPerSecond(), ratio(r.EdgeHitRatio()))
	p("  latency    p50 %s ms, p99 %s ms, max %s ms", ms(r.ReadP50), ms(r.ReadP99), ms(r.ReadMax))
	switch r.OffloadSource {
	case "metrics":
		p("  offload    %s: %.0f database loads for %d reads (from strata_app_cache_loads_total)", ratio(r.Offload), r.DatabaseLoads, r.Reads)
	default:
		p("  offload    %s: edge hits only, a lower bound (no database-load metrics)", ratio(r.Offload))
	}
	p("updates      %d (%d skipped: too many in flight; %d answered X-Invalidation: pending; %d without X-Data-Version)",
		r.Updates, r.UpdatesSkipped, r.InvalidationsPending, r.UpdatesWithoutDataVersion)
	p("  invalidation p50 %s ms, p99 %s ms (from %s: %d records, %d PUT round trips, %d unknown)",
		ms(r.InvalidationP50), ms(r.InvalidationP99), r.InvalidationSource, r.InvalidationsFromRecords, r.InvalidationsFromPuts, r.InvalidationsUnknown)
	p("stale reads  %d after invalidation completed, %d before", r.StaleAfterComplete, r.StaleBeforeComplete)
	if r.StaleUnclassified > 0 {
		p("  %d stale reads past the checker's memory counted as before", r.StaleUnclassified)
	}
	for _, e := range r.StaleExamples {
		p("  %s", e)
	}
	p("errors       %d", r.Errors)
	for _, e := range r.ErrorSamples {
		p("  %s", e)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
