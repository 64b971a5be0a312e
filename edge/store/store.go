package store

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/strata-cache/strata/httpcache"
)

// Entry is one stored response.
type Entry struct {
	Key    string // primary cache key
	Path   string // the request's URL path, for purges by path
	Status int
	Header http.Header
	Body   []byte
	Timing httpcache.Timing
	// Lifetime is the freshness lifetime computed when the entry was stored.
	Lifetime time.Duration
	// Directives are the response's parsed cache directives.
	Directives httpcache.Response
	// Vary holds, for each field the response varies on (canonical name), the
	// value the request that got it had.
	Vary map[string]string
	// Tags are the response's surrogate keys.
	Tags []string
	// Retain is how long after it is stored the entry is kept.
	Retain time.Duration

	// VaryNames, when set, make this entry a vary marker rather than a
	// response: the URL's responses vary on these fields and are stored
	// under secondary keys that include Generation. Replacing or removing
	// the marker makes every variant of the old generation unreachable.
	VaryNames  []string
	Generation uint64
}

// IsVaryMarker reports whether e points to variants instead of holding a
// response.
func (e *Entry) IsVaryMarker() bool { return e.VaryNames != nil }

// entryOverhead approximates the memory an entry costs beyond its strings
// and body: the Entry, its header map, the store's node and index slot.
const entryOverhead = 1024

// weight approximates the bytes an entry holds in memory (the body's
// capacity, not its length: that is what stays allocated).
func (e *Entry) weight() uint32 {
	n := len(e.Key) + len(e.Path) + cap(e.Body) + entryOverhead
	for k, vs := range e.Header {
		n += len(k)
		for _, v := range vs {
			n += len(v) + 16
		}
	}
	for _, t := range e.Tags {
		n += len(t) + 16
	}
	if n > int(^uint32(0)) {
		return ^uint32(0)
	}
	return uint32(n)
}

// Options configure a Memory store.
type Options struct {
	// MaxBytes bounds the approximate bytes held. Required.
	MaxBytes uint64
	// Clock is the time source for retention; nil means the wall clock.
	Clock otter.Clock
}

// Memory is a byte-bounded in-memory store.
type Memory struct {
	c *otter.Cache[string, *Entry]
}

// ErrNoBound is returned by NewMemory when no byte bound is given.
var ErrNoBound = errors.New("store: MaxBytes must be greater than zero")

// NewMemory returns an empty store bounded by opts.MaxBytes.
func NewMemory(opts Options) (*Memory, error) {
	if opts.MaxBytes == 0 {
		return nil, ErrNoBound
	}
	c, err := otter.New(&otter.Options[string, *Entry]{
		MaximumWeight: opts.MaxBytes,
		Weigher:       func(_ string, e *Entry) uint32 { return e.weight() },
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, *Entry]) time.Duration {
			return max(e.Value.Retain, time.Second)
		}),
		Clock: opts.Clock,
	})
	if err != nil {
		return nil, err
	}
	return &Memory{c: c}, nil
}

// Get returns the entry stored under key.
func (m *Memory) Get(key string) (*Entry, bool) { return m.c.GetIfPresent(key) }

// Set stores e under e.Key, replacing any entry there.
func (m *Memory) Set(e *Entry) { m.c.Set(e.Key, e) }

// Delete removes the entry under key, reporting whether there was one.
func (m *Memory) Delete(key string) bool {
	_, ok := m.c.Invalidate(key)
	return ok
}

// PurgeFunc removes every entry for which match returns true and returns how
// many it removed.
func (m *Memory) PurgeFunc(match func(*Entry) bool) int {
	n := 0
	for k, e := range m.c.All() {
		if match(e) {
			if _, ok := m.c.Invalidate(k); ok {
				n++
			}
		}
	}
	return n
}

// PurgePath removes entries whose path is p or, when p ends in "*", starts
// with p without the "*". Every query-string variant of a path matches.
func (m *Memory) PurgePath(p string) int { return m.PurgeFunc(PathMatcher(p)) }

// PurgeTag removes entries carrying surrogate key tag.
func (m *Memory) PurgeTag(tag string) int {
	return m.PurgeFunc(func(e *Entry) bool { return HasTag(e.Tags, tag) })
}

// PurgeAll removes every entry.
func (m *Memory) PurgeAll() { m.c.InvalidateAll() }

// Len returns the approximate number of entries.
func (m *Memory) Len() int { return m.c.EstimatedSize() }

// Bytes returns the approximate weight of the stored entries.
func (m *Memory) Bytes() uint64 { return m.c.WeightedSize() }

// Close stops the store's background goroutines.
func (m *Memory) Close() { m.c.StopAllGoroutines() }

// PathMatcher returns a matcher for invalidation path p: a trailing "*" is a
// prefix wildcard, anything else matches the path exactly.
func PathMatcher(p string) func(*Entry) bool {
	if prefix, ok := strings.CutSuffix(p, "*"); ok {
		return func(e *Entry) bool { return strings.HasPrefix(e.Path, prefix) }
	}
	return func(e *Entry) bool { return e.Path == p }
}

// HasTag reports whether tags contains tag.
func HasTag(tags []string, tag string) bool {
	for _, t := range tags {
		if t == tag {
			return true
		}
	}
	return false
}
