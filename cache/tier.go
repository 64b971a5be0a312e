package cache

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Entry is what a tier stores under a key: the value, the version it was
// read at, the tags an invalidation may name to reach it, and its lifetimes.
type Entry[V any] struct {
	Value   V
	Version uint64
	Tags    []string
	// Negative marks a cached "not found": Value is the zero value.
	Negative bool
	// Stored is when the value was loaded.
	Stored time.Time
	// Fresh is when the value stops being fresh. Between Fresh and Expires
	// it may be served stale while one caller refreshes it.
	Fresh time.Time
	// Expires is when the entry is gone for good (Fresh plus the stale
	// window). A tier never returns an entry past Expires.
	Expires time.Time
	// Delta is how long the load took; early refresh (XFetch) scales with it.
	Delta time.Duration
}

// Tier is one level of the cache. Both implementations, the in-process L1
// and the Redis L2 (package cache/redis), pass the conformance suite in
// package cache/cachetest. The rules every tier keeps:
//
//   - Get returns only entries that are current: not past Expires, not read
//     before a tombstone of their key, of one of their tags, or of the whole
//     tier (Flush).
//   - Fill is a compare-and-set: it stores e unless the stored entry has a
//     higher version, or a tombstone of key, of one of e's tags, or of the
//     tier is newer than e.Version. It reports whether it stored.
//   - Invalidate(version, names) records, for each name, that data read
//     before version is stale: the entry with that key and every entry
//     tagged with that name stop being served at once, and later fills
//     older than version are refused for the tombstone's lifetime.
//   - Flush(version) does the same for everything in the tier.
//
// Errors are transport errors (Redis unreachable, a value that does not
// decode); a missing key is ok == false, not an error.
type Tier[V any] interface {
	Get(ctx context.Context, key string) (e Entry[V], ok bool, err error)
	// GetMany returns one entry and ok flag per key, in order, in as few
	// round trips as the tier can manage.
	GetMany(ctx context.Context, keys []string) ([]Entry[V], []bool, error)
	Fill(ctx context.Context, key string, e Entry[V]) (stored bool, err error)
	Invalidate(ctx context.Context, version uint64, names ...string) error
	Flush(ctx context.Context, version uint64) error
}

// Leaser is implemented by a shared tier (L2) that can grant one caller in
// the whole cluster the right to load a key (a lease, as in Facebook's
// memcache): the others wait for its fill instead of loading too.
type Leaser interface {
	// Lease tries to take the load lease for key for ttl. When another
	// holder has it, the returned Lease is not Held and its Wait is armed
	// before the attempt was made, so a fill or release that follows the
	// attempt always wakes it.
	Lease(ctx context.Context, key string, ttl time.Duration) (*Lease, error)
}

// Lease is the result of Leaser.Lease.
type Lease struct {
	// Held reports whether this caller holds the lease and must load.
	Held bool
	// Release gives the lease up (after the fill, or after a failed load)
	// and wakes the waiters. Only set when Held. Safe to call twice.
	Release func(ctx context.Context) error
	// Wait blocks until the holder filled or released the key, or until d
	// passed or ctx ended; it returns ctx's error only. Only set when not
	// Held. The caller then reads the tier again.
	Wait func(ctx context.Context, d time.Duration) error
}

// Notifier is implemented by a shared tier that also tells every cache
// instance about invalidations made by any of them, so each can drop its
// L1 copies (cross-instance L1 coherence).
type Notifier interface {
	// Subscribe runs until ctx ends. It calls apply for every invalidation
	// published by any instance (this one included), in order; nil names
	// stand for a Flush (everything read before version). When events
	// may have been missed (the subscription dropped, or the stream was
	// trimmed past the last event seen) it calls lost, and the caller
	// flushes its L1, before any further apply.
	Subscribe(ctx context.Context, apply func(version uint64, names []string), lost func())
}

// Pinger is implemented by a tier that can be probed for health; the
// circuit breaker uses it to find out that a failed L2 is back.
type Pinger interface {
	Ping(ctx context.Context) error
}

// ErrNotFound is what a loader returns (wrapped or not) when the value does
// not exist. The cache stores a negative entry for Options.NegativeTTL and
// Get returns an error that wraps ErrNotFound.
var ErrNotFound = errors.New("cache: not found")

// ErrValue is wrapped by a tier's error for a value it cannot store (it
// does not encode, or it is too large). It says nothing about the tier's
// health, so it does not count against the circuit breaker.
var ErrValue = errors.New("cache: value cannot be stored")

// ErrBadKey is returned for keys a tier cannot store: the empty key, or a
// key longer than MaxKeyLen.
var ErrBadKey = errors.New("cache: bad key")

// MaxKeyLen is the longest key a Cache accepts (bytes). Keys may otherwise
// hold any bytes.
const MaxKeyLen = 4096

// CheckKey returns an error wrapping ErrBadKey when key cannot be cached.
func CheckKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", ErrBadKey)
	}
	if len(key) > MaxKeyLen {
		return fmt.Errorf("%w: key of %d bytes is longer than %d", ErrBadKey, len(key), MaxKeyLen)
	}
	return nil
}
