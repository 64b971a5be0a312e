package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/maypok86/otter/v2"
	"golang.org/x/sync/singleflight"
)

// Tier names, as passed to Recorder.
const (
	TierL1 = "l1"
	TierL2 = "l2"
)

// Sources a value can come from, as reported in Result.Source.
const (
	SourceL1     = "l1"
	SourceL2     = "l2"
	SourceLoader = "loader"
	// SourceStale is a value past its freshness, served while one caller
	// refreshes it, while the loader fails, or while the loader cap is full.
	SourceStale = "stale"
)

// Item is a loaded value with the version it was read at and the tags an
// invalidation may name to reach it (besides its own key).
type Item[V any] struct {
	Value   V
	Version uint64
	Tags    []string
}

// LoaderFunc loads the value for key, typically from the database. It
// returns an error wrapping ErrNotFound when the value does not exist.
type LoaderFunc[V any] func(ctx context.Context, key string) (Item[V], error)

// Result is what Get returns.
type Result[V any] struct {
	Item[V]
	Source string // one of the Source constants
}

// Recorder receives the cache's measurements; implementations must be safe
// for concurrent use. obs.Metrics.Cache() is the Prometheus one.
type Recorder interface {
	Hit(tier string)
	Miss(tier string)
	// StaleServed counts values served past their freshness.
	StaleServed(tier string)
	// Load is called after each loader call with its duration and error.
	Load(d time.Duration, err error)
	// LeaseWait is called after a caller waited for another's lease.
	LeaseWait(d time.Duration)
	// FillRefused counts fills a tier refused because it held newer data
	// or a newer tombstone (a stale set that was prevented).
	FillRefused(tier string)
	// Breaker reports the L2 circuit breaker opening (true) or closing.
	Breaker(open bool)
}

// NopRecorder records nothing.
type NopRecorder struct{}

func (NopRecorder) Hit(string)                {}
func (NopRecorder) Miss(string)               {}
func (NopRecorder) StaleServed(string)        {}
func (NopRecorder) Load(time.Duration, error) {}
func (NopRecorder) LeaseWait(time.Duration)   {}
func (NopRecorder) FillRefused(string)        {}
func (NopRecorder) Breaker(bool)              {}

// Options configure a Cache. Zero values take the defaults named.
type Options[V any] struct {
	// MaxEntries bounds L1 by count. Default 100 000.
	MaxEntries int
	// MaxWeight bounds L1 by the sum of Weigher(key, value) instead.
	MaxWeight uint64
	Weigher   func(key string, v V) uint32

	// TTL is how long a loaded value is fresh. Default 5m.
	TTL time.Duration
	// Jitter shortens each TTL by a random fraction up to Jitter, so keys
	// loaded together do not expire together. Default 0.1; negative: none.
	Jitter float64
	// StaleFor is how long past its freshness a value may still be served
	// while one caller refreshes it (stale-while-revalidate), or while the
	// loader fails (stale-if-error). Default 0: never served stale.
	StaleFor time.Duration
	// NegativeTTL is how long "not found" is cached. Default 30s, at most
	// TTL; negative: not cached.
	NegativeTTL time.Duration
	// Beta scales probabilistic early refresh (XFetch): a hot key is
	// refreshed by one caller shortly before it expires, sooner the longer
	// its load took. Default 1; negative disables early refresh.
	Beta float64

	// HoldOff is how long a tombstone outlives the entries it could
	// contradict. Default 5s.
	HoldOff time.Duration
	// MaxTombstones bounds the L1 tombstones kept. Default 100 000.
	MaxTombstones int

	// LoadTimeout bounds one load, including waiting for another caller's
	// lease, so a hung load cannot hold every caller of its key. Default 30s.
	LoadTimeout time.Duration
	// MaxConcurrentLoads caps the loader calls in flight in this instance,
	// to protect the database when L2 is down or cold. Callers beyond the
	// cap get a stale value when one exists, otherwise wait. Default 64.
	MaxConcurrentLoads int

	// L2 is the shared tier (cache/redis). Nil: L1 only.
	L2 Tier[V]
	// L2Timeout bounds each L2 call; a slower call counts as a failure.
	// Default 250ms.
	L2Timeout time.Duration
	// LeaseTTL is how long a load lease lives if its holder dies. Default 10s.
	LeaseTTL time.Duration
	// BreakerFailures is how many L2 failures in a row open the circuit
	// breaker. Default 5.
	BreakerFailures int
	// BreakerCooldown is the first wait before probing a failed L2; it
	// doubles up to 30 times. Default 500ms.
	BreakerCooldown time.Duration
	// DegradedTTL caps L1 lifetimes while the breaker is open, because
	// invalidations may be missed then. Default 5s.
	DegradedTTL time.Duration
	// MaxPendingInvalidations bounds the invalidations kept to replay on L2
	// when it returns; past it, L2 is flushed on return instead. Default 10 000.
	MaxPendingInvalidations int

	// OnNotice, when set, is called after an invalidation notice from
	// another instance (through L2) has been applied to L1; OnLost after L1
	// was dropped because notices may have been missed. For
	// acknowledgements and tests.
	OnNotice func(version uint64, names []string)
	OnLost   func()

	// TopKeys is how many hot keys the access statistics track (for
	// Inventory and the warmer). Default 1024; negative disables.
	TopKeys int

	// Recorder receives metrics. Default: none.
	Recorder Recorder
	// Logger receives L2 failures and recoveries. Default: slog.Default().
	Logger *slog.Logger
	// Clock drives expiry. Nil means the wall clock read once a
	// millisecond by a background goroutine (freshness is decided to the
	// millisecond), which Close stops.
	Clock otter.Clock
}

// ErrOptions is wrapped by New's errors.
var ErrOptions = errors.New("cache: invalid options")

// Cache is a versioned, tag-invalidated, two-level cache of V values. See
// the package documentation for its guarantees.
type Cache[V any] struct {
	coarse *otter.CoarseClock // stopped by Close; nil with Options.Clock
	l1     *L1[V]
	l2     Tier[V]
	leaser Leaser
	flight singleflight.Group
	rec    Recorder
	log    *slog.Logger
	now    func() int64
	opts   Options[V]
	sem    chan struct{}
	brk    *breaker
	stats  *topKeys

	refreshing sync.Map // key -> struct{}: early or stale refresh running

	bgMu    sync.RWMutex // closing vs starting background goroutines
	closing bool

	pendMu   sync.Mutex
	pending  []invalidation // to replay on L2 when it returns
	pendOver uint64         // highest version dropped from pending; flush L2 to it

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type invalidation struct {
	version uint64
	names   []string
}

// New returns an empty Cache. With Options.L2 set, it subscribes to the
// L2's invalidation notices (when the tier offers them) until Close.
func New[V any](opts Options[V]) (*Cache[V], error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	var coarse *otter.CoarseClock
	if opts.Clock == nil {
		// Reading the precise time is most of an L1 hit (it is slow on
		// virtual machines); a clock read once a millisecond is not.
		coarse = otter.NewCoarseClock(time.Millisecond)
		opts.Clock = coarse
	}
	l1, err := NewL1(L1Options[V]{
		MaxEntries:    opts.MaxEntries,
		MaxWeight:     opts.MaxWeight,
		Weigher:       opts.Weigher,
		MaxTombstones: opts.MaxTombstones,
		TombstoneTTL:  opts.TTL + opts.StaleFor + opts.HoldOff,
		Clock:         opts.Clock,
	})
	if err != nil {
		if coarse != nil {
			coarse.Stop()
		}
		return nil, err
	}
	c := &Cache[V]{
		coarse: coarse,
		l1:     l1, l2: opts.L2, rec: opts.Recorder, log: opts.Logger, now: l1.now, opts: opts,
		sem:   make(chan struct{}, opts.MaxConcurrentLoads),
		stats: newTopKeys(opts.TopKeys),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.brk = &breaker{threshold: int32(opts.BreakerFailures)}
	if c.l2 != nil {
		c.leaser, _ = c.l2.(Leaser)
		if n, ok := c.l2.(Notifier); ok {
			c.wg.Go(func() {
				n.Subscribe(c.ctx,
					func(version uint64, names []string) {
						if names == nil {
							_ = c.l1.Flush(c.ctx, version)
						} else {
							_ = c.l1.Invalidate(c.ctx, version, names...)
						}
						if opts.OnNotice != nil {
							opts.OnNotice(version, names)
						}
					},
					func() {
						c.l1.drop()
						if opts.OnLost != nil {
							opts.OnLost()
						}
					})
			})
		}
	}
	return c, nil
}

func (o *Options[V]) setDefaults() error {
	if o.MaxEntries < 0 || o.TTL < 0 || o.StaleFor < 0 || o.HoldOff < 0 || o.MaxTombstones < 0 ||
		o.LoadTimeout < 0 || o.MaxConcurrentLoads < 0 || o.L2Timeout < 0 || o.LeaseTTL < 0 ||
		o.BreakerFailures < 0 || o.BreakerCooldown < 0 || o.DegradedTTL < 0 || o.MaxPendingInvalidations < 0 {
		return fmt.Errorf("%w: sizes and durations must not be negative", ErrOptions)
	}
	if o.Jitter >= 1 {
		return fmt.Errorf("%w: Jitter must be below 1", ErrOptions)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	defInt := func(n *int, v int) {
		if *n == 0 {
			*n = v
		}
	}
	def(&o.TTL, 5*time.Minute)
	def(&o.HoldOff, 5*time.Second)
	def(&o.LoadTimeout, 30*time.Second)
	def(&o.L2Timeout, 250*time.Millisecond)
	def(&o.LeaseTTL, 10*time.Second)
	def(&o.BreakerCooldown, 500*time.Millisecond)
	def(&o.DegradedTTL, 5*time.Second)
	def(&o.NegativeTTL, 30*time.Second)
	// Tombstones live TTL+StaleFor+HoldOff: a negative entry must not
	// outlive them.
	o.NegativeTTL = min(o.NegativeTTL, o.TTL)
	defInt(&o.MaxConcurrentLoads, 64)
	defInt(&o.BreakerFailures, 5)
	defInt(&o.MaxPendingInvalidations, 10_000)
	defInt(&o.TopKeys, 1024)
	if o.Jitter == 0 {
		o.Jitter = 0.1
	}
	if o.Beta == 0 {
		o.Beta = 1
	}
	if o.Recorder == nil {
		o.Recorder = NopRecorder{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

// Close stops the cache's background goroutines (the L2 subscription, the
// breaker's probe, refreshes). It does not close the L2 tier.
func (c *Cache[V]) Close() {
	c.bgMu.Lock()
	c.closing = true
	c.bgMu.Unlock()
	c.cancel()
	c.wg.Wait()
	c.l1.Close()
	if c.coarse != nil {
		c.coarse.Stop()
	}
}

// Get returns the value for key: from L1; else from L2 (filling L1); else
// from load, run once across the cluster under a lease (or once in this
// instance without an L2), filling L2 and L1. A loader error wrapping
// ErrNotFound is cached for NegativeTTL, and Get then returns an error
// wrapping ErrNotFound.
//
// A Get never returns a value older than an invalidation that returned
// before it started, unless that value is served stale under StaleFor, which
// never applies to invalidated values: those are gone from every tier.
//
// A Get never fails because a cache tier failed: L2 errors send it to the
// loader (through the circuit breaker). It fails only when the loader fails
// and no stale value exists, or when ctx ends.
func (c *Cache[V]) Get(ctx context.Context, key string, load LoaderFunc[V]) (Result[V], error) {
	now := c.now()
	le := c.l1.lookup(key, now)
	if le != nil {
		if now < le.fresh && !c.tooOldWhileDegraded(le, now) {
			c.rec.Hit(TierL1)
			c.stats.touchHit(key)
			c.maybeRefreshEarly(key, le, now, load)
			return le.result(key, SourceL1)
		}
		if c.mayServeStale() {
			c.rec.StaleServed(TierL1)
			c.stats.touch(key)
			c.refreshAsync(key, load, le.fresh)
			return le.result(key, SourceStale)
		}
	}
	if err := CheckKey(key); err != nil {
		return Result[V]{}, err
	}
	c.rec.Miss(TierL1)
	c.stats.touch(key)
	var stale *Entry[V]
	if le != nil {
		e := le.entry()
		stale = &e
	}
	e, src, err := c.fetchShared(ctx, key, load, fetchState[V]{stale: stale})
	if err != nil {
		return Result[V]{}, err
	}
	return result(key, &e, src)
}

func (le *l1Entry[V]) result(key, src string) (Result[V], error) {
	if le.negative {
		return Result[V]{Item: Item[V]{Version: le.version}, Source: src}, fmt.Errorf("%w: %q", ErrNotFound, key)
	}
	return Result[V]{Item: Item[V]{Value: le.value, Version: le.version, Tags: le.tags}, Source: src}, nil
}

func result[V any](key string, e *Entry[V], src string) (Result[V], error) {
	if e.Negative {
		return Result[V]{Item: Item[V]{Version: e.Version}, Source: src}, fmt.Errorf("%w: %q", ErrNotFound, key)
	}
	return Result[V]{Item: Item[V]{Value: e.Value, Version: e.Version, Tags: e.Tags}, Source: src}, nil
}

func (c *Cache[V]) mayServeStale() bool { return c.opts.StaleFor > 0 || c.brk.isOpen() }

// tooOldWhileDegraded reports whether le is past the shortened lifetime L1
// entries have while L2 (and with it, cross-instance invalidation) is down.
func (c *Cache[V]) tooOldWhileDegraded(le *l1Entry[V], now int64) bool {
	return c.brk.isOpen() && now-le.stored-int64(le.delta) > int64(c.opts.DegradedTTL)
}

// fetchShared runs one fetch per key in this instance for all concurrent
// callers. A caller that joined a fetch which read data older than an
// invalidation made since fetches again, once (singleflight has already
// retired the flight it joined, so the second join starts a new one).
func (c *Cache[V]) fetchShared(ctx context.Context, key string, load LoaderFunc[V], st fetchState[V]) (Entry[V], string, error) {
	e, src, err := c.join(ctx, key, load, st)
	if err == nil && !c.l1.current(key, e.Version, e.Tags) {
		e, src, err = c.join(ctx, key, load, fetchState[V]{})
	}
	return e, src, err
}

type fetched[V any] struct {
	e   Entry[V]
	src string
}

// join joins (or starts) the key's flight. It waits at most LoadTimeout
// even for a loader that ignores its context: the flight is then
// forgotten, so later callers start a new one instead of joining a hung
// load.
func (c *Cache[V]) join(ctx context.Context, key string, load LoaderFunc[V], st fetchState[V]) (Entry[V], string, error) {
	ch := c.flight.DoChan(key, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.LoadTimeout)
		defer cancel()
		st.allowStale, st.epoch = c.mayServeStale(), c.l1.epoch()
		e, src, err := c.fetch(fctx, key, load, st)
		return fetched[V]{e, src}, err
	})
	timer := time.NewTimer(c.opts.LoadTimeout + c.opts.L2Timeout)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return Entry[V]{}, "", ctx.Err()
	case <-timer.C:
		c.flight.Forget(key)
		return Entry[V]{}, "", fmt.Errorf("cache: load of %q: %w", key, context.DeadlineExceeded)
	case r := <-ch:
		if r.Err != nil {
			return Entry[V]{}, "", r.Err
		}
		f := r.Val.(fetched[V])
		return f.e, f.src, nil
	}
}

// fetchState is what one fetch knows before it starts.
type fetchState[V any] struct {
	// stale is the best stale copy known (from L1), if any.
	stale *Entry[V]
	// allowStale: a stale copy may be returned instead of waiting for
	// another caller's lease, or when the loader fails or the load cap is
	// full (and a refresh is then started).
	allowStale bool
	// notBefore: an L2 entry counts as fresh only if it stays fresh past
	// this time (ns). A refresh sets it to the freshness of the copy it
	// replaces, so it is not satisfied by that same copy in L2.
	notBefore int64
	// epoch is L1's drop epoch when the fetch started: a fetch that began
	// before L1 was dropped (notices may have been missed) does not fill it.
	epoch uint64
	// l2Read: the caller has just read L2 for this key (GetMany's batch)
	// and found nothing fresh; the fetch goes straight to the lease.
	l2Read bool
}

// freshFromL2 reports whether an L2 entry can answer the fetch.
func (c *Cache[V]) freshFromL2(e *Entry[V], st *fetchState[V]) bool {
	fresh := e.Fresh.UnixNano()
	return c.now() < fresh && fresh > st.notBefore
}

// usableStale returns st.stale when it may be served: allowed, and not
// invalidated since it was read.
func (c *Cache[V]) usableStale(key string, st *fetchState[V]) *Entry[V] {
	if !st.allowStale || st.stale == nil || !c.l1.current(key, st.stale.Version, st.stale.Tags) {
		return nil
	}
	return st.stale
}

// fetch finds a fresh value for key below L1: L2, then the loader under the
// cluster-wide lease.
func (c *Cache[V]) fetch(ctx context.Context, key string, load LoaderFunc[V], st fetchState[V]) (Entry[V], string, error) {
	useL2 := c.l2 != nil && !c.brk.isOpen()
	if useL2 && !st.l2Read {
		e, ok, err := c.l2Get(ctx, key)
		switch {
		case err != nil:
			useL2 = false
		case ok && c.freshFromL2(&e, &st):
			c.rec.Hit(TierL2)
			c.fillL1(key, e, st.epoch)
			return e, SourceL2, nil
		case ok:
			c.rec.Miss(TierL2)
			if st.stale == nil || e.Version >= st.stale.Version {
				st.stale = &e
			}
		default:
			c.rec.Miss(TierL2)
		}
	}
	if useL2 && c.leaser != nil {
		for ctx.Err() == nil {
			lease, err := c.lease(ctx, key)
			if err != nil {
				break // L2 failed: load without a lease
			}
			if lease.Held {
				// The previous holder may have filled and released between
				// our read and our lease: look again before loading.
				if e, ok, err := c.l2Get(ctx, key); err == nil && ok && c.freshFromL2(&e, &st) {
					_ = c.l2Call(ctx, lease.Release)
					c.rec.Hit(TierL2)
					c.fillL1(key, e, st.epoch)
					return e, SourceL2, nil
				}
				return c.loadAndFill(ctx, key, load, lease, &st, true)
			}
			if stale := c.usableStale(key, &st); stale != nil {
				c.rec.StaleServed(TierL2)
				c.fillL1(key, *stale, st.epoch)
				return *stale, SourceStale, nil
			}
			start := time.Now()
			if err := lease.Wait(ctx, c.opts.LeaseTTL); err != nil {
				return Entry[V]{}, "", err
			}
			c.rec.LeaseWait(time.Since(start))
			e, ok, err := c.l2Get(ctx, key)
			if err != nil {
				break
			}
			if ok && c.freshFromL2(&e, &st) {
				c.rec.Hit(TierL2)
				c.fillL1(key, e, st.epoch)
				return e, SourceL2, nil
			}
			// The holder released without a fill (its load failed or it
			// died): try for the lease again.
		}
		if err := ctx.Err(); err != nil {
			return Entry[V]{}, "", err
		}
	}
	return c.loadAndFill(ctx, key, load, nil, &st, useL2 && !c.brk.isOpen())
}

// loadAndFill runs the loader under the instance's load cap and fills the
// tiers; it releases lease (when held) after the L2 fill.
func (c *Cache[V]) loadAndFill(ctx context.Context, key string, load LoaderFunc[V], lease *Lease, st *fetchState[V], fillL2 bool) (Entry[V], string, error) {
	if lease != nil {
		// Released even when ctx ended (a load that timed out), so waiters
		// do not wait out the lease's TTL.
		defer func() { _ = c.l2Call(context.WithoutCancel(ctx), lease.Release) }()
	}
	select {
	case c.sem <- struct{}{}:
	default:
		if stale := c.usableStale(key, st); stale != nil {
			c.rec.StaleServed(TierL1)
			return *stale, SourceStale, nil
		}
		select {
		case c.sem <- struct{}{}:
		case <-ctx.Done():
			return Entry[V]{}, "", ctx.Err()
		}
	}
	start, startPrecise := c.now(), time.Now()
	it, err := safeLoad(ctx, key, load)
	<-c.sem
	d := time.Since(startPrecise) // precise: XFetch scales with it
	c.rec.Load(d, err)
	negative := errors.Is(err, ErrNotFound)
	if err != nil && (!negative || c.opts.NegativeTTL < 0) {
		if stale := c.usableStale(key, st); stale != nil && !negative {
			c.rec.StaleServed(TierL1)
			c.log.Warn("cache: loader failed; serving stale", "key", key, "err", err)
			return *stale, SourceStale, nil
		}
		return Entry[V]{}, "", err
	}
	e := c.newEntry(it, negative, start, d)
	if fillL2 {
		stored, err := c.l2Fill(ctx, key, e)
		switch {
		case errors.Is(err, ErrValue):
			c.log.Warn("cache: value not stored in L2", "key", key, "err", err)
		case err == nil && !stored:
			// L2 holds newer data or a newer tombstone, which this L1 may
			// not have heard of yet (or lost the notice of): return the
			// value to this caller, cache it nowhere.
			c.rec.FillRefused(TierL2)
			return e, SourceLoader, nil
		}
	}
	c.fillL1(key, e, st.epoch)
	return e, SourceLoader, nil
}

// safeLoad turns a loader panic into an error, so no lease, load slot or
// waiter is left behind.
func safeLoad[V any](ctx context.Context, key string, load LoaderFunc[V]) (it Item[V], err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("cache: loader for %q panicked: %v", key, p)
		}
	}()
	return load(ctx, key)
}

// newEntry stamps a loaded item with its lifetimes.
func (c *Cache[V]) newEntry(it Item[V], negative bool, loadedAt int64, d time.Duration) Entry[V] {
	ttl := c.opts.TTL
	if negative {
		ttl = c.opts.NegativeTTL
		it = Item[V]{Version: it.Version, Tags: it.Tags}
	}
	if c.opts.Jitter > 0 {
		ttl -= time.Duration(rand.Float64() * c.opts.Jitter * float64(ttl))
	}
	if c.brk.isOpen() {
		ttl = min(ttl, c.opts.DegradedTTL)
	}
	stored := time.Unix(0, loadedAt)
	fresh := stored.Add(d).Add(ttl)
	return Entry[V]{
		Value: it.Value, Version: it.Version, Tags: it.Tags, Negative: negative,
		Stored: stored, Fresh: fresh, Expires: fresh.Add(c.opts.StaleFor), Delta: d,
	}
}

// fillL1 fills L1 unless L1 was dropped since the fetch began (epoch).
func (c *Cache[V]) fillL1(key string, e Entry[V], epoch uint64) {
	if c.brk.isOpen() && e.Fresh.Sub(time.Unix(0, c.now())) > c.opts.DegradedTTL {
		e.Fresh = time.Unix(0, c.now()).Add(c.opts.DegradedTTL)
		e.Expires = e.Fresh.Add(c.opts.StaleFor)
	}
	if !c.l1.fillInEpoch(key, e, epoch) {
		c.rec.FillRefused(TierL1)
	}
}

// maybeRefreshEarly is XFetch (Vattani, Chierichetti and Lowenstein, VLDB
// 2015): a hit refreshes the value in the background with a probability
// that rises as expiry nears, scaled by how long the load took, so one
// caller recomputes a hot key before it expires and no herd forms.
func (c *Cache[V]) maybeRefreshEarly(key string, le *l1Entry[V], now int64, load LoaderFunc[V]) {
	if c.opts.Beta < 0 || le.delta <= 0 {
		return
	}
	gap := float64(le.fresh - now)
	scale := float64(le.delta) * c.opts.Beta
	// -ln(U) exceeds 20 with probability 2e-9: skip the draw when far out.
	if gap > 20*scale {
		return
	}
	if gap <= scale*-logUniform() {
		c.refreshAsync(key, load, le.fresh)
	}
}

// refreshAsync starts one background refresh of key in this instance
// (across the cluster, the L2 lease makes it one). notBefore is the
// freshness (ns) of the copy being replaced: L2 holding that same copy does
// not count as a refresh.
func (c *Cache[V]) refreshAsync(key string, load LoaderFunc[V], notBefore int64) {
	if _, running := c.refreshing.LoadOrStore(key, struct{}{}); running {
		return
	}
	if !c.goBackground(func() {
		defer c.refreshing.Delete(key)
		ctx, cancel := context.WithTimeout(c.ctx, c.opts.LoadTimeout)
		defer cancel()
		st := fetchState[V]{notBefore: notBefore, epoch: c.l1.epoch()}
		if _, _, err := c.fetch(ctx, key, load, st); err != nil && ctx.Err() == nil {
			c.log.Debug("cache: background refresh failed", "key", key, "err", err)
		}
	}) {
		c.refreshing.Delete(key)
	}
}

// goBackground runs f in a goroutine Close waits for, unless the cache is
// closing; it reports whether f was started.
func (c *Cache[V]) goBackground(f func()) bool {
	c.bgMu.RLock()
	defer c.bgMu.RUnlock()
	if c.closing {
		return false
	}
	c.wg.Go(f)
	return true
}

// Fill stores it under key in every tier unless that would be a stale fill.
// It reports whether L1 stored it.
func (c *Cache[V]) Fill(ctx context.Context, key string, it Item[V]) bool {
	if CheckKey(key) != nil {
		return false
	}
	epoch := c.l1.epoch()
	e := c.newEntry(it, false, c.now(), 0)
	if c.l2 != nil && !c.brk.isOpen() {
		if stored, err := c.l2Fill(ctx, key, e); err == nil && !stored {
			c.rec.FillRefused(TierL2)
			return false
		}
	}
	stored := c.l1.fillInEpoch(key, e, epoch)
	if !stored {
		c.rec.FillRefused(TierL1)
	}
	return stored
}

// Invalidate records that version changed the data behind each of names
// (keys or tags): in every tier, entries read before version stop being
// served at once and fills read before it are refused for the tombstone
// lifetime. Through L2 the notice reaches every other instance's L1.
//
// L1 is always invalidated. When L2 cannot be reached, Invalidate keeps the
// invalidation to replay when L2 returns and reports the error, so a caller
// that must know (the outbox relay) retries.
func (c *Cache[V]) Invalidate(ctx context.Context, version uint64, names ...string) error {
	if len(names) == 0 {
		return nil
	}
	_ = c.l1.Invalidate(ctx, version, names...)
	if c.l2 == nil {
		return nil
	}
	inv := invalidation{version, append([]string(nil), names...)}
	if c.keepPending(inv, false) {
		return errors.New("cache: L2 unavailable; invalidation kept to replay when it returns")
	}
	err := c.l2Call(ctx, func(ctx context.Context) error { return c.l2.Invalidate(ctx, version, names...) })
	if err != nil {
		c.keepPending(inv, true)
		c.openBreaker(err)
		return fmt.Errorf("cache: L2 invalidation kept to replay when L2 answers: %w", err)
	}
	return nil
}

// InvalidateTag invalidates every entry tagged with tag, in every tier, at
// version (see Invalidate).
func (c *Cache[V]) InvalidateTag(ctx context.Context, tag string, version uint64) error {
	return c.Invalidate(ctx, version, tag)
}

// InvalidateAll drops every entry in every tier and refuses fills read
// before version.
func (c *Cache[V]) InvalidateAll(ctx context.Context, version uint64) error {
	if version == 0 {
		return errors.New("cache: InvalidateAll needs a version above 0 (fills read before it are refused)")
	}
	_ = c.l1.Flush(ctx, version)
	if c.l2 == nil {
		return nil
	}
	inv := invalidation{version: version}
	if c.keepPending(inv, false) {
		return errors.New("cache: L2 unavailable; flush kept to replay when it returns")
	}
	err := c.l2Call(ctx, func(ctx context.Context) error { return c.l2.Flush(ctx, version) })
	if err != nil {
		c.keepPending(inv, true)
		c.openBreaker(err)
		return fmt.Errorf("cache: L2 flush kept to replay when L2 answers: %w", err)
	}
	return nil
}

// InvalidateL1 is Invalidate for this instance's L1 only, for a
// subscriber whose event's L2 tombstones were written already (by the
// outbox relay, before it published the event): the same rule for L1, no
// Redis round trips.
func (c *Cache[V]) InvalidateL1(ctx context.Context, version uint64, names ...string) {
	if len(names) > 0 {
		_ = c.l1.Invalidate(ctx, version, names...)
	}
}

// FlushL1 is InvalidateAll for this instance's L1 only (see InvalidateL1).
func (c *Cache[V]) FlushL1(ctx context.Context, version uint64) {
	if version > 0 {
		_ = c.l1.Flush(ctx, version)
	}
}

// DropL1 forgets every L1 entry and refuses the fills of loads already
// under way, leaving L2 alone: for an instance that missed invalidations
// it cannot replay (its bus subscription lost events), whose L1 may be
// stale while L2, kept by the relay, is not.
func (c *Cache[V]) DropL1() { c.l1.drop() }

// Len returns the approximate number of L1 entries.
func (c *Cache[V]) Len() int { return c.l1.Len() }

// logUniform returns ln(U) for U uniform in (0, 1].
func logUniform() float64 {
	return math.Log(1 - rand.Float64())
}
