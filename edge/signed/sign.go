package signed

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Signer signs URLs and cookies with one private key. Key is an
// ed25519.PrivateKey, an *rsa.PrivateKey (2048 to 8192 bits; signatures
// are PKCS #1 v1.5 over SHA-256), or any crypto.Signer whose public key is
// one of those (a key in an HSM or KMS, for example). A Signer is safe for
// concurrent use if Key is.
type Signer struct {
	KeyID string
	Key   crypto.Signer
}

func (s Signer) check() error {
	if !validKeyID(s.KeyID) {
		return fmt.Errorf("signed: invalid key id %q (1 to %d of A-Z a-z 0-9 . _ -)", s.KeyID, maxKeyIDSize)
	}
	if s.Key == nil {
		return errors.New("signed: signer has no key")
	}
	switch pub := s.Key.Public().(type) {
	case ed25519.PublicKey:
		return nil
	case *rsa.PublicKey:
		return checkRSA(pub)
	default:
		return fmt.Errorf("signed: unsupported key type %T (want Ed25519 or RSA)", pub)
	}
}

// sign signs policy as Verifier expects.
func (s Signer) sign(policy []byte) ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if _, ok := s.Key.Public().(ed25519.PublicKey); ok {
		return s.Key.Sign(rand.Reader, policy, crypto.Hash(0))
	}
	h := sha256.Sum256(policy)
	return s.Key.Sign(rand.Reader, h[:], crypto.SHA256)
}

// SignURL returns rawURL (absolute, http or https) with signing parameters
// appended to its query, which is otherwise kept as it was. The policy is
// canned (Expires) when p sets only Expires and its Resource is empty or
// the URL itself; otherwise it is custom (Policy), with Resource defaulting
// to the URL. rawURL must not already carry a signing parameter.
func (s Signer) SignURL(rawURL string, p Policy) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("signed: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.Opaque != "" {
		return "", fmt.Errorf("signed: %q is not an absolute http or https URL", rawURL)
	}
	if p.Expires.IsZero() {
		return "", errors.New("signed: policy has no expiry")
	}
	if u.RawQuery != "" {
		for piece := range strings.SplitSeq(u.RawQuery, "&") {
			k, _, _ := strings.Cut(piece, "=")
			if name, ok := isSigningParam(k); ok {
				return "", fmt.Errorf("signed: URL already has a %s parameter", name)
			}
		}
	}
	u.Fragment, u.RawFragment = "", ""
	resource := resourceOf(u.Scheme, u.Host, u.EscapedPath(), u.RawQuery)
	var params []string
	if p.canned(resource) {
		exp := p.Expires.Unix()
		sig, err := s.sign(cannedPolicy(resource, exp))
		if err != nil {
			return "", err
		}
		params = []string{ParamExpires + "=" + strconv.FormatInt(exp, 10), ParamSignature + "=" + Encode(sig)}
	} else {
		if p.Resource == "" {
			p.Resource = resource
		}
		policy, err := customPolicy(p)
		if err != nil {
			return "", err
		}
		sig, err := s.sign(policy)
		if err != nil {
			return "", err
		}
		params = []string{ParamPolicy + "=" + Encode(policy), ParamSignature + "=" + Encode(sig)}
	}
	params = append(params, ParamKeyPairID+"="+s.KeyID)
	if u.RawQuery != "" {
		params = append([]string{u.RawQuery}, params...)
	}
	u.RawQuery = strings.Join(params, "&")
	u.ForceQuery = false
	return u.String(), nil
}

// SignCookies returns the signed cookies granting p: CloudFront-Expires
// (canned) when p sets only Resource and Expires and Resource has no
// wildcard, CloudFront-Policy (custom) otherwise, then
// CloudFront-Signature and CloudFront-Key-Pair-Id. p.Resource is required:
// a canned cookie covers exactly that URL, so use a pattern such as
// https://example.com/videos/* for a tree.
//
// The cookies have Path=/, Secure, HttpOnly, SameSite=Lax and expire with
// the policy; set Domain on them if they must reach other hosts, and send
// them only once per name (Verify rejects a cookie sent twice).
func (s Signer) SignCookies(p Policy) ([]*http.Cookie, error) {
	if p.Resource == "" {
		return nil, errors.New("signed: cookies need a policy resource")
	}
	if p.Expires.IsZero() {
		return nil, errors.New("signed: policy has no expiry")
	}
	var first *http.Cookie
	var sig []byte
	var err error
	if p.Start.IsZero() && !p.IPRange.IsValid() && !strings.ContainsAny(p.Resource, "*?") {
		exp := p.Expires.Unix()
		u, perr := url.Parse(p.Resource)
		if perr != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			return nil, fmt.Errorf("signed: canned cookie resource %q is not an absolute http or https URL", p.Resource)
		}
		sig, err = s.sign(cannedPolicy(resourceOf(u.Scheme, u.Host, u.EscapedPath(), u.RawQuery), exp))
		first = &http.Cookie{Name: CookieExpires, Value: strconv.FormatInt(exp, 10)}
	} else {
		var policy []byte
		if policy, err = customPolicy(p); err == nil {
			sig, err = s.sign(policy)
			first = &http.Cookie{Name: CookiePolicy, Value: Encode(policy)}
		}
	}
	if err != nil {
		return nil, err
	}
	cookies := []*http.Cookie{
		first,
		{Name: CookieSignature, Value: Encode(sig)},
		{Name: CookieKeyPairID, Value: s.KeyID},
	}
	for _, c := range cookies {
		c.Path = "/"
		c.Secure = true
		c.HttpOnly = true
		c.SameSite = http.SameSiteLaxMode
		c.Expires = p.Expires
	}
	return cookies, nil
}
