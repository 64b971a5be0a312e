package store

import (
	"errors"
	"math"
	"net/http"
	"sync"
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

	// meta is the store's record of this stored copy: its marks and where
	// it is indexed. Nil for an entry that is not stored.
	meta *entryMeta
}

// entryMeta is what the store keeps about a stored entry beside it.
type entryMeta struct {
	staleSince atomic.Int64 // unix nanoseconds; 0: not marked
	// purged is set when a purge removes the entry: from then on it is
	// absent for Get, and the reaper takes it out of the store. An entry a
	// tag purge left to the reaper (PurgeLater) is absent before it is
	// set: when its claim reaches it, or as it leaves the store (credit).
	// Only ever set under shard.mu.
	purged atomic.Bool
	// Where the entry is indexed, and when: seq orders the entry among the
	// shard's additions and tag purges (see PurgeLater). Set before the
	// entry is visible, under shard.mu.
	shard *shard
	node  *radixNode
	seq   uint64
}

// storedEntry is the copy of an entry that Set stores, with its meta in the
// same allocation (a purge reads both).
type storedEntry struct {
	Entry
	state entryMeta
}

// URL returns the primary key of the URL e belongs to: Primary for a Vary
// variant, Key otherwise.
func (e *Entry) URL() string {
	if e.Primary != "" {
		return e.Primary
	}
	return e.Key
}

// Clone returns a copy of e that is not stored: it shares e's fields
// (headers, body, tags) but none of the store's marks, so a response
// rebuilt from a stored one (a 304 refresh) is fresh until it is stored
// and purged again.
func (e *Entry) Clone() *Entry {
	c := *e
	c.meta = nil
	return &c
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

// markStale marks e stale since ns unless it is marked already (or
// purged), reporting whether it marked it.
func (e *Entry) markStale(ns int64) bool {
	return !e.meta.purged.Load() && e.meta.staleSince.CompareAndSwap(0, ns)
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
	// purged counts the responses marked purged and not yet reaped (not
	// those a pending tag purge covers but has not claimed).
	purged atomic.Int64
	// lazy counts the tag purges' claims (see PurgeLater) not yet made:
	// while it is 0, an entry's purged flag alone says whether it is
	// purged. Every Get reads it: it has a cache line of its own, away
	// from purged, which marking and reaping write.
	_    [64]byte
	lazy atomic.Int64
	_    [64]byte

	// The reaper: claims what tag purges left to it, and removes purged
	// entries from the store (see Purge and PurgeLater).
	reapMu    sync.Mutex
	claimQ    []*claim
	laterJobs uint64 // PurgeLater calls so far
	reapQ     [][]*Entry
	reaping   bool
	reaped    *sync.Cond // broadcast when reaping stops
	// beforeClaim, when set (by tests, before the store is used), is called
	// by the reaper before each claim.
	beforeClaim func()
	hurry       chan struct{} // closed by waitReaped: the running reaper stops resting
	hurried     bool          // hurry is closed
}

// ErrNoBound is returned by NewMemory when no byte bound is given.
var ErrNoBound = errors.New("store: MaxBytes must be greater than zero")

// NewMemory returns an empty store bounded by opts.MaxBytes.
func NewMemory(opts Options) (*Memory, error) {
	if opts.MaxBytes == 0 {
		return nil, ErrNoBound
	}
	m := &Memory{}
	m.idx.init()
	m.reaped = sync.NewCond(&m.reapMu)
	c, err := otter.New(&otter.Options[string, *Entry]{
		MaximumWeight: opts.MaxBytes,
		Weigher:       func(_ string, e *Entry) uint32 { return e.weight() },
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, *Entry]) time.Duration {
			return max(e.Value.Retain, time.Second)
		}),
		// Every removal and replacement, whatever its cause, leaves the
		// indexes here, under the key's bucket lock (see index.go).
		OnAtomicDeletion: func(ev otter.DeletionEvent[string, *Entry]) {
			// An entry a pending tag purge counted as it left was not
			// among the purged ones waiting for the reaper.
			if !m.idx.remove(ev.Value) && ev.Value.meta.purged.Load() && !ev.Value.IsVaryMarker() {
				m.purged.Add(-1)
			}
		},
		Clock: opts.Clock,
	})
	if err != nil {
		return nil, err
	}
	m.c = c
	return m, nil
}

// Get returns the entry stored under key. A purged entry is absent.
func (m *Memory) Get(key string) (*Entry, bool) {
	e, ok := m.c.GetIfPresent(key)
	if !ok || m.isPurged(e) {
		return nil, false
	}
	return e, true
}

// isPurged reports whether a purge removed the stored entry e: a tag
// purge whose claim is still to come covers it (PurgeLater), or it is
// marked. In that order: a claim marks its entries before it leaves the
// pending ones and the lazy count drops, so a look that finds the claim
// gone finds the mark.
func (m *Memory) isPurged(e *Entry) bool {
	return m.lazy.Load() != 0 && e.meta.shard.pendingPurge(e) || e.meta.purged.Load()
}

// Set stores a copy of e under e.Key, replacing any entry there. Each
// stored entry is a distinct copy, with its own soft-purge mark: storing
// an entry that was stored before (or a copy of one) does not carry its
// mark over.
func (m *Memory) Set(e *Entry) { m.set(e, 0) }

// SetStale stores e as Set does, already marked stale since the given time:
// for a response whose fetch a soft purge overtook.
func (m *Memory) SetStale(e *Entry, since time.Time) { m.set(e, max(since.UnixNano(), 1)) }

func (m *Memory) set(e *Entry, staleSince int64) {
	s := &storedEntry{Entry: *e}
	e = &s.Entry
	e.meta = &s.state
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
	e, ok := m.c.Invalidate(key)
	// Removed: the mark is final (a pending purge that covered e, or a
	// purge of everything under way, marked and counted it as it left:
	// see index.remove), and a tag purge recorded since may look as if it
	// covered e, but did not.
	return ok && !e.meta.purged.Load()
}

// Purge removes the entries sel matches and returns how many responses it
// removed (vary markers, which it also removes, are not counted).
//
// It visits only the matching entries (see Kind for the costs), and in two
// steps: under the index it marks each entry purged, which makes it absent
// for Get at once; then the reaper, a goroutine that runs while there is
// work, removes the marked entries from the store and its indexes. So a
// purge of many entries takes effect, and returns, in the time it takes to
// flip a flag on each; until the reaper is done, Len and Bytes still count
// them. CleanUp and Close wait for the reaper. Marking and reaping leave a
// core for requests (see purgeSlots). KindAll (InvalidateAll) and the
// entry under a URL's primary key are removed before Purge returns. An
// entry that a tag purge left to the reaper (PurgeLater) covers is that
// purge's: Purge neither marks nor counts it. A tag purge that need not
// count before it returns is cheaper still with PurgeLater.
func (m *Memory) Purge(sel Selector) int {
	switch sel.Kind {
	case KindAll:
		// It counts each response as it leaves, unless a purge marked it
		// first (see index.remove): a purge that runs meanwhile and marks
		// an entry before it leaves counts it, not this. The reaper
		// first, and its lock held to the end, so that no tag purge left
		// to it covers an entry meanwhile.
		m.reapMu.Lock()
		defer m.reapMu.Unlock()
		m.waitReapedLocked()
		var n atomic.Int64
		m.idx.flush.Store(&n)
		m.c.InvalidateAll()
		m.idx.flush.Store(nil)
		// A removal that found the counter (a Delete or an eviction
		// racing this) adds to it under its shard's lock: after each lock
		// has been taken once, every such addition is in.
		for i := range m.idx.shards {
			m.idx.shards[i].mu.Lock()
			//lint:ignore SA2001 a barrier: the lock is taken only to wait for its holder
			m.idx.shards[i].mu.Unlock()
		}
		return int(n.Load())
	case KindURL:
		// The entry under the primary key is not in the URL index (only its
		// variants are): it is the key itself.
		n := 0
		if e, ok := m.c.Invalidate(sel.Value); ok && !e.meta.purged.Load() && !e.IsVaryMarker() { // as in Delete
			n++
		}
		return n + m.purgeIndexed(sel)
	case KindPath, KindPrefix, KindTag:
		return m.purgeIndexed(sel)
	}
	return 0
}

// purgeIndexed marks the indexed entries sel matches purged, hands them to
// the reaper, and returns how many responses it purged.
func (m *Memory) purgeIndexed(sel Selector) int {
	purgeSlots.acquire(true)
	defer purgeSlots.release()
	n := 0
	var groups [][]*Entry
	visit := func(s *shard) {
		// Every entry seq allows: all that sel matches, less those a tag
		// purge left to the reaper (they are that purge's).
		es, k := m.mark(func(fn func(*Entry)) { s.collect(sel, fn) }, math.MaxUint64, s)
		n += k
		if len(es) > 0 {
			groups = append(groups, es)
		}
	}
	if sel.Kind == KindPath {
		visit(m.idx.shardOf(sel.Value))
	} else {
		for i := range m.idx.shards {
			visit(&m.idx.shards[i])
		}
	}
	if len(groups) > 0 {
		m.reap(groups)
	}
	return n
}

// reap queues groups for the reaper, starting it if it is not running.
func (m *Memory) reap(groups [][]*Entry) {
	m.reapMu.Lock()
	defer m.reapMu.Unlock()
	m.reapQ = append(m.reapQ, groups...)
	m.startReaper()
}

// startReaper starts the reaper unless it is running; the caller holds
// reapMu.
func (m *Memory) startReaper() {
	if !m.reaping {
		m.reaping = true
		m.hurry, m.hurried = make(chan struct{}), false
		go m.reapLoop(m.hurry)
	}
}

// reapLoop does the queued work until there is none, then exits: one unit
// at a time — a tag purge's claim in one shard, or reapChunk entries to
// remove — each with a background slot of purgeSlots held, claims first,
// resting between units as reapPace says until hurry is closed.
func (m *Memory) reapLoop(hurry <-chan struct{}) {
	for {
		var c *claim
		var chunk []*Entry
		m.reapMu.Lock()
		switch {
		case len(m.claimQ) > 0:
			c = m.claimQ[0]
			m.claimQ[0] = nil
			m.claimQ = m.claimQ[1:]
		case len(m.reapQ) > 0:
			g := m.reapQ[0]
			n := min(len(g), reapChunk)
			chunk = g[:n]
			if n < len(g) {
				m.reapQ[0] = g[n:]
			} else {
				m.reapQ[0] = nil
				m.reapQ = m.reapQ[1:]
			}
		default:
			m.claimQ, m.reapQ = nil, nil
			m.reaping = false
			m.reaped.Broadcast()
			m.reapMu.Unlock()
			return
		}
		m.reapMu.Unlock()

		if c != nil && m.beforeClaim != nil {
			m.beforeClaim()
		}
		purgeSlots.acquire(false)
		start := time.Now()
		last := false
		if c != nil {
			last = m.claimNow(c)
		} else {
			m.removeGroup(chunk)
		}
		worked := time.Since(start)
		purgeSlots.release()
		if last {
			c.job.report()
		}

		m.reapMu.Lock()
		more := len(m.claimQ) > 0 || len(m.reapQ) > 0
		m.reapMu.Unlock()
		if !more {
			continue // nothing left: rest only between units
		}
		select {
		case <-hurry:
		default:
			rest := time.NewTimer(reapPace.rest(time.Now(), worked))
			select {
			case <-rest.C:
			case <-hurry:
				rest.Stop()
			}
		}
	}
}

// waitReaped waits until the reaper has made every claim and removed every
// purged entry; it stops resting between units, since someone waits for it.
func (m *Memory) waitReaped() {
	m.reapMu.Lock()
	defer m.reapMu.Unlock()
	m.waitReapedLocked()
}

// waitReapedLocked is waitReaped with reapMu held.
func (m *Memory) waitReapedLocked() {
	for m.reaping {
		// Each time: while this waits, the reaper may end and another
		// start, with a hurry of its own.
		if !m.hurried {
			close(m.hurry)
			m.hurried = true
		}
		m.reaped.Wait()
	}
}

// MarkStale marks the responses sel matches stale since the given time (a
// soft purge) and returns how many it marked; responses marked before keep
// their earlier mark and are not counted. Vary markers are not marked: a
// marker holds no response.
func (m *Memory) MarkStale(sel Selector, since time.Time) int {
	purgeSlots.acquire(true)
	defer purgeSlots.release()
	ns := max(since.UnixNano(), 1)
	n := 0
	mark := func(e *Entry) {
		if !e.IsVaryMarker() && !m.isPurged(e) && e.markStale(ns) {
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

// reapChunk is how many entries the reaper removes with a slot held: under
// a millisecond of work (removing an entry from the cache and the indexes
// costs a few microseconds, mostly cache misses), so that a purge's marking
// waits little for it, and fewer than otter's write buffer holds on two
// cores (128 per core), so that a chunk seldom waits for the cache's
// maintenance to drain it.
const reapChunk = 128

// removeGroup removes the entries of es that are still stored.
func (m *Memory) removeGroup(es []*Entry) {
	var target *Entry
	// One function for every entry: the target is passed through the
	// variable it closes over.
	remove := func(cur *Entry) (*Entry, otter.ComputeOp) {
		if cur == target {
			return nil, otter.InvalidateOp
		}
		return cur, otter.CancelOp
	}
	for _, e := range es {
		target = e
		m.c.ComputeIfPresent(e.Key, remove)
	}
}

// PurgeAll removes every entry.
func (m *Memory) PurgeAll() { m.Purge(Selector{Kind: KindAll}) }

// Len returns the approximate number of entries (purged ones the reaper
// has not removed yet included, and those a tag purge it has not claimed
// yet covers).
func (m *Memory) Len() int { return m.c.EstimatedSize() }

// Bytes returns the approximate weight of the stored entries.
func (m *Memory) Bytes() uint64 { return m.c.WeightedSize() }

// PurgeBacklog reports the purge work the reaper has still to do: claims
// of tag purges not made yet (one per shard that held more than
// claimAtOnce entries of the tag; one more while a PurgeLater call is
// recording its claims), and responses marked purged and not yet removed.
func (m *Memory) PurgeBacklog() (claims, objects int) {
	return int(m.lazy.Load()), int(m.purged.Load())
}

// CleanUp waits for the reaper and performs pending maintenance:
// evictions and expirations are applied (and leave the indexes) now rather
// than on later writes.
func (m *Memory) CleanUp() {
	m.waitReaped()
	m.c.CleanUp()
}

// Close waits for the reaper and stops the store's background goroutines.
func (m *Memory) Close() {
	m.waitReaped()
	m.c.StopAllGoroutines()
}
