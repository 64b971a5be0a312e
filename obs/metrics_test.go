package obs

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/strata-cache/strata/cache"
	"github.com/strata-cache/strata/cache/writebehind"
	"github.com/strata-cache/strata/edge"
	"github.com/strata-cache/strata/inval"
)

type nodesFunc func(context.Context) ([]inval.NodeStatus, error)

func (f nodesFunc) Nodes(ctx context.Context) ([]inval.NodeStatus, error) { return f(ctx) }

var (
	_ edge.PurgeRecorder   = EdgeRecorder{}
	_ edge.Recorder        = EdgeRecorder{}
	_ cache.Recorder       = CacheRecorder{}
	_ writebehind.Recorder = WriteBehindRecorder{}
)

func TestMetricsExposition(t *testing.T) {
	m := NewMetrics()
	e := m.Edge()
	e.Request("/api/*", "miss")
	e.Request("/api/*", "hit")
	e.Request("/api/*", "hit")
	e.Request("/api/*", "refresh_hit")
	e.Request("/api/*", "pass") // not a lookup: does not move the ratio
	e.OriginFetch("/api/*", 200)
	e.OriginFetch("/api/*", 0)
	c := m.Cache()
	c.Miss("l1")
	c.Hit("l1")
	c.Load(time.Millisecond, nil)
	c.Load(time.Millisecond, errors.New("db down"))
	c.StaleServed("l1")
	c.FillRefused("l2")
	c.LeaseWait(time.Millisecond)
	c.Breaker(true)
	e.Purge("tag", 3, 0)
	e.Purge("path", 0, 2)
	now := time.Now()
	m.InvalidationCompleted(inval.Invalidation{CreateTime: now, CompleteTime: now.Add(40 * time.Millisecond)})
	m.WatchNodes(nodesFunc(func(context.Context) ([]inval.NodeStatus, error) {
		return []inval.NodeStatus{{Name: "n1", Live: true, Lag: 0}, {Name: "n2", Live: false, Lag: 7}}, nil
	}))
	m.WatchRelay(fakeRelay{leading: true, pos: 40, backlog: 3})
	m.WatchStore(fakeStore{})
	wb := m.WriteBehind("prices")
	wb.Flushed(3, time.Millisecond, nil)
	wb.Lag(7, 2*time.Second)

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`strata_edge_requests_total{behavior="/api/*",result="hit"} 2`,
		`strata_edge_hit_ratio 0.75`,
		`strata_edge_origin_fetches_total{behavior="/api/*",code="2xx"} 1`,
		`strata_edge_origin_fetches_total{behavior="/api/*",code="error"} 1`,
		`strata_app_cache_requests_total{result="hit",tier="l1"} 1`,
		`strata_app_cache_hit_ratio{tier="l1"} 0.5`,
		`strata_app_cache_loads_total{result="error"} 1`,
		`strata_app_cache_stale_served_total{tier="l1"} 1`,
		`strata_app_cache_fills_refused_total{tier="l2"} 1`,
		`strata_app_cache_lease_wait_seconds_count 1`,
		`strata_app_cache_l2_breaker_open 1`,
		`strata_writebehind_flushed_total{queue="prices",result="ok"} 3`,
		`strata_writebehind_pending{queue="prices"} 7`,
		`strata_writebehind_oldest_seconds{queue="prices"} 2`,
		`strata_edge_purges_total{selector="tag"} 1`,
		`strata_edge_purged_objects_total{action="removed",selector="tag"} 3`,
		`strata_edge_purged_objects_total{action="marked",selector="path"} 2`,
		`strata_invalidation_latency_seconds_count 1`,
		`strata_inval_nodes{state="dead"} 1`,
		`strata_inval_node_lag{node="n2"} 7`,
		`strata_relay_leading 1`,
		`strata_relay_position 40`,
		`strata_relay_backlog 3`,
		`strata_edge_stored_objects 12`,
		`strata_edge_stored_bytes 4096`,
		`strata_edge_purge_backlog{unit="claims"} 2`,
		`strata_edge_purge_backlog{unit="objects"} 5`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

type fakeStore struct{}

func (fakeStore) Len() int                            { return 12 }
func (fakeStore) Bytes() uint64                       { return 4096 }
func (fakeStore) PurgeBacklog() (claims, objects int) { return 2, 5 }

type fakeRelay struct {
	leading      bool
	pos, backlog uint64
}

func (r fakeRelay) Leading() bool                           { return r.leading }
func (r fakeRelay) Position() uint64                        { return r.pos }
func (r fakeRelay) Backlog(context.Context) (uint64, error) { return r.backlog, nil }
