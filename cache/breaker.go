package cache

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"time"
)

func (a invalidation) equal(b invalidation) bool {
	return a.version == b.version && slices.Equal(a.names, b.names)
}

// breaker is the L2 circuit breaker: threshold failures in a row open it;
// while open, the cache does not call L2 at all (reads go to L1 and the
// loader) and one goroutine probes L2 with growing waits until it answers.
type breaker struct {
	threshold int32
	fails     atomic.Int32
	open      atomic.Bool
}

func (b *breaker) isOpen() bool { return b.open.Load() }

// l2Call runs f against L2 with the L2 timeout and feeds the breaker. A
// caller's own cancellation is not held against L2.
func (c *Cache[V]) l2Call(ctx context.Context, f func(context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, c.opts.L2Timeout)
	err := f(cctx)
	cancel()
	switch {
	case err == nil:
		c.brk.fails.Store(0)
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
	case errors.Is(err, ErrValue), errors.Is(err, ErrBadKey):
		// The value or key, not L2, is at fault.
	default:
		c.l2Failed(err)
	}
	return err
}

func (c *Cache[V]) l2Failed(err error) {
	if c.brk.fails.Add(1) >= c.brk.threshold {
		c.openBreaker(err)
	}
}

// openBreaker opens the breaker now: after too many failures, or after an
// invalidation did not reach L2, whose entries may then be stale until the
// invalidation is replayed.
func (c *Cache[V]) openBreaker(err error) {
	if !c.brk.open.CompareAndSwap(false, true) {
		return
	}
	c.rec.Breaker(true)
	c.log.Warn("cache: L2 failing; serving from L1 and the loader until it returns", "err", err)
	if !c.goBackground(c.probe) {
		c.brk.open.Store(false) // closing: nobody will probe
	}
}

// probe waits, pings L2, and closes the breaker once L2 answers and the
// invalidations made meanwhile have been replayed on it.
func (c *Cache[V]) probe() {
	wait := c.opts.BreakerCooldown
	for {
		t := time.NewTimer(wait)
		select {
		case <-c.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if err := c.ping(); err == nil && c.replayPending() == nil {
			c.rec.Breaker(false)
			c.log.Info("cache: L2 is back")
			return
		}
		wait = min(2*wait, 30*c.opts.BreakerCooldown)
	}
}

func (c *Cache[V]) ping() error {
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.L2Timeout)
	defer cancel()
	if p, ok := c.l2.(Pinger); ok {
		return p.Ping(ctx)
	}
	_, _, err := c.l2.Get(ctx, "\x00strata-ping")
	return err
}

// keepPending records an invalidation L2 missed, to replay before the
// breaker closes; it reports false when the breaker closed meanwhile, and
// the caller should send it to L2 itself.
func (c *Cache[V]) keepPending(inv invalidation, open bool) bool {
	c.pendMu.Lock()
	defer c.pendMu.Unlock()
	if !open && !c.brk.isOpen() {
		return false
	}
	if inv.names == nil {
		c.pendOver = max(c.pendOver, inv.version)
	} else if slices.ContainsFunc(c.pending, inv.equal) {
		// A caller retrying the same invalidation (the relay does).
	} else if len(c.pending) >= c.opts.MaxPendingInvalidations {
		c.pendOver = max(c.pendOver, inv.version)
	} else {
		c.pending = append(c.pending, inv)
	}
	return true
}

// replayPending applies on L2 the invalidations it missed (or flushes it
// when too many were missed to keep) until none are left, and then closes
// the breaker, under the lock keepPending takes, so none is stranded.
func (c *Cache[V]) replayPending() error {
	for {
		c.pendMu.Lock()
		if len(c.pending) == 0 && c.pendOver == 0 {
			c.brk.fails.Store(0)
			c.brk.open.Store(false)
			c.pendMu.Unlock()
			return nil
		}
		if err := c.replayOnce(); err != nil {
			return err
		}
	}
}

// replayOnce is called with pendMu held and releases it.
func (c *Cache[V]) replayOnce() error {
	pending, over := c.pending, c.pendOver
	c.pending, c.pendOver = nil, 0
	c.pendMu.Unlock()
	restore := func(i int) {
		c.pendMu.Lock()
		c.pending = append(pending[i:], c.pending...)
		c.pendOver = max(c.pendOver, over)
		c.pendMu.Unlock()
	}
	if over > 0 {
		ctx, cancel := context.WithTimeout(c.ctx, 10*c.opts.L2Timeout)
		err := c.l2.Flush(ctx, over)
		cancel()
		if err != nil {
			restore(0)
			return err
		}
	}
	for i, inv := range pending {
		ctx, cancel := context.WithTimeout(c.ctx, c.opts.L2Timeout)
		err := c.l2.Invalidate(ctx, inv.version, inv.names...)
		cancel()
		if err != nil {
			restore(i)
			return err
		}
	}
	return nil
}

func (c *Cache[V]) l2Get(ctx context.Context, key string) (e Entry[V], ok bool, err error) {
	err = c.l2Call(ctx, func(ctx context.Context) error {
		e, ok, err = c.l2.Get(ctx, key)
		return err
	})
	return e, ok, err
}

func (c *Cache[V]) l2Fill(ctx context.Context, key string, e Entry[V]) (stored bool, err error) {
	err = c.l2Call(ctx, func(ctx context.Context) error {
		stored, err = c.l2.Fill(ctx, key, e)
		return err
	})
	return stored, err
}

func (c *Cache[V]) lease(ctx context.Context, key string) (l *Lease, err error) {
	err = c.l2Call(ctx, func(ctx context.Context) error {
		l, err = c.leaser.Lease(ctx, key, c.opts.LeaseTTL)
		return err
	})
	return l, err
}
