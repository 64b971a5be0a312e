package obs

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/strata-cache/strata/inval"
)

// Metrics holds Strata's collectors on one registry.
type Metrics struct {
	reg *prometheus.Registry

	edgeRequests  *prometheus.CounterVec
	originFetches *prometheus.CounterVec
	purges        *prometheus.CounterVec
	purgedObjects *prometheus.CounterVec
	invLatency    prometheus.Histogram
	edgeHits      atomic.Uint64
	edgeLookups   atomic.Uint64

	appRequests  *prometheus.CounterVec
	appLoads     *prometheus.CounterVec
	appLoadTime  prometheus.Histogram
	appStale     *prometheus.CounterVec
	appRefused   *prometheus.CounterVec
	appLeaseWait prometheus.Histogram
	appBreaker   prometheus.Gauge
	tiersMu      sync.Mutex
	tiers        map[string]*tierCounts
}

type tierCounts struct{ hits, lookups atomic.Uint64 }

// NewMetrics creates Strata's collectors on a new registry, with the Go
// runtime and process collectors.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		reg: reg,
		edgeRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_edge_requests_total", Help: "Edge requests by behavior and result (hit, refresh_hit, stale, collapsed, miss, pass, error).",
		}, []string{"behavior", "result"}),
		originFetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_edge_origin_fetches_total", Help: "Origin requests made by the edge, by behavior and status class.",
		}, []string{"behavior", "code"}),
		purges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_edge_purges_total", Help: "Purges applied by this edge node, by selector (url, path, prefix, tag, all).",
		}, []string{"selector"}),
		purgedObjects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_edge_purged_objects_total", Help: "Stored responses purged, by selector and action (removed, or marked stale by a soft purge).",
		}, []string{"selector", "action"}),
		invLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "strata_invalidation_latency_seconds", Help: "Time from an invalidation's creation to its completion on every live node.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		appRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_app_cache_requests_total", Help: "Application-cache lookups by tier and result (hit, miss).",
		}, []string{"tier", "result"}),
		appLoads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_app_cache_loads_total", Help: "Application-cache loader calls by result (ok, error).",
		}, []string{"result"}),
		appLoadTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "strata_app_cache_load_seconds", Help: "Application-cache loader latency.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}),
		appStale: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_app_cache_stale_served_total", Help: "Application-cache values served past their freshness, by tier.",
		}, []string{"tier"}),
		appRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_app_cache_fills_refused_total", Help: "Application-cache fills refused because the tier held newer data or a newer tombstone (stale sets prevented), by tier.",
		}, []string{"tier"}),
		appLeaseWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "strata_app_cache_lease_wait_seconds", Help: "Time callers waited for another caller's load lease.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}),
		appBreaker: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "strata_app_cache_l2_breaker_open", Help: "Caches whose L2 circuit breaker is open (L2 bypassed).",
		}),
		tiers: map[string]*tierCounts{},
	}
	edgeRatio := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "strata_edge_hit_ratio", Help: "Edge hits (including refresh and stale hits) over cacheable lookups since start.",
	}, func() float64 { return ratio(m.edgeHits.Load(), m.edgeLookups.Load()) })
	reg.MustRegister(m.purges, m.purgedObjects, m.invLatency)
	reg.MustRegister(m.edgeRequests, m.originFetches, m.appRequests, m.appLoads, m.appLoadTime, edgeRatio,
		m.appStale, m.appRefused, m.appLeaseWait, m.appBreaker,
		&tierRatioCollector{m: m, desc: prometheus.NewDesc("strata_app_cache_hit_ratio",
			"Application-cache hits over lookups since start, by tier.", []string{"tier"}, nil)})
	return m
}

func ratio(hits, total uint64) float64 {
	if total == 0 {
		return 0
	}
	return float64(hits) / float64(total)
}

// Registry returns the registry, for registering more collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// EdgeRecorder records edge measurements; it implements edge.Recorder.
type EdgeRecorder struct{ m *Metrics }

// Edge returns the recorder for an edge.
func (m *Metrics) Edge() EdgeRecorder { return EdgeRecorder{m} }

// Request implements edge.Recorder.
func (r EdgeRecorder) Request(behavior, result string) {
	r.m.edgeRequests.WithLabelValues(behavior, result).Inc()
	switch result {
	case "hit", "refresh_hit", "stale", "collapsed":
		r.m.edgeHits.Add(1)
		r.m.edgeLookups.Add(1)
	case "miss":
		r.m.edgeLookups.Add(1)
	}
}

// OriginFetch implements edge.Recorder.
func (r EdgeRecorder) OriginFetch(behavior string, status int) {
	code := "error"
	if status > 0 {
		code = strconv.Itoa(status/100) + "xx"
	}
	r.m.originFetches.WithLabelValues(behavior, code).Inc()
}

// Purge implements edge.PurgeRecorder.
func (r EdgeRecorder) Purge(selector string, removed, marked int) {
	r.m.purges.WithLabelValues(selector).Inc()
	r.m.purgedObjects.WithLabelValues(selector, "removed").Add(float64(removed))
	r.m.purgedObjects.WithLabelValues(selector, "marked").Add(float64(marked))
}

// InvalidationCompleted records an invalidation's latency from creation to
// completion; it fits inval.TrackerOptions.OnComplete.
func (m *Metrics) InvalidationCompleted(inv inval.Invalidation) {
	if !inv.CompleteTime.IsZero() && !inv.CreateTime.IsZero() {
		m.invLatency.Observe(inv.CompleteTime.Sub(inv.CreateTime).Seconds())
	}
}

// WatchNodes exposes, at each scrape, the nodes of a bus: how many are live
// and dead, and each node's lag (events published but not yet applied).
func (m *Metrics) WatchNodes(r inval.NodeReporter) {
	m.reg.MustRegister(&nodeCollector{r: r,
		count: prometheus.NewDesc("strata_inval_nodes", "Nodes registered on the invalidation bus, by state (live, dead).", []string{"state"}, nil),
		lag:   prometheus.NewDesc("strata_inval_node_lag", "Invalidation events published but not yet applied by a node.", []string{"node"}, nil),
	})
}

// RelayReporter is what WatchRelay reads of an outbox relay
// (*inval.Relay is one).
type RelayReporter interface {
	Leading() bool
	Position() uint64
	Backlog(ctx context.Context) (uint64, error)
}

// WatchRelay exposes, at each scrape, whether this process's outbox relay
// leads, the last outbox sequence it published and, while it leads, the
// rows committed but not yet published.
func (m *Metrics) WatchRelay(r RelayReporter) {
	m.reg.MustRegister(&relayCollector{r: r,
		leading:  prometheus.NewDesc("strata_relay_leading", "1 while this process's outbox relay is the one relaying (it holds the relay lock).", nil, nil),
		position: prometheus.NewDesc("strata_relay_position", "Last outbox sequence (data version) this relay published.", nil, nil),
		backlog:  prometheus.NewDesc("strata_relay_backlog", "Outbox rows committed but not yet published, while this relay leads.", nil, nil),
	})
}

// StoreReporter is what WatchStore reads of an edge store
// (*store.Memory is one).
type StoreReporter interface {
	Len() int
	Bytes() uint64
	PurgeBacklog() (claims, objects int)
}

// WatchStore exposes, at each scrape, an edge store's size and the purge
// work it has still to do in the background.
func (m *Metrics) WatchStore(r StoreReporter) {
	const backlogHelp = "Purge work the edge store has still to do in the background: tag purges' claims not yet made " +
		"(unit=claims; one per index shard holding many entries of the tag), and purged responses not yet removed (unit=objects)."
	gauge := func(name, help string, labels prometheus.Labels, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels}, f)
	}
	m.reg.MustRegister(
		gauge("strata_edge_stored_objects", "Entries in the edge store (responses, Vary markers, and purged responses not yet removed).",
			nil, func() float64 { return float64(r.Len()) }),
		gauge("strata_edge_stored_bytes", "Approximate bytes held by the edge store, against its -edge-max-bytes bound.",
			nil, func() float64 { return float64(r.Bytes()) }),
		gauge("strata_edge_purge_backlog", backlogHelp, prometheus.Labels{"unit": "claims"},
			func() float64 { c, _ := r.PurgeBacklog(); return float64(c) }),
		gauge("strata_edge_purge_backlog", backlogHelp, prometheus.Labels{"unit": "objects"},
			func() float64 { _, o := r.PurgeBacklog(); return float64(o) }),
	)
}

type relayCollector struct {
	r                          RelayReporter
	leading, position, backlog *prometheus.Desc
}

func (c *relayCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.leading
	ch <- c.position
	ch <- c.backlog
}

func (c *relayCollector) Collect(ch chan<- prometheus.Metric) {
	leading := c.r.Leading()
	v := 0.0
	if leading {
		v = 1
	}
	ch <- prometheus.MustNewConstMetric(c.leading, prometheus.GaugeValue, v)
	ch <- prometheus.MustNewConstMetric(c.position, prometheus.GaugeValue, float64(c.r.Position()))
	if !leading {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, err := c.r.Backlog(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.backlog, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.backlog, prometheus.GaugeValue, float64(n))
}

type nodeCollector struct {
	r          inval.NodeReporter
	count, lag *prometheus.Desc
}

func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.count; ch <- c.lag }

func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	nodes, err := c.r.Nodes(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.count, err)
		return
	}
	live, dead := 0, 0
	for _, n := range nodes {
		if n.Live {
			live++
		} else {
			dead++
		}
		ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(n.Lag), n.Name)
	}
	ch <- prometheus.MustNewConstMetric(c.count, prometheus.GaugeValue, float64(live), "live")
	ch <- prometheus.MustNewConstMetric(c.count, prometheus.GaugeValue, float64(dead), "dead")
}

// CacheRecorder records application-cache measurements; it implements
// cache.Recorder.
type CacheRecorder struct{ m *Metrics }

// Cache returns the recorder for application caches.
func (m *Metrics) Cache() CacheRecorder { return CacheRecorder{m} }

func (m *Metrics) tier(name string) *tierCounts {
	m.tiersMu.Lock()
	defer m.tiersMu.Unlock()
	t, ok := m.tiers[name]
	if !ok {
		t = &tierCounts{}
		m.tiers[name] = t
	}
	return t
}

// Hit implements cache.Recorder.
func (r CacheRecorder) Hit(tier string) {
	r.m.appRequests.WithLabelValues(tier, "hit").Inc()
	t := r.m.tier(tier)
	t.hits.Add(1)
	t.lookups.Add(1)
}

// Miss implements cache.Recorder.
func (r CacheRecorder) Miss(tier string) {
	r.m.appRequests.WithLabelValues(tier, "miss").Inc()
	r.m.tier(tier).lookups.Add(1)
}

// Load implements cache.Recorder.
func (r CacheRecorder) Load(d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	r.m.appLoads.WithLabelValues(result).Inc()
	r.m.appLoadTime.Observe(d.Seconds())
}

// StaleServed implements cache.Recorder.
func (r CacheRecorder) StaleServed(tier string) { r.m.appStale.WithLabelValues(tier).Inc() }

// FillRefused implements cache.Recorder.
func (r CacheRecorder) FillRefused(tier string) { r.m.appRefused.WithLabelValues(tier).Inc() }

// LeaseWait implements cache.Recorder.
func (r CacheRecorder) LeaseWait(d time.Duration) { r.m.appLeaseWait.Observe(d.Seconds()) }

// Breaker implements cache.Recorder.
func (r CacheRecorder) Breaker(open bool) {
	if open {
		r.m.appBreaker.Inc()
	} else {
		r.m.appBreaker.Dec()
	}
}

// tierRatioCollector exposes strata_app_cache_hit_ratio for every tier seen.
type tierRatioCollector struct {
	m    *Metrics
	desc *prometheus.Desc
}

func (c *tierRatioCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *tierRatioCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.tiersMu.Lock()
	defer c.m.tiersMu.Unlock()
	for name, t := range c.m.tiers {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, ratio(t.hits.Load(), t.lookups.Load()), name)
	}
}

// WriteBehindRecorder records a write-behind queue's flushes and lag; it
// implements writebehind.Recorder.
type WriteBehindRecorder struct {
	flushed *prometheus.CounterVec
	pending prometheus.Gauge
	oldest  prometheus.Gauge
}

// WriteBehind registers the write-behind series for the queue called name
// and returns its recorder.
func (m *Metrics) WriteBehind(name string) WriteBehindRecorder {
	labels := prometheus.Labels{"queue": name}
	r := WriteBehindRecorder{
		flushed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strata_writebehind_flushed_total", Help: "Writes handed to the flush function, by result (ok, error).", ConstLabels: labels,
		}, []string{"result"}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "strata_writebehind_pending", Help: "Acknowledged writes not yet flushed (the lag).", ConstLabels: labels,
		}),
		oldest: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "strata_writebehind_oldest_seconds", Help: "Age of the oldest acknowledged write not yet flushed.", ConstLabels: labels,
		}),
	}
	m.reg.MustRegister(r.flushed, r.pending, r.oldest)
	return r
}

// Flushed implements writebehind.Recorder.
func (r WriteBehindRecorder) Flushed(n int, _ time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	r.flushed.WithLabelValues(result).Add(float64(n))
}

// Lag implements writebehind.Recorder.
func (r WriteBehindRecorder) Lag(pending int, oldest time.Duration) {
	r.pending.Set(float64(pending))
	r.oldest.Set(oldest.Seconds())
}
