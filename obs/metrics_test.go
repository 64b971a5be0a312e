package obs

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/strata-cache/strata/cache"
	"github.com/strata-cache/strata/edge"
)

var (
	_ edge.Recorder  = EdgeRecorder{}
	_ cache.Recorder = CacheRecorder{}
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
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
