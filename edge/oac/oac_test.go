package oac

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var (
	t0      = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	secret1 = []byte("0123456789abcdef-secret-one")
	secret2 = []byte("0123456789abcdef-secret-two")
)

func clock(t time.Time) func() time.Time { return func() time.Time { return t } }

// rewrite is an attacker (or a bug) between the edge and the origin.
type rewrite struct {
	fn   func(*http.Request)
	next http.RoundTripper
}

func (rt rewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	rt.fn(r)
	return rt.next.RoundTrip(r)
}

// origin starts an httptest origin behind v's Middleware that echoes what
// it served.
func origin(t *testing.T, v *Verifier) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "served "+r.Method+" "+r.URL.RequestURI())
	})))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, rt http.RoundTripper, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestOverHTTP(t *testing.T) {
	v := &Verifier{Keys: map[string][]byte{"edge-1": secret1}, Now: clock(t0)}
	srv := origin(t, v)
	base := http.DefaultTransport
	signing := func(next http.RoundTripper, id string, secret []byte, at time.Time) http.RoundTripper {
		return NewTransport(next, id, secret, clock(at))
	}
	for _, c := range []struct {
		name   string
		rt     http.RoundTripper
		method string
		path   string
		status int
		body   string
	}{
		{"signed", signing(base, "edge-1", secret1, t0), "GET", "/a/b%20c?x=1&y=%2F", 200, "served GET /a/b%20c?x=1&y=%2F"},
		{"signed HEAD-less POST", signing(base, "edge-1", secret1, t0), "POST", "/form", 200, "served POST /form"},
		{"unsigned", base, "GET", "/a", 403, ErrMissing.Error()},
		{"tampered path", signing(rewrite{func(r *http.Request) { r.URL.Path = "/admin" }, base}, "edge-1", secret1, t0), "GET", "/a", 403, ErrBadSignature.Error()},
		{"tampered query", signing(rewrite{func(r *http.Request) { r.URL.RawQuery = "x=2" }, base}, "edge-1", secret1, t0), "GET", "/a?x=1", 403, ErrBadSignature.Error()},
		{"tampered method", signing(rewrite{func(r *http.Request) { r.Method = "DELETE" }, base}, "edge-1", secret1, t0), "GET", "/a", 403, ErrBadSignature.Error()},
		{"tampered date", signing(rewrite{func(r *http.Request) { r.Header.Set(HeaderDate, t0.Add(time.Minute).Format(time.RFC3339)) }, base}, "edge-1", secret1, t0), "GET", "/a", 403, ErrBadSignature.Error()},
		{"tampered key id", signing(rewrite{func(r *http.Request) {
			r.Header.Set(HeaderAuth, strings.Replace(r.Header.Get(HeaderAuth), "edge-1", "edge-2", 1))
		}, base}, "edge-1", secret1, t0), "GET", "/a", 403, ErrUnknownKey.Error()},
		{"garbled header", signing(rewrite{func(r *http.Request) { r.Header.Set(HeaderAuth, "v1 keyId=edge-1") }, base}, "edge-1", secret1, t0), "GET", "/a", 403, ErrMalformed.Error()},
		{"date without auth", rewrite{func(r *http.Request) { r.Header.Set(HeaderDate, t0.Format(time.RFC3339)) }, base}, "GET", "/a", 403, ErrMalformed.Error()},
		{"wrong secret", signing(base, "edge-1", secret2, t0), "GET", "/a", 403, ErrBadSignature.Error()},
		{"unknown key", signing(base, "edge-9", secret1, t0), "GET", "/a", 403, ErrUnknownKey.Error()},
		{"skew, edge 4m59s behind", signing(base, "edge-1", secret1, t0.Add(-5*time.Minute+time.Second)), "GET", "/a", 200, "served GET /a"},
		{"skew, edge 5m1s behind", signing(base, "edge-1", secret1, t0.Add(-5*time.Minute-time.Second)), "GET", "/a", 403, ErrSkew.Error()},
		{"skew, edge 5m1s ahead", signing(base, "edge-1", secret1, t0.Add(5*time.Minute+time.Second)), "GET", "/a", 403, ErrSkew.Error()},
	} {
		status, body := get(t, c.rt, c.method, srv.URL+c.path)
		if status != c.status || !strings.HasPrefix(body, c.body) {
			t.Errorf("%s: %d %q, want %d %q", c.name, status, body, c.status, c.body)
		}
	}
}

func TestCustomSkew(t *testing.T) {
	v := &Verifier{Keys: map[string][]byte{"e": secret1}, Now: clock(t0), MaxSkew: 10 * time.Second}
	srv := origin(t, v)
	if status, _ := get(t, NewTransport(nil, "e", secret1, clock(t0.Add(9*time.Second))), "GET", srv.URL); status != 200 {
		t.Errorf("9s ahead with 10s skew: %d", status)
	}
	if status, _ := get(t, NewTransport(nil, "e", secret1, clock(t0.Add(11*time.Second))), "GET", srv.URL); status != 403 {
		t.Errorf("11s ahead with 10s skew: %d", status)
	}
}

func TestRotation(t *testing.T) {
	oldT := NewTransport(nil, "2026-02", secret1, clock(t0))
	newT := NewTransport(nil, "2026-03", secret2, clock(t0))
	steps := []struct {
		keys     map[string][]byte
		old, new int
	}{
		{map[string][]byte{"2026-02": secret1}, 200, 403},
		{map[string][]byte{"2026-02": secret1, "2026-03": secret2}, 200, 200},
		{map[string][]byte{"2026-03": secret2}, 403, 200},
	}
	for i, s := range steps {
		srv := origin(t, &Verifier{Keys: s.keys, Now: clock(t0)})
		if got, _ := get(t, oldT, "GET", srv.URL+"/x"); got != s.old {
			t.Errorf("step %d: old key got %d, want %d", i, got, s.old)
		}
		if got, _ := get(t, newT, "GET", srv.URL+"/x"); got != s.new {
			t.Errorf("step %d: new key got %d, want %d", i, got, s.new)
		}
	}
}

func TestTransportDoesNotMutate(t *testing.T) {
	var seen http.Header
	rt := NewTransport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		seen = r.Header
		return &http.Response{StatusCode: 204, Body: http.NoBody, Request: r}, nil
	}), "e", secret1, clock(t0))
	req, _ := http.NewRequest("GET", "http://origin.example/a?b=c", nil)
	req.Header.Set(HeaderAuth, "forged by the client")
	if _, err := rt.RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	if got := req.Header.Get(HeaderAuth); got != "forged by the client" || req.Header.Get(HeaderDate) != "" {
		t.Errorf("caller's request was changed: %v", req.Header)
	}
	if got := seen.Values(HeaderAuth); len(got) != 1 || !strings.HasPrefix(got[0], "v1 keyId=e, signature=") {
		t.Errorf("sent %s = %q", HeaderAuth, got)
	}
	if got := seen.Get(HeaderDate); got != "2026-03-01T12:00:00Z" {
		t.Errorf("sent %s = %q", HeaderDate, got)
	}
}

func TestTransportConfigErrors(t *testing.T) {
	for name, rt := range map[string]http.RoundTripper{
		"bad key id":   NewTransport(nil, "a b", secret1, nil),
		"short secret": NewTransport(nil, "e", []byte("short"), nil),
	} {
		req, _ := http.NewRequest("GET", "http://origin.invalid/", nil)
		if _, err := rt.RoundTrip(req); err == nil || !strings.HasPrefix(err.Error(), "oac: ") {
			t.Errorf("%s: RoundTrip error = %v", name, err)
		}
	}
}

// Verify sees the request-target as sent, not as rewritten by handlers in
// front (http.StripPrefix), and the absolute form a forward proxy gets.
func TestRequestTarget(t *testing.T) {
	v := &Verifier{Keys: map[string][]byte{"e": secret1}, Now: clock(t0)}
	out, _ := http.NewRequest("GET", "http://origin.example/static/a.css?v=3", nil)
	Sign(out, "e", secret1, t0)
	for name, target := range map[string]string{"origin form": "/static/a.css?v=3", "absolute form": "http://origin.example/static/a.css?v=3"} {
		in := httptest.NewRequest("GET", target, nil)
		in.Header = out.Header.Clone()
		in.URL.Path = "/a.css" // as after StripPrefix("/static")
		if err := v.Verify(in); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	in := httptest.NewRequest("GET", "/static/a.css?v=4", nil)
	in.Header = out.Header.Clone()
	if err := v.Verify(in); !errors.Is(err, ErrBadSignature) {
		t.Errorf("other query: %v", err)
	}
	in.Header.Add(HeaderDate, t0.Format(time.RFC3339))
	if err := v.Verify(in); !errors.Is(err, ErrMalformed) {
		t.Errorf("two dates: %v", err)
	}
}

func TestParseHeader(t *testing.T) {
	sig := strings.Repeat("A", 43)
	for _, c := range []struct {
		in  string
		ok  bool
		key string
	}{
		{"v1 keyId=k1, signature=" + sig, true, "k1"},
		{"v1 signature=" + sig + ",keyId=k.2", true, "k.2"},
		{"v2 keyId=k1, signature=" + sig, false, ""},
		{"v1 keyId=k1", false, ""},
		{"v1 keyId=k1, keyId=k2, signature=" + sig, false, ""},
		{"v1 keyId=k1, signature=" + sig + ", extra=1", false, ""},
		{"v1 keyId=k 1, signature=" + sig, false, ""},
		{"v1 keyId=k1, signature=" + sig + "A", false, ""},
		{"v1 keyId=k1, signature=" + sig[:42] + "=", false, ""},
		{"v1 keyId=, signature=" + sig, false, ""},
		{"v1 keyId=k1, signature=" + strings.Repeat("A", 300), false, ""},
	} {
		key, s, err := ParseHeader(c.in)
		if c.ok != (err == nil) || key != c.key || (err == nil && len(s) != 32) {
			t.Errorf("ParseHeader(%q) = %q, %d bytes, %v", c.in, key, len(s), err)
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseHeader(%q): %v does not wrap ErrMalformed", c.in, err)
		}
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add("v1 keyId=k1, signature=" + strings.Repeat("A", 43))
	f.Add("v1 signature=_-_-,keyId=a")
	f.Add("v1 ,,,=")
	f.Fuzz(func(t *testing.T, v string) {
		key, sig, err := ParseHeader(v)
		if err != nil {
			if !errors.Is(err, ErrMalformed) || key != "" || sig != nil {
				t.Fatalf("ParseHeader(%q) = %q, %x, %v", v, key, sig, err)
			}
			return
		}
		if !validKeyID(key) || len(sig) != 32 || len(v) > maxHeaderLen {
			t.Fatalf("ParseHeader(%q) accepted key %q, %d-byte signature", v, key, len(sig))
		}
		// What parses is what Sign writes, up to parameter order and spaces.
		r, _ := http.NewRequest("GET", "http://o/", nil)
		Sign(r, key, secret1, t0)
		if k2, _, err := ParseHeader(r.Header.Get(HeaderAuth)); err != nil || k2 != key {
			t.Fatalf("Sign's header for key %q does not parse: %v", key, err)
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// go test -run='^$' -bench=. -benchmem ./edge/oac
func BenchmarkSignVerify(b *testing.B) {
	v := &Verifier{Keys: map[string][]byte{"edge-1": secret1}, Now: clock(t0)}
	out, _ := http.NewRequest("GET", "http://origin.example/v/segment-00042.ts?quality=1080p", nil)
	in := httptest.NewRequest("GET", "/v/segment-00042.ts?quality=1080p", nil)
	b.ReportAllocs()
	for b.Loop() {
		Sign(out, "edge-1", secret1, t0)
		in.Header = out.Header
		if err := v.Verify(in); err != nil {
			b.Fatal(err)
		}
	}
}
