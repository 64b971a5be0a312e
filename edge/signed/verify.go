package signed

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/strata-cache/strata/internal/keyid"
)

// Reasons Verify fails for. Verify wraps one of them with detail; branch
// with errors.Is and show err.Error() in a 403 body if you like: it never
// repeats more than a key id of what the client sent.
var (
	ErrMissing          = errors.New("signed: no signature in the URL or cookies")
	ErrMalformed        = errors.New("signed: malformed signing parameters")
	ErrUnknownKey       = errors.New("signed: unknown key pair id")
	ErrBadSignature     = errors.New("signed: signature does not match")
	ErrExpired          = errors.New("signed: expired")
	ErrNotYetValid      = errors.New("signed: not yet valid")
	ErrIPNotAllowed     = errors.New("signed: client address not allowed")
	ErrResourceMismatch = errors.New("signed: URL not covered by the policy")
)

// Query parameters of a signed URL.
const (
	ParamExpires   = "Expires"     // canned policy: expiry, Unix seconds
	ParamPolicy    = "Policy"      // custom policy: the policy JSON, URL-safe base64
	ParamSignature = "Signature"   // signature over the policy, URL-safe base64
	ParamKeyPairID = "Key-Pair-Id" // the id of the key that signed
)

// Cookie names of signed cookies: CloudFront's, so cookies minted by
// existing CloudFront tooling carry over (their signature must still be
// made with a key and algorithm this package accepts).
const (
	CookieExpires   = "CloudFront-Expires"
	CookiePolicy    = "CloudFront-Policy"
	CookieSignature = "CloudFront-Signature"
	CookieKeyPairID = "CloudFront-Key-Pair-Id"
)

// KeyGroup is a named set of trusted public keys, by key pair id. A key is
// an ed25519.PublicKey or an *rsa.PublicKey of 2048 to 8192 bits.
type KeyGroup struct {
	Name string
	Keys map[string]crypto.PublicKey
}

// Verifier checks signed URLs and signed cookies against trusted key
// groups. Set its fields before first use; it is then safe for concurrent
// use, and SetKeyGroups may replace the keys at any time.
type Verifier struct {
	// Scheme is the scheme of the URLs clients asked for, for when a TLS
	// terminator sits in front: "" means https when the request came over
	// TLS, else http.
	Scheme string
	// ClientIP returns the client address IpAddress conditions are checked
	// against. Nil means the host part of r.RemoteAddr; set it when the
	// edge sits behind a proxy it trusts to report the client address.
	ClientIP func(r *http.Request) (netip.Addr, bool)

	keys atomic.Pointer[map[string]verifyKey]
}

type verifyKey struct {
	group string
	ed    ed25519.PublicKey
	rsa   *rsa.PublicKey
}

func (k verifyKey) verify(msg, sig []byte) bool {
	if k.ed != nil {
		return len(sig) == ed25519.SignatureSize && ed25519.Verify(k.ed, msg, sig)
	}
	h := sha256.Sum256(msg)
	return rsa.VerifyPKCS1v15(k.rsa, crypto.SHA256, h[:], sig) == nil
}

// NewVerifier returns a Verifier trusting the keys of groups.
func NewVerifier(groups ...KeyGroup) (*Verifier, error) {
	v := new(Verifier)
	if err := v.SetKeyGroups(groups...); err != nil {
		return nil, err
	}
	return v, nil
}

// SetKeyGroups atomically replaces the trusted keys; requests being
// verified finish with the old set. To rotate a key without downtime: add
// the new key (SetKeyGroups with both), start signing with it, and remove
// the old one once the URLs it signed have expired.
//
// A key id may appear in several groups only with the same key.
func (v *Verifier) SetKeyGroups(groups ...KeyGroup) error {
	ring := make(map[string]verifyKey)
	for _, g := range groups {
		for id, pub := range g.Keys {
			if !validKeyID(id) {
				return fmt.Errorf("signed: key group %q: invalid key id %q (1 to %d of A-Z a-z 0-9 . _ -)", g.Name, id, maxKeyIDSize)
			}
			k := verifyKey{group: g.Name}
			switch pub := pub.(type) {
			case ed25519.PublicKey:
				if len(pub) != ed25519.PublicKeySize {
					return fmt.Errorf("signed: key group %q: key %s: bad Ed25519 key length", g.Name, id)
				}
				k.ed = pub
			case *rsa.PublicKey:
				if err := checkRSA(pub); err != nil {
					return fmt.Errorf("signed: key group %q: key %s: %v", g.Name, id, err)
				}
				k.rsa = pub
			default:
				return fmt.Errorf("signed: key group %q: key %s: unsupported key type %T (want Ed25519 or RSA)", g.Name, id, pub)
			}
			if old, ok := ring[id]; ok && !old.same(k) {
				return fmt.Errorf("signed: key id %s is in groups %q and %q with different keys", id, old.group, g.Name)
			}
			ring[id] = k
		}
	}
	v.keys.Store(&ring)
	return nil
}

func (k verifyKey) same(o verifyKey) bool {
	if k.ed != nil {
		return k.ed.Equal(o.ed)
	}
	return o.rsa != nil && k.rsa.Equal(o.rsa)
}

func checkRSA(pub *rsa.PublicKey) error {
	if pub.N == nil {
		return errors.New("empty RSA key")
	}
	if n := pub.N.BitLen(); n < 2048 || n > 8192 {
		return fmt.Errorf("RSA key of %d bits (want 2048 to 8192)", n)
	}
	return nil
}

func validKeyID(id string) bool { return keyid.Valid(id, maxKeyIDSize) }

// credential is the signing material of one request.
type credential struct {
	expires, policy, signature, keyID string
	cookie                            bool
}

// Verify checks that r carries a valid signature at time now: in its query
// (Expires or Policy, Signature, Key-Pair-Id) or, when the query has none
// of those parameters, in its cookies. The resource checked is the URL the
// client asked for, scheme://host/path?query without the signing
// parameters. The error wraps one of the Err* reasons; nil means allowed.
//
// Malformed input is rejected before any key is looked up, and the
// signature is checked before the policy is parsed or matched.
func (v *Verifier) Verify(r *http.Request, now time.Time) error {
	cred, found, err := fromQuery(r.URL.RawQuery)
	if err != nil {
		return err
	}
	if !found {
		if cred, found, err = fromCookies(r); err != nil {
			return err
		}
	}
	if !found {
		return ErrMissing
	}
	sig, err := Decode(cred.signature)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrMalformed, cred.name(ParamSignature), err)
	}
	var expires int64
	var policy []byte
	if cred.expires != "" {
		expires, err = strconv.ParseInt(cred.expires, 10, 64)
		if err != nil || expires <= 0 || cred.expires[0] == '+' {
			return fmt.Errorf("%w: %s is not a positive number of seconds", ErrMalformed, cred.name(ParamExpires))
		}
	} else if policy, err = Decode(cred.policy); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrMalformed, cred.name(ParamPolicy), err)
	}
	ring := v.keys.Load()
	if ring == nil {
		return fmt.Errorf("%w: %q (no keys trusted)", ErrUnknownKey, cred.keyID)
	}
	key, ok := (*ring)[cred.keyID]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownKey, cred.keyID)
	}
	resource := v.resource(r)
	var p Policy
	if policy == nil {
		if !key.verify(cannedPolicy(resource, expires), sig) {
			return ErrBadSignature
		}
		p = Policy{Resource: resource, Expires: time.Unix(expires, 0)}
	} else {
		if !key.verify(policy, sig) {
			return ErrBadSignature
		}
		if p, err = ParsePolicy(policy); err != nil {
			return err
		}
	}
	return v.check(p, resource, r, now)
}

// check applies a verified policy's conditions.
func (v *Verifier) check(p Policy, resource string, r *http.Request, now time.Time) error {
	sec := now.Unix()
	if sec >= p.Expires.Unix() {
		return fmt.Errorf("%w at %s", ErrExpired, p.Expires.UTC().Format(time.RFC3339))
	}
	if !p.Start.IsZero() && sec < p.Start.Unix() {
		return fmt.Errorf("%w until %s", ErrNotYetValid, p.Start.UTC().Format(time.RFC3339))
	}
	if !match(lowerOrigin(p.Resource), resource) {
		return ErrResourceMismatch
	}
	if p.IPRange.IsValid() {
		ip, ok := v.clientIP(r)
		if !ok || !p.IPRange.Contains(ip) {
			return ErrIPNotAllowed
		}
	}
	return nil
}

func (v *Verifier) clientIP(r *http.Request) (netip.Addr, bool) {
	if v.ClientIP != nil {
		a, ok := v.ClientIP(r)
		return a.Unmap(), ok
	}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	a, err := netip.ParseAddr(r.RemoteAddr)
	return a.Unmap().WithZone(""), err == nil
}

// resource returns the URL r asked for, without signing parameters.
func (v *Verifier) resource(r *http.Request) string {
	scheme := v.Scheme
	if scheme == "" {
		scheme = "http"
		if r.TLS != nil {
			scheme = "https"
		}
	}
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	return resourceOf(scheme, host, r.URL.EscapedPath(), stripQuery(r.URL.RawQuery))
}

// lowerOrigin lower-cases the scheme and host of a resource pattern, as
// resourceOf does the URL it is matched against: a policy written for
// https://Media.Example.com/* covers https://media.example.com/x.
func lowerOrigin(pattern string) string {
	i := strings.Index(pattern, "://")
	if i < 0 {
		return pattern
	}
	end := len(pattern)
	if j := strings.IndexByte(pattern[i+3:], '/'); j >= 0 {
		end = i + 3 + j
	}
	if strings.ToLower(pattern[:end]) == pattern[:end] {
		return pattern
	}
	return strings.ToLower(pattern[:end]) + pattern[end:]
}

// resourceOf is the canonical form signers and verifiers agree on: scheme
// and host in lower case, the default port dropped, an empty path as /.
func resourceOf(scheme, host, path, query string) string {
	scheme = strings.ToLower(scheme)
	host = strings.ToLower(host)
	switch {
	case scheme == "https" && strings.HasSuffix(host, ":443"):
		host = strings.TrimSuffix(host, ":443")
	case scheme == "http" && strings.HasSuffix(host, ":80"):
		host = strings.TrimSuffix(host, ":80")
	}
	if path == "" {
		path = "/"
	}
	s := scheme + "://" + host + path
	if query != "" {
		s += "?" + query
	}
	return s
}

// isSigningParam reports whether a raw query key names a signing parameter.
func isSigningParam(rawKey string) (string, bool) {
	k, err := url.QueryUnescape(rawKey)
	if err != nil {
		return "", false
	}
	switch k {
	case ParamExpires, ParamPolicy, ParamSignature, ParamKeyPairID:
		return k, true
	}
	return "", false
}

// stripQuery returns rawQuery without signing parameters, the rest byte
// for byte in its order.
func stripQuery(rawQuery string) string {
	if rawQuery == "" {
		return ""
	}
	var kept []string
	for piece := range strings.SplitSeq(rawQuery, "&") {
		k, _, _ := strings.Cut(piece, "=")
		if _, ok := isSigningParam(k); !ok {
			kept = append(kept, piece)
		}
	}
	return strings.Join(kept, "&")
}

// StripParams removes the signing parameters from u's query, keeping the
// rest as it was, so that neither the cache key nor the origin sees them.
// Call it after Verify.
func StripParams(u *url.URL) {
	u.RawQuery = stripQuery(u.RawQuery)
	if u.RawQuery == "" {
		u.ForceQuery = false
	}
}

// StripCookies removes the signing cookies from r's Cookie header, keeping
// the others, so that the origin does not see them.
func StripCookies(r *http.Request) {
	if len(r.Header.Values("Cookie")) == 0 {
		return
	}
	var kept []string
	for _, c := range r.Cookies() {
		switch c.Name {
		case CookieExpires, CookiePolicy, CookieSignature, CookieKeyPairID:
			continue
		}
		kept = append(kept, c.Name+"="+c.Value)
	}
	r.Header.Del("Cookie")
	if len(kept) > 0 {
		r.Header.Set("Cookie", strings.Join(kept, "; "))
	}
}

func (c credential) name(param string) string {
	if !c.cookie {
		return param
	}
	switch param {
	case ParamExpires:
		return CookieExpires
	case ParamPolicy:
		return CookiePolicy
	case ParamSignature:
		return CookieSignature
	}
	return CookieKeyPairID
}

// fromQuery collects the signing parameters of a raw query; found reports
// whether there was any.
func fromQuery(rawQuery string) (c credential, found bool, err error) {
	for piece := range strings.SplitSeq(rawQuery, "&") {
		rk, rv, _ := strings.Cut(piece, "=")
		k, ok := isSigningParam(rk)
		if !ok {
			continue
		}
		found = true
		if len(rv) > 3*MaxPolicySize {
			return c, true, fmt.Errorf("%w: %s too long", ErrMalformed, k)
		}
		val, err := url.QueryUnescape(rv)
		if err != nil {
			return c, true, fmt.Errorf("%w: %s is not query-escaped", ErrMalformed, k)
		}
		if err := c.set(k, val); err != nil {
			return c, true, err
		}
	}
	if !found {
		return c, false, nil
	}
	return c, true, c.complete()
}

// fromCookies collects the signing cookies of r.
func fromCookies(r *http.Request) (c credential, found bool, err error) {
	c.cookie = true
	for _, pair := range [...][2]string{
		{CookieExpires, ParamExpires}, {CookiePolicy, ParamPolicy},
		{CookieSignature, ParamSignature}, {CookieKeyPairID, ParamKeyPairID},
	} {
		cs := r.CookiesNamed(pair[0])
		if len(cs) == 0 {
			continue
		}
		found = true
		if len(cs) > 1 {
			return c, true, fmt.Errorf("%w: cookie %s sent %d times", ErrMalformed, pair[0], len(cs))
		}
		if err := c.set(pair[1], cs[0].Value); err != nil {
			return c, true, err
		}
	}
	if !found {
		return c, false, nil
	}
	return c, true, c.complete()
}

func (c *credential) set(param, val string) error {
	var dst *string
	limit := 0
	switch param {
	case ParamExpires:
		dst, limit = &c.expires, maxExpiresSize
	case ParamPolicy:
		dst, limit = &c.policy, MaxPolicySize
	case ParamSignature:
		dst, limit = &c.signature, maxSignatureSize
	case ParamKeyPairID:
		dst, limit = &c.keyID, maxKeyIDSize
	}
	name := c.name(param)
	switch {
	case *dst != "":
		return fmt.Errorf("%w: %s given twice", ErrMalformed, name)
	case val == "":
		return fmt.Errorf("%w: %s is empty", ErrMalformed, name)
	case len(val) > limit:
		return fmt.Errorf("%w: %s longer than %d bytes", ErrMalformed, name, limit)
	case param == ParamKeyPairID && !validKeyID(val):
		return fmt.Errorf("%w: %s has characters outside A-Z a-z 0-9 . _ -", ErrMalformed, name)
	}
	*dst = val
	return nil
}

func (c credential) complete() error {
	switch {
	case c.expires != "" && c.policy != "":
		return fmt.Errorf("%w: both %s and %s", ErrMalformed, c.name(ParamExpires), c.name(ParamPolicy))
	case c.expires == "" && c.policy == "":
		return fmt.Errorf("%w: neither %s nor %s", ErrMalformed, c.name(ParamExpires), c.name(ParamPolicy))
	case c.signature == "":
		return fmt.Errorf("%w: no %s", ErrMalformed, c.name(ParamSignature))
	case c.keyID == "":
		return fmt.Errorf("%w: no %s", ErrMalformed, c.name(ParamKeyPairID))
	}
	return nil
}
