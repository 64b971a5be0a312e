package store

import (
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/strata-cache/strata/httpcache"
)

// Entry is one stored response.
type Entry struct {
	Key string // the cache key: a primary key, or a Vary variant's secondary key
	// Primary is, for a Vary variant, the primary key of the URL it is a
	// variant of (a purge of that URL removes it); empty for an entry stored
	// under its primary key, response or vary marker.
	Primary string
	Path    string // the request's URL path, for purges by path
	Status  int
	Header  http.Header
	Body    []byte
	Timing  httpcache.Timing
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

	// meta is this stored copy's soft-purge mark; Set gives every stored
	// entry its own.
	meta *entryMeta
}

// entryMeta is what changes about a stored entry without replacing it.
type entryMeta struct {
	staleSince atomic.Int64 // unix nanoseconds; 0: not marked
}

// URL returns the primary key of the URL e belongs to: Primary for a Vary
// variant, Key otherwise.
func (e *Entry) URL() string {
	if e.Primary != "" {
		return e.Primary
	}
	return e.Key
}

// StaleSince reports whether a soft purge marked e stale, and since when.
// A marked entry must be treated as stale from then on (revalidated before
// it is used, or served stale only where stale-while-revalidate or
// stale-if-error allow it).
func (e *Entry) StaleSince() (time.Time, bool) {
	if e.meta == nil {
		return time.Time{}, false
	}
	if ns := e.meta.staleSince.Load(); ns != 0 {
		return time.Unix(0, ns), true
	}
	return time.Time{}, false
}

// markStale marks e stale since ns unless it is marked already, reporting
// whether it marked it.
func (e *Entry) markStale(ns int64) bool {
	return e.meta != nil && e.meta.staleSince.CompareAndSwap(0, ns)
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

// Memory is a byte-bounded in-memory store with purge indexes (index.go).
type Memory struct {
	c   *otter.Cache[string, *Entry]
	idx index
}

// ErrNoBound is returned by NewMemory when no byte bound is given.
var ErrNoBound = errors.New("store: MaxBytes must be greater than zero")

// NewMemory returns an empty store bounded by opts.MaxBytes.
func NewMemory(opts Options) (*Memory, error) {
	if opts.MaxBytes == 0 {
		return nil, ErrNoBound
	}
	m := &Memory{}
	c, err := otter.New(&otter.Options[string, *Entry]{
		MaximumWeight: opts.MaxBytes,
		Weigher:       func(_ string, e *Entry) uint32 { return e.weight() },
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, *Entry]) time.Duration {
			return max(e.Value.Retain, time.Second)
		}),
		// Every removal and replacement, whatever its cause, leaves the
		// indexes here, under the key's bucket lock (see index.go).
		OnAtomicDeletion: func(ev otter.DeletionEvent[string, *Entry]) { m.idx.remove(ev.Value) },
		Clock:            opts.Clock,
	})
	if err != nil {
		return nil, err
	}
	m.c = c
	return m, nil
}

// Get returns the entry stored under key.
func (m *Memory) Get(key string) (*Entry, bool) { return m.c.GetIfPresent(key) }

// Set stores e under e.Key, replacing any entry there. An entry that was
// stored before (or a copy of one) is copied first: each stored entry has
// its own soft-purge mark.
func (m *Memory) Set(e *Entry) { m.set(e, 0) }

// SetStale stores e as Set does, already marked stale since the given time:
// for a response whose fetch a soft purge overtook.
func (m *Memory) SetStale(e *Entry, since time.Time) { m.set(e, max(since.UnixNano(), 1)) }

func (m *Memory) set(e *Entry, staleSince int64) {
	if e.meta != nil {
		cp := *e
		e = &cp
	}
	e.meta = &entryMeta{}
	if staleSince != 0 && !e.IsVaryMarker() {
		e.meta.staleSince.Store(staleSince)
	}
	m.c.Compute(e.Key, func(*Entry, bool) (*Entry, otter.ComputeOp) {
		// Under the key's bucket lock: the replaced entry, if any, leaves
		// the indexes through OnAtomicDeletion after this returns.
		m.idx.add(e)
		return e, otter.WriteOp
	})
}

// Delete removes the entry under key, reporting whether there was one.
func (m *Memory) Delete(key string) bool {
	_, ok := m.c.Invalidate(key)
	return ok
}

// Purge removes the entries sel matches and returns how many responses it
// removed (vary markers, which it also removes, are not counted). It visits
// only the matching entries (see Selector for the costs).
func (m *Memory) Purge(sel Selector) int {
	switch sel.Kind {
	case KindAll:
		n := m.responses()
		m.c.InvalidateAll()
		return n
	case KindURL:
		// The entry under the primary key is not in the URL index (only its
		// variants are): it is the key itself.
		n := 0
		if e, ok := m.c.Invalidate(sel.Value); ok && !e.IsVaryMarker() {
			n++
		}
		return n + m.removeAll(m.targets(sel))
	case KindPath, KindPrefix, KindTag:
		return m.removeAll(m.targets(sel))
	}
	return 0
}

// MarkStale marks the responses sel matches stale since the given time (a
// soft purge) and returns how many it marked; responses marked before keep
// their earlier mark and are not counted. Vary markers are not marked: a
// marker holds no response.
func (m *Memory) MarkStale(sel Selector, since time.Time) int {
	ns := max(since.UnixNano(), 1)
	n := 0
	mark := func(e *Entry) {
		if !e.IsVaryMarker() && e.markStale(ns) {
			n++
		}
	}
	switch sel.Kind {
	case KindAll:
		for e := range m.c.Values() {
			mark(e)
		}
		return n
	case KindURL:
		if e, ok := m.c.GetIfPresent(sel.Value); ok {
			mark(e)
		}
	}
	m.idx.collect(sel, mark) // marks are atomics on the entries: no cache call
	return n
}

// targets returns the entries sel matches now.
func (m *Memory) targets(sel Selector) []*Entry {
	var es []*Entry
	m.idx.collect(sel, func(e *Entry) { es = append(es, e) })
	return es
}

// removeAll removes each entry of es that is still stored (not replaced
// since it was collected) and returns how many responses it removed.
func (m *Memory) removeAll(es []*Entry) int {
	n := 0
	var target *Entry
	removed := false
	// One function for every entry: the target is passed through the
	// variables it closes over.
	remove := func(cur *Entry) (*Entry, otter.ComputeOp) {
		if cur == target {
			removed = true
			return nil, otter.InvalidateOp
		}
		return cur, otter.CancelOp
	}
	for _, e := range es {
		target, removed = e, false
		m.c.ComputeIfPresent(e.Key, remove)
		if removed && !e.IsVaryMarker() {
			n++
		}
	}
	return n
}

// responses returns the number of responses (not vary markers) stored,
// expired ones not yet removed included.
func (m *Memory) responses() int {
	m.idx.mu.Lock()
	defer m.idx.mu.Unlock()
	return m.idx.count
}

// PurgeAll removes every entry.
func (m *Memory) PurgeAll() { m.c.InvalidateAll() }

// Len returns the approximate number of entries.
func (m *Memory) Len() int { return m.c.EstimatedSize() }

// Bytes returns the approximate weight of the stored entries.
func (m *Memory) Bytes() uint64 { return m.c.WeightedSize() }

// CleanUp performs pending maintenance: evictions and expirations are
// applied (and leave the indexes) now rather than on later writes.
func (m *Memory) CleanUp() { m.c.CleanUp() }

// Close stops the store's background goroutines.
func (m *Memory) Close() { m.c.StopAllGoroutines() }
