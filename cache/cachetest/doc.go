// Package cachetest is the conformance suite every cache.Tier passes: the
// in-process L1 and the Redis L2 run the same tests, so the consistency
// rules (no stale fill, tombstones for keys and tags, monotonic
// invalidation, flush, expiry, odd keys) hold for both. Call TestTier from
// a tier's own tests with a constructor for fresh, empty tiers.
package cachetest
