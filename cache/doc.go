// Package cache is Strata's application cache: a Cache[V] that answers Get
// from an in-process tier (L1) and otherwise runs the caller's loader once per
// key, however many goroutines ask at the same time (cache-aside with
// de-duplicated fills).
//
// Every value carries the version it was read at (for the catalog, the
// database's commit sequence at read time). The cache keeps the consistency
// rules of the architecture:
//
//   - No stale fill: a fill is refused when the stored entry has a higher
//     version, or when a tombstone for its key or any of its tags holds a
//     version above the fill's. The check and the write happen under the
//     entry's lock, so a reader that loaded version 41 cannot overwrite the
//     invalidation for version 42.
//   - Tombstones, not deletes: Invalidate records the new version under each
//     key and tag for the tombstone lifetime (the entry TTL plus a hold-off),
//     so a slow loader cannot resurrect old data. An entry is served only if
//     no tombstone of its key or tags is newer than it. Should a tombstone be
//     evicted for space before its time, the cache raises a floor version
//     below which nothing is served or filled: it errs on the side of a miss.
//
// Guarantees: all methods are safe for concurrent use; a loader error is
// returned to every waiter and not cached; Close stops the background
// goroutines. Not yet (issue 6): an L2 tier in Redis, leases,
// write-through/behind, refresh-ahead, codecs.
package cache
