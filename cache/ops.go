package cache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"
)

// GetMany returns a Result per key, in order, and an error per key (nil, an
// error wrapping ErrNotFound, or the loader's error). L1 misses are looked
// up in L2 in one batched round trip; what is still missing is loaded as Get
// would, several keys at a time.
func (c *Cache[V]) GetMany(ctx context.Context, keys []string, load LoaderFunc[V]) ([]Result[V], []error) {
	res, errs := make([]Result[V], len(keys)), make([]error, len(keys))
	now := c.now()
	var missing []int
	for i, k := range keys {
		if le := c.l1.lookup(k, now); le != nil && now < le.fresh && !c.tooOldWhileDegraded(le, now) {
			c.rec.Hit(TierL1)
			c.stats.touchHit(k)
			res[i], errs[i] = le.result(k, SourceL1)
			continue
		}
		if err := CheckKey(k); err != nil {
			errs[i] = err
			continue
		}
		c.rec.Miss(TierL1)
		c.stats.touch(k)
		missing = append(missing, i)
	}
	epoch := c.l1.epoch()
	l2Read := false
	var l2Stale map[int]*Entry[V] // L2 copies past freshness, by key index
	if len(missing) > 0 && c.l2 != nil && !c.brk.isOpen() {
		mk := make([]string, len(missing))
		for j, i := range missing {
			mk[j] = keys[i]
		}
		var es []Entry[V]
		var oks []bool
		err := c.l2Call(ctx, func(ctx context.Context) (err error) {
			es, oks, err = c.l2.GetMany(ctx, mk)
			return err
		})
		if err == nil {
			l2Read = true
			still := missing[:0]
			now = c.now()
			for j, i := range missing {
				if oks[j] && now < es[j].Fresh.UnixNano() {
					c.rec.Hit(TierL2)
					c.fillL1(keys[i], es[j], epoch)
					res[i], errs[i] = result(keys[i], &es[j], SourceL2)
					continue
				}
				c.rec.Miss(TierL2)
				if oks[j] {
					if l2Stale == nil {
						l2Stale = map[int]*Entry[V]{}
					}
					l2Stale[i] = &es[j]
				}
				still = append(still, i)
			}
			missing = still
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, min(16, c.opts.MaxConcurrentLoads)))
	for _, i := range missing {
		// What Get would do after its L1 miss, without reading L2 again
		// for the keys the batch already looked up.
		st := fetchState[V]{l2Read: l2Read, stale: l2Stale[i]}
		g.Go(func() error {
			e, src, err := c.fetchShared(gctx, keys[i], load, st)
			if err != nil {
				errs[i] = err
				return nil
			}
			res[i], errs[i] = result(keys[i], &e, src)
			return nil
		})
	}
	_ = g.Wait()
	return res, errs
}

// StoreFunc persists a value (typically in the database) and returns the
// version it committed.
type StoreFunc func(ctx context.Context) (version uint64, err error)

// Set is write-through: it runs store, and when that succeeds fills every
// tier with value at the version store returned, version-checked like any
// fill (a concurrent newer write wins). The error is store's; a cache that
// cannot be filled is not an error (the next Get loads).
func (c *Cache[V]) Set(ctx context.Context, key string, value V, tags []string, store StoreFunc) (uint64, error) {
	if err := CheckKey(key); err != nil {
		return 0, err
	}
	version, err := store(ctx)
	if err != nil {
		return 0, err
	}
	c.Fill(ctx, key, Item[V]{Value: value, Version: version, Tags: tags})
	return version, nil
}

// Warm loads keys (at most 8 at a time) and fills every tier, whether or
// not they are cached: a deploy or a restart calls it with the keys it
// expects to be hot. It returns the errors joined.
func (c *Cache[V]) Warm(ctx context.Context, keys []string, load LoaderFunc[V]) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	errs := make([]error, len(keys))
	for i, k := range keys {
		if err := CheckKey(k); err != nil {
			errs[i] = err
			continue
		}
		g.Go(func() error {
			lctx, cancel := context.WithTimeout(gctx, c.opts.LoadTimeout)
			defer cancel()
			st := fetchState[V]{epoch: c.l1.epoch()}
			if le := c.l1.lookup(k, c.now()); le != nil {
				st.notBefore = le.fresh // a reload, not the copy L2 already has
			}
			_, _, err := c.fetch(lctx, k, load, st)
			if err != nil && !errors.Is(err, ErrNotFound) {
				errs[i] = fmt.Errorf("warm %q: %w", k, err)
			}
			return nil
		})
	}
	_ = g.Wait()
	return errors.Join(errs...)
}

// WarmerOptions configure StartWarmer.
type WarmerOptions[V any] struct {
	// Load loads one key. Required.
	Load LoaderFunc[V]
	// Interval between rounds. Default 30s.
	Interval time.Duration
	// Keys is how many of the hottest keys a round considers. Default 100.
	Keys int
	// QuietBelow is the request rate (Gets per second over the last
	// interval) under which a round runs; busier periods are skipped, so
	// warming never competes with traffic. Default 100.
	QuietBelow float64
	// RefreshWithin: a hot key is reloaded when it is missing from L1 or
	// has less than this left fresh. Default Interval.
	RefreshWithin time.Duration
}

// StartWarmer runs a warmer until ctx ends or the cache is closed: every
// Interval, during quiet periods, it reloads the hottest keys (from the
// access statistics) that are missing or about to expire, so the next busy
// period starts with them fresh. It reports each round to onRound (may be
// nil) with the number of keys warmed.
func (c *Cache[V]) StartWarmer(ctx context.Context, opts WarmerOptions[V], onRound func(warmed int, err error)) error {
	if opts.Load == nil {
		return fmt.Errorf("%w: WarmerOptions.Load is required", ErrOptions)
	}
	if c.stats == nil {
		return fmt.Errorf("%w: the warmer needs key statistics (TopKeys >= 0)", ErrOptions)
	}
	if opts.Interval <= 0 {
		opts.Interval = 30 * time.Second
	}
	if opts.Keys <= 0 {
		opts.Keys = 100
	}
	if opts.QuietBelow <= 0 {
		opts.QuietBelow = 100
	}
	if opts.RefreshWithin <= 0 {
		opts.RefreshWithin = opts.Interval
	}
	ok := c.goBackground(func() {
		// Rounds end with the caller's ctx or the cache, whichever first.
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		defer context.AfterFunc(c.ctx, cancel)()
		t := time.NewTicker(opts.Interval)
		defer t.Stop()
		last := c.stats.accesses()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			seen := c.stats.accesses()
			rate := float64(seen-last) / opts.Interval.Seconds()
			last = seen
			if rate >= opts.QuietBelow {
				continue
			}
			n, err := c.warmRound(ctx, opts)
			if onRound != nil {
				onRound(n, err)
			}
		}
	})
	if !ok {
		return fmt.Errorf("%w: the cache is closed", ErrOptions)
	}
	return nil
}

func (c *Cache[V]) warmRound(ctx context.Context, opts WarmerOptions[V]) (int, error) {
	now := c.now()
	var keys []string
	for _, s := range c.stats.top(opts.Keys) {
		le := c.l1.lookup(s.Key, now)
		if le == nil || time.Duration(le.fresh-now) < opts.RefreshWithin {
			keys = append(keys, s.Key)
		}
	}
	return len(keys), c.Warm(ctx, keys, opts.Load)
}
