// Package redisbus is the invalidation bus on Redis, for many edge nodes
// and API instances: a durable, replayable, ordered Redis Stream, a
// registry of the nodes that apply it, and a shared store of admin
// invalidations.
//
// # Keys
//
// Every key of one Prefix shares the hash tag {Prefix}, so they live in one
// Redis Cluster slot and each script runs atomically on one node:
//
//	{Prefix}:events   the stream; entry ID "seq-0", fields e (epoch) and ev (the event, JSON)
//	{Prefix}:seq      the last sequence number (INCR)
//	{Prefix}:epoch    a random id of this stream's lifetime in Redis
//	{Prefix}:nodes    the registry: node name → {"applied","epoch","heartbeat","started"}
//	{Prefix}:applied  Pub/Sub channel: a node's name, published when it records progress
//	{Prefix}:inv:ID, {Prefix}:ref:SHA256, {Prefix}:invs   the Store's records
//
// # Guarantees
//
//   - Publish takes the next sequence number and appends the event in one
//     Lua script (INCR then XADD with the number as the entry ID), so
//     numbers are gapless and increasing across every publisher, and the
//     stream is in their order. Publish fails at once when Redis is
//     unreachable: nothing is queued in the process.
//   - A subscriber is a node, named by the caller; the name is the node's
//     identity across restarts. It reads the stream with XREAD BLOCK (at
//     most BlockTime, so it notices Close and checks for a lost stream
//     between reads) and hands events to its handler in order, one at a
//     time, retrying a failing handler with exponential back-off: delivery
//     is at least once. It records the last sequence number it applied in
//     the registry after every batch of events, and heartbeats every
//     HeartbeatInterval even when idle, from a goroutine of its own so
//     that a slow or failing handler does not make a live node look dead.
//   - When a node cannot replay from where it is, it calls its LostFunc
//     (inval.LostFunc) before handling anything newer, and moves to the
//     end of the stream: a new node (nothing recorded under its name); a
//     restarted node whose next event was trimmed (MaxLen); a running node
//     that finds a gap; a stream whose epoch changed or whose numbering
//     went back (Redis lost its data: with persistence off, a restart); an
//     event that cannot be decoded; and a node that has not reached Redis
//     for NodeTTL minus two heartbeats, because from then on the others may
//     complete invalidations without it. The reasons wrap inval.ErrLost
//     (ErrNewNode, ErrTrimmed, ErrReset, ErrUndecodable, ErrPartitioned).
//     A cut-off node is told again every heartbeat until Redis answers, so
//     what it stores meanwhile lives at most a HeartbeatInterval.
//     A restarted node whose events are all still in the stream resumes
//     after the last one it applied. A node that was partitioned from
//     Redis catches up the same way when it is back.
//   - Acked(seq) is true when every live node has applied seq. A node is
//     live while its last heartbeat is younger than NodeTTL (by the Redis
//     server's clock, so nodes' clocks need not agree); a dead node holds
//     nothing open and is shown dead by Nodes; a node dead for longer than
//     Retention is removed from the registry. With no live node, every
//     sequence number is acknowledged.
//   - WaitAcked does not poll Redis per waiter. One watcher per Bus reads
//     the registry (one script: server time, last sequence, HGETALL) while
//     anyone waits: when a local subscriber records progress, when a
//     message on {Prefix}:applied says a remote one did, and every
//     PollInterval regardless. Redis has no notification for hash changes
//     short of keyspace events, which need server configuration; the
//     subscribers' own Pub/Sub message gives completion within a round
//     trip, and the poll covers lost messages and nodes going dead (which
//     send nothing).
//   - After Redis loses its data, the first process to reconnect recreates
//     the epoch and restarts numbering above the highest number it had
//     seen; every node then finds a new epoch and calls its LostFunc.
//
// Not guaranteed: exactly-once delivery; progress of a node whose name is
// used by two running processes at once (their records overwrite each
// other); acknowledgement by a node that is not live, which is the price
// of a dead node not holding every invalidation open.
//
// A Bus is safe for concurrent use. It uses the caller's rueidis client
// (standalone, Sentinel or Cluster) and leaves it open on Close.
package redisbus
