package cache

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// sampleEvery is the sampling rate of L1 hits in the key statistics: one
// hit in sampleEvery is counted (as sampleEvery), so the hit path pays a
// random draw, not a lock. Misses, already slow, are all counted.
const sampleEvery = 64

// topKeys estimates the most requested keys with the Space-Saving algorithm
// (Metwally, Agrawal and El Abbadi, 2005) over sampled accesses: at most
// capacity counters; a new key replaces a small counter (the smallest of a
// random few) and inherits its count, so heavy hitters are kept.
type topKeys struct {
	capacity int
	sampled  atomic.Uint64 // estimated accesses, for the request rate
	mu       sync.Mutex
	counts   map[string]*keyCount
}

type keyCount struct {
	n   uint64
	err uint64 // over-estimate bound inherited on replacement
}

func newTopKeys(capacity int) *topKeys {
	if capacity < 0 {
		return nil
	}
	return &topKeys{capacity: capacity, counts: make(map[string]*keyCount, capacity)}
}

// touchHit counts an L1 hit, sampled.
func (s *topKeys) touchHit(key string) {
	if s == nil || rand.Uint32()%sampleEvery != 0 {
		return
	}
	s.add(key, sampleEvery)
}

// touch counts one access.
func (s *topKeys) touch(key string) {
	if s != nil {
		s.add(key, 1)
	}
}

func (s *topKeys) add(key string, w uint64) {
	s.sampled.Add(w)
	s.mu.Lock()
	defer s.mu.Unlock()
	if kc, ok := s.counts[key]; ok {
		kc.n += w
		return
	}
	if len(s.counts) < s.capacity {
		s.counts[key] = &keyCount{n: w}
		return
	}
	// Replace the smallest of a few counters (map iteration starts at a
	// random place): near-minimum is enough, and O(1) instead of O(capacity).
	var minKey string
	var minC *keyCount
	seen := 0
	for k, kc := range s.counts {
		if minC == nil || kc.n < minC.n {
			minKey, minC = k, kc
		}
		if seen++; seen == 8 {
			break
		}
	}
	delete(s.counts, minKey)
	s.counts[key] = &keyCount{n: minC.n + w, err: minC.n}
}

// accesses estimates the Gets seen so far.
func (s *topKeys) accesses() uint64 {
	if s == nil {
		return 0
	}
	return s.sampled.Load()
}

// top returns up to n keys, most requested first, with estimated counts.
func (s *topKeys) top(n int) []KeyStat {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	out := make([]KeyStat, 0, len(s.counts))
	for k, kc := range s.counts {
		out = append(out, KeyStat{Key: k, Requests: kc.n, RequestsError: kc.err})
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b KeyStat) int {
		return cmp.Or(cmp.Compare(b.Requests, a.Requests), cmp.Compare(a.Key, b.Key))
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// KeyStat is one line of the inventory report.
type KeyStat struct {
	Key string `json:"key"`
	// Requests estimates the Gets of the key since the cache started
	// (sampled; at most RequestsError too high).
	Requests      uint64 `json:"requests"`
	RequestsError uint64 `json:"requests_error"`
	// Cached reports whether L1 holds a live entry; the fields below
	// describe it.
	Cached   bool          `json:"cached"`
	Version  uint64        `json:"version,omitempty"`
	Tags     []string      `json:"tags,omitempty"`
	FreshFor time.Duration `json:"fresh_for_ns,omitempty"` // negative: stale
	Negative bool          `json:"negative,omitempty"`
}

// Inventory reports the n most requested keys with their estimated request
// counts and what L1 holds for each: version, tags (the names whose
// invalidation reaches it) and time left fresh. A service maps the tags to
// the triggers that emit them (see catalog's inventory endpoint).
func (c *Cache[V]) Inventory(n int) []KeyStat {
	stats := c.stats.top(n)
	now := c.now()
	for i := range stats {
		if le := c.l1.lookup(stats[i].Key, now); le != nil {
			stats[i].Cached = true
			stats[i].Version = le.version
			stats[i].Tags = le.tags
			stats[i].Negative = le.negative
			stats[i].FreshFor = time.Duration(le.fresh - now)
		}
	}
	return stats
}
