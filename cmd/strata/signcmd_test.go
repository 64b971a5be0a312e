package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/strata-cache/strata/edge/signed"
)

// keyPair runs `strata sign-url -generate-key kind` and returns the
// private key file, the verifier for its public key and the key id.
func keyPair(t *testing.T, kind string) (string, *signed.Verifier, string) {
	t.Helper()
	prefix := filepath.Join(t.TempDir(), "edge")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"sign-url", "-generate-key", kind, "-out", prefix}, &out, os.Stderr); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`key id: +(K[0-9A-F]{16})\n`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no key id in %q", out.String())
	}
	fi, err := os.Stat(prefix + ".key")
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("private key mode %o, want 600", perm)
	}
	pubPEM, err := os.ReadFile(prefix + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := signed.ParsePublicKeyPEM(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	v, err := signed.NewVerifier(signed.KeyGroup{Name: "cli", Keys: map[string]crypto.PublicKey{m[1]: pub}})
	if err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"sign-url", "-generate-key", kind, "-out", prefix}, &out, os.Stderr); err == nil {
		t.Error("-generate-key overwrote an existing key")
	}
	return prefix + ".key", v, m[1]
}

func signURL(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), append([]string{"sign-url"}, args...), &out, &errOut)
	return strings.TrimSuffix(out.String(), "\n"), err
}

func TestSignURL(t *testing.T) {
	for _, kind := range []string{"ed25519", "rsa"} {
		t.Run(kind, func(t *testing.T) {
			key, v, id := keyPair(t, kind)
			now := time.Now()

			// Canned, flags after the URL.
			u, err := signURL(t, "https://cdn.example.com/a.pdf?v=2", "-key", key, "-key-id", id, "-expires", "10m")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(u, "?v=2&Expires=") || !strings.HasSuffix(u, "&Key-Pair-Id="+id) {
				t.Errorf("canned URL %s", u)
			}
			r := httptest.NewRequest("GET", u, nil)
			if err := v.Verify(r, now); err != nil {
				t.Errorf("canned: %v", err)
			}
			if err := v.Verify(r, now.Add(11*time.Minute)); !errors.Is(err, signed.ErrExpired) {
				t.Errorf("canned after 11m: %v, want ErrExpired", err)
			}

			// Custom: pattern, start, address range.
			u, err = signURL(t, "-key", key, "-key-id", id, "-expires-at", now.Add(time.Hour).UTC().Format(time.RFC3339),
				"-start", now.Add(-time.Minute).UTC().Format(time.RFC3339), "-ip", "192.0.2.0/24",
				"-resource", "https://cdn.example.com/v/*", "https://cdn.example.com/v/1.ts")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(u, "?Policy=") {
				t.Errorf("custom URL %s", u)
			}
			r = httptest.NewRequest("GET", strings.Replace(u, "/v/1.ts", "/v/2.ts", 1), nil)
			r.RemoteAddr = "192.0.2.8:1000"
			if err := v.Verify(r, now); err != nil {
				t.Errorf("custom: %v", err)
			}
			r.RemoteAddr = "198.51.100.8:1000"
			if err := v.Verify(r, now); !errors.Is(err, signed.ErrIPNotAllowed) {
				t.Errorf("custom from outside the range: %v", err)
			}

			// Cookies.
			var out bytes.Buffer
			if err := run(context.Background(), []string{"sign-url", "-key", key, "-key-id", id, "-cookies", "-resource", "https://cdn.example.com/v/*"}, &out, os.Stderr); err != nil {
				t.Fatal(err)
			}
			r = httptest.NewRequest("GET", "https://cdn.example.com/v/3.ts", nil)
			r.TLS = &tls.ConnectionState{}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != 3 {
				t.Fatalf("cookie output %q", out.String())
			}
			for _, line := range lines {
				c, err := http.ParseSetCookie(strings.TrimPrefix(line, "Set-Cookie: "))
				if err != nil {
					t.Fatalf("%q: %v", line, err)
				}
				r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
			}
			if err := v.Verify(r, now); err != nil {
				t.Errorf("cookies: %v", err)
			}
		})
	}
}

func TestSignURLUsage(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "k.pem")
	der, _ := signed.MarshalPrivateKeyPEM(ed25519.NewKeyFromSeed(make([]byte, 32)))
	if err := os.WriteFile(key, der, 0o600); err != nil {
		t.Fatal(err)
	}
	const u = "https://x.example/a"
	for name, args := range map[string][]string{
		"no key":             {"-key-id", "k", u},
		"no key id":          {"-key", key, u},
		"no url":             {"-key", key, "-key-id", "k"},
		"two urls":           {"-key", key, "-key-id", "k", u, u},
		"both expiries":      {"-key", key, "-key-id", "k", "-expires", "1h", "-expires-at", "2999-01-01T00:00:00Z", u},
		"expiry in the past": {"-key", key, "-key-id", "k", "-expires-at", "2001-01-01T00:00:00Z", u},
		"bad expires-at":     {"-key", key, "-key-id", "k", "-expires-at", "tomorrow", u},
		"bad ip":             {"-key", key, "-key-id", "k", "-ip", "10.0.0.300/8", u},
		"start after expiry": {"-key", key, "-key-id", "k", "-start", "2999-01-01T00:00:00Z", u},
		"unknown flag":       {"-nope", u},
		"cookies, no target": {"-key", key, "-key-id", "k", "-cookies"},
		"bad key type":       {"-generate-key", "dsa", "-out", filepath.Join(dir, "x")},
		"generate, no out":   {"-generate-key", "ed25519"},
	} {
		if _, err := signURL(t, args...); !errors.Is(err, errUsage) {
			t.Errorf("%s: err = %v, want a usage error", name, err)
		}
	}
	if _, err := signURL(t, "-key", filepath.Join(dir, "missing.pem"), "-key-id", "k", u); err == nil || errors.Is(err, errUsage) {
		t.Errorf("missing key file: %v", err)
	}
	if _, err := signURL(t, "-key", key, "-key-id", "bad id", u); err == nil {
		t.Error("invalid key id accepted")
	}
	if _, err := signURL(t, "-h"); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}
