// Package store keeps the edge's stored responses.
//
// Memory is a byte-bounded in-memory store on otter: entries are weighed by
// their body and header size, the least valuable are evicted when the bound is
// reached, and each entry is dropped once its retention time (set by the edge:
// freshness lifetime plus the time it may still serve stale or be revalidated)
// has passed.
//
// Purges do not scan the store. Memory keeps indexes from each purge
// selector to the entries it matches — surrogate key → entries, URL →
// its Vary variants, and a radix tree of paths that answers exact paths and
// prefixes — so a purge costs time proportional to what it removes (see
// Kind for each selector's cost), and lookups stay a single hash probe. The
// indexes are updated under the same lock as the store's own change of a
// key, for every cause (Set, replacement, Delete, purge, eviction for size,
// expiration, PurgeAll), so they always list exactly the stored entries;
// index.go explains how.
//
// Contract: all methods are safe for concurrent use. An Entry is immutable
// once Set, except for its soft-purge mark (MarkStale, StaleSince), which is
// atomic: callers that need a changed entry (a 304 refresh) build a new one
// and Set it. Each Set stores a distinct entry: an entry that was stored
// before, or a copy of one, is copied again, without the mark.
package store
