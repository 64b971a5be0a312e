package edge

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-cache/strata/edge/config"
	"github.com/strata-cache/strata/edge/oac"
	"github.com/strata-cache/strata/edge/signed"
	"github.com/strata-cache/strata/edge/store"
	"github.com/strata-cache/strata/site"
)

// newPolicyHarness is newHarness with a hook on the Config.
func newPolicyHarness(t *testing.T, mut func(*Config), bs ...Behavior) *harness {
	t.Helper()
	st, err := store.NewMemory(store.Options{MaxBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	c := &clock{now: time.Now().Truncate(time.Second)}
	cfg := Config{Behaviors: bs, Store: st, Now: c.Now, MaxObjectSize: 64 << 10, CardinalitySample: 1}
	if mut != nil {
		mut(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{edge: e, clock: c, store: st, srv: httptest.NewServer(e)}
	t.Cleanup(h.srv.Close)
	t.Cleanup(e.Close)
	return h
}

// echo answers with the request as the origin saw it.
func echo(cc string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		fmt.Fprintf(w, "%s %s?%s cookie=%q", r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Cookie"))
	}
}

func originOf(o *origin) http.RoundTripper {
	u, _ := url.Parse(o.srv.URL)
	return URLOrigin(u, nil)
}

func testPolicy(mut func(p *config.CachePolicy)) *config.CachePolicy {
	p := &config.CachePolicy{Name: "test", DefaultTTL: time.Hour, MaxTTL: 24 * time.Hour}
	if mut != nil {
		mut(p)
	}
	return p
}

func pattern(s string) *config.Pattern {
	p := config.MustCompilePattern(s)
	return &p
}

func TestPolicyPatternOrderAndDefault(t *testing.T) {
	named := func(name string) http.RoundTripper {
		return HandlerOrigin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) }))
	}
	h := newPolicyHarness(t, nil,
		Behavior{Path: pattern("/api/v1/*"), Origin: named("v1")},
		Behavior{Path: pattern("/api/*"), Origin: named("api")},
		Behavior{Path: pattern("/img/*.jpg"), Origin: named("jpg")},
		Behavior{Path: pattern("/v?/status"), Origin: named("status")},
		Behavior{Pattern: "/legacy/*", Origin: named("legacy")},
		Behavior{Pattern: "*", Origin: named("default")},
	)
	for path, want := range map[string]string{
		"/api/v1/x":     "v1",
		"/api/v2/x":     "api",
		"/api":          "default", // CloudFront: /api/* does not match /api
		"/img/a/b.jpg":  "jpg",
		"/img/a/b.png":  "default",
		"/v2/status":    "status",
		"/v10/status":   "default",
		"/legacy":       "legacy", // the old Pattern keeps its meaning
		"/legacy/x":     "legacy",
		"/index.html":   "default",
		"/API/v1/x":     "default", // case-sensitive
		"/img/%41.jpg":  "jpg",
		"/api/v1?x=y/z": "api", // the query is not part of the path
	} {
		if _, body := h.do(t, "GET", path); body != want {
			t.Errorf("GET %s went to %q, want %q", path, body, want)
		}
	}
}

func TestPolicyAllowedMethods(t *testing.T) {
	o := newOrigin(t, echo("max-age=60"))
	h := newPolicyHarness(t, nil, Behavior{Pattern: "*", Origin: originOf(o), AllowedMethods: config.MethodsGetHead})
	resp, _ := h.do(t, "POST", "/x")
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST = %d Allow %q, want 405 GET, HEAD", resp.StatusCode, resp.Header.Get("Allow"))
	}
	if o.calls.Load() != 0 {
		t.Errorf("refused request reached the origin")
	}
	if resp, _ := h.do(t, "GET", "/x"); resp.StatusCode != 200 {
		t.Errorf("GET = %d", resp.StatusCode)
	}
}

func TestPolicyOptionsCachedOnlyWhenListed(t *testing.T) {
	for _, tc := range []struct {
		cached    config.Methods
		wantCalls int64
	}{{config.MethodsGetHead, 2}, {config.MethodsGetHeadOptions, 1}} {
		o := newOrigin(t, echo("max-age=60"))
		h := newPolicyHarness(t, nil, Behavior{Pattern: "*", Origin: originOf(o), AllowedMethods: config.MethodsGetHeadOptions, CachedMethods: tc.cached, CachePolicy: testPolicy(nil)})
		for range 2 {
			if _, body := h.do(t, "OPTIONS", "/x"); !strings.HasPrefix(body, "OPTIONS /x") {
				t.Fatalf("OPTIONS got %q", body)
			}
		}
		if got := o.calls.Load(); got != tc.wantCalls {
			t.Errorf("cached %v: %d origin calls for two OPTIONS, want %d", tc.cached, got, tc.wantCalls)
		}
		// GET has its own entry.
		if _, body := h.do(t, "GET", "/x"); !strings.HasPrefix(body, "GET /x") {
			t.Errorf("GET after OPTIONS got %q", body)
		}
	}
}

func TestPolicyViewerProtocol(t *testing.T) {
	o := newOrigin(t, echo("max-age=60"))
	h := newPolicyHarness(t, nil,
		Behavior{Path: pattern("/secure/*"), Origin: originOf(o), ViewerProtocol: config.HTTPSOnly},
		Behavior{Pattern: "*", Origin: originOf(o), ViewerProtocol: config.RedirectToHTTPS},
	)
	resp, _ := h.do(t, "GET", "/page?a=1")
	host := strings.Split(strings.TrimPrefix(h.srv.URL, "http://"), ":")[0]
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "https://"+host+"/page?a=1" {
		t.Errorf("redirect-to-https GET = %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := h.do(t, "POST", "/page"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("redirect-to-https POST = %d, want 403", resp.StatusCode)
	}
	if resp, _ := h.do(t, "GET", "/secure/x"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("https-only over HTTP = %d, want 403", resp.StatusCode)
	}
	if o.calls.Load() != 0 {
		t.Errorf("refused requests reached the origin")
	}
	// The same edge over TLS serves both.
	tlsSrv := httptest.NewTLSServer(h.edge)
	defer tlsSrv.Close()
	for _, p := range []string{"/secure/x", "/page"} {
		resp, err := tlsSrv.Client().Get(tlsSrv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "GET "+p) {
			t.Errorf("GET %s over TLS = %d %q", p, resp.StatusCode, body)
		}
	}
	// Forwarded headers do not make a plain request look like HTTPS.
	if resp, _ := h.do(t, "GET", "/secure/x", "X-Forwarded-Proto", "https"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("X-Forwarded-Proto: https was trusted: %d", resp.StatusCode)
	}
}

func TestPolicyKeyNormalisation(t *testing.T) {
	type step struct {
		path  string
		kv    []string
		calls int64 // origin calls after the request
	}
	for _, tc := range []struct {
		name   string
		policy *config.CachePolicy
		steps  []step
	}{
		{"query all, order does not matter", testPolicy(func(p *config.CachePolicy) { p.QueryStrings.Mode = config.FilterAll }), []step{
			{"/p?b=2&a=1", nil, 1}, {"/p?a=1&b=2", nil, 1}, {"/p?a=1&b=2&", nil, 1}, {"/p?a=%31&b=2", nil, 1},
			{"/p?a=1&b=3", nil, 2}, {"/p", nil, 3}, {"/p?a=1", nil, 4}, {"/p?a=1&a=2", nil, 5}, {"/p?a=2&a=1", nil, 6},
		}},
		{"query none", testPolicy(nil), []step{{"/p?a=1", nil, 1}, {"/p?a=2", nil, 1}, {"/p", nil, 1}}},
		{"query deny", testPolicy(func(p *config.CachePolicy) {
			p.QueryStrings = config.KeyFilter{Mode: config.FilterDeny, Names: []string{"utm_source"}}
		}), []step{{"/p?x=1&utm_source=a", nil, 1}, {"/p?utm_source=b&x=1", nil, 1}, {"/p?x=2", nil, 2}}},
		{"query allow", testPolicy(func(p *config.CachePolicy) {
			p.QueryStrings = config.KeyFilter{Mode: config.FilterAllow, Names: []string{"page"}}
		}), []step{{"/p?page=1&z=9", nil, 1}, {"/p?z=8&page=1", nil, 1}, {"/p?page=2", nil, 2}}},
		{"header in key", testPolicy(func(p *config.CachePolicy) {
			p.Headers = config.KeyFilter{Mode: config.FilterAllow, Names: []string{"x-device"}, Fold: true}
		}), []step{{"/p", []string{"X-Device", "phone"}, 1}, {"/p", []string{"X-Device", "desktop"}, 2}, {"/p", []string{"X-Device", "phone"}, 2}, {"/p", nil, 3}, {"/p", []string{"X-Other", "1"}, 3}}},
		{"cookie in key", testPolicy(func(p *config.CachePolicy) {
			p.Cookies = config.KeyFilter{Mode: config.FilterAllow, Names: []string{"lang"}}
		}), []step{{"/p", []string{"Cookie", "lang=en"}, 1}, {"/p", []string{"Cookie", "lang=fr"}, 2}, {"/p", []string{"Cookie", "other=1; lang=en"}, 2}, {"/p", nil, 3}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrigin(t, echo("max-age=60"))
			h := newPolicyHarness(t, nil, Behavior{Pattern: "*", Origin: originOf(o), CachePolicy: tc.policy})
			for _, s := range tc.steps {
				h.do(t, "GET", s.path, s.kv...)
				if got := o.calls.Load(); got != s.calls {
					t.Fatalf("after GET %s %v: %d origin calls, want %d", s.path, s.kv, got, s.calls)
				}
			}
		})
	}
}

func TestPolicyKeyUnambiguous(t *testing.T) {
	p := testPolicy(func(p *config.CachePolicy) {
		p.QueryStrings.Mode = config.FilterAll
		p.Headers = config.KeyFilter{Mode: config.FilterAllow, Names: []string{"A", "B"}, Fold: true}
		p.Cookies.Mode = config.FilterAll
	})
	b := Behavior{Pattern: "*", CachePolicy: p, Origin: HandlerOrigin(http.NotFoundHandler())}
	b.state = newBehaviorState(&b)
	e := &Edge{}
	keys := map[string]string{}
	for _, tc := range []struct {
		uri string
		kv  []string
	}{
		{"/p?a=1&b=2", nil}, {"/p?a=1%26b%3D2", nil}, {"/p?a=1", []string{"A", "x"}},
		{"/p?a=1", []string{"A", "x", "B", ""}}, {"/p?a=1", []string{"A", "x,B"}}, {"/p?a=1", []string{"B", "x"}},
		{"/p?a=1", []string{"Cookie", "a=x"}}, {"/p?a=1", []string{"Cookie", "a=x; b=y"}}, {"/p?a=1", []string{"Cookie", "a=x;b=y"}}, {"/p?a=", nil}, {"/p?a", nil},
	} {
		r := httptest.NewRequest("GET", "http://h"+tc.uri, nil)
		for i := 0; i+1 < len(tc.kv); i += 2 {
			r.Header.Add(tc.kv[i], tc.kv[i+1])
		}
		k := e.requestKey(&b, r)
		desc := tc.uri + fmt.Sprint(tc.kv)
		if prev, ok := keys[k]; ok {
			// Only these pairs are the same request.
			same := (prev == "/p?a=1[Cookie a=x; b=y]" && desc == "/p?a=1[Cookie a=x;b=y]") || (prev == "/p?a=[]" && desc == "/p?a[]")
			if !same {
				t.Errorf("%s and %s share the key %q", prev, desc, k)
			}
		}
		keys[k] = desc
	}
}

func TestPolicyOriginGetsOnlyKeyAndOriginRequestPolicy(t *testing.T) {
	o := newOrigin(t, echo("max-age=60"))
	p := testPolicy(func(p *config.CachePolicy) {
		p.QueryStrings = config.KeyFilter{Mode: config.FilterAllow, Names: []string{"page"}}
		p.Headers = config.KeyFilter{Mode: config.FilterAllow, Names: []string{"X-Device"}, Fold: true}
		p.Cookies = config.KeyFilter{Mode: config.FilterAllow, Names: []string{"lang"}}
	})
	orp := &config.OriginRequestPolicy{Name: "orp",
		QueryStrings: config.KeyFilter{Mode: config.FilterAllow, Names: []string{"debug"}},
		Headers:      config.KeyFilter{Mode: config.FilterAllow, Names: []string{"X-Trace"}, Fold: true},
	}
	h := newPolicyHarness(t, nil,
		Behavior{Path: pattern("/orp/*"), Origin: originOf(o), CachePolicy: p, OriginRequestPolicy: orp},
		Behavior{Pattern: "*", Origin: originOf(o), CachePolicy: p})
	_, body := h.do(t, "GET", "/p?z=1&page=2&debug=1", "Cookie", "lang=en; session=secret", "X-Device", "phone", "X-Trace", "t1", "User-Agent", "ua")
	if want := `GET /p?page=2 cookie="lang=en"`; body != want {
		t.Errorf("origin saw %q, want %q", body, want)
	}
	last := o.lastReq.Load()
	if last.Header.Get("X-Device") != "phone" || last.Header.Get("X-Trace") != "" || last.Header.Get("User-Agent") == "ua" {
		t.Errorf("origin headers: %v", last.Header)
	}
	_, body = h.do(t, "GET", "/orp/p?z=1&page=2&debug=1", "X-Trace", "t1")
	if want := `GET /orp/p?page=2&debug=1 cookie=""`; body != want {
		t.Errorf("with the origin request policy the origin saw %q, want %q", body, want)
	}
	if o.lastReq.Load().Header.Get("X-Trace") != "t1" {
		t.Error("origin request policy header not forwarded")
	}
	// debug is forwarded but not in the key: another value is a hit.
	before := o.calls.Load()
	h.do(t, "GET", "/orp/p?page=2&debug=2")
	if o.calls.Load() != before {
		t.Error("a parameter outside the key made a new entry")
	}
}

func TestPolicyPurgeByURLNormalisesQuery(t *testing.T) {
	o := newOrigin(t, echo("max-age=60"))
	p := testPolicy(func(p *config.CachePolicy) {
		p.QueryStrings = config.KeyFilter{Mode: config.FilterDeny, Names: []string{"utm"}}
		p.Headers = config.KeyFilter{Mode: config.FilterAllow, Names: []string{"X-Device"}, Fold: true}
	})
	h := newPolicyHarness(t, nil, Behavior{Pattern: "*", Origin: originOf(o), CachePolicy: p})
	h.do(t, "GET", "/p?b=2&a=1", "X-Device", "phone")
	h.do(t, "GET", "/p?b=2&a=1", "X-Device", "desktop")
	h.do(t, "GET", "/q?x=1")
	if o.calls.Load() != 3 {
		t.Fatalf("%d origin calls", o.calls.Load())
	}
	res := h.edge.Purge(Purge{URLs: []string{h.srv.URL + "/p?a=1&utm=x&b=2"}})
	if res.Removed != 2 {
		t.Errorf("purge by URL removed %d, want both header variants", res.Removed)
	}
	h.do(t, "GET", "/p?a=1&b=2", "X-Device", "phone")
	h.do(t, "GET", "/q?x=1")
	if o.calls.Load() != 4 {
		t.Errorf("%d origin calls: the purge removed the wrong entries", o.calls.Load())
	}
	// An unsafe request invalidates its URL, normalised the same way.
	h.do(t, "POST", "/q?x=1")
	h.do(t, "GET", "/q?x=1")
	if o.calls.Load() != 6 {
		t.Errorf("%d origin calls: POST did not invalidate the normalised URL", o.calls.Load())
	}
}

// logBuffer is a slog handler's output.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}
func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.buf.String() }

func TestPolicyTTL(t *testing.T) {
	p := testPolicy(func(p *config.CachePolicy) {
		p.MinTTL, p.DefaultTTL, p.MaxTTL = 100*time.Second, 60*time.Second, 300*time.Second
	})
	p.DefaultTTL = 100 * time.Second // min <= default
	for _, tc := range []struct {
		name       string
		cc         string
		advance    time.Duration
		wantCached bool
	}{
		{"min raises a short max-age", "max-age=10", 90 * time.Second, true},
		{"min raises max-age=0", "max-age=0", 90 * time.Second, true},
		{"raised lifetime ends", "max-age=10", 101 * time.Second, false},
		{"max lowers a long max-age", "max-age=3600", 301 * time.Second, false},
		{"max keeps what is below it", "max-age=200", 199 * time.Second, true},
		{"default when none", "", 99 * time.Second, true},
		{"default ends", "", 101 * time.Second, false},
		{"no-store is not made shared", "no-store", 0, false},
		{"private is not made shared", "private, max-age=60", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOrigin(t, echo(tc.cc))
			h := newPolicyHarness(t, nil, Behavior{Pattern: "*", Origin: originOf(o), CachePolicy: p})
			h.do(t, "GET", "/x")
			h.clock.Advance(tc.advance)
			resp, _ := h.do(t, "GET", "/x")
			if cached := o.calls.Load() == 1; cached != tc.wantCached {
				t.Errorf("cached = %v after %v, want %v (Cache-Status %q)", cached, tc.advance, tc.wantCached, resp.Header.Get("Cache-Status"))
			}
		})
	}
	t.Run("authorization is not made shared", func(t *testing.T) {
		// Forwarded by the origin request policy, so the origin may have
		// answered for that user alone.
		orp := &config.OriginRequestPolicy{Headers: config.KeyFilter{Mode: config.FilterAllow, Names: []string{"Authorization"}, Fold: true}}
		o := newOrigin(t, echo("max-age=60"))
		h := newPolicyHarness(t, nil, Behavior{Pattern: "*", Origin: originOf(o), CachePolicy: p, OriginRequestPolicy: orp})
		h.do(t, "GET", "/x", "Authorization", "Bearer a")
		h.do(t, "GET", "/x")
		if o.calls.Load() != 2 || o.lastReq.Load().Header.Get("Authorization") != "" {
			t.Errorf("a response to a request with Authorization was shared")
		}
	})
}

func TestPolicyOverridePrivateAndNoStore(t *testing.T) {
	p := testPolicy(func(p *config.CachePolicy) {
		p.MinTTL, p.DefaultTTL, p.MaxTTL = 100*time.Second, 100*time.Second, 300*time.Second
		p.OverridePrivateAndNoStore = true
	})
	o := newOrigin(t, echo("no-store"))
	var logs logBuffer
	h := newPolicyHarness(t, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) },
		Behavior{Pattern: "*", Origin: originOf(o), CachePolicy: p, Name: "risky"})
	for _, path := range []string{"/a", "/a", "/b", "/b"} {
		h.do(t, "GET", path)
	}
	if o.calls.Load() != 2 {
		t.Errorf("%d origin calls, want 2: the override stores no-store responses", o.calls.Load())
	}
	if n := strings.Count(logs.String(), "override_private_and_no_store"); n != 1 {
		t.Errorf("%d warnings, want one per behavior:\n%s", n, logs.String())
	}
}

func TestPolicyCachingDisabled(t *testing.T) {
	o := newOrigin(t, echo("max-age=60"))
	h := newPolicyHarness(t, nil, Behavior{Pattern: "*", Origin: originOf(o), CachePolicy: config.ManagedCachePolicy("CachingDisabled")})
	var resp *http.Response
	for range 2 {
		resp, _ = h.do(t, "GET", "/x")
	}
	if o.calls.Load() != 2 || !strings.Contains(resp.Header.Get("Cache-Status"), "caching-disabled") {
		t.Errorf("%d origin calls, Cache-Status %q", o.calls.Load(), resp.Header.Get("Cache-Status"))
	}
}

func TestPolicyResponseHeaders(t *testing.T) {
	o := newOrigin(t, fixed("max-age=60", "Access-Control-Allow-Origin", "https://origin.example"))
	h := newPolicyHarness(t, nil, Behavior{Pattern: "*", Origin: originOf(o), ResponseHeaders: http.Header{
		"Access-Control-Allow-Origin": {"*"}, "Strict-Transport-Security": {"max-age=31536000"},
	}})
	for _, want := range []string{"Miss", "Hit"} {
		resp, _ := h.do(t, "GET", "/x")
		if !strings.HasPrefix(resp.Header.Get("X-Cache"), want) || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
			resp.Header.Get("Strict-Transport-Security") != "max-age=31536000" {
			t.Errorf("%s: headers %v", want, resp.Header)
		}
	}
	if resp, _ := h.do(t, "GET", "/missing-behavior-is-not-possible"); resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Error("response headers missing")
	}
}

// distribution parses a distribution file written in a temporary directory.
func distribution(t *testing.T, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse(filepath.Join(t.TempDir(), "strata.yaml"), []byte(yaml))
	if err != nil {
		t.Fatalf("%v\n%s", err, yaml)
	}
	return cfg
}

func fromConfig(t *testing.T, cfg *config.Config, opts FromConfigOptions, mut func(*Config)) *harness {
	t.Helper()
	bs, err := FromConfig(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { CloseIdleConnections(bs) })
	return newPolicyHarness(t, mut, bs...)
}

func TestSignedURLs(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	pem, err := signed.MarshalPublicKeyPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	o := newOrigin(t, echo("max-age=60"))
	cfg := distribution(t, fmt.Sprintf(`
origins:
  o: {url: %q}
key_groups:
  signers:
    keys:
      - id: K1
        public_key: %q
behaviors:
  - path: /private/*
    origin: o
    cache_policy: keyed
    signed: {trusted_key_groups: [signers]}
cache_policies:
  keyed: {query_strings: all}
default_behavior:
  origin: o
`, o.srv.URL, pem))
	h := fromConfig(t, cfg, FromConfigOptions{}, nil)
	signer := signed.Signer{KeyID: "K1", Key: priv}
	sign := func(rawURL string, expires time.Time) string {
		s, err := signer.SignURL(rawURL, signed.Policy{Expires: expires})
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimPrefix(s, h.srv.URL)
	}
	now := h.clock.Now()
	valid := sign(h.srv.URL+"/private/doc?v=1", now.Add(time.Hour))
	resp, body := h.do(t, "GET", valid)
	if resp.StatusCode != 200 || body != `GET /private/doc?v=1 cookie=""` {
		t.Errorf("valid signature: %d %q (the origin must not see the signing parameters)", resp.StatusCode, body)
	}
	expired := sign(h.srv.URL+"/private/doc?v=1", now.Add(-time.Second))
	tampered := strings.Replace(valid, "v=1", "v=2", 1)
	for name, uri := range map[string]string{"expired": expired, "tampered": tampered, "unsigned": "/private/doc?v=1"} {
		resp, body := h.do(t, "GET", uri)
		if resp.StatusCode != http.StatusForbidden || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") ||
			resp.Header.Get("Cache-Control") != "no-store" || body == "" || strings.Contains(body, "GET /private") {
			t.Errorf("%s: %d %v %q", name, resp.StatusCode, resp.Header, body)
		}
	}
	// Another valid signature (another expiry) hits the same entry: the
	// signing parameters are not in the key.
	h.do(t, "GET", sign(h.srv.URL+"/private/doc?v=1", now.Add(2*time.Hour)))
	if o.calls.Load() != 1 {
		t.Errorf("%d origin calls: signing parameters reached the key", o.calls.Load())
	}
	if resp, _ := h.do(t, "GET", "/public"); resp.StatusCode != 200 {
		t.Errorf("default behavior needs no signature: %d", resp.StatusCode)
	}
	// The fast path's entry point runs the same check: a signed hit is
	// answered, an unsigned request for the stored object is declined with
	// nothing written (ServeHTTP then refuses it).
	for name, uri := range map[string]string{"signed": valid, "unsigned": "/private/doc?v=1", "expired": expired} {
		w := httptest.NewRecorder()
		ok := h.edge.ServeFresh(w, httptest.NewRequest("GET", h.srv.URL+uri, nil))
		if want := name == "signed"; ok != want || (ok && w.Body.String() != `GET /private/doc?v=1 cookie=""`) || (!ok && (w.Body.Len() != 0 || len(w.Header()) != 0)) {
			t.Errorf("ServeFresh %s: answered %v, %d %q", name, ok, w.Code, w.Body.String())
		}
	}
}

func TestOACToSiteOrigin(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("signed site"), 0o644)
	secret := "0123456789abcdef-secret"
	siteH, err := site.New(site.Config{Dir: dir, OAC: &oac.Verifier{Keys: map[string][]byte{"edge-1": []byte(secret)}}})
	if err != nil {
		t.Fatal(err)
	}
	siteSrv := httptest.NewServer(siteH)
	defer siteSrv.Close()
	if resp, err := http.Get(siteSrv.URL + "/"); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("unsigned direct request: %v %v, want 403", resp, err)
	}
	cfg := distribution(t, fmt.Sprintf(`
origins:
  site:
    url: %q
    oac: {key_id: edge-1, secret: %q}
    headers: {X-Edge: strata}
default_behavior: {origin: site}
`, siteSrv.URL, secret))
	h := fromConfig(t, cfg, FromConfigOptions{}, nil)
	if resp, body := h.do(t, "GET", "/"); resp.StatusCode != 200 || body != "signed site" {
		t.Errorf("through the edge: %d %q", resp.StatusCode, body)
	}
}

func TestOriginGroupFailover(t *testing.T) {
	primary := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	secondary := newOrigin(t, echo("max-age=60"))
	// Port 1 refuses connections. (A closed test server's port can be
	// taken by another test's listener meanwhile, which then accepts and
	// never answers.)
	deadURL := "http://127.0.0.1:1"
	cfg := distribution(t, fmt.Sprintf(`
origins:
  primary: {url: %q}
  dead: {url: %q}
  secondary: {url: %q}
  on-status: {group: {primary: primary, secondary: secondary}}
  on-refused: {group: {primary: dead, secondary: secondary}}
  no-conn-failover: {group: {primary: dead, secondary: secondary, failover_on_connection_error: false}}
behaviors:
  - {path: /status/*, origin: on-status, allowed_methods: [GET, HEAD, OPTIONS, PUT, POST, PATCH, DELETE]}
  - {path: /refused/*, origin: on-refused}
  - {path: /strict/*, origin: no-conn-failover}
default_behavior: {origin: primary}
`, primary.srv.URL, deadURL, secondary.srv.URL))
	h := fromConfig(t, cfg, FromConfigOptions{}, nil)
	if resp, body := h.do(t, "GET", "/status/x"); resp.StatusCode != 200 || !strings.HasPrefix(body, "GET /status/x") {
		t.Errorf("failover on 503: %d %q", resp.StatusCode, body)
	}
	if resp, body := h.do(t, "GET", "/refused/x"); resp.StatusCode != 200 || !strings.HasPrefix(body, "GET /refused/x") {
		t.Errorf("failover on connection refused: %d %q", resp.StatusCode, body)
	}
	if resp, _ := h.do(t, "GET", "/strict/x"); resp.StatusCode != http.StatusBadGateway {
		t.Errorf("no failover on connection error: %d, want 502", resp.StatusCode)
	}
	before := secondary.calls.Load()
	if resp, _ := h.do(t, "POST", "/status/x"); resp.StatusCode != http.StatusServiceUnavailable || secondary.calls.Load() != before {
		t.Errorf("POST failed over: %d", resp.StatusCode)
	}
}

func TestSetBehaviorsKeepsCache(t *testing.T) {
	api := newOrigin(t, echo("max-age=600"))
	other := newOrigin(t, fixed("max-age=600"))
	h := newPolicyHarness(t, nil, Behavior{Pattern: "*", Origin: originOf(api)})
	h.do(t, "GET", "/api/x")
	if resp, _ := h.do(t, "GET", "/api/x"); !strings.HasPrefix(resp.Header.Get("X-Cache"), "Hit") {
		t.Fatalf("not a hit before the reload: %v", resp.Header)
	}
	if err := h.edge.SetBehaviors([]Behavior{
		{Path: pattern("/new/*"), Origin: originOf(other), Name: "new"},
		{Pattern: "*", Origin: originOf(api)},
	}); err != nil {
		t.Fatal(err)
	}
	if resp, _ := h.do(t, "GET", "/api/x"); !strings.HasPrefix(resp.Header.Get("X-Cache"), "Hit") || api.calls.Load() != 1 {
		t.Errorf("not a hit after the reload: %v", resp.Header)
	}
	if _, body := h.do(t, "GET", "/new/y"); body != "body of /new/y" || other.calls.Load() != 1 {
		t.Errorf("the new pattern did not apply: %q", body)
	}
	if err := h.edge.SetBehaviors(nil); err == nil {
		t.Error("SetBehaviors accepted no behaviors")
	}
	if len(h.edge.Behaviors()) != 2 {
		t.Error("a failed SetBehaviors changed the behaviors")
	}
}

func TestExplain(t *testing.T) {
	o := newOrigin(t, echo("max-age=60"))
	p := testPolicy(func(p *config.CachePolicy) {
		p.Name = "keyed"
		p.QueryStrings = config.KeyFilter{Mode: config.FilterAllow, Names: []string{"page"}}
	})
	h := newPolicyHarness(t, nil,
		Behavior{Path: pattern("/api/*"), Origin: originOf(o), CachePolicy: p, Name: "api", AllowedMethods: config.MethodsGetHead},
		Behavior{Pattern: "*", Origin: originOf(o)})
	req := func(method, uri string) *http.Request {
		return httptest.NewRequest(method, "http://Example.com"+uri, nil)
	}
	ex := h.edge.Explain(req("GET", "/api/list?z=1&page=2"))
	if ex.Behavior == nil || ex.Behavior.Name != "api" || ex.Behavior.Index != 0 || ex.Behavior.Pattern != "/api/*" ||
		ex.Key != "http://example.com/api/list?page=2" || !ex.Cacheable || ex.Stored != nil || ex.Policy.Name != "keyed" || ex.Policy.DefaultTTL != 3600 ||
		len(ex.Components) != 1 || ex.Components[0] != (KeyComponent{"query", "page", "2"}) {
		t.Errorf("before: %+v", ex)
	}
	// Fill the entry through the edge for that host.
	r, _ := http.NewRequest("GET", h.srv.URL+"/api/list?page=2", nil)
	r.Host = "example.com"
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// The edge stores a streamed response when the fetch's pump has read
	// it all, which can be after the client has the body: Close waits for
	// the edge's background work.
	h.edge.Close()
	h.clock.Advance(10 * time.Second)
	ex = h.edge.Explain(req("GET", "/api/list?page=2&z=9"))
	if ex.Stored == nil || !ex.Stored.Served || ex.Stored.Age != 10 || ex.Stored.TTL != 50 || ex.Stored.Stale {
		t.Errorf("stored: %+v", ex.Stored)
	}
	h.clock.Advance(time.Minute)
	if ex = h.edge.Explain(req("GET", "/api/list?page=2")); ex.Stored == nil || ex.Stored.Served || !ex.Stored.Stale || ex.Stored.Reason == "" {
		t.Errorf("stale: %+v", ex.Stored)
	}
	if ex = h.edge.Explain(req("POST", "/api/list")); ex.Refused == nil || ex.Refused.Status != 405 {
		t.Errorf("POST: %+v", ex)
	}
	ex = h.edge.Explain(req("GET", "/other?a=1"))
	if ex.Behavior.Index != 1 || ex.Key != "http://example.com/other?a=1" || ex.Policy.Name != "" {
		t.Errorf("default: %+v", ex)
	}
	if _, err := json.Marshal(ex); err != nil {
		t.Error(err)
	}
	if o.calls.Load() != 1 {
		t.Errorf("Explain contacted the origin: %d calls", o.calls.Load())
	}
}

func TestKeyCardinality(t *testing.T) {
	o := newOrigin(t, echo("max-age=60"))
	p := testPolicy(func(p *config.CachePolicy) {
		p.QueryStrings.Mode = config.FilterAll
		p.Cookies = config.KeyFilter{Mode: config.FilterAllow, Names: []string{"lang"}}
	})
	h := newPolicyHarness(t, nil, Behavior{Pattern: "*", Origin: originOf(o), CachePolicy: p, Name: "all"})
	for i := range 40 {
		h.do(t, "GET", fmt.Sprintf("/p?page=%d&sort=asc", i), "Cookie", fmt.Sprintf("lang=l%d", i%3))
	}
	got := h.edge.KeyCardinality()
	if len(got) != 3 {
		t.Fatalf("components: %+v", got)
	}
	if got[0].Name != "page" || got[0].Distinct < 37 || got[0].Distinct > 43 || got[0].Samples != 40 {
		t.Errorf("first: %+v", got[0])
	}
	if got[1].Kind != "cookie" || got[1].Name != "lang" || got[1].Distinct != 3 || got[2].Name != "sort" || got[2].Distinct != 1 {
		t.Errorf("rest: %+v", got[1:])
	}
}

// A URL origin behind a policy behavior is sent its own host name, as
// CloudFront does (virtual-hosted origins depend on it), with the viewer's
// in X-Forwarded-Host; an origin request policy that forwards Host
// (AllViewer) sends the viewer's. Without a policy the viewer's is kept.
func TestPolicyOriginHost(t *testing.T) {
	var seen []string
	var mu sync.Mutex
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Host+" xfh="+r.Header.Get("X-Forwarded-Host"))
		mu.Unlock()
		w.Header().Set("Cache-Control", "no-store")
	}))
	defer o.Close()
	u, _ := url.Parse(o.URL)
	all := config.ManagedOriginRequestPolicy(config.AllViewer)
	except := config.ManagedOriginRequestPolicy(config.AllViewerExceptHostHeader)
	h := newPolicyHarness(t, nil,
		Behavior{Path: pattern("/own/*"), Origin: URLOrigin(u, nil), CachePolicy: testPolicy(nil)},
		Behavior{Path: pattern("/except/*"), Origin: URLOrigin(u, nil), CachePolicy: testPolicy(nil), OriginRequestPolicy: except},
		Behavior{Path: pattern("/viewer/*"), Origin: URLOrigin(u, nil), CachePolicy: testPolicy(nil), OriginRequestPolicy: all},
		Behavior{Pattern: "*", Origin: URLOrigin(u, nil)},
	)
	for _, p := range []string{"/own/x", "/except/x", "/viewer/x", "/plain/x"} {
		req, _ := http.NewRequest("GET", h.srv.URL+p, nil)
		req.Host = "shop.example"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	want := []string{u.Host + " xfh=shop.example", u.Host + " xfh=shop.example", "shop.example xfh=shop.example", "shop.example xfh=shop.example"}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(seen, want) {
		t.Errorf("origin saw %q, want %q", seen, want)
	}
}
