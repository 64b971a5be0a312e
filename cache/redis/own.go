package redis

import (
	"sync"
	"sync/atomic"
	"time"
)

// ownWindow is how long a tier remembers the tag tombstones and floors it
// wrote itself. Reads of those go through the client-side cache, whose
// copies Redis invalidates with a push on the connection that read them,
// which rueidis need not have used for the write: for a moment after a
// write returns, the cache may still hold the old value. Reading its own
// writes at once, a tier keeps to the rule that Invalidate and Flush take
// effect when they return; the window is far longer than the push takes.
const ownWindow = 10 * time.Second

// ownTombstones are the tag tombstones and floors a tier wrote within
// ownWindow, by Redis key.
type ownTombstones struct {
	n       atomic.Int64 // len(m): the hit path skips the lock when 0
	mu      sync.Mutex
	m       map[string]ownTombstone
	sweepAt int64
}

type ownTombstone struct {
	version uint64
	until   int64 // unix ns
}

// add records that this tier raised key to version at now.
func (o *ownTombstones) add(key string, version uint64, now int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil {
		o.m = make(map[string]ownTombstone)
	}
	if now >= o.sweepAt {
		for k, t := range o.m {
			if now >= t.until {
				delete(o.m, k)
			}
		}
		o.sweepAt = now + int64(ownWindow)
	}
	t := o.m[key]
	o.m[key] = ownTombstone{version: max(t.version, version), until: now + int64(ownWindow)}
	o.n.Store(int64(len(o.m)))
}

// get returns the version this tier raised key to within ownWindow, or 0.
func (o *ownTombstones) get(key string, now int64) uint64 {
	if o.n.Load() == 0 {
		return 0
	}
	o.mu.Lock()
	t, ok := o.m[key]
	o.mu.Unlock()
	if !ok || now >= t.until {
		return 0
	}
	return t.version
}
