package catalog

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/strata-cache/strata/db"
	"github.com/strata-cache/strata/inval"
)

const token = "test-token"

type env struct {
	srv   *httptest.Server
	db    *db.DB
	relay *inval.Relay
	bus   *inval.Memory
}

// newEnv runs the catalog on a real SQLite database with the in-process
// invalidation pipeline wired as `strata serve` wires it.
func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	d, err := db.OpenSQLite(ctx, filepath.Join(t.TempDir(), "strata.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if seeded, err := Seed(ctx, d, 0); err != nil || !seeded {
		t.Fatalf("Seed = %v, %v", seeded, err)
	}
	if seeded, _ := Seed(ctx, d, 0); seeded {
		t.Error("Seed seeded a non-empty catalog")
	}
	bus := inval.NewMemory(nil)
	t.Cleanup(func() { bus.Close() })
	tracker := inval.NewTracker(bus)
	t.Cleanup(func() { tracker.Close() })
	relay, err := inval.NewRelay(ctx, inval.RelayConfig{Outbox: db.Outbox{DB: d}, Publisher: tracker})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{db: d, relay: relay, bus: bus}
	svc, err := New(Config{
		Repo:       SQLRepo{DB: d},
		AdminToken: token,
		AfterWrite: func(ctx context.Context) (uint64, error) {
			inv, err := relay.Sync(ctx)
			if err != nil {
				return 0, err
			}
			return inv.Version, bus.WaitAcked(ctx, inv.Seq)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	bus.Subscribe("l1", func(_ context.Context, ev inval.Event) error {
		svc.Invalidate(context.Background(), ev.Version, ev.Keys...)
		return nil
	})
	e.srv = httptest.NewServer(svc)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) do(t *testing.T, method, path, body string, kv ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Set(kv[i], kv[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestDataCacheAside(t *testing.T) {
	e := newEnv(t)
	var first, second DataResponse
	_, body := e.do(t, "GET", "/api/data", "")
	json.Unmarshal([]byte(body), &first)
	resp, body := e.do(t, "GET", "/api/data", "")
	json.Unmarshal([]byte(body), &second)
	if first.CacheHit || first.Source != "database" || first.Data.Products != 12 {
		t.Errorf("first = %+v", first)
	}
	if !second.CacheHit || second.Source != "l1" || first.QueryTime == "" {
		t.Errorf("second = %+v", second)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=60" {
		t.Errorf("Cache-Control = %q", cc)
	}
	if resp.Header.Get("Surrogate-Key") != "products" || resp.Header.Get("X-Cache-Version") == "" {
		t.Errorf("headers = %v", resp.Header)
	}
}

func TestProductHeadersAndConditional(t *testing.T) {
	e := newEnv(t)
	resp, body := e.do(t, "GET", "/api/products/3", "")
	var p Product
	json.Unmarshal([]byte(body), &p)
	if resp.StatusCode != 200 || p.ID != 3 || p.Name != "Cache Mug" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if resp.Header.Get("Etag") != `"p3-v1"` || resp.Header.Get("Surrogate-Key") != "product:3" {
		t.Errorf("headers = %v", resp.Header)
	}
	if resp, _ := e.do(t, "GET", "/api/products/3", "", "If-None-Match", `"p3-v1"`); resp.StatusCode != http.StatusNotModified {
		t.Errorf("conditional GET: %d", resp.StatusCode)
	}
}

func TestList(t *testing.T) {
	e := newEnv(t)
	_, body := e.do(t, "GET", "/api/products?offset=10&limit=5", "")
	var page Page
	json.Unmarshal([]byte(body), &page)
	if page.Total != 12 || len(page.Items) != 2 || page.Items[0].ID != 11 {
		t.Errorf("page = %+v", page)
	}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t)
	auth := []string{"Authorization", "Bearer " + token}
	tests := []struct {
		name, method, path, body string
		kv                       []string
		status                   int
	}{
		{"bad id", "GET", "/api/products/abc", "", nil, 400},
		{"unknown product", "GET", "/api/products/999", "", nil, 404},
		{"bad limit", "GET", "/api/products?limit=1000", "", nil, 400},
		{"zero limit", "GET", "/api/products?limit=0", "", nil, 400},
		{"no route", "GET", "/api/nope", "", nil, 404},
		{"no token", "PUT", "/api/products/1", `{"name":"x"}`, nil, 401},
		{"wrong token", "PUT", "/api/products/1", `{"name":"x"}`, []string{"Authorization", "Bearer nope"}, 401},
		{"malformed json", "PUT", "/api/products/1", `{"name":`, auth, 400},
		{"unknown field", "PUT", "/api/products/1", `{"colour":"red"}`, auth, 400},
		{"trailing data", "PUT", "/api/products/1", `{"name":"a"} {}`, auth, 400},
		{"empty update", "PUT", "/api/products/1", `{}`, auth, 400},
		{"negative price", "PUT", "/api/products/1", `{"price_cents":-1}`, auth, 400},
		{"too large", "PUT", "/api/products/1", `{"description":"` + strings.Repeat("x", maxBody) + `"}`, auth, 413},
		{"unknown product put", "PUT", "/api/products/999", `{"name":"x"}`, auth, 404},
		{"stale if-match", "PUT", "/api/products/1", `{"name":"x"}`, append([]string{"If-Match", `"p1-v7"`}, auth...), 412},
		{"foreign if-match", "PUT", "/api/products/1", `{"name":"x"}`, append([]string{"If-Match", `"p2-v1"`}, auth...), 412},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.do(t, tt.method, tt.path, tt.body, tt.kv...)
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d (%s)", resp.StatusCode, tt.status, body)
			}
			var msg map[string]string
			if err := json.Unmarshal([]byte(body), &msg); err != nil || msg["error"] == "" {
				t.Errorf("error body %q is not JSON with an error", body)
			}
		})
	}
	// Nothing was changed by the rejected writes.
	_, body := e.do(t, "GET", "/api/products/1", "")
	if !strings.Contains(body, `"version": 1`) {
		t.Errorf("product 1 changed: %s", body)
	}
}

func TestPutInvalidatesCache(t *testing.T) {
	e := newEnv(t)
	e.do(t, "GET", "/api/products/2", "")
	e.do(t, "GET", "/api/data", "")
	resp, body := e.do(t, "PUT", "/api/products/2", `{"name":"Edge Pen II","stock":5}`,
		"Authorization", "Bearer "+token, "If-Match", `"p2-v1"`)
	if resp.StatusCode != 200 || resp.Header.Get("X-Invalidation") != "completed" || resp.Header.Get("Etag") != `"p2-v2"` {
		t.Fatalf("PUT: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	// The invalidation that covers the write is named by its data version:
	// the outbox row the PUT wrote, after the seed's.
	last, _ := db.Outbox{DB: e.db}.Last(context.Background())
	if got := resp.Header.Get("X-Data-Version"); got == "" || got != strconv.FormatUint(last, 10) {
		t.Errorf("X-Data-Version = %q, want %d", got, last)
	}
	resp, body = e.do(t, "GET", "/api/products/2", "")
	var p Product
	json.Unmarshal([]byte(body), &p)
	if resp.Header.Get("Etag") != `"p2-v2"` {
		t.Errorf("after PUT the ETag is %q", resp.Header.Get("Etag"))
	}
	if p.Name != "Edge Pen II" || p.Stock != 5 || p.Version != 2 || p.PriceCents != 320 {
		t.Errorf("after PUT got %+v", p)
	}
	var d DataResponse
	_, body = e.do(t, "GET", "/api/data", "")
	json.Unmarshal([]byte(body), &d)
	if d.CacheHit || d.Data.TotalStock == 0 {
		t.Errorf("summary not invalidated: %+v", d)
	}
}

// A write made outside Strata (any SQL client) reaches the cache through the
// trigger-written outbox.
func TestExternalWriteInvalidates(t *testing.T) {
	e := newEnv(t)
	e.do(t, "GET", "/api/products/4", "")
	if _, err := e.db.Exec(`UPDATE products SET name = 'Outside Tote' WHERE id = 4`); err != nil {
		t.Fatal(err)
	}
	inv, err := e.relay.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e.bus.WaitAcked(context.Background(), inv.Seq)
	if _, body := e.do(t, "GET", "/api/products/4", ""); !strings.Contains(body, "Outside Tote") {
		t.Errorf("external write not visible: %s", body)
	}
}

// stubRepo accepts every update; it lets the fuzzer exercise request parsing
// without a database.
type stubRepo struct{ Repository }

func (stubRepo) UpdateProduct(_ context.Context, id int64, _ Update, _ int64) (Product, error) {
	return Product{ID: id, Version: 2}, nil
}

// Whatever the body and headers, PUT answers 200, a 4xx, or the mux's
// redirect to a clean path; never a 5xx.
func FuzzPutProduct(f *testing.F) {
	for _, s := range []string{`{"name":"a"}`, `{"price_cents":-1}`, `{"name":`, `{}`, `{"stock":1e99}`} {
		f.Add(s, `"p1-v1"`, "1")
	}
	svc, err := New(Config{Repo: stubRepo{}, AdminToken: token})
	if err != nil {
		f.Fatal(err)
	}
	defer svc.Close()
	f.Fuzz(func(t *testing.T, body, ifMatch, id string) {
		req := httptest.NewRequest("PUT", "/api/products/1", strings.NewReader(body))
		req.URL.Path = "/api/products/" + url.PathEscape(id)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("If-Match", ifMatch)
		rec := httptest.NewRecorder()
		svc.ServeHTTP(rec, req)
		if rec.Code != 200 && rec.Code != http.StatusTemporaryRedirect && (rec.Code < 400 || rec.Code > 499) {
			t.Fatalf("PUT %q %q: status %d %s", id, body, rec.Code, rec.Body)
		}
	})
}

// Seed with n above the samples generates products up to n, each with its
// outbox row.
func TestSeedGenerates(t *testing.T) {
	ctx := context.Background()
	d, err := db.OpenSQLite(ctx, filepath.Join(t.TempDir(), "strata.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if seeded, err := Seed(ctx, d, 100); err != nil || !seeded {
		t.Fatalf("Seed = %v, %v", seeded, err)
	}
	var n, distinct int
	d.QueryRow(`SELECT COUNT(*), COUNT(DISTINCT sku) FROM products`).Scan(&n, &distinct)
	if n != 100 || distinct != 100 {
		t.Errorf("%d products, %d distinct SKUs; want 100", n, distinct)
	}
	if last, _ := (db.Outbox{DB: d}).Last(ctx); last < 100 {
		t.Errorf("outbox at %d after seeding 100 products", last)
	}
}
