// Package cache is Strata's application cache: a generic Cache[V] over two
// tiers, L1 in process (otter) and an optional shared L2 (Redis, package
// cache/redis), that keeps the consistency rules of the architecture.
//
// Reads. Get(ctx, key, loader) looks in L1, then L2 (filling L1), then runs
// the loader: once per key in the instance (singleflight), and once per key
// in the whole cluster when L2 grants leases — the other instances wait for
// the holder's fill, woken by L2, or are given the stale value when one
// exists. A loader error wrapping ErrNotFound is cached as a negative entry
// for NegativeTTL. GetMany batches the L2 lookups of the keys L1 lacks.
//
// Versions. Every value carries the version it was read at: a number from
// one sequence that grows with every commit (for the catalog, the database's
// commit sequence at read time), not a per-row counter, because tag
// tombstones and flushes compare versions across rows. The loader returns
// it, for "not found" too. Values are shared, not copied: callers must not
// modify a Result's value or tags. Invalidate(ctx, version, names...) writes tombstones in every tier
// for each name, as a key and as a tag:
//
//   - No stale fill: a fill is refused when the stored entry has a higher
//     version, or a tombstone of its key or of one of its tags is newer
//     than the fill. Tombstones refuse fills strictly older than them: a
//     value read at the invalidation's own version already holds the change.
//   - Tombstones, not deletes: they outlive the longest entry lifetime by a
//     hold-off, so a slow loader cannot resurrect old data. In L1, should a
//     tombstone be evicted for space before its time, a floor version is
//     raised below which nothing is served or filled (a miss, never stale).
//   - A Get never returns a value older than an invalidation that returned
//     before it started: a caller that joined a load that read older data
//     loads again.
//
// Freshness. A value is fresh for TTL (minus up to Jitter of it), and may be
// served for StaleFor past that while one caller refreshes it in the
// background (stale-while-revalidate) or while the loader fails
// (stale-if-error). Hot keys are refreshed shortly before they expire by
// one caller, with a probability that rises as expiry nears and with the
// load's duration (XFetch, Vattani et al., VLDB 2015). Invalidated values
// are never served stale: they are gone from every tier.
//
// Writes. Set is write-through: the caller's store function (the database
// write) runs first, then every tier is filled at the version it returned,
// version-checked. Package cache/writebehind is the write-behind queue, a
// journal on disk whose acknowledged writes survive a crash.
//
// Coherence across instances. Through an L2 that implements Notifier, every
// instance hears every other instance's invalidations and applies them to
// its L1; when the subscription drops or events were trimmed before it read
// them, the instance drops its whole L1 before serving again.
//
// Degraded mode: a request never fails because a cache tier failed. L2
// errors and calls slower than L2Timeout feed a circuit breaker; after
// BreakerFailures in a row (or one invalidation that did not reach L2) it
// opens, reads go to L1 and the loader, L1 lifetimes shrink to DegradedTTL
// (invalidations from other instances may be missed), and at most
// MaxConcurrentLoads loads run at once (callers beyond get a stale value or
// wait). A probe pings L2 with growing waits; before the breaker closes, the
// invalidations L2 missed are replayed on it (or it is flushed when too
// many were missed to keep).
//
// Warming and statistics. Warm pre-loads keys; StartWarmer reloads the
// hottest keys that are missing or about to expire during quiet periods.
// Hot keys are found by sampling one L1 hit in 64 (and every miss) into a Space-Saving counter;
// Inventory reports them with what L1 holds for each.
//
// All methods are safe for concurrent use. Close stops the background
// goroutines (subscription, breaker probe, refreshes, warmer, clock).
// Metrics go to a Recorder (obs provides the Prometheus one).
package cache
