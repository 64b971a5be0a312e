package edge

import (
	"cmp"
	"math"
	"math/bits"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/strata-cache/strata/edge/config"
	"github.com/strata-cache/strata/httpcache"
)

// Explanation says how the edge would handle a request, without handling
// it: no origin is contacted and nothing is stored or counted. It is what
// the admin API shows for "why was this a miss?".
type Explanation struct {
	Method string `json:"method"`
	URL    string `json:"url"`
	// Behavior is the behavior the request's path selects; nil when none
	// does (the edge answers 404).
	Behavior *ExplainedBehavior `json:"behavior,omitempty"`
	// Refused is set when the behavior turns the request away before the
	// cache: its status and reason (405, 403, or 301 with Location).
	Refused *ExplainedRefusal `json:"refused,omitempty"`
	// Cacheable is false when the behavior does not cache this request:
	// a method it does not cache, or a cache policy that disables caching.
	Cacheable bool   `json:"cacheable"`
	NotCached string `json:"not_cached,omitempty"` // why, when not Cacheable
	// Key is the primary cache key, with its NUL separators shown as "|".
	Key string `json:"key,omitempty"`
	// KeyURL is the URL part of the key: what a purge by URL names.
	KeyURL string `json:"key_url,omitempty"`
	// Components are the query parameters, headers and cookies in the key.
	Components []KeyComponent `json:"components,omitempty"`
	// Policy is the behavior's cache policy: its TTLs, in seconds; all
	// zero with an empty name when the behavior has none and lifetimes are
	// the origin's.
	Policy *ExplainedPolicy `json:"policy,omitempty"`
	// Stored describes the stored response the request selects, if any.
	Stored *ExplainedEntry `json:"stored,omitempty"`
}

// ExplainedBehavior identifies a behavior.
type ExplainedBehavior struct {
	Name    string `json:"name"`
	Pattern string `json:"pattern"`
	Index   int    `json:"index"`
}

// ExplainedRefusal is a refusal before the cache.
type ExplainedRefusal struct {
	Status   int    `json:"status"`
	Reason   string `json:"reason"`
	Location string `json:"location,omitempty"`
}

// KeyComponent is one query parameter, header or cookie of a cache key.
type KeyComponent struct {
	Kind  string `json:"kind"` // "query", "header" or "cookie"
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ExplainedPolicy is the cache policy a response would be stored under.
type ExplainedPolicy struct {
	Name                      string  `json:"name"` // "" without a cache policy: lifetimes are the origin's
	MinTTL                    float64 `json:"min_ttl_seconds"`
	DefaultTTL                float64 `json:"default_ttl_seconds"`
	MaxTTL                    float64 `json:"max_ttl_seconds"`
	OverridePrivateAndNoStore bool    `json:"override_private_and_no_store,omitempty"`
}

// ExplainedEntry is a stored response and whether it would be served.
type ExplainedEntry struct {
	Status  int     `json:"status"`
	Age     float64 `json:"age_seconds"`
	TTL     float64 `json:"ttl_seconds"` // freshness left; negative when stale
	Stale   bool    `json:"stale"`
	Variant bool    `json:"variant"` // a Vary variant
	// Served is true when the request would be answered from the store
	// without contacting the origin (fresh, or stale-while-revalidate).
	Served bool   `json:"served"`
	Reason string `json:"reason"`
}

// Explain says how the edge would handle r now. It reads the store but
// changes nothing.
func (e *Edge) Explain(r *http.Request) Explanation {
	ex := Explanation{Method: r.Method, URL: r.URL.String()}
	if r.Host != "" && r.URL.Host == "" {
		ex.URL = requestScheme(r) + "://" + r.Host + r.URL.RequestURI()
	}
	b := e.behavior(r.URL)
	if b == nil {
		return ex
	}
	ex.Behavior = &ExplainedBehavior{Name: b.Name, Pattern: b.patternString(), Index: b.index}
	if b.guarded() {
		var f *refusal
		if r, f = e.admit(b, r); f != nil {
			ex.Refused = &ExplainedRefusal{Status: f.status, Reason: f.reason, Location: f.location}
			return ex
		}
	}
	if p := b.CachePolicy; p != nil {
		ex.Policy = &ExplainedPolicy{Name: p.Name, MinTTL: p.MinTTL.Seconds(), DefaultTTL: p.DefaultTTL.Seconds(), MaxTTL: p.MaxTTL.Seconds(), OverridePrivateAndNoStore: p.OverridePrivateAndNoStore}
	} else {
		ex.Policy = &ExplainedPolicy{} // no name: the origin's lifetimes
	}
	switch {
	case !b.cachedMethod(r.Method):
		ex.NotCached = "method " + r.Method + " is not cached by this behavior"
		return ex
	case b.cachingDisabled():
		ex.NotCached = "caching-disabled: the cache policy's TTLs are all 0"
		return ex
	}
	ex.Cacheable = true
	key := e.requestKey(b, r)
	ex.Key = strings.ReplaceAll(key, "\x00", "|")
	ex.KeyURL = keyURL(key)
	componentsOf(b, r, func(kind, name, value string) {
		ex.Components = append(ex.Components, KeyComponent{Kind: kind, Name: name, Value: value})
	})
	en, _, _ := e.lookup(key, r.Header)
	if en == nil {
		return ex
	}
	now := e.cfg.Now()
	age := httpcache.CurrentAge(en.Timing, now)
	left := lifetime(en) - age
	st := &ExplainedEntry{Status: en.Status, Age: seconds(age), TTL: seconds(left), Stale: left <= 0, Variant: en.Primary != "" && en.Key != keyURL(key)}
	reqCC := httpcache.ParseRequest(r.Header)
	switch {
	case e.usable(en, reqCC, age):
		st.Served, st.Reason = true, "fresh"
		if left <= 0 {
			st.Reason = "stale, within the request's max-stale"
		}
	case staleWhileRevalidate(en, reqCC, age):
		st.Served, st.Reason = true, "stale-while-revalidate: served stale, revalidated in the background"
	case en.Directives.NoCache:
		st.Reason = "no-cache: revalidated with the origin before every use"
	case reqCC.NoCache || tooOld(reqCC, age) || reqCC.HasMinFresh:
		st.Reason = "the request's Cache-Control asks for a fresher response"
	default:
		st.Reason = "stale: revalidated with the origin"
	}
	ex.Stored = st
	return ex
}

func seconds(d time.Duration) float64 { return math.Round(d.Seconds()*1000) / 1000 }

// componentsOf calls fn for each query parameter, header and cookie in r's
// cache key under b. Without a cache policy, every query parameter is in
// the key (the URL as sent) and no header or cookie is.
func componentsOf(b *Behavior, r *http.Request, fn func(kind, name, value string)) {
	p := b.CachePolicy
	var qf *config.KeyFilter // nil: every parameter
	if p != nil {
		qf = &p.QueryStrings
	}
	if r.URL.RawQuery != "" && (qf == nil || qf.Mode != config.FilterNone) {
		var stack [16]queryParam
		for _, q := range parseQuery(stack[:0], r.URL.RawQuery, qf) {
			fn("query", q.name, q.value)
		}
	}
	if p == nil {
		return
	}
	for _, name := range b.state.keyHeaders {
		fn("header", name, strings.Join(r.Header[name], ","))
	}
	if p.Cookies.Mode != config.FilterNone && len(r.Header["Cookie"]) > 0 {
		for _, c := range r.Cookies() {
			if p.Cookies.Includes(c.Name) {
				fn("cookie", c.Name, c.Value)
			}
		}
	}
}

// Cardinality report.
//
// Each behavior keeps, for each key component (a query parameter, header
// or cookie name) seen in sampled requests, a HyperLogLog sketch of its
// values: 256 one-byte registers, about 6.5% standard error, exact enough
// to tell a component with ten values from one with ten thousand. A
// behavior tracks at most maxComponents names; values of further names
// are counted under the name "*" of their kind. Recording happens on one
// request in Config.CardinalitySample, under a mutex per behavior.

const (
	maxComponents = 64
	hllRegisters  = 256
)

// ComponentStats is the approximate number of distinct values one cache
// key component took in the sampled requests of a behavior.
type ComponentStats struct {
	Behavior string `json:"behavior"`
	Kind     string `json:"kind"` // "query", "header" or "cookie"
	Name     string `json:"name"` // "*": names beyond the per-behavior limit
	Distinct uint64 `json:"distinct"`
	Samples  uint64 `json:"samples"` // values recorded, duplicates included
}

type componentID struct{ kind, name string }

type cardinality struct {
	mu    sync.Mutex
	comps map[componentID]*sketch
}

type sketch struct {
	regs    [hllRegisters]uint8
	samples uint64
}

// record adds r's key components to b's sketches.
func (c *cardinality) record(b *Behavior, r *http.Request) {
	if b.CachePolicy == nil && r.URL.RawQuery == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	componentsOf(b, r, func(kind, name, value string) {
		id := componentID{kind, name}
		s := c.comps[id]
		if s == nil {
			if c.comps == nil {
				c.comps = map[componentID]*sketch{}
			}
			if len(c.comps) >= maxComponents {
				id.name = "*"
				if s = c.comps[id]; s == nil {
					s = new(sketch)
					c.comps[id] = s
				}
			} else {
				s = new(sketch)
				c.comps[id] = s
			}
		}
		s.add(value)
	})
}

func (s *sketch) add(v string) {
	h := hash64(v)
	i := h >> 56 // the top 8 bits choose the register
	rank := uint8(bits.LeadingZeros64(h<<8|1<<7)) + 1
	if rank > s.regs[i] {
		s.regs[i] = rank
	}
	s.samples++
}

// estimate is the HyperLogLog estimate, with linear counting for small
// cardinalities.
func (s *sketch) estimate() uint64 {
	const m = float64(hllRegisters)
	sum, zeros := 0.0, 0
	for _, r := range s.regs {
		sum += math.Ldexp(1, -int(r))
		if r == 0 {
			zeros++
		}
	}
	est := 0.7213 / (1 + 1.079/m) * m * m / sum
	if est <= 2.5*m && zeros > 0 {
		est = m * math.Log(m/float64(zeros))
	}
	return uint64(math.Round(est))
}

// hash64 is FNV-1a with a final mix, so the top bits are well spread.
// It is deterministic: reports do not change from run to run.
func hash64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// KeyCardinality reports, for the installed behaviors, the approximate
// number of distinct values each cache key component took in sampled
// requests, highest first. A component with many values splits the cache
// into many entries: a candidate for leaving out of the cache policy.
func (e *Edge) KeyCardinality() []ComponentStats {
	var out []ComponentStats
	bs := *e.behaviors.Load()
	for i := range bs {
		b := &bs[i]
		c := &b.state.card
		c.mu.Lock()
		for id, s := range c.comps {
			out = append(out, ComponentStats{Behavior: b.Name, Kind: id.kind, Name: id.name, Distinct: s.estimate(), Samples: s.samples})
		}
		c.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b ComponentStats) int {
		return cmp.Or(cmp.Compare(b.Distinct, a.Distinct), strings.Compare(a.Behavior, b.Behavior),
			strings.Compare(a.Kind, b.Kind), strings.Compare(a.Name, b.Name))
	})
	return out
}
