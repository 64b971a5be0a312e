package signed

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func edKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(sha256.New().Sum([]byte{seed})[:32])
}

var rsaKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func mustVerifier(t testing.TB, keys map[string]crypto.PublicKey) *Verifier {
	t.Helper()
	v, err := NewVerifier(KeyGroup{Name: "test", Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// request builds the request a client sends for rawURL, from addr.
func request(rawURL, addr string) *http.Request {
	r := httptest.NewRequest("GET", rawURL, nil)
	if addr != "" {
		r.RemoteAddr = addr
	}
	return r
}

func TestRoundTrip(t *testing.T) {
	signers := map[string]Signer{
		"ed25519": {KeyID: "K-ed", Key: edKey(1)},
		"rsa2048": {KeyID: "K-rsa", Key: rsaKey()},
	}
	v := mustVerifier(t, map[string]crypto.PublicKey{"K-ed": edKey(1).Public(), "K-rsa": &rsaKey().PublicKey})
	for name, s := range signers {
		t.Run(name, func(t *testing.T) {
			cases := []struct {
				name, url, asked string
				p                Policy
				param            string
			}{
				{"canned", "https://cdn.example.com/v/a.mp4?x=1&y=%2F", "", Policy{Expires: now.Add(time.Hour)}, ParamExpires},
				{"canned host case and port", "https://CDN.example.com:443/a", "https://cdn.example.com/a", Policy{Expires: now.Add(time.Hour)}, ParamExpires},
				{"custom wildcard", "https://cdn.example.com/v/a.mp4", "https://cdn.example.com/v/b.mp4?q=2",
					Policy{Resource: "https://cdn.example.com/v/*", Expires: now.Add(time.Hour)}, ParamPolicy},
				{"custom start and ip", "http://cdn.example.com/a", "",
					Policy{Expires: now.Add(time.Hour), Start: now.Add(-time.Minute), IPRange: netip.MustParsePrefix("192.0.2.0/24")}, ParamPolicy},
			}
			for _, c := range cases {
				signedURL, err := s.SignURL(c.url, c.p)
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				u, _ := url.Parse(signedURL)
				if u.Query().Get(c.param) == "" {
					t.Errorf("%s: %s has no %s", c.name, signedURL, c.param)
				}
				asked := signedURL
				if c.asked != "" {
					au, _ := url.Parse(c.asked)
					au.RawQuery = strings.TrimPrefix(strings.TrimPrefix(au.RawQuery+"&"+u.RawQuery, "&"), "")
					asked = au.String()
				}
				r := request(asked, "192.0.2.7:5555")
				if strings.HasPrefix(asked, "https:") {
					r.TLS = &tls.ConnectionState{}
				}
				if err := v.Verify(r, now); err != nil {
					t.Errorf("%s: Verify(%s) = %v", c.name, asked, err)
				}
				StripParams(r.URL)
				for _, p := range []string{ParamExpires, ParamPolicy, ParamSignature, ParamKeyPairID} {
					if r.URL.Query().Has(p) {
						t.Errorf("%s: StripParams left %s in %s", c.name, p, r.URL)
					}
				}
			}
		})
	}
}

func TestSignURLKeepsQuery(t *testing.T) {
	s := Signer{KeyID: "k1", Key: edKey(1)}
	got, err := s.SignURL("https://x.example/a%20b?b=2&a=1+1#frag", Policy{Expires: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got, "https://x.example/a%20b?b=2&a=1+1&Expires=") || strings.Contains(got, "#") {
		t.Errorf("SignURL = %s", got)
	}
	u, _ := url.Parse(got)
	StripParams(u)
	if u.String() != "https://x.example/a%20b?b=2&a=1+1" {
		t.Errorf("after StripParams: %s", u)
	}
	if _, err := s.SignURL("https://x.example/?Signature=x", Policy{Expires: now}); err == nil {
		t.Error("signing a URL that already has Signature succeeded")
	}
	if _, err := s.SignURL("/relative", Policy{Expires: now}); err == nil {
		t.Error("signing a relative URL succeeded")
	}
	if _, err := s.SignURL("https://x.example/", Policy{}); err == nil {
		t.Error("signing without expiry succeeded")
	}
	if _, err := (Signer{KeyID: "bad id", Key: edKey(1)}).SignURL("https://x.example/", Policy{Expires: now}); err == nil {
		t.Error("signing with an invalid key id succeeded")
	}
}

func TestCookies(t *testing.T) {
	v := mustVerifier(t, map[string]crypto.PublicKey{"k1": edKey(1).Public(), "k2": &rsaKey().PublicKey})
	for _, s := range []Signer{{KeyID: "k1", Key: edKey(1)}, {KeyID: "k2", Key: rsaKey()}} {
		for _, c := range []struct {
			p      Policy
			first  string
			asked  string
			reason error
		}{
			{Policy{Resource: "https://cdn.example.com/a.mp4", Expires: now.Add(time.Hour)}, CookieExpires, "https://cdn.example.com/a.mp4", nil},
			{Policy{Resource: "https://cdn.example.com/a.mp4", Expires: now.Add(time.Hour)}, CookieExpires, "https://cdn.example.com/b.mp4", ErrBadSignature},
			{Policy{Resource: "https://cdn.example.com/v/*", Expires: now.Add(time.Hour)}, CookiePolicy, "https://cdn.example.com/v/1/2.ts?x=1", nil},
			{Policy{Resource: "https://cdn.example.com/v/*", Expires: now.Add(time.Hour)}, CookiePolicy, "https://cdn.example.com/w/1", ErrResourceMismatch},
			// Scheme and host compare case-insensitively, as URLs do; paths do not.
			{Policy{Resource: "HTTPS://CDN.Example.com/v/*", Expires: now.Add(time.Hour)}, CookiePolicy, "https://cdn.example.com/v/1", nil},
			{Policy{Resource: "https://cdn.example.com/V/*", Expires: now.Add(time.Hour)}, CookiePolicy, "https://cdn.example.com/v/1", ErrResourceMismatch},
			{Policy{Resource: "https://cdn.example.com/v/*", Expires: now.Add(-time.Second)}, CookiePolicy, "https://cdn.example.com/v/1", ErrExpired},
		} {
			cookies, err := s.SignCookies(c.p)
			if err != nil {
				t.Fatal(err)
			}
			if len(cookies) != 3 || cookies[0].Name != c.first || cookies[1].Name != CookieSignature || cookies[2].Name != CookieKeyPairID {
				t.Fatalf("SignCookies = %v", cookies)
			}
			if !cookies[0].Secure || !cookies[0].HttpOnly || cookies[0].Path != "/" || !cookies[0].Expires.Equal(c.p.Expires) {
				t.Errorf("cookie attributes: %v", cookies[0])
			}
			r := request(c.asked, "")
			r.TLS = &tls.ConnectionState{}
			r.AddCookie(&http.Cookie{Name: "session", Value: "abc"})
			for _, ck := range cookies {
				r.AddCookie(ck)
			}
			if err := v.Verify(r, now); !errors.Is(err, c.reason) || (c.reason == nil) != (err == nil) {
				t.Errorf("%s %s: Verify = %v, want %v", s.KeyID, c.asked, err, c.reason)
			}
			StripCookies(r)
			if got := r.Header.Get("Cookie"); got != "session=abc" {
				t.Errorf("after StripCookies: Cookie = %q", got)
			}
		}
	}
	if _, err := (Signer{KeyID: "k1", Key: edKey(1)}).SignCookies(Policy{Expires: now}); err == nil {
		t.Error("cookies without a resource were signed")
	}
}

func TestQueryWinsOverCookies(t *testing.T) {
	v := mustVerifier(t, map[string]crypto.PublicKey{"k1": edKey(1).Public()})
	s := Signer{KeyID: "k1", Key: edKey(1)}
	cookies, _ := s.SignCookies(Policy{Resource: "http://x.example/*", Expires: now.Add(time.Hour)})
	r := request("http://x.example/a?Signature=AAAA", "")
	for _, c := range cookies {
		r.AddCookie(c)
	}
	if err := v.Verify(r, now); !errors.Is(err, ErrMalformed) {
		t.Errorf("incomplete query with valid cookies: Verify = %v, want ErrMalformed", err)
	}
}

// Each reason Verify fails for, from one valid URL changed in one way.
func TestFailures(t *testing.T) {
	s := Signer{KeyID: "k1", Key: edKey(1)}
	v := mustVerifier(t, map[string]crypto.PublicKey{"k1": edKey(1).Public()})
	canned, _ := s.SignURL("http://x.example/a?n=1", Policy{Expires: now.Add(time.Hour)})
	custom, _ := s.SignURL("http://x.example/a?n=1", Policy{
		Resource: "http://x.example/a*", Expires: now.Add(time.Hour), Start: now.Add(-time.Hour),
		IPRange: netip.MustParsePrefix("192.0.2.0/24"),
	})
	other, _ := (Signer{KeyID: "k1", Key: edKey(2)}).SignURL("http://x.example/a?n=1", Policy{Expires: now.Add(time.Hour)})
	cu, _ := url.Parse(custom)
	q := cu.Query()
	policy, _ := Decode(q.Get(ParamPolicy))
	tamperedPolicy := strings.Replace(custom, q.Get(ParamPolicy), Encode([]byte(strings.Replace(string(policy), "/a*", "/*", 1))), 1)
	sig := q.Get(ParamSignature)
	flip := "A"
	if sig[0] == 'A' {
		flip = "B"
	}
	tamperedSig := strings.Replace(custom, sig, flip+sig[1:], 1)
	mismatch, _ := s.SignURL("http://x.example/a", Policy{Resource: "http://x.example/b/*", Expires: now.Add(time.Hour)})
	huge := "http://x.example/a?Policy=" + strings.Repeat("A", MaxPolicySize+4) + "&Signature=AAAA&Key-Pair-Id=k1"

	for _, c := range []struct {
		name, url, addr string
		at              time.Time
		want            error
	}{
		{"valid canned", canned, "", now, nil},
		{"valid custom", custom, "192.0.2.1:1", now, nil},
		{"no signature", "http://x.example/a?n=1", "", now, ErrMissing},
		{"tampered path canned", strings.Replace(canned, "/a?", "/b?", 1), "", now, ErrBadSignature},
		{"tampered query canned", strings.Replace(canned, "n=1", "n=2", 1), "", now, ErrBadSignature},
		{"tampered expires", strings.Replace(canned, "Expires=", "Expires=9", 1), "", now, ErrBadSignature},
		{"tampered host", strings.Replace(canned, "x.example", "y.example", 1), "", now, ErrBadSignature},
		{"tampered policy", tamperedPolicy, "192.0.2.1:1", now, ErrBadSignature},
		{"tampered signature", tamperedSig, "192.0.2.1:1", now, ErrBadSignature},
		{"signed by another key", other, "", now, ErrBadSignature},
		{"wrong key id", strings.Replace(canned, "Key-Pair-Id=k1", "Key-Pair-Id=k9", 1), "", now, ErrUnknownKey},
		{"expired canned", canned, "", now.Add(time.Hour), ErrExpired},
		{"expired custom", custom, "192.0.2.1:1", now.Add(2 * time.Hour), ErrExpired},
		{"not yet valid", custom, "192.0.2.1:1", now.Add(-2 * time.Hour), ErrNotYetValid},
		{"ip outside range", custom, "198.51.100.1:1", now, ErrIPNotAllowed},
		{"ipv4-mapped inside range", custom, "[::ffff:192.0.2.9]:1", now, nil},
		{"unparseable remote addr", custom, "pipe", now, ErrIPNotAllowed},
		{"resource mismatch", mismatch, "", now, ErrResourceMismatch},
		{"custom on another path", strings.Replace(custom, "/a?", "/b?", 1), "192.0.2.1:1", now, ErrResourceMismatch},
		{"garbage base64 signature", strings.Replace(canned, "Signature=", "Signature=%25%25", 1), "", now, ErrMalformed},
		{"standard base64 signature", strings.Replace(canned, "Signature=", "Signature=a%2Fb", 1), "", now, ErrMalformed},
		{"garbage base64 policy", strings.Replace(custom, "Policy=", "Policy=!!", 1), "", now, ErrMalformed},
		{"bad escape", "http://x.example/a?Expires=1%zz&Signature=AAAA&Key-Pair-Id=k1", "", now, ErrMalformed},
		{"expires not a number", "http://x.example/a?Expires=soon&Signature=AAAA&Key-Pair-Id=k1", "", now, ErrMalformed},
		{"expires negative", "http://x.example/a?Expires=-5&Signature=AAAA&Key-Pair-Id=k1", "", now, ErrMalformed},
		{"both expires and policy", canned + "&Policy=AAAA", "", now, ErrMalformed},
		{"no key id", strings.Replace(canned, "&Key-Pair-Id=k1", "", 1), "", now, ErrMalformed},
		{"key id twice", canned + "&Key-Pair-Id=k1", "", now, ErrMalformed},
		{"key id with odd bytes", strings.Replace(canned, "Key-Pair-Id=k1", "Key-Pair-Id=k%0A1", 1), "", now, ErrMalformed},
		{"empty signature", strings.Replace(canned, "Signature=", "Signature=&x=", 1), "", now, ErrMalformed},
		{"huge policy", huge, "", now, ErrMalformed},
		{"huge signature", "http://x.example/a?Expires=1&Key-Pair-Id=k1&Signature=" + strings.Repeat("A", 4096), "", now, ErrMalformed},
		{"huge key id", "http://x.example/a?Expires=1&Signature=AAAA&Key-Pair-Id=" + strings.Repeat("k", 200), "", now, ErrMalformed},
		{"short signature", strings.Replace(canned, "Signature=", "Signature=AAAA&x=", 1), "", now, ErrBadSignature},
	} {
		err := v.Verify(request(c.url, c.addr), c.at)
		if (c.want == nil) != (err == nil) || !errors.Is(err, c.want) {
			t.Errorf("%s: Verify = %v, want %v", c.name, err, c.want)
		}
	}
}

// Signed but unacceptable policies are malformed, not ignored.
func TestSignedPolicyValidated(t *testing.T) {
	s := Signer{KeyID: "k1", Key: edKey(1)}
	v := mustVerifier(t, map[string]crypto.PublicKey{"k1": edKey(1).Public()})
	for _, policy := range []string{
		`{"Statement":[{"Resource":"*","Condition":{"DateLessThan":{"AWS:EpochTime":9999999999}},"Extra":1}]}`,
		`{"Statement":[{"Resource":"*","Condition":{"DateLessThan":{"AWS:EpochTime":9999999999},"AWS:Referer":{}}}]}`,
		`{"Statement":[]}`,
		`{"Statement":[{"Resource":"*","Condition":{}}]}`,
		`{"Statement":[{"Resource":"*","Condition":{"DateLessThan":{"AWS:EpochTime":9999999999},"IpAddress":{"AWS:SourceIp":"nope"}}}]}`,
		`{"Statement":[{"Resource":"*","Condition":{"DateLessThan":{"AWS:EpochTime":9999999999}}}]} {}`,
	} {
		sig, err := s.sign([]byte(policy))
		if err != nil {
			t.Fatal(err)
		}
		u := "http://x.example/?Policy=" + Encode([]byte(policy)) + "&Signature=" + Encode(sig) + "&Key-Pair-Id=k1"
		if err := v.Verify(request(u, ""), now); !errors.Is(err, ErrMalformed) {
			t.Errorf("policy %s: Verify = %v, want ErrMalformed", policy, err)
		}
	}
}

// Rotation: both keys of a group verify; a removed key is rejected at once.
func TestRotation(t *testing.T) {
	old, next := Signer{KeyID: "2026-01", Key: edKey(1)}, Signer{KeyID: "2026-02", Key: rsaKey()}
	v := mustVerifier(t, map[string]crypto.PublicKey{"2026-01": edKey(1).Public()})
	oldURL, _ := old.SignURL("https://x.example/a", Policy{Expires: now.Add(time.Hour)})
	newURL, _ := next.SignURL("https://x.example/a", Policy{Expires: now.Add(time.Hour)})
	verify := func(u string) error { return v.Verify(request(u, ""), now) }
	if err := verify(newURL); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("new key before it is added: %v", err)
	}
	// Step 1: trust both.
	if err := v.SetKeyGroups(
		KeyGroup{Name: "site", Keys: map[string]crypto.PublicKey{"2026-01": edKey(1).Public()}},
		KeyGroup{Name: "site-next", Keys: map[string]crypto.PublicKey{"2026-02": &rsaKey().PublicKey}},
	); err != nil {
		t.Fatal(err)
	}
	if err := verify(oldURL); err != nil {
		t.Errorf("old key during rotation: %v", err)
	}
	if err := verify(newURL); err != nil {
		t.Errorf("new key during rotation: %v", err)
	}
	// Step 2: remove the old key.
	if err := v.SetKeyGroups(KeyGroup{Name: "site", Keys: map[string]crypto.PublicKey{"2026-02": &rsaKey().PublicKey}}); err != nil {
		t.Fatal(err)
	}
	if err := verify(oldURL); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("removed key: Verify = %v, want ErrUnknownKey", err)
	}
	if err := verify(newURL); err != nil {
		t.Errorf("new key after rotation: %v", err)
	}
}

func TestKeyGroupsValidated(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	for name, groups := range map[string][]KeyGroup{
		"rsa too small":   {{Name: "g", Keys: map[string]crypto.PublicKey{"k": &small.PublicKey}}},
		"private key":     {{Name: "g", Keys: map[string]crypto.PublicKey{"k": edKey(1)}}},
		"bad key id":      {{Name: "g", Keys: map[string]crypto.PublicKey{"k 1": edKey(1).Public()}}},
		"id, two keys":    {{Name: "a", Keys: map[string]crypto.PublicKey{"k": edKey(1).Public()}}, {Name: "b", Keys: map[string]crypto.PublicKey{"k": edKey(2).Public()}}},
		"short ed25519":   {{Name: "g", Keys: map[string]crypto.PublicKey{"k": ed25519.PublicKey{1, 2}}}},
		"ed then rsa, id": {{Name: "a", Keys: map[string]crypto.PublicKey{"k": edKey(1).Public()}}, {Name: "b", Keys: map[string]crypto.PublicKey{"k": &rsaKey().PublicKey}}},
	} {
		if _, err := NewVerifier(groups...); err == nil {
			t.Errorf("%s: NewVerifier accepted it", name)
		}
	}
	same := []KeyGroup{{Name: "a", Keys: map[string]crypto.PublicKey{"k": edKey(1).Public()}}, {Name: "b", Keys: map[string]crypto.PublicKey{"k": edKey(1).Public()}}}
	if _, err := NewVerifier(same...); err != nil {
		t.Errorf("same key in two groups: %v", err)
	}
	var zero Verifier
	u, _ := (Signer{KeyID: "k", Key: edKey(1)}).SignURL("http://x.example/", Policy{Expires: now.Add(time.Hour)})
	if err := zero.Verify(request(u, ""), now); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("zero Verifier: %v, want ErrUnknownKey", err)
	}
}

func TestSchemeAndClientIP(t *testing.T) {
	s := Signer{KeyID: "k1", Key: edKey(1)}
	v := mustVerifier(t, map[string]crypto.PublicKey{"k1": edKey(1).Public()})
	u, _ := s.SignURL("https://x.example/a", Policy{Expires: now.Add(time.Hour), IPRange: netip.MustParsePrefix("203.0.113.5/32")})
	r := request(u, "10.0.0.1:1")
	r.TLS = nil // plain HTTP from a TLS terminator
	if err := v.Verify(r, now); !errors.Is(err, ErrResourceMismatch) {
		t.Errorf("https URL over http: %v, want ErrResourceMismatch", err)
	}
	v.Scheme = "https"
	if err := v.Verify(r, now); !errors.Is(err, ErrIPNotAllowed) {
		t.Errorf("terminator's address: %v, want ErrIPNotAllowed", err)
	}
	v.ClientIP = func(r *http.Request) (netip.Addr, bool) {
		a, err := netip.ParseAddr(r.Header.Get("X-Client-IP"))
		return a, err == nil
	}
	r.Header.Set("X-Client-IP", "203.0.113.5")
	if err := v.Verify(r, now); err != nil {
		t.Errorf("with ClientIP hook: %v", err)
	}
}

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "anything", true},
		{"a*c", "abbbc", true},
		{"a*c", "abbbd", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"https://x/*.mp4", "https://x/a/b.mp4", true},
		{"https://x/*.mp4", "https://x/a/b.mp4?x=1", false},
		{"https://x/*.mp4*", "https://x/a/b.mp4?x=1", true},
		{"**a**", "bab", true},
		{"a*b*c", "aXbYbZc", true},
		{"", "", true},
		{"", "a", false},
	} {
		if got := match(c.pattern, c.s); got != c.want {
			t.Errorf("match(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}

func TestParseKeysPEM(t *testing.T) {
	for _, key := range []crypto.Signer{edKey(3), rsaKey()} {
		privPEM, err := MarshalPrivateKeyPEM(key)
		if err != nil {
			t.Fatal(err)
		}
		pubPEM, err := MarshalPublicKeyPEM(key.Public())
		if err != nil {
			t.Fatal(err)
		}
		priv, err := ParsePrivateKeyPEM(privPEM)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := ParsePublicKeyPEM(pubPEM)
		if err != nil {
			t.Fatal(err)
		}
		if !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(priv.Public()) {
			t.Errorf("%T: parsed keys do not pair", key)
		}
	}
	// PKCS #1 forms.
	pkcs1 := pemBlock("RSA PRIVATE KEY", x509PKCS1Private(rsaKey()))
	if k, err := ParsePrivateKeyPEM(pkcs1); err != nil || !k.Public().(*rsa.PublicKey).Equal(&rsaKey().PublicKey) {
		t.Errorf("PKCS #1 private key: %v", err)
	}
	pkcs1pub := pemBlock("RSA PUBLIC KEY", x509PKCS1Public(&rsaKey().PublicKey))
	if k, err := ParsePublicKeyPEM(pkcs1pub); err != nil || !k.(*rsa.PublicKey).Equal(&rsaKey().PublicKey) {
		t.Errorf("PKCS #1 public key: %v", err)
	}
	for name, data := range map[string][]byte{
		"empty":        nil,
		"not pem":      []byte("hello"),
		"wrong type":   pemBlock("EC PRIVATE KEY", []byte{1, 2}),
		"garbage body": pemBlock("PRIVATE KEY", []byte{1, 2, 3}),
	} {
		if _, err := ParsePrivateKeyPEM(data); err == nil {
			t.Errorf("private %s: parsed", name)
		}
		if _, err := ParsePublicKeyPEM(data); err == nil {
			t.Errorf("public %s: parsed", name)
		}
	}
}

func TestBase64(t *testing.T) {
	b := []byte{0xfb, 0xff, 0xfe, 0x01}
	enc := Encode(b)
	if strings.ContainsAny(enc, "+/=") || enc != "-~~-AQ__" {
		t.Errorf("Encode = %q", enc)
	}
	dec, err := Decode(enc)
	if err != nil || string(dec) != string(b) {
		t.Errorf("Decode(%q) = %x, %v", enc, dec, err)
	}
	for _, bad := range []string{"+~~-AQ__", "-~~-AQ==", "-~~-\nAQ__", "A", "-~~-AR__"} {
		if _, err := Decode(bad); err == nil {
			t.Errorf("Decode(%q) succeeded", bad)
		}
	}
}
