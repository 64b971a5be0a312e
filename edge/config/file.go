package config

// This file holds the distribution file as written: the YAML schema. The doc
// comments here are the user documentation; docs/config.md says the same
// with examples, and a test keeps every yaml field name in both.

// File is a Strata distribution file: what CloudFront calls a distribution
// configuration. Relative file and directory names in it are relative to the
// directory holding the file.
type File struct {
	// Comment describes the distribution; Strata does not use it.
	Comment string `yaml:"comment,omitempty"`

	// TLS makes the edge serve HTTPS. Without it the edge serves plain HTTP.
	TLS *TLSSpec `yaml:"tls,omitempty"`

	// Origins are the servers behind the edge, by name. Behaviors refer to
	// them by that name. At least one is required.
	Origins map[string]*OriginSpec `yaml:"origins"`

	// CachePolicies are custom cache policies, by name. The managed
	// CloudFront policies (CachingOptimized, CachingDisabled, ...) exist
	// without being declared; a custom policy may not reuse their names.
	CachePolicies map[string]*CachePolicySpec `yaml:"cache_policies,omitempty"`

	// OriginRequestPolicies are custom origin request policies, by name. The
	// managed CloudFront ones (AllViewer, CORS-S3Origin, ...) exist without
	// being declared.
	OriginRequestPolicies map[string]*OriginRequestPolicySpec `yaml:"origin_request_policies,omitempty"`

	// KeyGroups are sets of public keys, by name, that signed URLs and signed
	// cookies are checked against (see BehaviorSpec.Signed).
	KeyGroups map[string]*KeyGroupSpec `yaml:"key_groups,omitempty"`

	// Behaviors route requests by path: the first behavior, in file order,
	// whose path pattern matches the request path handles the request.
	Behaviors []*BehaviorSpec `yaml:"behaviors,omitempty"`

	// DefaultBehavior handles requests no behavior matches. It is required
	// and has no path.
	DefaultBehavior *BehaviorSpec `yaml:"default_behavior"`
}

// TLSSpec is the edge's HTTPS listener.
type TLSSpec struct {
	// CertFile is a PEM certificate chain, leaf first. With KeyFile.
	CertFile string `yaml:"cert_file,omitempty"`
	// KeyFile is the PEM private key of CertFile's leaf.
	KeyFile string `yaml:"key_file,omitempty"`
	// SelfSigned makes the edge generate a throwaway self-signed certificate
	// at start, for development. Not with CertFile and KeyFile.
	SelfSigned bool `yaml:"self_signed,omitempty"`
	// HTTP2 offers HTTP/2 to clients through ALPN. Default true.
	HTTP2 *bool `yaml:"http2,omitempty"`
}

// OriginSpec is one origin. Exactly one of URL, Dir and Group is set.
type OriginSpec struct {
	// URL is an HTTP or HTTPS origin: scheme, host, optional port and an
	// optional path prefix (CloudFront's origin path) that is put in front of
	// every request path. No query or fragment.
	URL string `yaml:"url,omitempty"`

	// Dir is a local directory served as a static site.
	Dir string `yaml:"dir,omitempty"`

	// Group is an origin group: requests go to the primary, and are retried
	// on the secondary when the primary fails. Only GET, HEAD and OPTIONS
	// requests fail over, as in CloudFront.
	Group *GroupSpec `yaml:"group,omitempty"`

	// ConnectTimeout bounds connecting to a URL origin. Default 10s.
	ConnectTimeout *Duration `yaml:"connect_timeout,omitempty"`

	// ResponseTimeout bounds the wait for a URL origin's response headers,
	// and then for each read of its body (CloudFront's origin response
	// timeout, once called read timeout). Default 30s.
	ResponseTimeout *Duration `yaml:"response_timeout,omitempty"`

	// MaxConnections caps the connections open to a URL origin at once.
	// 0 (the default) means no cap.
	MaxConnections int `yaml:"max_connections,omitempty"`

	// Headers are custom headers added to every request sent to a URL
	// origin, replacing any the viewer sent with the same name.
	Headers map[string]string `yaml:"headers,omitempty"`

	// OAC makes the edge sign its requests to a URL origin, so the origin can
	// refuse requests that did not come through the edge (CloudFront's
	// origin access control).
	OAC *OACSpec `yaml:"oac,omitempty"`
}

// GroupSpec is an origin group: a primary origin and a secondary one tried
// when the primary fails.
type GroupSpec struct {
	// Primary is the name of the origin tried first. It must be a URL or Dir
	// origin, not another group.
	Primary string `yaml:"primary"`
	// Secondary is the name of the origin tried when the primary fails.
	Secondary string `yaml:"secondary"`
	// FailoverStatus lists the primary's response status codes (400 to 599)
	// that make the edge try the secondary. Default [500, 502, 503, 504].
	FailoverStatus []int `yaml:"failover_status,omitempty"`
	// FailoverOnConnectionError tries the secondary when the primary cannot
	// be reached or times out. Default true.
	FailoverOnConnectionError *bool `yaml:"failover_on_connection_error,omitempty"`
}

// OACSpec is the key an edge signs origin requests with. Exactly one of
// Secret and SecretFile is set.
type OACSpec struct {
	// KeyID names the key, so the origin can rotate keys.
	KeyID string `yaml:"key_id"`
	// Secret is the shared signing secret itself. Prefer SecretFile, which
	// keeps the secret out of the configuration file.
	Secret string `yaml:"secret,omitempty"`
	// SecretFile is a file whose whole content (a trailing newline removed)
	// is the shared secret.
	SecretFile string `yaml:"secret_file,omitempty"`
}

// BehaviorSpec is a cache behavior: how requests whose path matches Path are
// handled.
type BehaviorSpec struct {
	// Path is the path pattern, matched case-sensitively against the request
	// path (without the query string): `*` matches any run of characters,
	// `/` included, and `?` exactly one. A leading `/` is implied. Not set on
	// default_behavior.
	Path string `yaml:"path,omitempty"`

	// Origin is the name of the origin (or origin group) requests go to.
	Origin string `yaml:"origin"`

	// AllowedMethods are the HTTP methods accepted, one of CloudFront's
	// three sets: [GET, HEAD], [GET, HEAD, OPTIONS] or [GET, HEAD, OPTIONS,
	// PUT, POST, PATCH, DELETE]. Other methods get 403. Default [GET, HEAD].
	AllowedMethods []string `yaml:"allowed_methods,omitempty"`

	// CachedMethods are the methods whose responses are cached: [GET, HEAD]
	// or [GET, HEAD, OPTIONS], within AllowedMethods. Default [GET, HEAD].
	CachedMethods []string `yaml:"cached_methods,omitempty"`

	// ViewerProtocol is `allow-all` (the default), `redirect-to-https`
	// (plain HTTP requests get a 301 to HTTPS) or `https-only` (plain HTTP
	// requests get 403).
	ViewerProtocol string `yaml:"viewer_protocol,omitempty"`

	// Compress lets the edge compress responses (gzip, br, zstd) for clients
	// that accept it. Default false, as in CloudFront's API.
	Compress bool `yaml:"compress,omitempty"`

	// CachePolicy names the cache policy: a custom one from cache_policies,
	// or a managed one by name or CloudFront ID. Default CachingOptimized.
	CachePolicy string `yaml:"cache_policy,omitempty"`

	// OriginRequestPolicy names the origin request policy: what, beyond the
	// cache key, is sent to the origin. A custom one, or a managed one by
	// name or CloudFront ID. Default none: the origin gets only what the
	// cache policy puts in the cache key.
	OriginRequestPolicy string `yaml:"origin_request_policy,omitempty"`

	// ResponseHeaders are headers set on every response to the viewer,
	// replacing any from the origin with the same name.
	ResponseHeaders map[string]string `yaml:"response_headers,omitempty"`

	// Signed restricts the behavior to signed URLs and signed cookies.
	Signed *SignedSpec `yaml:"signed,omitempty"`
}

// SignedSpec restricts a behavior to viewers presenting a signed URL or
// signed cookies.
type SignedSpec struct {
	// TrustedKeyGroups names the key groups whose keys may sign requests.
	TrustedKeyGroups []string `yaml:"trusted_key_groups"`
}

// CachePolicySpec is a custom cache policy: how long responses stay cached,
// and what goes into the cache key. What is in the cache key is also sent to
// the origin.
//
// TTLs work as in CloudFront: a response without max-age, s-maxage or
// Expires is cached for DefaultTTL; one with them is cached for that
// lifetime, raised to MinTTL and lowered to MaxTTL. A policy whose TTLs are
// all 0 does not cache.
//
// Unlike CloudFront, MinTTL never makes a response with `Cache-Control:
// no-store`, `no-cache` or `private` (or with Set-Cookie or an
// Authorization request, where RFC 9111 forbids it) shared: such responses
// stay uncached whatever MinTTL says, unless OverridePrivateAndNoStore is
// set.
type CachePolicySpec struct {
	// MinTTL is the least time a cacheable response stays cached. A
	// duration ("90s", "1h") or a number of seconds. Default 0.
	MinTTL *Duration `yaml:"min_ttl,omitempty"`
	// DefaultTTL is how long a response with no lifetime of its own stays
	// cached. Default 86400 (one day), or MinTTL when that is more.
	DefaultTTL *Duration `yaml:"default_ttl,omitempty"`
	// MaxTTL is the most time any response stays cached. Default 31536000
	// (one year), or DefaultTTL when that is more.
	MaxTTL *Duration `yaml:"max_ttl,omitempty"`

	// QueryStrings are the query string parameters in the cache key: `none`
	// (the default), `all`, `{allow: [..]}` or `{deny: [..]}` (all but those).
	QueryStrings *KeyList `yaml:"query_strings,omitempty"`
	// Headers are the request headers in the cache key, by name (case does
	// not matter). Default none.
	Headers []string `yaml:"headers,omitempty"`
	// Cookies are the cookies in the cache key: `none` (the default), `all`,
	// `{allow: [..]}` or `{deny: [..]}`.
	Cookies *KeyList `yaml:"cookies,omitempty"`
	// AcceptEncoding lists the encodings, among gzip, br and zstd, that the
	// cache keeps apart: the viewer's Accept-Encoding is normalised to the
	// first of these it accepts, and that goes into the cache key. Empty
	// (the default) keeps one copy, uncompressed.
	AcceptEncoding []string `yaml:"accept_encoding,omitempty"`

	// OverridePrivateAndNoStore makes MinTTL apply to every response, even
	// ones marked no-store, no-cache or private: what CloudFront does with a
	// MinTTL above 0. This can serve one user's private page to another. Off
	// by default; leave it off unless you are sure.
	OverridePrivateAndNoStore bool `yaml:"override_private_and_no_store,omitempty"`
}

// OriginRequestPolicySpec is a custom origin request policy: the values from
// the viewer's request sent to the origin, in addition to those in the cache
// key. Each is `none` (the default), `all`, `{allow: [..]}` or `{deny:
// [..]}` (all but those).
type OriginRequestPolicySpec struct {
	// Headers are the viewer request headers sent to the origin.
	Headers *KeyList `yaml:"headers,omitempty"`
	// Cookies are the viewer's cookies sent to the origin.
	Cookies *KeyList `yaml:"cookies,omitempty"`
	// QueryStrings are the query string parameters sent to the origin.
	QueryStrings *KeyList `yaml:"query_strings,omitempty"`
}

// KeyGroupSpec is a named set of public keys.
type KeyGroupSpec struct {
	// Keys are the group's public keys. At least one.
	Keys []*PublicKeySpec `yaml:"keys"`
}

// PublicKeySpec is one public key, RSA (2048 bits or more) or Ed25519, as a
// PEM "PUBLIC KEY" block (PKIX). Exactly one of PublicKey and PublicKeyFile
// is set.
type PublicKeySpec struct {
	// ID identifies the key in signed URLs and cookies (Key-Pair-Id). IDs are
	// unique across all key groups.
	ID string `yaml:"id"`
	// PublicKey is the PEM text.
	PublicKey string `yaml:"public_key,omitempty"`
	// PublicKeyFile is a file holding the PEM text.
	PublicKeyFile string `yaml:"public_key_file,omitempty"`
}
