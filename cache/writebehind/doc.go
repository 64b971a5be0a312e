// Package writebehind is the application cache's write-behind queue: a
// caller enqueues a write, gets an acknowledgement once the write is durable
// in a journal on local disk, and a background flusher later hands batches
// of writes to a FlushFunc (typically one database transaction each).
//
// # Contract
//
//   - Durability. Enqueue returns only after the write is in an append-only
//     journal and fsynced. Concurrent Enqueue calls share one write and one
//     fsync (group commit).
//   - Loss window: zero. A write whose Enqueue returned is never lost by a
//     crash of the process or the machine: the next Open replays it and it is
//     flushed. A write whose Enqueue did not return (crash, error, cancelled
//     context) may or may not be delivered.
//   - At-least-once delivery. The flushed position is recorded (in a
//     checkpoint file, replaced atomically) only after FlushFunc returns nil.
//     A crash between the two, a failed FlushFunc that stored some writes, or
//     a failed checkpoint delivers a batch again. FlushFunc must therefore be
//     idempotent; see FlushFunc for the usual guard (upsert by key, with the
//     write's Seq).
//   - Ordering. Seq is gapless and increasing in the order Enqueue accepted
//     the writes, and continues across restarts. Batches are delivered one
//     at a time in Seq order, each batch in Seq order, and a batch is retried
//     until it succeeds before the next is delivered: a write is never
//     delivered after a later write to the same key, except when a batch is
//     delivered again.
//   - Coalescing. Several writes to one key in the same batch reach
//     FlushFunc as one: the last of them. A write can thus be acknowledged and
//     never delivered, when a later write to its key in the same batch
//     supersedes it.
//   - Failure. A failing FlushFunc is retried with exponential backoff until
//     it succeeds or Close is called. Meanwhile Enqueue keeps accepting
//     writes, durably, and Pending (the lag) grows; memory does not, since
//     the flusher reads writes back from the journal a batch at a time.
//   - Damage. On Open, a torn write at the end of the journal, which cannot
//     have been acknowledged, is truncated away; damage anywhere else makes
//     Open fail with ErrCorrupt rather than drop acknowledged writes.
//   - Exclusion. One Queue at a time may open a directory (an flock on
//     Dir/LOCK, released by Close or by the death of the process).
//
// # The journal
//
// The journal is a sequence of segment files, each a header and then
// records: length, CRC-32C, seq, time, key and value. A new segment starts
// when the active one reaches Options.SegmentSize; a segment whose writes
// are all flushed is deleted.
//
// All methods of Queue are safe for concurrent use. Close stops the queue's
// two goroutines (the committer and the flusher); see Close for how much it
// flushes first.
package writebehind
