// Package store keeps the edge's stored responses.
//
// Memory is a byte-bounded in-memory store on otter: entries are weighed by
// their body and header size, the least valuable are evicted when the bound is
// reached, and each entry is dropped once its retention time (set by the edge:
// freshness lifetime plus the time it may still serve stale or be revalidated)
// has passed.
//
// Contract: all methods are safe for concurrent use. An Entry is immutable
// once Set: callers that need a changed entry (a 304 refresh) build a new one
// and Set it. Purges by path prefix and by tag scan the store: they cost time
// proportional to its number of entries, which is fine for purges (rare) and
// keeps lookups (hot) a single hash probe.
package store
