package admin

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestHooksNeedTokenAndAnswer404WhenNil(t *testing.T) {
	srv, _ := newServerBus(t, nil, Config{})
	for _, tt := range []struct{ method, path string }{
		{"POST", "/config/reload"}, {"GET", "/explain?url=http://h/"}, {"GET", "/cache/key-cardinality"},
	} {
		for _, token := range []string{"", "wrong"} {
			if code, m := call(t, srv, tt.method, tt.path, token, ""); code != 401 || m["error"] == nil {
				t.Errorf("%s %s with %q: %d %v", tt.method, tt.path, token, code, m)
			}
		}
		if code, m := call(t, srv, tt.method, tt.path, tok, ""); code != 404 || m["error"] == nil {
			t.Errorf("%s %s without a hook: %d %v", tt.method, tt.path, code, m)
		}
	}
}

func TestReload(t *testing.T) {
	var logs bytes.Buffer
	var (
		fail   bool
		caller string
	)
	srv, _ := newServerBus(t, nil, Config{
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Reload: func(ctx context.Context) (ReloadSummary, error) {
			caller = Caller(ctx)
			if fail {
				return ReloadSummary{}, &InvalidConfigError{Source: "d.yaml", Problems: []ConfigProblem{
					{Pos: "d.yaml:3:5", Message: "unknown field"}, {Pos: "d.yaml:9:1", Message: "no origin"}}}
			}
			return ReloadSummary{Reloaded: true, Behaviors: 3, Source: "d.yaml"}, nil
		},
	})
	if code, _ := call(t, srv, "POST", "/config/reload", "", ""); code != 401 || caller != "" {
		t.Errorf("unauthorised reload: %d, hook called by %q", code, caller)
	}
	code, m := call(t, srv, "POST", "/config/reload", tok, "")
	if code != 200 || m["reloaded"] != true || m["behaviors"] != 3.0 || m["source"] != "d.yaml" {
		t.Errorf("reload: %d %v", code, m)
	}
	if !strings.HasPrefix(caller, "admin@127.0.0.1:") {
		t.Errorf("Caller = %q", caller)
	}
	if !strings.Contains(logs.String(), "path=/config/reload status=200") || !strings.Contains(logs.String(), "behaviors=3") {
		t.Errorf("log: %s", logs.String())
	}
	fail = true
	code, m = call(t, srv, "POST", "/config/reload", tok, "")
	errs, _ := m["errors"].([]any)
	if code != 400 || m["reloaded"] != false || m["source"] != "d.yaml" || len(errs) != 2 ||
		errs[0].(map[string]any)["pos"] != "d.yaml:3:5" || errs[1].(map[string]any)["message"] != "no origin" {
		t.Errorf("bad file: %d %v", code, m)
	}
	if code, _ := call(t, srv, "GET", "/config/reload", tok, ""); code != 405 {
		t.Errorf("GET /config/reload: %d", code)
	}
}

func TestExplain(t *testing.T) {
	var got *http.Request
	srv, _ := newServerBus(t, nil, Config{
		Explain: func(r *http.Request) any {
			got = r
			return map[string]any{"behavior": "api", "key": r.URL.String()}
		},
	})
	q := url.Values{"url": {"https://shop.example/api/p?id=1"}, "header": {"Accept-Encoding: br, gzip", "Host:other.example", "X-A:1", "x-a: 2"}, "method": {"HEAD"}}
	code, m := call(t, srv, "GET", "/explain?"+q.Encode(), tok, "")
	if code != 200 || m["behavior"] != "api" || m["key"] != "https://shop.example/api/p?id=1" {
		t.Fatalf("explain: %d %v", code, m)
	}
	if got.Method != "HEAD" || got.Host != "other.example" || got.TLS == nil || got.RequestURI != "/api/p?id=1" ||
		got.Header.Get("Accept-Encoding") != "br, gzip" || strings.Join(got.Header.Values("X-A"), ",") != "1,2" || got.Header.Get("Host") != "" {
		t.Errorf("synthetic request: %s %s host %q tls %v uri %q header %v", got.Method, got.URL, got.Host, got.TLS != nil, got.RequestURI, got.Header)
	}
	got = nil
	if code, _ := call(t, srv, "GET", "/explain?url="+url.QueryEscape("http://h/x"), tok, ""); code != 200 || got.Method != "GET" || got.TLS != nil || got.Host != "h" {
		t.Errorf("plain http: %d %+v", code, got)
	}
	got = nil
	for _, bad := range []url.Values{
		{},
		{"url": {"/relative"}},
		{"url": {"ftp://h/x"}},
		{"url": {"http:///nohost"}},
		{"url": {"http://h/x#frag"}},
		{"url": {"http://h/%zz"}},
		{"url": {"http://h/"}, "method": {"GE T"}},
		{"url": {"http://h/"}, "header": {"NoColon"}},
		{"url": {"http://h/"}, "header": {"Bad Name: v"}},
		{"url": {"http://h/"}, "header": {": v"}},
		{"url": {"http://h/"}, "header": {"X: a\x01b"}},
	} {
		if code, m := call(t, srv, "GET", "/explain?"+bad.Encode(), tok, ""); code != 400 || m["error"] == nil {
			t.Errorf("%v: %d %v", bad, code, m)
		}
	}
	if got != nil {
		t.Errorf("the hook was called for bad input: %v", got.URL)
	}
}

func TestKeyCardinality(t *testing.T) {
	srv, _ := newServerBus(t, nil, Config{KeyCardinality: func() any { return map[string]int{"keys": 7} }})
	if code, m := call(t, srv, "GET", "/cache/key-cardinality", tok, ""); code != 200 || m["keys"] != 7.0 {
		t.Errorf("key cardinality: %d %v", code, m)
	}
}
