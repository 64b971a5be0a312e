package edge

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-cache/strata/edge/config"
	"github.com/strata-cache/strata/edge/signed"
)

// TestReviewPathTricksDoNotEscapeSignedBehavior: the behavior a path selects
// must be the one whose content the origin serves for it. Dot segments,
// empty segments and percent-encoded pattern characters made
// /public/../private/x, //private/x, /privat%65/x or /private%2Fx select an
// unsigned behavior while the static site served /private/x, which a signed
// behavior protects.
func TestReviewPathTricksDoNotEscapeSignedBehavior(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	pem, err := signed.MarshalPublicKeyPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "private"), 0o755)
	os.MkdirAll(filepath.Join(dir, "public"), 0o755)
	os.WriteFile(filepath.Join(dir, "private", "secret.txt"), []byte("top secret"), 0o644)
	os.WriteFile(filepath.Join(dir, "public", "a.txt"), []byte("public"), 0o644)
	cfg := distribution(t, fmt.Sprintf(`
origins:
  site: {dir: %q}
key_groups:
  signers:
    keys:
      - id: K1
        public_key: %q
behaviors:
  - path: /private/*
    origin: site
    signed: {trusted_key_groups: [signers]}
  - path: /public/*
    origin: site
default_behavior:
  origin: site
`, dir, pem))
	h := fromConfig(t, cfg, FromConfigOptions{}, nil)
	if resp, _ := h.do(t, "GET", "/private/secret.txt"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("unsigned /private/secret.txt: %d, want 403", resp.StatusCode)
	}
	for _, p := range []string{
		"/public/../private/secret.txt",
		"/public/%2e%2e/private/secret.txt",
		"/public/%2E%2E/private/secret.txt",
		"/public/..%2fprivate/secret.txt",
		"/public/%2e%2e%2fprivate%2fsecret.txt",
		"/public/./../private/secret.txt",
		"/public//../private/secret.txt",
		"//private/secret.txt",
		"/%2fprivate/secret.txt",
		"/privat%65/secret.txt",
		"/%70rivate/secret.txt",
		"/private%2Fsecret.txt",
		"/private%2fsecret.txt",
	} {
		resp, body := h.do(t, "GET", p)
		if resp.StatusCode == 200 || strings.Contains(body, "top secret") {
			t.Errorf("GET %s: %d %q: the signed content was served without a signature", p, resp.StatusCode, body)
		}
	}
	if resp, body := h.do(t, "GET", "/public/a.txt"); resp.StatusCode != 200 || body != "public" {
		t.Errorf("GET /public/a.txt: %d %q", resp.StatusCode, body)
	}
}

// TestReviewUndecodableQueryKeepsItsOwnKey: a query parameter that does not
// decode ("%zz") was keyed as its bytes re-encoded ("%25zz"), the key of
// another request that origins read differently: a Go origin drops
// "a=%zz" and reads "a=%25zz" as "%zz", so one client's response answered
// the other's.
func TestReviewUndecodableQueryKeepsItsOwnKey(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprintf(w, "a=%q", r.URL.Query().Get("a"))
	})
	p := testPolicy(func(p *config.CachePolicy) { p.QueryStrings.Mode = config.FilterAll })
	h := newPolicyHarness(t, nil, Behavior{Pattern: "*", Origin: originOf(o), CachePolicy: p})
	for _, tc := range []struct{ uri, want string }{
		{"/p?a=%zz", `a=""`},
		{"/p?a=%25zz", `a="%zz"`},
		{"/p?a=%", `a=""`},
		{"/p?a=%25", `a="%"`},
		{"/p?a=%31", `a="1"`},
		{"/p?a=1", `a="1"`},
	} {
		if _, body := h.do(t, "GET", tc.uri); body != tc.want {
			t.Errorf("GET %s: %s, want %s", tc.uri, body, tc.want)
		}
	}
	if n := o.calls.Load(); n != 5 {
		t.Errorf("%d origin calls, want 5 (?a=%%31 and ?a=1 share an entry)", n)
	}
}
