package config

import (
	"crypto"
	"crypto/tls"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Config is a validated distribution, ready for the edge to use: every name
// in the file is resolved to the value it names, defaults are filled in, and
// files named in it (secrets, keys, certificates) have been read. A Config is
// not modified after Parse returns it and is safe for concurrent use.
type Config struct {
	// Source is the file name the configuration was read from.
	Source string
	// Comment is the file's comment.
	Comment string
	// File is the configuration as written.
	File *File

	// Origins are every origin, by name.
	Origins map[string]*Origin
	// CachePolicies are the custom cache policies and the managed ones the
	// behaviors use, by name.
	CachePolicies map[string]*CachePolicy
	// OriginRequestPolicies are the custom origin request policies and the
	// managed ones the behaviors use, by name.
	OriginRequestPolicies map[string]*OriginRequestPolicy
	// KeyGroups are every key group, by name.
	KeyGroups map[string]*KeyGroup

	// Behaviors are the path behaviors, in the order they are tried.
	Behaviors []*Behavior
	// Default handles what no behavior matches. Never nil.
	Default *Behavior

	// TLS is the HTTPS listener's configuration, or nil for plain HTTP.
	TLS *TLS

	// Warnings are things that are valid but probably not meant, such as
	// opting in to caching private responses.
	Warnings []Error
}

// Select returns the behavior for a request path: the first behavior whose
// pattern matches, or the default behavior. It does not allocate.
func (c *Config) Select(path string) *Behavior {
	for _, b := range c.Behaviors {
		if b.Pattern.Match(path) {
			return b
		}
	}
	return c.Default
}

// OriginKind says what an origin is.
type OriginKind uint8

// Origin kinds.
const (
	OriginURL   OriginKind = iota + 1 // an HTTP(S) server
	OriginDir                         // a local directory
	OriginGroup                       // a primary and a secondary origin
)

// String returns "url", "dir" or "group".
func (k OriginKind) String() string {
	switch k {
	case OriginURL:
		return "url"
	case OriginDir:
		return "dir"
	case OriginGroup:
		return "group"
	}
	return "unknown"
}

// Origin is a compiled origin.
type Origin struct {
	Name string
	Kind OriginKind

	// URL is set for OriginURL.
	URL *url.URL
	// ConnectTimeout, ResponseTimeout, MaxConnections (0: no cap), Headers
	// and OAC (nil: no signing) apply to OriginURL.
	ConnectTimeout  time.Duration
	ResponseTimeout time.Duration
	MaxConnections  int
	Headers         http.Header
	OAC             *OAC

	// Dir is set for OriginDir: an absolute path to an existing directory.
	Dir string

	// Group is set for OriginGroup.
	Group *OriginGroupConfig
}

// OAC is the key an edge signs its origin requests with.
type OAC struct {
	KeyID  string
	Secret []byte
}

// OriginGroupConfig is a compiled origin group. Primary and Secondary are
// never groups themselves.
type OriginGroupConfig struct {
	Primary, Secondary *Origin
	// FailoverStatus are the primary's statuses that make the edge try the
	// secondary.
	FailoverStatus []int
	// FailoverOnConnectionError tries the secondary when the primary cannot
	// be reached.
	FailoverOnConnectionError bool
}

// FailsOver reports whether a primary response with status code makes the
// edge try the secondary.
func (g *OriginGroupConfig) FailsOver(status int) bool {
	for _, s := range g.FailoverStatus {
		if s == status {
			return true
		}
	}
	return false
}

// Behavior is a compiled cache behavior.
type Behavior struct {
	// Path is the normalized path pattern; "" for the default behavior.
	Path string
	// Pattern is the compiled Path. The default behavior's matches every
	// path.
	Pattern Pattern
	// Pos is where the behavior is written.
	Pos Pos

	Origin         *Origin
	AllowedMethods Methods
	CachedMethods  Methods
	ViewerProtocol ViewerProtocol
	Compress       bool
	// CachePolicy is never nil.
	CachePolicy *CachePolicy
	// OriginRequestPolicy is nil when the origin gets only what the cache
	// key holds.
	OriginRequestPolicy *OriginRequestPolicy
	// ResponseHeaders are set on every response to the viewer; nil if none.
	ResponseHeaders http.Header
	// TrustedKeyGroups, when not empty, restrict the behavior to requests
	// signed by a key in one of them.
	TrustedKeyGroups []*KeyGroup
}

// Methods is a set of the seven HTTP methods CloudFront knows.
type Methods uint8

// The methods.
const (
	MethodGet Methods = 1 << iota
	MethodHead
	MethodOptions
	MethodPut
	MethodPost
	MethodPatch
	MethodDelete
)

// CloudFront's method sets.
const (
	MethodsGetHead        = MethodGet | MethodHead
	MethodsGetHeadOptions = MethodsGetHead | MethodOptions
	MethodsAll            = MethodsGetHeadOptions | MethodPut | MethodPost | MethodPatch | MethodDelete
)

var methodNames = [...]string{"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"}

// methodBit returns the bit for an upper-case method name, or 0.
func methodBit(name string) Methods {
	for i, n := range methodNames {
		if n == name {
			return 1 << i
		}
	}
	return 0
}

// Has reports whether m holds method (upper case, as in http.Request).
func (m Methods) Has(method string) bool {
	b := methodBit(method)
	return b != 0 && m&b != 0
}

// List returns the methods in m in CloudFront's order.
func (m Methods) List() []string {
	var l []string
	for i, n := range methodNames {
		if m&(1<<i) != 0 {
			l = append(l, n)
		}
	}
	return l
}

// String returns the methods as "GET,HEAD".
func (m Methods) String() string { return strings.Join(m.List(), ",") }

// ViewerProtocol says which schemes viewers may use.
type ViewerProtocol string

// Viewer protocols.
const (
	AllowAll        ViewerProtocol = "allow-all"
	RedirectToHTTPS ViewerProtocol = "redirect-to-https"
	HTTPSOnly       ViewerProtocol = "https-only"
)

// CachePolicy is a compiled cache policy. See CachePolicySpec for what the
// fields mean.
type CachePolicy struct {
	Name string
	// ID is the CloudFront ID of a managed policy; empty for a custom one.
	ID string
	// Managed is true for CloudFront's managed policies.
	Managed bool

	MinTTL, DefaultTTL, MaxTTL time.Duration

	QueryStrings KeyFilter
	Headers      KeyFilter // FilterNone or FilterAllow
	Cookies      KeyFilter
	// AcceptEncoding is the normalised encodings, in the order given.
	AcceptEncoding []string

	OverridePrivateAndNoStore bool
}

// CachingDisabled reports whether the policy never caches (all TTLs 0).
func (p *CachePolicy) CachingDisabled() bool {
	return p.MaxTTL == 0
}

// TTL returns how long a response is cached under p: DefaultTTL when the
// response gives no lifetime (hasLifetime false), else its lifetime raised
// to MinTTL and lowered to MaxTTL. It does not decide whether the response
// may be stored at all: RFC 9111 does (and OverridePrivateAndNoStore).
func (p *CachePolicy) TTL(lifetime time.Duration, hasLifetime bool) time.Duration {
	if !hasLifetime {
		return p.DefaultTTL
	}
	return min(max(lifetime, p.MinTTL), p.MaxTTL)
}

// OriginRequestPolicy is a compiled origin request policy.
type OriginRequestPolicy struct {
	Name string
	// ID is the CloudFront ID of a managed policy; empty for a custom one.
	ID      string
	Managed bool

	Headers      KeyFilter
	Cookies      KeyFilter
	QueryStrings KeyFilter
}

// FilterMode is how a KeyFilter chooses names.
type FilterMode uint8

// Filter modes.
const (
	FilterNone  FilterMode = iota // no name
	FilterAll                     // every name
	FilterAllow                   // only Names
	FilterDeny                    // every name but Names
)

// KeyFilter chooses names (of headers, cookies or query parameters).
// The zero KeyFilter chooses none.
type KeyFilter struct {
	Mode  FilterMode
	Names []string
	// Fold compares names case-insensitively, as for headers.
	Fold bool
}

// Includes reports whether the filter chooses name.
func (f *KeyFilter) Includes(name string) bool {
	switch f.Mode {
	case FilterAll:
		return true
	case FilterAllow:
		return f.listed(name)
	case FilterDeny:
		return !f.listed(name)
	}
	return false
}

func (f *KeyFilter) listed(name string) bool {
	for _, n := range f.Names {
		if n == name || f.Fold && strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// KeyGroup is a compiled key group.
type KeyGroup struct {
	Name string
	Keys []*PublicKey
}

// Key returns the group's key with id, or nil.
func (g *KeyGroup) Key(id string) *PublicKey {
	for _, k := range g.Keys {
		if k.ID == id {
			return k
		}
	}
	return nil
}

// PublicKey is a parsed public key: an *rsa.PublicKey or an
// ed25519.PublicKey.
type PublicKey struct {
	ID  string
	Key crypto.PublicKey
}

// TLS is the compiled HTTPS listener configuration.
type TLS struct {
	// CertFile and KeyFile are absolute paths; empty with SelfSigned.
	CertFile, KeyFile string
	// Certificate is the key pair loaded from CertFile and KeyFile when the
	// configuration was parsed; nil with SelfSigned.
	Certificate *tls.Certificate
	SelfSigned  bool
	HTTP2       bool
}
