// Package inval carries invalidations from where data changes to every tier
// that holds a copy.
//
// An Event names what changed: application-cache keys and tags, edge
// surrogate keys, paths and exact URLs, or everything, with the data
// version it brings, whether the purge is soft, and who asked. A Bus
// delivers events to named subscribers and tracks their acknowledgements;
// Memory is the in-process bus used by `strata serve`, and package
// inval/redisbus the bus on a Redis stream for many edge nodes and API
// instances. The Relay moves events from a database outbox (rows written
// by triggers in the same transaction as the change) onto a bus, in outbox
// order. The Tracker gives admin invalidations (CloudFront-style: paths,
// URLs, tags or all, soft, caller reference, status, per-node progress)
// their ids, keeps them in a Store (MemoryStore, or the shared Redis store
// when several admin APIs serve one bus), and reports them Completed once
// every live subscriber has acknowledged them.
//
// Bus contract, for every implementation (package inval/invaltest checks
// it):
//   - Publish assigns each event the next sequence number: gapless and
//     increasing across every publisher of the bus.
//   - Each subscriber receives every event published after it subscribed,
//     in sequence order, one at a time. Delivery is at least once: a handler
//     that returns an error gets the same event again after a back-off, so
//     handlers must be idempotent (applying an invalidation twice is harmless).
//   - A bus that can lose events a subscriber has not handled (a durable
//     bus whose subscriber was away too long, or whose storage was lost)
//     says so through the subscriber's LostFunc, before handing it anything
//     newer; see LossNotifier and SubscribeWithLost.
//   - Acked(seq) is true once every live subscriber has handled every
//     event up to seq; WaitAcked blocks until then. On Memory every
//     subscriber is live; on a shared bus a subscriber is live while it
//     heartbeats, so a dead node does not hold invalidations open.
//     Buses that can say which subscribers they count implement
//     NodeReporter.
//
// Memory loses its events when the process exits: that is acceptable only
// because in-process caches are lost with it.
package inval
