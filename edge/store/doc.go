// Package store keeps the edge's stored responses.
//
// Memory is a byte-bounded in-memory store on otter: entries are weighed by
// their body and header size, the least valuable are evicted when the bound is
// reached, and each entry is dropped once its retention time (set by the edge:
// freshness lifetime plus the time it may still serve stale or be revalidated)
// has passed.
//
// Purges do not scan the store. Memory keeps indexes from each purge
// selector to the entries it matches — surrogate key → entries, URL → its
// Vary variants, and a radix tree of paths that answers exact paths and
// prefixes — so a purge costs time proportional to what it matches (see
// Kind for each selector's cost), and lookups stay a single hash probe. The
// indexes are updated under the same lock as the store's own change of a
// key, for every cause (Set, replacement, Delete, purge, eviction for size,
// expiration, PurgeAll), so they always list exactly the stored entries;
// index.go explains how.
//
// A purge marks the matching entries purged, which removes them for Get at
// once, and a reaper goroutine then removes them from the store (and so from
// the indexes); it runs only while there is such work, and CleanUp and Close
// wait for it. A soft purge (MarkStale) only marks entries stale.
//
// PurgeLater goes further for tag purges, which can match a large share of
// the store: it records the purge in each shard that holds the tag, which
// is in effect at once (Get treats every entry of the tag added before it
// as purged), and leaves the marking and counting to the reaper, which
// reports the count through a callback. later.go explains how the count
// stays exact.
//
// Contract: all methods are safe for concurrent use. An Entry is immutable
// once Set, except for the store's marks (purged, stale), which are atomic.
// Set stores a copy of the entry it is given, so callers that need a changed
// entry (a 304 refresh) build one — Clone drops the marks — and Set it.
package store
