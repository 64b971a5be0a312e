package oac

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/strata-cache/strata/internal/keyid"
)

// Header fields that carry the signature and the date it covers.
const (
	HeaderAuth = "X-Strata-Origin-Auth"
	HeaderDate = "X-Strata-Date"
)

// DefaultMaxSkew is how far a request's date may be from the origin's
// clock when Verifier.MaxSkew is zero.
const DefaultMaxSkew = 5 * time.Minute

// Reasons Verify fails for; Middleware writes err.Error() in the 403 body.
var (
	ErrMissing      = errors.New("oac: request is not signed")
	ErrMalformed    = errors.New("oac: malformed signature header")
	ErrUnknownKey   = errors.New("oac: unknown key id")
	ErrBadSignature = errors.New("oac: signature does not match")
	ErrSkew         = errors.New("oac: date outside the allowed skew")
)

const (
	scheme       = "v1"
	maxHeaderLen = 256
	maxDateLen   = 40
	maxKeyIDLen  = 64
)

// NewTransport returns a RoundTripper that signs each request with the
// secret of keyID, at the time now returns (time.Now when nil), and sends
// the signed copy through next (http.DefaultTransport when nil). The
// caller's request is not modified. If keyID is invalid (1 to 64 of A-Z
// a-z 0-9 . _ -) or secret is shorter than 16 bytes, every request fails
// with an error saying so.
func NewTransport(next http.RoundTripper, keyID string, secret []byte, now func() time.Time) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	if now == nil {
		now = time.Now
	}
	t := &transport{next: next, keyID: keyID, secret: append([]byte(nil), secret...), now: now}
	switch {
	case !validKeyID(keyID):
		t.err = fmt.Errorf("oac: invalid key id %q (1 to %d of A-Z a-z 0-9 . _ -)", keyID, maxKeyIDLen)
	case len(secret) < 16:
		t.err = errors.New("oac: secret shorter than 16 bytes")
	}
	return t
}

type transport struct {
	next   http.RoundTripper
	keyID  string
	secret []byte
	now    func() time.Time
	err    error
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, t.err
	}
	out := req.Clone(req.Context())
	Sign(out, t.keyID, t.secret, t.now())
	return t.next.RoundTrip(out)
}

// Sign sets the signature header fields on r, a client request, for the
// time at. It modifies r; NewTransport calls it on a copy.
func Sign(r *http.Request, keyID string, secret []byte, at time.Time) {
	date := at.UTC().Truncate(time.Second).Format(time.RFC3339)
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	sig := mac(secret, keyID, method, r.URL.RequestURI(), date)
	r.Header.Set(HeaderDate, date)
	r.Header.Set(HeaderAuth, scheme+" keyId="+keyID+", signature="+base64.RawURLEncoding.EncodeToString(sig))
}

func mac(secret []byte, keyID, method, target, date string) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte("strata-oac-v1\n" + keyID + "\n" + method + "\n" + target + "\n" + date))
	return h.Sum(nil)
}

// Verifier checks the signatures NewTransport makes. Its fields must not
// change while it is in use; to change keys at run time, build a new
// Verifier and swap the handler.
type Verifier struct {
	// Keys are the accepted secrets by key id; all are valid at once.
	Keys map[string][]byte
	// MaxSkew is how far the signed date may be from Now, either way;
	// zero means DefaultMaxSkew.
	MaxSkew time.Duration
	// Now is the origin's clock; nil means time.Now.
	Now func() time.Time
}

// Verify checks r, a server request, and returns nil or an error wrapping
// one of the Err* reasons.
func (v *Verifier) Verify(r *http.Request) error {
	auth := r.Header.Values(HeaderAuth)
	dates := r.Header.Values(HeaderDate)
	if len(auth) == 0 && len(dates) == 0 {
		return ErrMissing
	}
	if len(auth) != 1 || len(dates) != 1 {
		return fmt.Errorf("%w: want one %s and one %s", ErrMalformed, HeaderAuth, HeaderDate)
	}
	keyID, sig, err := ParseHeader(auth[0])
	if err != nil {
		return err
	}
	date := dates[0]
	if len(date) > maxDateLen {
		return fmt.Errorf("%w: %s too long", ErrMalformed, HeaderDate)
	}
	at, err := time.Parse(time.RFC3339, date)
	if err != nil {
		return fmt.Errorf("%w: %s is not RFC 3339", ErrMalformed, HeaderDate)
	}
	secret, ok := v.Keys[keyID]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownKey, keyID)
	}
	if !hmac.Equal(sig, mac(secret, keyID, r.Method, requestTarget(r), date)) {
		return ErrBadSignature
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	skew := v.MaxSkew
	if skew <= 0 {
		skew = DefaultMaxSkew
	}
	if d := now().Sub(at); d > skew || d < -skew {
		return fmt.Errorf("%w (%s)", ErrSkew, d.Round(time.Second))
	}
	return nil
}

// requestTarget returns the path and query r was sent with.
func requestTarget(r *http.Request) string {
	t := r.RequestURI
	if t == "" {
		return r.URL.RequestURI()
	}
	if !strings.HasPrefix(t, "/") && t != "*" {
		// Absolute form, as sent through a forward proxy.
		if u, err := url.ParseRequestURI(t); err == nil {
			return u.RequestURI()
		}
	}
	return t
}

// Middleware serves requests that pass Verify with next and answers the
// others with 403 Forbidden and the reason in plain text.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := v.Verify(r); err != nil {
			h := w.Header()
			h.Set("Content-Type", "text/plain; charset=utf-8")
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintln(w, err.Error())
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ParseHeader parses an X-Strata-Origin-Auth value:
// "v1 keyId=<id>, signature=<base64url>", the parameters in any order,
// each once. Errors wrap ErrMalformed.
func ParseHeader(v string) (keyID string, sig []byte, err error) {
	if len(v) > maxHeaderLen {
		return "", nil, fmt.Errorf("%w: header longer than %d bytes", ErrMalformed, maxHeaderLen)
	}
	rest, ok := strings.CutPrefix(v, scheme+" ")
	if !ok {
		return "", nil, fmt.Errorf("%w: want scheme %s", ErrMalformed, scheme)
	}
	var rawSig string
	var haveKey, haveSig bool
	for param := range strings.SplitSeq(rest, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(param), "=")
		if !ok {
			return "", nil, fmt.Errorf("%w: parameter without =", ErrMalformed)
		}
		switch {
		case name == "keyId" && !haveKey:
			keyID, haveKey = val, true
		case name == "signature" && !haveSig:
			rawSig, haveSig = val, true
		default:
			return "", nil, fmt.Errorf("%w: unexpected or repeated parameter", ErrMalformed)
		}
	}
	if !haveKey || !haveSig {
		return "", nil, fmt.Errorf("%w: want keyId and signature", ErrMalformed)
	}
	if !validKeyID(keyID) {
		return "", nil, fmt.Errorf("%w: invalid keyId", ErrMalformed)
	}
	sig, err = base64.RawURLEncoding.Strict().DecodeString(rawSig)
	if err != nil || len(sig) != sha256.Size || strings.ContainsAny(rawSig, "\r\n") {
		return "", nil, fmt.Errorf("%w: signature is not %d bytes of unpadded base64url", ErrMalformed, sha256.Size)
	}
	return keyID, sig, nil
}

func validKeyID(id string) bool { return keyid.Valid(id, maxKeyIDLen) }
