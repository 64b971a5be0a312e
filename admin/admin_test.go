package admin

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-cache/strata/inval"
)

const tok = "s3cret"

var quiet = slog.New(slog.DiscardHandler)

func newServer(t *testing.T, sub inval.Handler) *httptest.Server {
	t.Helper()
	srv, _ := newServerBus(t, sub, Config{})
	return srv
}

// newServerBus returns an admin server on a memory bus with sub (if not
// nil) subscribed as "edge", configured by cfg plus the token, tracker and
// a metrics handler.
func newServerBus(t *testing.T, sub inval.Handler, cfg Config) (*httptest.Server, *inval.Memory) {
	t.Helper()
	bus := inval.NewMemory(quiet)
	t.Cleanup(func() { bus.Close() })
	if sub != nil {
		bus.Subscribe("edge", sub)
	}
	tr := inval.NewTracker(bus)
	t.Cleanup(func() { tr.Close() })
	cfg.Token, cfg.Tracker = tok, tr
	cfg.Metrics = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "strata_up 1\n") })
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, bus
}

// assertNothingPublished checks that no event was published on bus: the
// next event gets sequence number 1.
func assertNothingPublished(t *testing.T, bus inval.Bus) {
	t.Helper()
	if seq, err := bus.Publish(context.Background(), inval.Event{}); err != nil || seq != 1 {
		t.Errorf("%d events were published, want none (%v)", seq-1, err)
	}
}

func call(t *testing.T, srv *httptest.Server, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

func TestAuth(t *testing.T) {
	srv, bus := newServerBus(t, nil, Config{})
	for _, path := range []string{"/metrics", "/invalidations/I1", "/invalidations", "/cache/inventory"} {
		for _, token := range []string{"", "wrong"} {
			if code, m := call(t, srv, "GET", path, token, ""); code != 401 || m["error"] == nil {
				t.Errorf("GET %s with %q: %d %v", path, token, code, m)
			}
		}
	}
	for _, path := range []string{"/invalidations", "/purge"} {
		for _, token := range []string{"", "wrong"} {
			if code, _ := call(t, srv, "POST", path, token, `{"paths":["/"]}`); code != 401 {
				t.Errorf("unauthorised POST %s with %q: %d", path, token, code)
			}
		}
	}
	assertNothingPublished(t, bus)
	if code, _ := call(t, srv, "GET", "/healthz", "", ""); code != 200 {
		t.Errorf("healthz: %d", code)
	}
	if code, _ := call(t, srv, "GET", "/metrics", tok, ""); code != 200 {
		t.Errorf("metrics with token: %d", code)
	}
}

func TestInvalidationLifecycle(t *testing.T) {
	release := make(chan struct{})
	srv := newServer(t, func(context.Context, inval.Event) error { <-release; return nil })
	code, m := call(t, srv, "POST", "/invalidations", tok, `{"paths":["/api/*"],"callerReference":"r1"}`)
	if code != 201 || m["status"] != "InProgress" {
		t.Fatalf("create: %d %v", code, m)
	}
	id := m["id"].(string)
	if code, m = call(t, srv, "GET", "/invalidations/"+id+"?wait=1ms", tok, ""); code != 200 || m["status"] != "InProgress" {
		t.Errorf("wait that times out: %d %v", code, m)
	}
	close(release)
	if code, m = call(t, srv, "GET", "/invalidations/"+id+"?wait=1m", tok, ""); code != 200 || m["status"] != "Completed" {
		t.Errorf("wait: %d %v", code, m)
	}
	if code, _ = call(t, srv, "POST", "/invalidations", tok, `{"paths":["/other"],"callerReference":"r1"}`); code != 409 {
		t.Errorf("reused caller reference: %d", code)
	}
}

func TestBadRequests(t *testing.T) {
	srv, bus := newServerBus(t, nil, Config{})
	for _, tt := range []struct {
		method, path, body string
		code               int
	}{
		{"POST", "/invalidations", `{"paths":`, 400},
		{"POST", "/invalidations", `{"pathz":["/"]}`, 400},
		{"POST", "/invalidations", `{"paths":["nope"]}`, 400},
		{"POST", "/invalidations", `{"paths":[]}`, 400},
		{"POST", "/invalidations", `{}`, 400},
		{"POST", "/invalidations", `{"urls":["/relative"]}`, 400},
		{"POST", "/invalidations", `{"urls":["ftp://h/x"]}`, 400},
		{"POST", "/invalidations", `{"all":true,"paths":["/"]}`, 400},
		{"POST", "/invalidations", `{"tags":["a b"]}`, 400},
		{"POST", "/invalidations", `{"soft":"yes","paths":["/"]}`, 400},
		{"POST", "/invalidations", `{"paths":["/"]} {}`, 400},
		{"POST", "/invalidations", `{"paths":["/` + strings.Repeat("a", maxBody) + `"]}`, 413},
		{"POST", "/purge", `{"paths":["nope"]}`, 400},
		{"POST", "/purge?wait=soon", `{"paths":["/"]}`, 400},
		{"POST", "/purge?wait=-1s", `{"paths":["/"]}`, 400},
		{"POST", "/purge", `{"paths":`, 400},
		{"GET", "/invalidations/Iunknown", "", 404},
		{"GET", "/invalidations/Iunknown?wait=1s", "", 404},
		{"GET", "/invalidations?limit=0", "", 400},
		{"GET", "/invalidations?limit=x", "", 400},
	} {
		if code, m := call(t, srv, tt.method, tt.path, tok, tt.body); code != tt.code || m["error"] == nil {
			t.Errorf("%s %s %.30q: %d %v, want %d", tt.method, tt.path, tt.body, code, m, tt.code)
		}
	}
	assertNothingPublished(t, bus)
	if _, err := New(Config{Tracker: inval.NewTracker(inval.NewMemory(nil))}); err == nil {
		t.Error("New accepted an empty token")
	}
}

func TestLoadOrCreateToken(t *testing.T) {
	dir := t.TempDir()
	if got, created, err := LoadOrCreateToken(dir, "given"); got != "given" || created || err != nil {
		t.Errorf("explicit: %q %v %v", got, created, err)
	}
	first, created, err := LoadOrCreateToken(dir, "")
	if err != nil || !created || len(first) < 30 {
		t.Fatalf("generate: %q %v %v", first, created, err)
	}
	st, _ := os.Stat(filepath.Join(dir, TokenFile))
	if st.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v", st.Mode().Perm())
	}
	again, created, err := LoadOrCreateToken(dir, "")
	if err != nil || created || again != first {
		t.Errorf("reload: %q %v %v", again, created, err)
	}
	os.WriteFile(filepath.Join(dir, TokenFile), []byte("\n"), 0o600)
	if _, _, err := LoadOrCreateToken(dir, ""); err == nil {
		t.Error("empty token file accepted")
	}
}

// Whatever the body, POST /invalidations answers 201 or a 4xx, never a 5xx.
func FuzzCreateInvalidation(f *testing.F) {
	for _, s := range []string{`{"paths":["/a"]}`, `{"paths":`, `{"tags":["x"],"callerReference":"r"}`, `[]`, `{"paths":["/a"]} x`} {
		f.Add(s)
	}
	bus := inval.NewMemory(nil)
	defer bus.Close()
	h, _ := New(Config{Token: tok, Tracker: inval.NewTracker(bus)})
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/invalidations", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 201 && (rec.Code < 400 || rec.Code > 499) {
			t.Fatalf("body %q: status %d %s", body, rec.Code, rec.Body)
		}
	})
}
