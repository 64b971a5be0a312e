package cache

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
)

// L1Options configure the in-process tier. Zero values take the defaults
// named.
type L1Options[V any] struct {
	// MaxEntries bounds the number of entries. Default 100 000. Ignored
	// when MaxWeight is set.
	MaxEntries int
	// MaxWeight bounds the sum of Weigher over the entries (e.g. bytes).
	MaxWeight uint64
	// Weigher weighs an entry when MaxWeight is set; it must be set then.
	Weigher func(key string, v V) uint32
	// MaxTombstones bounds the tombstones kept. Default 100 000.
	MaxTombstones int
	// TombstoneTTL is how long a tombstone lives: the longest entry
	// lifetime plus a hold-off. Default 5m5s.
	TombstoneTTL time.Duration
	// Clock drives expiry; nil means the wall clock.
	Clock otter.Clock
}

// L1 is the in-process tier: otter, bounded by entries or weight, each entry
// expiring at its Expires. Tombstones live in a second bounded otter cache;
// should one be evicted for space before its time, L1 raises a floor version
// below which nothing is served or filled, erring on the side of a miss.
type L1[V any] struct {
	data  *otter.Cache[string, *l1Entry[V]]
	tombs *otter.Cache[string, uint64]
	floor atomic.Uint64
	// gen counts tombstone writes; an entry that passed the tombstone check
	// at the current gen need not be checked again (the L1 hit fast path).
	gen atomic.Uint64
	// drops counts drop calls: a fill whose fetch began before one is
	// refused (fillInEpoch).
	drops atomic.Uint64
	now   func() int64
}

// l1Entry is an Entry laid out for the hit path: what a hit reads comes
// first and times are nanoseconds, so a hit touches as few cache lines as
// it can.
type l1Entry[V any] struct {
	fresh    int64 // Entry.Fresh in ns
	expires  int64 // Entry.Expires in ns
	checked  atomic.Uint64
	version  uint64
	value    V
	tags     []string
	negative bool
	stored   int64 // Entry.Stored in ns
	delta    time.Duration
}

func newL1Entry[V any](e *Entry[V]) *l1Entry[V] {
	return &l1Entry[V]{
		fresh: e.Fresh.UnixNano(), expires: e.Expires.UnixNano(), version: e.Version,
		value: e.Value, tags: e.Tags, negative: e.Negative, stored: e.Stored.UnixNano(), delta: e.Delta,
	}
}

// entry returns le as an Entry.
func (le *l1Entry[V]) entry() Entry[V] {
	return Entry[V]{
		Value: le.value, Version: le.version, Tags: le.tags, Negative: le.negative,
		Stored: time.Unix(0, le.stored), Fresh: time.Unix(0, le.fresh), Expires: time.Unix(0, le.expires), Delta: le.delta,
	}
}

func wallNano() int64 { return time.Now().UnixNano() }

// NewL1 returns an empty in-process tier.
func NewL1[V any](opts L1Options[V]) (*L1[V], error) {
	if opts.MaxEntries < 0 || opts.MaxTombstones < 0 || opts.TombstoneTTL < 0 {
		return nil, fmt.Errorf("%w: L1 sizes and durations must not be negative", ErrOptions)
	}
	if opts.MaxWeight > 0 && opts.Weigher == nil {
		return nil, fmt.Errorf("%w: L1 MaxWeight needs a Weigher", ErrOptions)
	}
	if opts.MaxEntries == 0 {
		opts.MaxEntries = 100_000
	}
	if opts.MaxTombstones == 0 {
		opts.MaxTombstones = 100_000
	}
	if opts.TombstoneTTL == 0 {
		opts.TombstoneTTL = 5*time.Minute + 5*time.Second
	}
	t := &L1[V]{now: wallNano}
	if opts.Clock != nil {
		t.now = opts.Clock.NowNano
	}
	dataOpts := &otter.Options[string, *l1Entry[V]]{
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, *l1Entry[V]]) time.Duration {
			return time.Duration(e.Value.expires - t.now())
		}),
		Clock: opts.Clock,
	}
	if opts.MaxWeight > 0 {
		dataOpts.MaximumWeight = opts.MaxWeight
		dataOpts.Weigher = func(k string, e *l1Entry[V]) uint32 { return opts.Weigher(k, e.value) }
	} else {
		dataOpts.MaximumSize = opts.MaxEntries
	}
	data, err := otter.New(dataOpts)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOptions, err)
	}
	tombs, err := otter.New(&otter.Options[string, uint64]{
		MaximumSize:      opts.MaxTombstones,
		ExpiryCalculator: otter.ExpiryWriting[string, uint64](opts.TombstoneTTL),
		Clock:            opts.Clock,
		OnAtomicDeletion: func(e otter.DeletionEvent[string, uint64]) {
			if e.Cause == otter.CauseOverflow {
				t.raiseFloor(e.Value)
			}
		},
	})
	if err != nil {
		data.StopAllGoroutines()
		return nil, fmt.Errorf("%w: %v", ErrOptions, err)
	}
	t.data, t.tombs = data, tombs
	return t, nil
}

// Close stops the tier's background goroutines.
func (t *L1[V]) Close() {
	t.data.StopAllGoroutines()
	t.tombs.StopAllGoroutines()
}

func (t *L1[V]) raiseFloor(v uint64) {
	for {
		cur := t.floor.Load()
		if v <= cur || t.floor.CompareAndSwap(cur, v) {
			t.gen.Add(1)
			return
		}
	}
}

// current reports whether a value read at version with tags is newer than
// every tombstone that could contradict it.
func (t *L1[V]) current(key string, version uint64, tags []string) bool {
	if version < t.floor.Load() {
		return false
	}
	if v, ok := t.tombs.GetIfPresent(key); ok && v > version {
		return false
	}
	for _, tag := range tags {
		if v, ok := t.tombs.GetIfPresent(tag); ok && v > version {
			return false
		}
	}
	return true
}

// lookup is the hit path: the live entry for key, or nil.
func (t *L1[V]) lookup(key string, now int64) *l1Entry[V] {
	le, ok := t.data.GetIfPresent(key)
	if !ok || now >= le.expires {
		return nil
	}
	gen := t.gen.Load() + 1 // 0 means never checked
	if le.checked.Load() == gen {
		return le
	}
	if !t.current(key, le.version, le.tags) {
		return nil
	}
	le.checked.Store(gen)
	return le
}

// Get implements Tier.
func (t *L1[V]) Get(_ context.Context, key string) (Entry[V], bool, error) {
	if le := t.lookup(key, t.now()); le != nil {
		return le.entry(), true, nil
	}
	return Entry[V]{}, false, nil
}

// GetMany implements Tier.
func (t *L1[V]) GetMany(ctx context.Context, keys []string) ([]Entry[V], []bool, error) {
	es, oks := make([]Entry[V], len(keys)), make([]bool, len(keys))
	for i, k := range keys {
		es[i], oks[i], _ = t.Get(ctx, k)
	}
	return es, oks, nil
}

// Fill implements Tier: the compare and the write happen under the entry's
// lock, so a fill cannot slip between an Invalidate's tombstone and its
// removal of the entry.
func (t *L1[V]) Fill(_ context.Context, key string, e Entry[V]) (bool, error) {
	return t.fillInEpoch(key, e, t.epoch()), nil
}

// epoch returns the current drop epoch, for fillInEpoch.
func (t *L1[V]) epoch() uint64 { return t.drops.Load() }

// fillInEpoch is Fill that also refuses when L1 was dropped since epoch.
func (t *L1[V]) fillInEpoch(key string, e Entry[V], epoch uint64) bool {
	now := t.now()
	if !e.Expires.After(time.Unix(0, now)) {
		return false
	}
	stored := false
	t.data.Compute(key, func(old *l1Entry[V], found bool) (*l1Entry[V], otter.ComputeOp) {
		if t.drops.Load() != epoch {
			return old, otter.CancelOp
		}
		if found && now < old.expires && old.version > e.Version {
			return old, otter.CancelOp
		}
		if !t.current(key, e.Version, e.Tags) {
			return old, otter.CancelOp
		}
		stored = true
		return newL1Entry(&e), otter.WriteOp
	})
	return stored
}

// Invalidate implements Tier.
func (t *L1[V]) Invalidate(_ context.Context, version uint64, names ...string) error {
	for _, n := range names {
		t.tombs.Compute(n, func(old uint64, found bool) (uint64, otter.ComputeOp) {
			if found && old >= version {
				return old, otter.CancelOp
			}
			return version, otter.WriteOp
		})
		t.gen.Add(1)
		// Remove the entry under the same lock a fill takes, after the
		// tombstone is visible, so no fill can slip in between.
		t.data.Compute(n, func(old *l1Entry[V], found bool) (*l1Entry[V], otter.ComputeOp) {
			if found && old.version < version {
				return nil, otter.InvalidateOp
			}
			return old, otter.CancelOp
		})
	}
	return nil
}

// Flush implements Tier.
func (t *L1[V]) Flush(_ context.Context, version uint64) error {
	t.raiseFloor(version)
	t.data.InvalidateAll()
	return nil
}

// drop removes every entry without raising the floor: what an instance does
// when it may have missed invalidations and cannot tell which.
func (t *L1[V]) drop() {
	t.drops.Add(1)
	t.data.InvalidateAll()
}

// Len returns the approximate number of entries.
func (t *L1[V]) Len() int { return t.data.EstimatedSize() }
