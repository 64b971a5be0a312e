package signed

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"
)

// MaxPolicySize bounds the encoded Policy parameter or cookie, in bytes. A
// longer one is rejected as malformed before it is decoded.
const MaxPolicySize = 8 << 10

// Limits on the other signing values, so that nothing an attacker sends is
// decoded, looked up or verified unbounded.
const (
	maxSignatureSize = 2048 // encoded; an RSA-8192 signature is 1368
	maxKeyIDSize     = 128
	maxExpiresSize   = 20
)

// Policy is what a signature grants: access to Resource (a URL, or a pattern
// where * matches any run of bytes and ? exactly one byte) until Expires,
// optionally not before Start and only from addresses in IPRange.
type Policy struct {
	// Resource is the URL or pattern the policy covers. In SignURL, empty
	// means the URL being signed. Patterns are matched against the full URL
	// the client asks for: scheme://host/path?query, without the signing
	// parameters.
	Resource string
	// Expires is the end of validity (DateLessThan); access is allowed
	// strictly before it. Required. Precision is one second.
	Expires time.Time
	// Start is the optional beginning of validity (DateGreaterThan); access
	// is allowed at or after it. The zero Time means none.
	Start time.Time
	// IPRange optionally restricts the client address (IpAddress). The zero
	// Prefix means any address.
	IPRange netip.Prefix
}

// canned reports whether p can be expressed as a canned policy for a URL
// whose resource is resource.
func (p Policy) canned(resource string) bool {
	return (p.Resource == "" || p.Resource == resource) && p.Start.IsZero() && !p.IPRange.IsValid()
}

// The JSON shape of a CloudFront policy. Field order is the order written.
type policyDoc struct {
	Statement []statement `json:"Statement"`
}

type statement struct {
	Resource  string    `json:"Resource"`
	Condition condition `json:"Condition"`
}

type condition struct {
	DateLessThan    *epoch    `json:"DateLessThan,omitempty"`
	DateGreaterThan *epoch    `json:"DateGreaterThan,omitempty"`
	IPAddress       *sourceIP `json:"IpAddress,omitempty"`
}

type epoch struct {
	EpochTime *int64 `json:"AWS:EpochTime"`
}

type sourceIP struct {
	SourceIP *string `json:"AWS:SourceIp"`
}

// marshal writes v as compact JSON without HTML escaping, so a resource
// with & reads as it does in CloudFront's documentation.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// cannedPolicy is the policy a canned signature covers: CloudFront's
// {"Statement":[{"Resource":"URL","Condition":{"DateLessThan":{"AWS:EpochTime":N}}}]}.
func cannedPolicy(resource string, expires int64) []byte {
	b, err := marshal(policyDoc{Statement: []statement{{
		Resource:  resource,
		Condition: condition{DateLessThan: &epoch{EpochTime: &expires}},
	}}})
	if err != nil {
		panic("signed: marshal canned policy: " + err.Error()) // strings and ints always marshal
	}
	return b
}

// customPolicy returns p as a custom policy document.
func customPolicy(p Policy) ([]byte, error) {
	if p.Resource == "" {
		return nil, errors.New("signed: policy has no resource")
	}
	if p.Expires.IsZero() {
		return nil, errors.New("signed: policy has no expiry")
	}
	exp := p.Expires.Unix()
	c := condition{DateLessThan: &epoch{EpochTime: &exp}}
	if !p.Start.IsZero() {
		start := p.Start.Unix()
		if start >= exp {
			return nil, errors.New("signed: policy starts after it expires")
		}
		c.DateGreaterThan = &epoch{EpochTime: &start}
	}
	if p.IPRange.IsValid() {
		s := p.IPRange.String()
		c.IPAddress = &sourceIP{SourceIP: &s}
	}
	return marshal(policyDoc{Statement: []statement{{Resource: p.Resource, Condition: c}}})
}

// ParsePolicy parses a custom policy document. It accepts exactly one
// statement with a Resource and a DateLessThan, and optionally
// DateGreaterThan and IpAddress (a CIDR, or one address meaning /32 or
// /128); anything else, including unknown fields, is an error wrapping
// ErrMalformed, because a condition this package does not understand must
// not be ignored.
func ParsePolicy(data []byte) (Policy, error) {
	if len(data) > MaxPolicySize {
		return Policy{}, fmt.Errorf("%w: policy longer than %d bytes", ErrMalformed, MaxPolicySize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var doc policyDoc
	if err := dec.Decode(&doc); err != nil {
		return Policy{}, fmt.Errorf("%w: policy: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Policy{}, fmt.Errorf("%w: policy: data after the document", ErrMalformed)
	}
	if len(doc.Statement) != 1 {
		return Policy{}, fmt.Errorf("%w: policy must have exactly one statement", ErrMalformed)
	}
	st := doc.Statement[0]
	if st.Resource == "" {
		return Policy{}, fmt.Errorf("%w: policy has no Resource", ErrMalformed)
	}
	p := Policy{Resource: st.Resource}
	c := st.Condition
	if c.DateLessThan == nil || c.DateLessThan.EpochTime == nil || *c.DateLessThan.EpochTime <= 0 {
		return Policy{}, fmt.Errorf("%w: policy has no positive DateLessThan", ErrMalformed)
	}
	p.Expires = time.Unix(*c.DateLessThan.EpochTime, 0).UTC()
	if c.DateGreaterThan != nil {
		if c.DateGreaterThan.EpochTime == nil || *c.DateGreaterThan.EpochTime <= 0 {
			return Policy{}, fmt.Errorf("%w: policy has an invalid DateGreaterThan", ErrMalformed)
		}
		p.Start = time.Unix(*c.DateGreaterThan.EpochTime, 0).UTC()
	}
	if c.IPAddress != nil {
		if c.IPAddress.SourceIP == nil {
			return Policy{}, fmt.Errorf("%w: policy IpAddress has no AWS:SourceIp", ErrMalformed)
		}
		pfx, err := parseIPRange(*c.IPAddress.SourceIP)
		if err != nil {
			return Policy{}, fmt.Errorf("%w: policy: %v", ErrMalformed, err)
		}
		p.IPRange = pfx
	}
	return p, nil
}

// parseIPRange parses a CIDR, or a single address as a full-length prefix.
func parseIPRange(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a.Zone() != "" {
		return netip.Prefix{}, errors.New("address with a zone")
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ParseIPRange parses what an IpAddress condition accepts: a CIDR such as
// 192.0.2.0/24, or one address.
func ParseIPRange(s string) (netip.Prefix, error) { return parseIPRange(s) }

// match reports whether s matches pattern, where * matches any run of bytes
// (including none) and ? exactly one byte. It runs in O(len(pattern) *
// len(s)) at worst, and only on policies whose signature verified.
func match(pattern, s string) bool {
	px, sx := 0, 0
	starP, starS := -1, 0
	for sx < len(s) {
		if px < len(pattern) {
			switch c := pattern[px]; {
			case c == '*':
				starP, starS = px, sx
				px++
				continue
			case c == '?' || c == s[sx]:
				px++
				sx++
				continue
			}
		}
		if starP < 0 {
			return false
		}
		px = starP + 1
		starS++
		sx = starS
	}
	for px < len(pattern) && pattern[px] == '*' {
		px++
	}
	return px == len(pattern)
}

// CloudFront's URL-safe base64: the standard alphabet with + as -, = as _
// and / as ~.
var (
	toSafe   = strings.NewReplacer("+", "-", "=", "_", "/", "~")
	fromSafe = strings.NewReplacer("-", "+", "_", "=", "~", "/")
)

// Encode encodes b in CloudFront's URL-safe base64.
func Encode(b []byte) string { return toSafe.Replace(base64.StdEncoding.EncodeToString(b)) }

// Decode decodes CloudFront's URL-safe base64, strictly: any byte outside
// its alphabet (including line breaks, which the standard decoder would
// skip) or a non-canonical encoding is an error.
func Decode(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '~') {
			return nil, fmt.Errorf("byte %#x at %d is not URL-safe base64", c, i)
		}
	}
	return base64.StdEncoding.Strict().DecodeString(fromSafe.Replace(s))
}
