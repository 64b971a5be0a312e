package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/strata-cache/strata/inval"
)

func TestInvalidationStatus(t *testing.T) {
	release := make(chan struct{})
	var (
		mu  sync.Mutex
		got []inval.Event
	)
	srv := newServer(t, func(_ context.Context, ev inval.Event) error {
		<-release
		mu.Lock()
		got = append(got, ev)
		mu.Unlock()
		return nil
	})
	code, m := call(t, srv, "POST", "/invalidations", tok, `{"urls":["https://shop.example/p?id=1"],"tags":["product:1"],"soft":true}`)
	if code != 201 || m["status"] != "InProgress" || m["soft"] != true || !strings.HasPrefix(m["by"].(string), "admin@127.0.0.1:") {
		t.Fatalf("create: %d %v", code, m)
	}
	if _, ok := m["completeTime"]; ok {
		t.Errorf("completeTime while in progress: %v", m)
	}
	nodes := m["nodes"].([]any)
	if len(nodes) != 1 || nodes[0].(map[string]any)["node"] != "edge" || nodes[0].(map[string]any)["done"] != false || nodes[0].(map[string]any)["live"] != true {
		t.Errorf("nodes: %v", nodes)
	}
	id := m["id"].(string)
	close(release)
	code, m = call(t, srv, "GET", "/invalidations/"+id+"?wait=1m", tok, "")
	if code != 200 || m["status"] != "Completed" || m["completeTime"] == nil || m["createTime"] == nil {
		t.Fatalf("status: %d %v", code, m)
	}
	if n := m["nodes"].([]any)[0].(map[string]any); n["done"] != true || n["applied"] != m["seq"] {
		t.Errorf("node progress when done: %v", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].URLs[0] != "https://shop.example/p?id=1" || got[0].Tags[0] != "product:1" || !got[0].Soft || got[0].By != m["by"] {
		t.Errorf("the edge got %+v", got)
	}
}

func TestListInvalidations(t *testing.T) {
	srv := newServer(t, nil)
	var ids []string
	for _, body := range []string{`{"paths":["/a"]}`, `{"all":true}`, `{"tags":["t"]}`} {
		code, m := call(t, srv, "POST", "/invalidations", tok, body)
		if code != 201 {
			t.Fatalf("create %s: %d %v", body, code, m)
		}
		ids = append(ids, m["id"].(string))
	}
	code, m := call(t, srv, "GET", "/invalidations?limit=2", tok, "")
	if code != 200 {
		t.Fatalf("list: %d %v", code, m)
	}
	list := m["invalidations"].([]any)
	if len(list) != 2 || list[0].(map[string]any)["id"] != ids[2] || list[1].(map[string]any)["id"] != ids[1] || list[1].(map[string]any)["all"] != true {
		t.Errorf("list: %v (created %v)", list, ids)
	}
	if code, m := call(t, srv, "GET", "/invalidations", tok, ""); code != 200 || len(m["invalidations"].([]any)) != 3 {
		t.Errorf("list without limit: %d %v", code, m)
	}
}

func TestPurge(t *testing.T) {
	release := make(chan struct{})
	srv := newServer(t, func(ctx context.Context, ev inval.Event) error {
		if ev.Tags[0] == "slow" {
			<-release
		}
		return nil
	})
	defer close(release)
	code, m := call(t, srv, "POST", "/purge", tok, `{"tags":["fast"]}`)
	if code != 200 || m["status"] != "Completed" || m["completeTime"] == nil {
		t.Errorf("purge: %d %v", code, m)
	}
	code, m = call(t, srv, "POST", "/purge?wait=20ms", tok, `{"tags":["slow"]}`)
	if code != 504 || m["error"] == nil {
		t.Fatalf("purge that cannot complete: %d %v", code, m)
	}
	inv := m["invalidation"].(map[string]any)
	if inv["status"] != "InProgress" {
		t.Errorf("the 504's invalidation: %v", inv)
	}
	if code, m := call(t, srv, "GET", "/invalidations/"+inv["id"].(string), tok, ""); code != 200 || m["status"] != "InProgress" {
		t.Errorf("the timed-out purge's status: %d %v", code, m)
	}
}

// serve calls h in process, for tests in a synctest bubble.
func serve(h http.Handler, method, target, token, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := inval.NewMemory(quiet)
		defer bus.Close()
		tr := inval.NewTracker(bus)
		defer tr.Close()
		h, err := New(Config{Token: tok, Tracker: tr, Logger: quiet, RateLimit: 10, RateBurst: 20})
		if err != nil {
			t.Fatal(err)
		}
		paths := func(n int) string {
			b, _ := json.Marshal(CreateRequest{Paths: strings.Split(strings.Repeat("/p,", n-1)+"/p", ",")})
			return string(b)
		}
		if rec := serve(h, "POST", "/invalidations", tok, paths(15)); rec.Code != 201 {
			t.Fatalf("15 of a burst of 20: %d %s", rec.Code, rec.Body)
		}
		// 5 left; 10 more need 0.5s.
		rec := serve(h, "POST", "/purge", tok, paths(10))
		if rec.Code != 429 || rec.Header().Get("Retry-After") != "1" {
			t.Fatalf("over the limit: %d %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
		}
		// A bad request is refused as such, and costs nothing.
		if rec := serve(h, "POST", "/invalidations", tok, `{"paths":["bad"]}`); rec.Code != 400 {
			t.Errorf("bad request while limited: %d", rec.Code)
		}
		time.Sleep(500 * time.Millisecond)
		if rec := serve(h, "POST", "/invalidations", tok, paths(10)); rec.Code != 201 {
			t.Errorf("after refilling: %d %s", rec.Code, rec.Body)
		}
		// Larger than the burst: accepted with a full bucket only.
		if rec := serve(h, "POST", "/invalidations", tok, paths(30)); rec.Code != 429 {
			t.Errorf("30 with an empty bucket: %d", rec.Code)
		}
		time.Sleep(2 * time.Second)
		if rec := serve(h, "POST", "/invalidations", tok, paths(30)); rec.Code != 201 {
			t.Errorf("30 with a full bucket: %d %s", rec.Code, rec.Body)
		}
		if rec := serve(h, "POST", "/invalidations", tok, paths(1)); rec.Code != 429 || rec.Header().Get("Retry-After") != "2" {
			t.Errorf("after going below zero: %d %q", rec.Code, rec.Header().Get("Retry-After"))
		}
		// Only the three accepted requests were published.
		if seq, _ := bus.Publish(context.Background(), inval.Event{}); seq != 4 {
			t.Errorf("%d invalidations published, want 3", seq-1)
		}
	})
}

func TestNoRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := inval.NewMemory(quiet)
		defer bus.Close()
		tr := inval.NewTracker(bus)
		defer tr.Close()
		h, _ := New(Config{Token: tok, Tracker: tr, Logger: quiet, RateLimit: -1})
		for range 20 {
			b, _ := json.Marshal(CreateRequest{Paths: make([]string, inval.MaxPaths)})
			b = bytes.ReplaceAll(b, []byte(`""`), []byte(`"/"`))
			if rec := serve(h, "POST", "/invalidations", tok, string(b)); rec.Code != 201 {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
		}
	})
}

// Every call is logged with who asked, what, and the result.
func TestCallLog(t *testing.T) {
	var (
		mu  sync.Mutex
		buf bytes.Buffer
	)
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{mu: &mu, w: &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, _ := newServerBus(t, nil, Config{Logger: logger})
	code, m := call(t, srv, "POST", "/invalidations", tok, `{"paths":["/a","/b"],"tags":["t"],"callerReference":"r1"}`)
	if code != 201 {
		t.Fatal(code, m)
	}
	call(t, srv, "POST", "/purge", "", `{"all":true}`)
	call(t, srv, "POST", "/invalidations", tok, `{"paths":["bad"]}`)
	mu.Lock()
	defer mu.Unlock()
	var lines []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		var rec map[string]any
		if err := json.Unmarshal(l, &rec); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		lines = append(lines, rec)
	}
	if len(lines) != 3 {
		t.Fatalf("%d log lines, want 3:\n%s", len(lines), buf.String())
	}
	created := lines[0]
	if created["level"] != "INFO" || !strings.HasPrefix(created["by"].(string), "admin@127.0.0.1:") || created["status"] != 201.0 ||
		created["paths"] != 2.0 || created["tags"] != 1.0 || created["invalidation"] != m["id"] || created["callerReference"] != "r1" {
		t.Errorf("creation logged as %v", created)
	}
	if l := lines[1]; l["level"] != "WARN" || l["status"] != 401.0 || l["path"] != "/purge" || l["by"] == nil {
		t.Errorf("refused call logged as %v", l)
	}
	if l := lines[2]; l["level"] != "WARN" || l["status"] != 400.0 || l["err"] == nil {
		t.Errorf("bad call logged as %v", l)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

func TestBucket(t *testing.T) {
	now := time.Unix(0, 0)
	b := newBucket(100, 10, func() time.Time { return now })
	if w := b.take(10); w != 0 {
		t.Fatalf("full bucket refused 10: %v", w)
	}
	if w := b.take(1); w != 10*time.Millisecond {
		t.Errorf("empty bucket: wait %v, want 10ms", w)
	}
	now = now.Add(50 * time.Millisecond)
	if w := b.take(5); w != 0 {
		t.Errorf("after 50ms: %v", w)
	}
	now = now.Add(time.Hour)
	if w := b.take(25); w != 0 { // more than the burst, with a full bucket
		t.Errorf("over the burst with a full bucket: %v", w)
	}
	if w := b.take(1); w != 160*time.Millisecond { // -15 → 1 takes 160ms
		t.Errorf("below zero: wait %v, want 160ms", w)
	}
}

// A bus that cannot take the invalidation gets 503, not a bare 500.
func TestBusUnavailable(t *testing.T) {
	bus := inval.NewMemory(quiet)
	bus.Close()
	tr := inval.NewTracker(bus)
	defer tr.Close()
	h, _ := New(Config{Token: tok, Tracker: tr, Logger: quiet})
	for _, path := range []string{"/invalidations", "/purge"} {
		if rec := serve(h, "POST", path, tok, `{"paths":["/"]}`); rec.Code != 503 || !strings.Contains(rec.Body.String(), "try again") {
			t.Errorf("POST %s: %d %s", path, rec.Code, rec.Body)
		}
	}
}
