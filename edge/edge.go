package edge

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-cache/strata/edge/store"
)

// Behavior routes requests whose path matches Pattern to Origin.
type Behavior struct {
	// Pattern selects requests by URL path: "/api/*" matches every path that
	// starts with "/api/" (and "/api" itself), "/x" matches exactly "/x", and
	// "*" or "" matches everything (the default behavior).
	Pattern string
	// Origin fetches responses; see URLOrigin and HandlerOrigin.
	Origin http.RoundTripper
	// Name labels the behavior in metrics and logs; it defaults to Pattern.
	Name string
	// Compress makes the edge compress responses for the clients that
	// accept it (br, zstd or gzip, by Accept-Encoding), compressing each
	// stored response at most once per coding and storing the result; the
	// origin is asked for identity. Off by default. See docs/edge.md,
	// "Compression".
	Compress bool

	index int // position in Config.Behaviors
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

// Results recorded per request: how the edge answered it.
const (
	ResultHit        = "hit"         // served from the store, fresh
	ResultRefreshHit = "refresh_hit" // stale in the store, origin said 304
	ResultMiss       = "miss"        // fetched from the origin (stored or not)
	ResultCollapsed  = "collapsed"   // answered by another request's origin fetch
	ResultPass       = "pass"        // not cacheable: unsafe method or bypass
	ResultStale      = "stale"       // served stale: while revalidating, or because the origin failed
	ResultError      = "error"       // origin unreachable or failed
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
	// Behaviors are tried in order; the first whose Pattern matches the
	// request path handles it. A request no behavior matches gets 404.
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
	// Logger receives origin errors. Default: slog.Default().
	Logger *slog.Logger
	// CompressMinSize is the smallest body a behavior with Compress
	// compresses; smaller ones gain too little. Default 1 KiB.
	CompressMinSize int64
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
	downUntil  []atomic.Int64 // per behavior: unix nanos until which its origin is skipped
	xHit       string
	xMiss      string
	xRHit      string
	xStale     string
	via        string   // "1.1 <name>"
	viaOnly    []string // {via}, shared by responses that had no Via
}

// ErrConfig is wrapped by New's errors.
var ErrConfig = errors.New("edge: invalid config")

// New checks cfg, fills in its defaults and returns an Edge.
func New(cfg Config) (*Edge, error) {
	if cfg.Store == nil {
		return nil, fmt.Errorf("%w: Store is required", ErrConfig)
	}
	if len(cfg.Behaviors) == 0 {
		return nil, fmt.Errorf("%w: at least one behavior is required", ErrConfig)
	}
	for i, b := range cfg.Behaviors {
		if b.Origin == nil {
			return nil, fmt.Errorf("%w: behavior %d (%q) has no origin", ErrConfig, i, b.Pattern)
		}
		if b.Pattern != "" && b.Pattern != "*" && !strings.HasPrefix(b.Pattern, "/") {
			return nil, fmt.Errorf("%w: behavior pattern %q must start with / or be *", ErrConfig, b.Pattern)
		}
		cfg.Behaviors[i].index = i
		if b.Name == "" {
			cfg.Behaviors[i].Name = b.Pattern
			if b.Pattern == "" {
				cfg.Behaviors[i].Name = "*"
			}
		}
	}
	if cfg.MaxObjectSize < 0 || cfg.StaleRetention < 0 || cfg.OriginTimeout < 0 || cfg.OriginRetryAfter < 0 || cfg.CompressMinSize < 0 {
		return nil, fmt.Errorf("%w: sizes and durations must not be negative", ErrConfig)
	}
	if cfg.Name == "" {
		cfg.Name = "strata"
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
	return &Edge{
		cfg:       cfg,
		downUntil: make([]atomic.Int64, len(cfg.Behaviors)),
		fills:     map[string]*fill{},
		xHit:      "Hit from " + cfg.Name,
		xMiss:     "Miss from " + cfg.Name,
		xRHit:     "RefreshHit from " + cfg.Name,
		xStale:    "StaleHit from " + cfg.Name,
		via:       "1.1 " + cfg.Name,
		viaOnly:   []string{"1.1 " + cfg.Name},
	}, nil
}

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
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", false
	}
	return keyFor(u.Scheme, u.Host, u.RequestURI()), true
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
	sels := p.selectors()
	if len(sels) == 0 {
		return PurgeResult{}
	}
	e.recordPurge(sels, p.Soft)
	now := e.cfg.Now()
	var total PurgeResult
	var byKind [store.KindAll + 1]PurgeResult
	var used [store.KindAll + 1]bool
	for _, s := range sels {
		r := &byKind[s.Kind]
		used[s.Kind] = true
		if p.Soft {
			r.Marked += e.cfg.Store.MarkStale(s, now)
		} else {
			r.Removed += e.cfg.Store.Purge(s)
		}
	}
	for k, r := range byKind {
		if used[k] {
			total.Removed += r.Removed
			total.Marked += r.Marked
			e.cfg.Recorder.Purge(store.Kind(k).String(), r.Removed, r.Marked)
		}
	}
	return total
}

// behavior returns the behavior for path, or nil.
func (e *Edge) behavior(path string) *Behavior {
	for i := range e.cfg.Behaviors {
		if e.cfg.Behaviors[i].matches(path) {
			return &e.cfg.Behaviors[i]
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
