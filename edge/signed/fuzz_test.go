package signed

import (
	"crypto"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// FuzzVerify feeds Verify arbitrary queries, cookies and paths. The
// verifier trusts edKey(1) as k1; the seeds are well formed but signed by
// edKey(2) under the same id, so they reach the signature check, and any
// acceptance would be a forgery.
func FuzzVerify(f *testing.F) {
	forger := Signer{KeyID: "k1", Key: edKey(2)}
	for _, p := range []Policy{
		{Expires: now.Add(time.Hour)},
		{Resource: "http://x.example/*", Expires: now.Add(time.Hour), Start: now.Add(-time.Hour), IPRange: netip.MustParsePrefix("192.0.2.0/24")},
	} {
		s, err := forger.SignURL("http://x.example/a/b?x=1", p)
		if err != nil {
			f.Fatal(err)
		}
		u, _ := url.Parse(s)
		f.Add(u.RawQuery, "", u.Path)
	}
	cookies, err := forger.SignCookies(Policy{Resource: "http://x.example/*", Expires: now.Add(time.Hour)})
	if err != nil {
		f.Fatal(err)
	}
	var parts []string
	for _, c := range cookies {
		parts = append(parts, c.Name+"="+c.Value)
	}
	f.Add("", strings.Join(parts, "; "), "/a")
	f.Add("Expires=1&Signature=~~~~&Key-Pair-Id=k1", "", "/")
	f.Add("Policy=_&Signature=A-&Key-Pair-Id=k1&Key-Pair-Id=k2", "CloudFront-Expires=1", "/")

	v, err := NewVerifier(KeyGroup{Name: "g", Keys: map[string]crypto.PublicKey{"k1": edKey(1).Public()}})
	if err != nil {
		f.Fatal(err)
	}
	reasons := []error{ErrMissing, ErrMalformed, ErrUnknownKey, ErrBadSignature}
	f.Fuzz(func(t *testing.T, rawQuery, cookie, path string) {
		r := &http.Request{
			Method:     "GET",
			URL:        &url.URL{Path: path, RawQuery: rawQuery},
			Host:       "x.example",
			Header:     http.Header{"Cookie": {cookie}},
			RemoteAddr: "192.0.2.1:1234",
		}
		err := v.Verify(r, now)
		if err == nil {
			t.Fatalf("accepted a signature not made with the trusted key: query %q cookie %q", rawQuery, cookie)
		}
		known := false
		for _, reason := range reasons {
			known = known || errors.Is(err, reason)
		}
		if !known {
			t.Fatalf("Verify = %v: not a pre-signature reason", err)
		}
		StripParams(r.URL)
		if c, found, _ := fromQuery(r.URL.RawQuery); found {
			t.Fatalf("StripParams left signing parameters: %q (%+v)", r.URL.RawQuery, c)
		}
	})
}

// FuzzPolicy checks that parsing never panics, that what parses survives
// a round trip through the writer, and that the wildcard matcher agrees
// with a regular expression on ASCII input.
func FuzzPolicy(f *testing.F) {
	f.Add([]byte(`{"Statement":[{"Resource":"https://x/*","Condition":{"DateLessThan":{"AWS:EpochTime":1767225600},"DateGreaterThan":{"AWS:EpochTime":1767222000},"IpAddress":{"AWS:SourceIp":"192.0.2.0/24"}}}]}`), "https://x/*", "https://x/a")
	f.Add(cannedPolicy("https://x/a?b=1&c", 1767225600), "a?c*", "abcdef")
	f.Add([]byte(`{"Statement":[{"Resource":"*","Condition":{"DateLessThan":{"AWS:EpochTime":1},"IpAddress":{"AWS:SourceIp":"2001:db8::1"}}}]}`), "*a*b*", "xaxbx")
	f.Add([]byte(`{"Statement":[{"Resource":"*","Condition":{"DateLessThan":{"AWS:EpochTime":1e3}}}]}`), "", "")
	f.Fuzz(func(t *testing.T, data []byte, pattern, s string) {
		p, err := ParsePolicy(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParsePolicy error %v does not wrap ErrMalformed", err)
			}
		} else if p.Start.IsZero() || p.Start.Before(p.Expires) {
			again, err := customPolicy(p)
			if err != nil {
				t.Fatalf("parsed policy %+v does not marshal: %v", p, err)
			}
			q, err := ParsePolicy(again)
			if err != nil {
				t.Fatalf("written policy %s does not parse: %v", again, err)
			}
			if q.Resource != p.Resource || !q.Expires.Equal(p.Expires) || !q.Start.Equal(p.Start) || q.IPRange != p.IPRange {
				t.Fatalf("round trip changed %+v into %+v", p, q)
			}
		}
		if len(pattern) > 64 || len(s) > 256 || !ascii(pattern) || !ascii(s) {
			return
		}
		var re strings.Builder
		re.WriteString(`(?s)^`)
		for _, c := range pattern {
			switch c {
			case '*':
				re.WriteString(`.*`)
			case '?':
				re.WriteString(`.`)
			default:
				re.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		re.WriteString(`$`)
		if want := regexp.MustCompile(re.String()).MatchString(s); match(pattern, s) != want {
			t.Fatalf("match(%q, %q) = %v, regexp says %v", pattern, s, !want, want)
		}
	})
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
