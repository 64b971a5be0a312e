package load

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// client makes the bench's HTTP calls.
type client struct {
	http              *http.Client
	edge, api, admin  string // base URLs without a trailing slash
	token             string
	invalidationLimit int
}

// errStatus is a response with an unexpected status.
var errStatus = errors.New("unexpected status")

func statusError(resp *http.Response, body []byte) error {
	b := strings.TrimSpace(string(body))
	if len(b) > 200 {
		b = b[:200] + "..."
	}
	return fmt.Errorf("%w: %s %s: %s %s", errStatus, resp.Request.Method, resp.Request.URL, resp.Status, b)
}

// do sends a request and returns the response with its whole body.
func (c *client) do(ctx context.Context, method, u string, body []byte, auth bool) (*http.Response, []byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: reading body: %w", method, u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp, b, statusError(resp, b)
	}
	return resp, b, nil
}

// productBody is what the bench reads of a product.
type productBody struct {
	ID      int64 `json:"id"`
	Version int64 `json:"version"`
}

// readProduct reads product id through the edge: its version and whether
// the edge answered from its cache.
func (c *client) readProduct(ctx context.Context, id int64) (version int64, hit bool, via string, err error) {
	u := c.edge + "/api/products/" + strconv.FormatInt(id, 10)
	resp, b, err := c.do(ctx, http.MethodGet, u, nil, false)
	if err != nil {
		return 0, false, "", err
	}
	var p productBody
	if err := json.Unmarshal(b, &p); err != nil {
		return 0, false, "", fmt.Errorf("GET %s: body: %w", u, err)
	}
	if p.ID != id || p.Version <= 0 {
		return 0, false, "", fmt.Errorf("GET %s: body has id %d version %d", u, p.ID, p.Version)
	}
	return p.Version, edgeHit(resp.Header), servedBy(resp.Header), nil
}

// servedBy describes where a response came from, for stale-read examples.
func servedBy(h http.Header) string {
	return fmt.Sprintf("X-Cache %q, Age %q, X-Cache-Version %q, Cache-Status %q",
		h.Get("X-Cache"), h.Get("Age"), h.Get("X-Cache-Version"), strings.Join(h.Values("Cache-Status"), ", "))
}

// edgeHit reports whether the response was served from the edge's cache:
// X-Cache "Hit from ...", or the last Cache-Status entry (the one nearest
// the client) with the hit parameter.
func edgeHit(h http.Header) bool {
	if x := h.Get("X-Cache"); x != "" {
		return strings.HasPrefix(strings.ToLower(x), "hit")
	}
	cs := strings.Join(h.Values("Cache-Status"), ", ")
	if cs == "" {
		return false
	}
	last := cs[strings.LastIndex(cs, ",")+1:]
	for _, p := range strings.Split(last, ";")[1:] {
		if strings.TrimSpace(p) == "hit" {
			return true
		}
	}
	return false
}

// updated is what a PUT's response says.
type updated struct {
	version     int64
	dataVersion uint64 // 0: not given
	completed   bool   // X-Invalidation: completed
	pending     bool   // X-Invalidation: pending
}

// updatePrice sets product id's price through the API.
func (c *client) updatePrice(ctx context.Context, id, cents int64) (updated, error) {
	u := c.api + "/api/products/" + strconv.FormatInt(id, 10)
	body := []byte(`{"price_cents": ` + strconv.FormatInt(cents, 10) + `}`)
	resp, b, err := c.do(ctx, http.MethodPut, u, body, true)
	if err != nil {
		return updated{}, err
	}
	var res updated
	var p productBody
	if json.Unmarshal(b, &p) == nil && p.Version > 0 {
		res.version = p.Version
	} else {
		var gotID int64
		if _, err := fmt.Sscanf(resp.Header.Get("Etag"), `"p%d-v%d"`, &gotID, &res.version); err != nil || gotID != id {
			return updated{}, fmt.Errorf("PUT %s: no version in the body or ETag", u)
		}
	}
	for _, name := range []string{"X-Data-Version", "X-Cache-Version"} {
		if v, err := strconv.ParseUint(resp.Header.Get(name), 10, 64); err == nil && v > 0 {
			res.dataVersion = v
			break
		}
	}
	switch strings.ToLower(resp.Header.Get("X-Invalidation")) {
	case "completed":
		res.completed = true
	case "pending":
		res.pending = true
	}
	return res, nil
}

// productCount asks the API how many products the catalog holds.
func (c *client) productCount(ctx context.Context) (int, error) {
	base := c.api
	if base == "" {
		base = c.edge
	}
	u := base + "/api/products?limit=1"
	_, b, err := c.do(ctx, http.MethodGet, u, nil, false)
	if err != nil {
		return 0, err
	}
	var page struct {
		Total *int `json:"total"`
	}
	if err := json.Unmarshal(b, &page); err != nil || page.Total == nil {
		return 0, fmt.Errorf("GET %s: no total in the body", u)
	}
	return *page.Total, nil
}

// invalidations lists the admin API's most recent invalidations, keeping
// the Completed ones that say which data versions they cover.
func (c *client) invalidations(ctx context.Context) ([]invalidationRecord, error) {
	u := c.admin + "/invalidations?limit=" + strconv.Itoa(c.invalidationLimit)
	_, b, err := c.do(ctx, http.MethodGet, u, nil, true)
	if err != nil {
		return nil, err
	}
	var list struct {
		Invalidations []struct {
			Status       string    `json:"status"`
			CreateTime   time.Time `json:"createTime"`
			CompleteTime time.Time `json:"completeTime"`
			Version      uint64    `json:"version"`
			FromVersion  uint64    `json:"fromVersion"`
		} `json:"invalidations"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("GET %s: body: %w", u, err)
	}
	var recs []invalidationRecord
	for _, inv := range list.Invalidations {
		if inv.Status != "Completed" || inv.Version == 0 || inv.CompleteTime.IsZero() {
			continue
		}
		from := inv.FromVersion
		if from == 0 || from > inv.Version {
			from = inv.Version
		}
		recs = append(recs, invalidationRecord{from: from, to: inv.Version,
			createTime: inv.CreateTime, completeTime: inv.CompleteTime})
	}
	return recs, nil
}

// loadsSeries counts the application cache's loader calls: each is a read
// that reached the database.
const loadsSeries = "strata_app_cache_loads_total"

// databaseLoads sums loadsSeries over the admin APIs' /metrics.
func (c *client) databaseLoads(ctx context.Context, metricsURLs []string) (float64, error) {
	var sum float64
	for _, u := range metricsURLs {
		_, b, err := c.do(ctx, http.MethodGet, u, nil, true)
		if err != nil {
			return 0, err
		}
		n, found := sumSeries(b, loadsSeries)
		if !found {
			return 0, fmt.Errorf("GET %s: no %s series", u, loadsSeries)
		}
		sum += n
	}
	return sum, nil
}

// sumSeries adds up every sample of the named series in Prometheus text.
func sumSeries(text []byte, name string) (float64, bool) {
	var sum float64
	found := false
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (rest != "" && rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		if i := strings.LastIndex(rest, "}"); i >= 0 {
			rest = rest[i+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		if v, err := strconv.ParseFloat(f[0], 64); err == nil {
			sum += v
			found = true
		}
	}
	return sum, found
}

// trimBase validates a base URL and drops its trailing slash.
func trimBase(name, s string) (string, error) {
	if s == "" {
		return "", nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%w: %s %q is not an http(s) URL", ErrConfig, name, s)
	}
	return strings.TrimRight(s, "/"), nil
}
