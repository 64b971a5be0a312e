package cache

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	"golang.org/x/sync/singleflight"
)

// Sources a value can come from, as reported in Result.Source.
const (
	SourceL1     = "l1"
	SourceLoader = "loader"
)

// Item is a loaded value with the version it was read at and the tags an
// invalidation may name to reach it (besides its own key).
type Item[V any] struct {
	Value   V
	Version uint64
	Tags    []string
}

// LoaderFunc loads the value for key, typically from the database.
type LoaderFunc[V any] func(ctx context.Context, key string) (Item[V], error)

// Result is what Get returns.
type Result[V any] struct {
	Item[V]
	Source string // SourceL1 or SourceLoader
}

// Recorder receives the cache's measurements; implementations must be safe
// for concurrent use.
type Recorder interface {
	Hit(tier string)
	Miss(tier string)
	// Load is called after each loader call with its duration and error.
	Load(d time.Duration, err error)
}

type nopRecorder struct{}

func (nopRecorder) Hit(string)                {}
func (nopRecorder) Miss(string)               {}
func (nopRecorder) Load(time.Duration, error) {}

// Options configure a Cache. Zero values take the defaults named.
type Options struct {
	// MaxEntries bounds L1. Default 100 000.
	MaxEntries int
	// TTL is how long a value stays in L1 after it is filled. Default 5m.
	TTL time.Duration
	// HoldOff is how long a tombstone outlives the entries it could
	// contradict. Default 5s.
	HoldOff time.Duration
	// MaxTombstones bounds the tombstones kept. Default 100 000.
	MaxTombstones int
	// LoadTimeout bounds one loader call, so a hung load cannot hold every
	// caller of its key. Default 30s.
	LoadTimeout time.Duration
	// Recorder receives metrics. Default: none.
	Recorder Recorder
	// Clock drives expiry; nil means the wall clock.
	Clock otter.Clock
}

// ErrOptions is wrapped by New's errors.
var ErrOptions = errors.New("cache: invalid options")

type entry[V any] struct {
	item Item[V]
}

// Cache is a versioned, tag-invalidated cache of V values.
type Cache[V any] struct {
	l1     *otter.Cache[string, *entry[V]]
	tombs  *otter.Cache[string, uint64]
	floor  atomic.Uint64
	flight singleflight.Group
	rec    Recorder

	loadTimeout time.Duration
}

// New returns an empty Cache.
func New[V any](opts Options) (*Cache[V], error) {
	if opts.MaxEntries < 0 || opts.TTL < 0 || opts.HoldOff < 0 || opts.MaxTombstones < 0 || opts.LoadTimeout < 0 {
		return nil, fmt.Errorf("%w: sizes and durations must not be negative", ErrOptions)
	}
	if opts.MaxEntries == 0 {
		opts.MaxEntries = 100_000
	}
	if opts.TTL == 0 {
		opts.TTL = 5 * time.Minute
	}
	if opts.HoldOff == 0 {
		opts.HoldOff = 5 * time.Second
	}
	if opts.MaxTombstones == 0 {
		opts.MaxTombstones = 100_000
	}
	if opts.LoadTimeout == 0 {
		opts.LoadTimeout = 30 * time.Second
	}
	if opts.Recorder == nil {
		opts.Recorder = nopRecorder{}
	}
	c := &Cache[V]{rec: opts.Recorder, loadTimeout: opts.LoadTimeout}
	l1, err := otter.New(&otter.Options[string, *entry[V]]{
		MaximumSize:      opts.MaxEntries,
		ExpiryCalculator: otter.ExpiryWriting[string, *entry[V]](opts.TTL),
		Clock:            opts.Clock,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOptions, err)
	}
	tombs, err := otter.New(&otter.Options[string, uint64]{
		MaximumSize:      opts.MaxTombstones,
		ExpiryCalculator: otter.ExpiryWriting[string, uint64](opts.TTL + opts.HoldOff),
		Clock:            opts.Clock,
		OnAtomicDeletion: func(e otter.DeletionEvent[string, uint64]) {
			if e.Cause == otter.CauseOverflow {
				c.raiseFloor(e.Value)
			}
		},
	})
	if err != nil {
		l1.StopAllGoroutines()
		return nil, fmt.Errorf("%w: %v", ErrOptions, err)
	}
	c.l1, c.tombs = l1, tombs
	return c, nil
}

// Close stops the cache's background goroutines.
func (c *Cache[V]) Close() {
	c.l1.StopAllGoroutines()
	c.tombs.StopAllGoroutines()
}

func (c *Cache[V]) raiseFloor(v uint64) {
	for {
		cur := c.floor.Load()
		if v <= cur || c.floor.CompareAndSwap(cur, v) {
			return
		}
	}
}

// current reports whether an item read at version for key (with tags) is
// still current: no tombstone and not the floor says otherwise.
func (c *Cache[V]) current(key string, it *Item[V]) bool {
	if it.Version < c.floor.Load() {
		return false
	}
	if v, ok := c.tombs.GetIfPresent(key); ok && v > it.Version {
		return false
	}
	for _, t := range it.Tags {
		if v, ok := c.tombs.GetIfPresent(t); ok && v > it.Version {
			return false
		}
	}
	return true
}

// Get returns the value for key from L1, or loads it with load, fills L1 and
// returns it. Concurrent Gets of one key share one load; a waiter whose ctx
// ends stops waiting, while the load goes on for the others, bounded by
// Options.LoadTimeout.
//
// A Get never returns a value older than an invalidation that happened before
// it started: when the shared load it joined read older data, it loads again
// (once; a source that still lags is returned as it is, and not cached).
func (c *Cache[V]) Get(ctx context.Context, key string, load LoaderFunc[V]) (Result[V], error) {
	if e, ok := c.l1.GetIfPresent(key); ok && c.current(key, &e.item) {
		c.rec.Hit(SourceL1)
		return Result[V]{Item: e.item, Source: SourceL1}, nil
	}
	c.rec.Miss(SourceL1)
	it, err := c.load(ctx, key, load)
	if err == nil && !c.current(key, &it) {
		c.flight.Forget(key)
		it, err = c.load(ctx, key, load)
	}
	if err != nil {
		return Result[V]{}, err
	}
	return Result[V]{Item: it, Source: SourceLoader}, nil
}

// load runs load for key once for all concurrent callers and fills L1.
func (c *Cache[V]) load(ctx context.Context, key string, load LoaderFunc[V]) (Item[V], error) {
	ch := c.flight.DoChan(key, func() (any, error) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.loadTimeout)
		defer cancel()
		start := time.Now()
		it, err := load(lctx, key)
		c.rec.Load(time.Since(start), err)
		if err != nil {
			return nil, err
		}
		c.Fill(key, it)
		return it, nil
	})
	select {
	case <-ctx.Done():
		return Item[V]{}, ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return Item[V]{}, r.Err
		}
		return r.Val.(Item[V]), nil
	}
}

// Fill stores it under key unless that would be a stale fill: the stored
// entry is newer, or a tombstone for key or one of its tags is. It reports
// whether it stored.
func (c *Cache[V]) Fill(key string, it Item[V]) bool {
	stored := false
	c.l1.Compute(key, func(old *entry[V], found bool) (*entry[V], otter.ComputeOp) {
		if found && old.item.Version > it.Version {
			return old, otter.CancelOp
		}
		if !c.current(key, &it) {
			return old, otter.CancelOp
		}
		stored = true
		return &entry[V]{item: it}, otter.WriteOp
	})
	return stored
}

// Invalidate records that version changed the data behind each of names
// (keys or tags): entries read before version are no longer served and fills
// read before it are refused.
func (c *Cache[V]) Invalidate(version uint64, names ...string) {
	for _, n := range names {
		c.tombs.Compute(n, func(old uint64, found bool) (uint64, otter.ComputeOp) {
			if found && old >= version {
				return old, otter.CancelOp
			}
			return version, otter.WriteOp
		})
		// Remove the entry under the same lock a fill takes, after the
		// tombstone is visible, so no fill can slip in between.
		c.l1.Compute(n, func(old *entry[V], found bool) (*entry[V], otter.ComputeOp) {
			if found && old.item.Version < version {
				return nil, otter.InvalidateOp
			}
			return old, otter.CancelOp
		})
	}
}

// InvalidateAll removes every entry and refuses fills read before version;
// it is what a subscriber does after missing invalidations it cannot replay.
func (c *Cache[V]) InvalidateAll(version uint64) {
	c.raiseFloor(version)
	c.l1.InvalidateAll()
}

// Len returns the approximate number of L1 entries.
func (c *Cache[V]) Len() int { return c.l1.EstimatedSize() }
