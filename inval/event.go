package inval

import (
	"context"
	"errors"
	"time"
)

// Event is one invalidation.
type Event struct {
	// Seq is assigned by the bus on Publish.
	Seq uint64
	// Version is the data version the change produced (the outbox sequence
	// for database changes); caches refuse fills read before it. Zero for
	// invalidations that do not come from the database.
	Version uint64
	// Keys are application-cache keys or tags.
	Keys []string
	// Tags are edge surrogate keys.
	Tags []string
	// Paths are edge URL paths; a trailing "*" is a prefix wildcard. A path
	// matches every query string and host.
	Paths []string
	// URLs are exact edge URLs (scheme, host, path and query): each removes
	// that one cache key with all its Vary variants.
	URLs []string
	// All purges everything in every edge (and, with Keys empty, nothing
	// in the application caches).
	All bool
	// Flush empties the application caches: entries read before Version
	// are dropped in every tier (an outbox row that does not say what it
	// changed).
	Flush bool
	// Soft marks the matching edge entries stale instead of removing them:
	// they are revalidated with the origin (and may be served stale under
	// stale-while-revalidate / stale-if-error) rather than refetched.
	Soft bool
	// By says who asked (e.g. "admin@127.0.0.1:5123", "outbox"), for the
	// purge log.
	By string
	// Time is when the change was made, for latency measurement.
	Time time.Time
}

// Handler applies an event. It returns an error to have the event delivered
// again.
type Handler func(ctx context.Context, ev Event) error

// Bus delivers events to subscribers; see the package documentation for the
// contract every implementation keeps.
type Bus interface {
	// Publish appends ev and returns its sequence number.
	Publish(ctx context.Context, ev Event) (uint64, error)
	// Subscribe registers h under name (unique on this bus).
	Subscribe(name string, h Handler) error
	// Acked reports whether every subscriber has handled events up to seq.
	Acked(seq uint64) bool
	// WaitAcked blocks until Acked(seq) or ctx ends.
	WaitAcked(ctx context.Context, seq uint64) error
}

// Errors callers branch on.
var (
	ErrClosed        = errors.New("inval: bus closed")
	ErrDuplicateName = errors.New("inval: subscriber name already registered")
)
