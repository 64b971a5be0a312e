// Package inval carries invalidations from where data changes to every tier
// that holds a copy.
//
// An Event names what changed: application-cache keys and tags, edge
// surrogate keys and edge paths, with the data version it brings. A Bus
// delivers events to named subscribers and tracks their acknowledgements;
// Memory is the in-process bus used by `strata serve`. The Relay moves events
// from a database outbox (rows written by triggers in the same transaction
// as the change) onto a bus, in outbox order. The Tracker gives admin
// invalidations (CloudFront-style: paths, caller reference, status) their
// ids and reports them Completed once every subscriber has acknowledged them.
//
// Bus contract, for every implementation:
//   - Publish assigns each event the next sequence number: gapless and
//     increasing from 1 for the bus's lifetime.
//   - Each subscriber receives every event published after it subscribed,
//     in sequence order, one at a time. Delivery is at least once: a handler
//     that returns an error gets the same event again after a back-off, so
//     handlers must be idempotent (applying an invalidation twice is harmless).
//   - Acked(seq) is true once every current subscriber has handled every
//     event up to seq; WaitAcked blocks until then.
//
// Memory loses its events when the process exits: that is acceptable only
// because in-process caches are lost with it.
package inval
