package edge

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-cache/strata/edge/config"
	"github.com/strata-cache/strata/edge/signed"
	"github.com/strata-cache/strata/edge/store"
)

// Behavior routes requests whose path matches Pattern to Origin, and says
// how they are cached. A Behavior with only Pattern, Origin, Name and
// Compress set behaves as the edge always has: the cache key is the URL as
// sent, responses live as long as the origin says, and the origin gets the
// client's request. The other fields are a CloudFront cache behavior's
// (see FromConfig, which sets them from a distribution file, and
// policy.go); each is off when zero.
type Behavior struct {
	// Pattern selects requests by URL path: "/api/*" matches every path that
	// starts with "/api/" (and "/api" itself), "/x" matches exactly "/x", and
	// "*" or "" matches everything (the default behavior). Ignored when
	// Path is set.
	Pattern string
	// Origin fetches responses; see URLOrigin and HandlerOrigin.
	Origin http.RoundTripper
	// Name labels the behavior in metrics and logs; it defaults to Pattern
	// (or Path).
	Name string
	// Compress makes the edge compress responses for the clients that
	// accept it (br, zstd or gzip, by Accept-Encoding), compressing each
	// stored response at most once per coding and storing the result; the
	// origin is asked for identity. Off by default. See docs/edge.md,
	// "Compression".
	Compress bool

	// Path, when set, selects requests instead of Pattern, with
	// CloudFront's semantics: `*` is any run of bytes, `?` one byte,
	// matched against the escaped request path (r.URL.EscapedPath()) with
	// the escapes of pattern characters decoded (see selectionPath).
	Path *config.Pattern
	// AllowedMethods are the methods the behavior accepts; others get 405
	// with Allow. Zero: every method.
	AllowedMethods config.Methods
	// CachedMethods may add OPTIONS to the methods whose responses are
	// cached (GET and HEAD always are).
	CachedMethods config.Methods
	// ViewerProtocol is allow-all (also ""), redirect-to-https (GET and
	// HEAD over HTTP get 301 to https; other methods get 403) or https-only
	// (403 over HTTP). The scheme is the connection's: r.TLS != nil.
	ViewerProtocol config.ViewerProtocol
	// CachePolicy, when set, makes the cache key scheme, host, path and
	// the query parameters, headers and cookies the policy names; clamps
	// lifetimes to its TTLs; and restricts what reaches the origin to the
	// key's parts and what OriginRequestPolicy adds. Nil: the key is the
	// URL as sent and the origin gets the client's request.
	CachePolicy *config.CachePolicy
	// OriginRequestPolicy adds headers, cookies and query parameters to
	// what the origin gets beyond the cache key. Used with CachePolicy.
	OriginRequestPolicy *config.OriginRequestPolicy
	// ResponseHeaders are set on every response of the behavior, hits and
	// misses, replacing the origin's fields of the same names.
	ResponseHeaders http.Header
	// Signed, when set, admits only requests with a valid signed URL or
	// signed cookies (403 otherwise); the signing parameters and cookies
	// are removed before the cache key is made and the origin is asked.
	Signed *signed.Verifier

	index int            // position in the behaviors
	state *behaviorState // runtime state, per installed behavior set
}

func (b *Behavior) matches(path string) bool {
	switch p := b.Pattern; {
	case p == "" || p == "*":
		return true
	case strings.HasSuffix(p, "/*"):
		prefix := strings.TrimSuffix(p, "*")
		return strings.HasPrefix(path, prefix) || path == strings.TrimSuffix(prefix, "/")
	case strings.HasSuffix(p, "*"):
		return strings.HasPrefix(path, strings.TrimSuffix(p, "*"))
	default:
		return path == p
	}
}

// selects reports whether b handles a request for u.
func (b *Behavior) selects(u *url.URL) bool {
	if b.Path != nil {
		return b.Path.Match(selectionPath(u.EscapedPath()))
	}
	return b.matches(u.Path)
}

// selectionPath is the escaped path p with every percent-encoded byte that
// may appear in a path pattern (letters, digits, "/" and the pattern
// punctuation) decoded, and the other escapes in upper case: the path as an
// origin that decodes it sees it. Matched as sent, /privat%65/x or
// /private%2Fx would miss /private/* and its signature check while the
// origin served /private/x. CloudFront, likewise, decodes unreserved
// characters (RFC 3986 section 6.2.2) before matching.
func selectionPath(p string) string {
	if strings.IndexByte(p, '%') < 0 {
		return p
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '%' && i+2 < len(p) && ishex(p[i+1]) && ishex(p[i+2]) {
			d := unhex(p[i+1])<<4 | unhex(p[i+2])
			if d != '%' && patternByte(d) {
				b = append(b, d)
			} else {
				b = append(b, '%', hex[d>>4], hex[d&15])
			}
			i += 2
			continue
		}
		b = append(b, c)
	}
	return string(b)
}

// patternByte reports whether c may appear in a path pattern
// (config.CompilePattern).
func patternByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte(`_-.*$/~"'@:+?&`, c) >= 0
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// Results recorded per request: how the edge answered it.
const (
	ResultHit        = "hit"         // served from the store, fresh
	ResultRefreshHit = "refresh_hit" // stale in the store, origin said 304
	ResultMiss       = "miss"        // fetched from the origin (stored or not)
	ResultCollapsed  = "collapsed"   // answered by another request's origin fetch
	ResultPass       = "pass"        // not cacheable: unsafe method or bypass
	ResultStale      = "stale"       // served stale: while revalidating, or because the origin failed
	ResultError      = "error"       // origin unreachable or failed
	ResultRefused    = "refused"     // turned away by the behavior: method, protocol or signature
)

// Recorder receives the edge's measurements. Implementations must be safe for
// concurrent use. A nil Recorder in Config records nothing.
type Recorder interface {
	// Request is called once per client request with its behavior's name and
	// one of the Result constants.
	Request(behavior, result string)
	// OriginFetch is called once per origin request with the status received,
	// or 0 when the origin could not be reached.
	OriginFetch(behavior string, status int)
	PurgeRecorder
}

// PurgeRecorder is the purge part of Recorder.
type PurgeRecorder interface {
	// Purge is called once per Edge.Purge for each kind of selector it
	// used — "url", "path", "prefix", "tag" or "all" — with the responses
	// the selectors of that kind removed, or marked stale for a soft purge.
	Purge(selector string, removed, marked int)
}

type nopRecorder struct{}

func (nopRecorder) Request(string, string)  {}
func (nopRecorder) OriginFetch(string, int) {}
func (nopRecorder) Purge(string, int, int)  {}

var _ Recorder = nopRecorder{}

// Config configures an Edge. Zero values are replaced by the defaults named.
type Config struct {
	// Behaviors are tried in order; the first whose Pattern (or Path)
	// matches the request path handles it. A request no behavior matches
	// gets 404. SetBehaviors replaces them.
	Behaviors []Behavior
	// Store holds responses. Required.
	Store *store.Memory
	// Name is the cache's name in Cache-Status and X-Cache. Default "strata".
	Name string
	// MaxObjectSize is the largest body stored; larger ones are streamed
	// through. Default 8 MiB.
	MaxObjectSize int64
	// StaleRetention is how long a response is kept after it goes stale, so
	// that it can be revalidated with a conditional request. Default 1h.
	StaleRetention time.Duration
	// OriginTimeout bounds one origin request. Default 30s.
	OriginTimeout time.Duration
	// OriginRetryAfter is how long an origin that could not be reached is
	// not contacted again: requests get a stale response or an error at
	// once instead of each waiting for the connection to fail. Default 2s.
	OriginRetryAfter time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Recorder receives metrics. Default: none.
	Recorder Recorder
	// RFCStrict turns off the two safety defaults that go beyond RFC 9111,
	// so responses are stored exactly as the RFC allows:
	//   - responses with Set-Cookie are by default not stored unless
	//     private="Set-Cookie" or no-cache="Set-Cookie" lets the edge strip
	//     the cookie, so one client's cookie never reaches another;
	//   - responses to requests with Cookie are by default stored only when
	//     marked public, s-maxage, or by CDN-Cache-Control/Surrogate-Control,
	//     because the origin may have personalised them.
	RFCStrict bool
	// VersionHeader names the response field that says which data version
	// a response was read at (see Purge.Version). Default
	// "X-Cache-Version", what Strata's API sends; "-" turns the check off.
	VersionHeader string
	// Logger receives origin errors. Default: slog.Default().
	Logger *slog.Logger
	// CompressMinSize is the smallest body a behavior with Compress
	// compresses; smaller ones gain too little. Default 1 KiB.
	CompressMinSize int64
	// HTTPSPort is the port redirect-to-https behaviors send viewers to.
	// Default 443 (no port in the Location).
	HTTPSPort int
	// CardinalitySample makes one request in CardinalitySample feed the
	// cache key cardinality report (KeyCardinality). Default 16; 1 samples
	// every request.
	CardinalitySample int
}

// Edge is the caching reverse proxy. It is an http.Handler; create it with New.
type Edge struct {
	cfg    Config
	purges purgeLog
	// fills are the collapsed origin fetches in flight, by flight key.
	fillMu sync.Mutex
	fills  map[string]*fill
	// storeMu orders stores against purges: see storeUnlessPurged.
	storeMu sync.RWMutex
	// refreshing holds the keys being revalidated in the background.
	refreshing sync.Map
	background sync.WaitGroup
	// behaviors are the installed behaviors; SetBehaviors swaps them.
	behaviors atomic.Pointer[[]Behavior]
	xHit      string
	xMiss     string
	xRHit     string
	xStale    string
	via       string   // "1.1 <name>"
	viaOnly   []string // {via}, shared by responses that had no Via
}

// ErrConfig is wrapped by New's errors.
var ErrConfig = errors.New("edge: invalid config")

// New checks cfg, fills in its defaults and returns an Edge.
func New(cfg Config) (*Edge, error) {
	if cfg.Store == nil {
		return nil, fmt.Errorf("%w: Store is required", ErrConfig)
	}
	bs, err := checkBehaviors(cfg.Behaviors)
	if err != nil {
		return nil, err
	}
	cfg.Behaviors = bs
	if cfg.MaxObjectSize < 0 || cfg.StaleRetention < 0 || cfg.OriginTimeout < 0 || cfg.OriginRetryAfter < 0 || cfg.CompressMinSize < 0 ||
		cfg.HTTPSPort < 0 || cfg.HTTPSPort > 65535 || cfg.CardinalitySample < 0 {
		return nil, fmt.Errorf("%w: sizes and durations must not be negative", ErrConfig)
	}
	if cfg.Name == "" {
		cfg.Name = "strata"
	}
	switch cfg.VersionHeader {
	case "":
		cfg.VersionHeader = "X-Cache-Version"
	case "-":
		cfg.VersionHeader = ""
	}
	if cfg.MaxObjectSize == 0 {
		cfg.MaxObjectSize = 8 << 20
	}
	if cfg.CompressMinSize == 0 {
		cfg.CompressMinSize = 1 << 10
	}
	if cfg.StaleRetention == 0 {
		cfg.StaleRetention = time.Hour
	}
	if cfg.OriginTimeout == 0 {
		cfg.OriginTimeout = 30 * time.Second
	}
	if cfg.OriginRetryAfter == 0 {
		cfg.OriginRetryAfter = 2 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Recorder == nil {
		cfg.Recorder = nopRecorder{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.HTTPSPort == 0 {
		cfg.HTTPSPort = 443
	}
	if cfg.CardinalitySample == 0 {
		cfg.CardinalitySample = 16
	}
	e := &Edge{
		cfg:     cfg,
		fills:   map[string]*fill{},
		xHit:    "Hit from " + cfg.Name,
		xMiss:   "Miss from " + cfg.Name,
		xRHit:   "RefreshHit from " + cfg.Name,
		xStale:  "StaleHit from " + cfg.Name,
		via:     "1.1 " + cfg.Name,
		viaOnly: []string{"1.1 " + cfg.Name},
	}
	e.behaviors.Store(&bs)
	return e, nil
}

// checkBehaviors checks bs and returns a copy with names, positions and
// fresh runtime state filled in.
func checkBehaviors(in []Behavior) ([]Behavior, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("%w: at least one behavior is required", ErrConfig)
	}
	bs := slices.Clone(in)
	for i := range bs {
		b := &bs[i]
		if b.Origin == nil {
			return nil, fmt.Errorf("%w: behavior %d (%q) has no origin", ErrConfig, i, b.patternString())
		}
		if b.Path == nil && b.Pattern != "" && b.Pattern != "*" && !strings.HasPrefix(b.Pattern, "/") {
			return nil, fmt.Errorf("%w: behavior pattern %q must start with / or be *", ErrConfig, b.Pattern)
		}
		switch b.ViewerProtocol {
		case "", config.AllowAll, config.RedirectToHTTPS, config.HTTPSOnly:
		default:
			return nil, fmt.Errorf("%w: behavior %d: unknown viewer protocol %q", ErrConfig, i, b.ViewerProtocol)
		}
		if b.OriginRequestPolicy != nil && b.CachePolicy == nil {
			return nil, fmt.Errorf("%w: behavior %d: an origin request policy needs a cache policy", ErrConfig, i)
		}
		b.index = i
		b.state = newBehaviorState(b)
		if b.Name == "" {
			b.Name = b.patternString()
		}
	}
	return bs, nil
}

// patternString is the pattern b selects with, as written.
func (b *Behavior) patternString() string {
	switch {
	case b.Path != nil:
		return b.Path.String()
	case b.Pattern == "":
		return "*"
	}
	return b.Pattern
}

// SetBehaviors replaces the edge's behaviors atomically, checked as New
// checks them: requests that start afterwards use bs, requests in flight
// finish with the behaviors they started with. The store is kept, so what
// was cached stays cached (under the keys it was stored with: a behavior
// whose cache policy changed keys its requests anew). Per-behavior state
// (an origin marked unreachable, the cardinality report) starts afresh.
func (e *Edge) SetBehaviors(bs []Behavior) error {
	checked, err := checkBehaviors(bs)
	if err != nil {
		return err
	}
	e.behaviors.Store(&checked)
	return nil
}

// Behaviors returns a copy of the installed behaviors.
func (e *Edge) Behaviors() []Behavior { return slices.Clone(*e.behaviors.Load()) }

// Purge describes what to remove from the store. A purge removes the union
// of what its selectors match.
type Purge struct {
	// Paths are URL paths; a trailing "*" is a prefix wildcard ("/api/*";
	// "*" alone is everything). A path matches every query-string and host
	// variant. Paths are compared percent-decoded.
	Paths []string
	// URLs are exact URLs (scheme://host/path?query): each names one cache
	// key, with all its Vary variants. The scheme and host are compared
	// case-insensitively, the path and query as sent.
	URLs []string
	// Tags are surrogate keys, from the origin's Surrogate-Key
	// (space-separated) and Cache-Tag (comma-separated) fields.
	Tags []string
	// All removes everything.
	All bool
	// Soft marks matching entries stale instead of removing them: the next
	// request revalidates with the origin (a 304 refreshes the entry), and
	// meanwhile the entry is served stale only where its
	// stale-while-revalidate or stale-if-error allow.
	Soft bool
	// Version is the data version the purge is about (a database change's
	// outbox sequence; 0 for admin purges). A response that this purge
	// matches and that says, in Config.VersionHeader, that it was read at
	// a lower data version is not stored, even when its fetch starts after
	// the purge: the origin read it from a tier that had not applied the
	// change yet.
	Version uint64
}

// ErrPurge is wrapped by Purge.Validate's errors.
var ErrPurge = errors.New("edge: invalid purge")

// Validate reports a selector Purge would ignore: a URL that is not an
// absolute http or https URL, a path that does not start with "/" (other
// than "*"), an empty tag, or no selector at all.
func (p Purge) Validate() error {
	for _, u := range p.URLs {
		if _, ok := urlKey(u); !ok {
			return fmt.Errorf("%w: URL %q is not an absolute http(s) URL", ErrPurge, u)
		}
	}
	for _, path := range p.Paths {
		if path != "*" && !strings.HasPrefix(path, "/") {
			return fmt.Errorf("%w: path %q must start with / (or be *)", ErrPurge, path)
		}
	}
	for _, t := range p.Tags {
		if t == "" {
			return fmt.Errorf("%w: empty tag", ErrPurge)
		}
	}
	if !p.All && len(p.URLs)+len(p.Paths)+len(p.Tags) == 0 {
		return fmt.Errorf("%w: no selector", ErrPurge)
	}
	return nil
}

// selectors returns the store selectors of p, without the ones Validate
// rejects; everything replaces the rest.
func (p Purge) selectors() []store.Selector {
	if p.All {
		return []store.Selector{{Kind: store.KindAll}}
	}
	sels := make([]store.Selector, 0, len(p.URLs)+len(p.Paths)+len(p.Tags))
	for _, u := range p.URLs {
		if key, ok := urlKey(u); ok {
			sels = append(sels, store.Selector{Kind: store.KindURL, Value: key})
		}
	}
	for _, path := range p.Paths {
		if path == "*" || strings.HasPrefix(path, "/") {
			sels = append(sels, store.PathSelector(path))
		}
	}
	for _, t := range p.Tags {
		if t != "" {
			sels = append(sels, store.Selector{Kind: store.KindTag, Value: t})
		}
	}
	for _, s := range sels {
		if s.Kind == store.KindAll { // the path "*"
			return []store.Selector{s}
		}
	}
	return sels
}

// urlKey returns the primary cache key of an absolute URL, as cacheKey
// computes it for a request for that URL.
func urlKey(raw string) (string, bool) {
	u, ok := purgeURL(raw)
	if !ok {
		return "", false
	}
	return keyFor(u.Scheme, u.Host, u.RequestURI()), true
}

func purgeURL(raw string) (*url.URL, bool) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, false
	}
	return u, true
}

// normalisePurgeURLs returns p with each URL replaced by the URL part of
// the cache key a request for it gets from the behavior its path selects:
// with a cache policy, the query is filtered and sorted, so a purge finds
// the entry whichever order the URL's parameters are in.
func (e *Edge) normalisePurgeURLs(p Purge) Purge {
	var urls []string
	for i, raw := range p.URLs {
		u, ok := purgeURL(raw)
		if !ok {
			continue
		}
		b := e.behavior(u)
		if b == nil || b.CachePolicy == nil {
			continue
		}
		if urls == nil {
			urls = slices.Clone(p.URLs)
		}
		urls[i] = policyURL(b.CachePolicy, u.Scheme, u.Host, u.EscapedPath(), u.RawQuery)
	}
	if urls != nil {
		p.URLs = urls
	}
	return p
}

// PurgeResult counts what a purge did.
type PurgeResult struct {
	Removed int // responses removed
	Marked  int // responses marked stale (soft purge) that were not marked yet
}

// Purge removes the matching responses (or, with p.Soft, marks them stale)
// and makes sure fetches in flight that started before it do not store
// theirs (or store them stale). It visits only the matching entries. When
// it returns, no request served by the edge gets a matching response that
// was stored before the purge, except as a soft purge allows.
func (e *Edge) Purge(p Purge) PurgeResult {
	res := make(chan PurgeResult, 1)
	e.purge(p, false, func(r PurgeResult) { res <- r })
	return <-res
}

// PurgeLater purges as Purge does, and returns as soon as the purge is in
// effect: a hard purge by tag leaves visiting the responses it matches to
// the store's reaper (see store.Memory.PurgeLater), which on a large purge
// is most of the work. done is called with the counts once they are known,
// before PurgeLater returns or later from the store's reaper; it must not
// wait for the store (a purge of everything, CleanUp). The purge metrics
// are recorded then too.
func (e *Edge) PurgeLater(p Purge, done func(PurgeResult)) {
	e.purge(p, true, done)
}

func (e *Edge) purge(p Purge, later bool, done func(PurgeResult)) {
	sels := e.normalisePurgeURLs(p).selectors()
	if len(sels) == 0 {
		done(PurgeResult{})
		return
	}
	e.recordPurge(sels, p.Soft, p.Version)
	now := e.cfg.Now()
	t := &purgeTally{rec: e.cfg.Recorder, done: done, left: len(sels)}
	for _, s := range sels {
		switch {
		case p.Soft:
			t.add(s.Kind, PurgeResult{Marked: e.cfg.Store.MarkStale(s, now)})
		case later:
			e.cfg.Store.PurgeLater(s, func(n int) { t.add(s.Kind, PurgeResult{Removed: n}) })
		default:
			t.add(s.Kind, PurgeResult{Removed: e.cfg.Store.Purge(s)})
		}
	}
}

// purgeTally adds up a purge's counts by selector kind as they arrive and,
// with the last, records them and reports the total.
type purgeTally struct {
	rec    Recorder
	done   func(PurgeResult)
	mu     sync.Mutex
	left   int
	byKind [store.KindAll + 1]PurgeResult
	used   [store.KindAll + 1]bool
}

// add counts one selector's r for kind and, with the last selector's,
// reports the purge.
func (t *purgeTally) add(kind store.Kind, r PurgeResult) {
	t.mu.Lock()
	t.byKind[kind].Removed += r.Removed
	t.byKind[kind].Marked += r.Marked
	t.used[kind] = true
	t.left--
	last := t.left == 0
	t.mu.Unlock()
	if !last {
		return
	}
	var total PurgeResult
	for k, r := range t.byKind {
		if t.used[k] {
			total.Removed += r.Removed
			total.Marked += r.Marked
			t.rec.Purge(store.Kind(k).String(), r.Removed, r.Marked)
		}
	}
	t.done(total)
}

// behavior returns the behavior for a request for u, or nil.
func (e *Edge) behavior(u *url.URL) *Behavior {
	bs := *e.behaviors.Load()
	for i := range bs {
		if bs[i].selects(u) {
			return &bs[i]
		}
	}
	return nil
}

// cacheKey is the primary key of a request: the scheme and host the client
// asked for, and the request URI. GET and HEAD share keys; other methods are
// never looked up.
func cacheKey(r *http.Request) string {
	return keyFor(requestScheme(r), r.Host, r.URL.RequestURI())
}

func keyFor(scheme, host, requestURI string) string {
	return scheme + "://" + strings.ToLower(host) + requestURI
}

// requestScheme is the scheme the client used to reach this edge. Forwarded
// headers are not trusted: a client could set them.
func requestScheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}
