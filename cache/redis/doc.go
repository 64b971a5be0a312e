// Package redis is the L2 tier of Strata's application cache: a
// cache.Tier kept in Redis through rueidis, for a standalone server,
// Sentinel or Redis Cluster. Besides cache.Tier, a [Tier] is a
// cache.Leaser (one loader per key across every instance), a
// cache.Notifier (every instance hears of every invalidation, to drop its
// L1 copies) and a cache.Pinger.
//
//	client, err := redis.NewClient("redis://localhost:6379")
//	l2, err := redis.New[Product](client, redis.Options{Namespace: "strata:products"})
//	c, err := cache.New(cache.Options[Product]{L2: l2})
//
// # Key layout
//
// Every key starts with Options.Namespace, <ns> below, which has no '{' or
// '}'. Tiers of one namespace share everything under it.
//
//	<ns>:{<key>}         the entry for key, a string (see "Value format")
//	<ns>:{<key>}:lease   the load lease for key: a random token, with the lease's TTL
//	<ns>:tag:{<name>}    the tag tombstone of name: a version, 20 decimal digits
//	<ns>:floor           the namespace's flush floor: a version, 20 decimal digits
//	<ns>:inval           the invalidation stream, read by Subscribe
//	<ns>:wake            the pub/sub channel that wakes lease waiters
//
// Keys and names may hold any bytes. The braces make the key its Cluster
// hash tag, so an entry and its lease share a slot. Redis reads "{}" as no
// hash tag at all, so in entry and lease keys a key that begins with '}'
// or with '~' is written with a '~' before it, inside the braces: "}x" is
// <ns>:{~}x}.
//
// # Value format
//
// An entry is one Redis string, so a hit is one GET:
//
//	byte 0       the format version, '1'
//	byte 1       the kind: 'v' value, 'n' negative ("not found"), 't' key tombstone
//	bytes 2-21   the version, 20 decimal digits, zero-padded
//	then, for 'v' and 'n':
//	  Stored, Fresh and Expires in unix milliseconds and Delta in
//	  microseconds, as signed varints (encoding/binary); the tags, as a
//	  uvarint count and each tag as a uvarint length and its bytes;
//	then, for 'v', the value in a cache/codec envelope (Options.Format).
//
// Bytes 0 to 21 keep this meaning in every format version, so the scripts
// of every release compare versions alike, exactly, as equal-length digit
// strings. An entry this release cannot read (another format version or
// kind, a codec or compression it does not know, corrupt bytes, or a value
// of another type) is a miss, counted in Stats.BadEntries and logged, never
// an error; the next fill overwrites it.
//
// # What is atomic, what is checked where
//
// Each of these is one Lua script on one key, atomic on the node that owns
// it:
//
//   - Fill stores the entry unless the key holds a value, negative entry or
//     tombstone of a higher version (so a tombstone at N refuses fills
//     older than N and takes fills at N or later, and an equal version
//     replaces a value). It stores it for Expires minus now, at most MaxTTL,
//     and never for less than what it replaces still had to live: a value
//     that replaced a tombstone keeps guarding against late older fills
//     for the tombstone's lifetime (Get never serves past Expires). Then it
//     publishes the key on the wake channel.
//   - Invalidate writes, for each name, a key tombstone (unless the entry is
//     already at the version or later, which it keeps and lets live as long
//     as the tombstone would) and raises the name's tag tombstone; it
//     never lowers a version. The tombstones of all the names go in one
//     pipeline, then one event to the stream: Invalidate as a whole is not
//     atomic, and an error may leave some names done.
//   - Flush raises the floor, then adds an event to the stream.
//   - A lease release deletes the lease only if it still holds the
//     holder's token, then wakes the waiters.
//
// Tag tombstones and the floor are on other Cluster slots than the entries
// they cover, so Fill cannot see them: it may store a fill older than a
// tag tombstone or the floor, but Get never serves it. Get checks, after
// its GET, the entry's kind and Expires, then the floor and the entry's tag
// tombstones, which it reads through rueidis client-side caching: Redis
// pushes an invalidation when one changes, so in steady state the check is
// a local lookup, not a round trip. A tier reads its own tombstone writes
// at once (it remembers them for a few seconds, longer than the push
// takes); another tier sees them when Redis's push reaches its client,
// normally well under a millisecond later. Without client-side caching
// (RESP2, or client_cache=0) every hit of an entry with tags costs a
// second round trip.
//
// Lifetimes: key, tag and flush tombstones live MaxTTL+HoldOff, longer than
// any entry and than any fill can take to arrive (the cache's LoadTimeout
// must stay below that), so no late fill outlives the tombstone that
// refuses it.
//
// # Leases and notices
//
// Lease is SET NX PX with a random token. A caller that does not get it
// waits on the wake channel, to which the tier subscribes once, at its
// first Lease; the waiter is registered, and the subscription confirmed,
// before the SET, so a fill or release that follows always wakes it while
// the subscription holds. When the subscription drops, every waiter is
// woken to read again; a lost message costs a waiter at most its Wait.
//
// Subscribe reads <ns>:inval with XREAD BLOCK on a connection of its own,
// from the end of the stream at its first connection. Events are numbered
// consecutively within a stream epoch (by the script that appends them), so
// a subscriber tells from the events alone that it missed some: the stream
// was trimmed (XADD MAXLEN ~ Options.StreamMaxLen) past what it had read,
// or lost and created again. Then it calls lost, as it does once per outage
// when a read fails. A Flush arrives as apply with nil names (the L1 raises
// its floor to the flush's version). After a dropped connection it
// resumes after the last event it saw.
//
// # Deployment: what the guarantee needs
//
// The guarantee, no stale value served or stored once an invalidation has
// returned, holds while Redis keeps what it was given. Its limits:
//
//   - Eviction. An evicted tag tombstone or floor brings the entries it
//     covered back to life, and an evicted key tombstone lets a late, older
//     fill in. Every key here has a TTL, so volatile-* policies may evict
//     any of them; allkeys-lru and allkeys-lfu are worse than they look,
//     because tombstones read through the client-side cache never touch
//     the server's LRU clock and so look idle. Use maxmemory-policy
//     noeviction, with maxmemory sized for the fill rate times MaxTTL:
//     when full, fills and invalidations fail with an error (the cache's
//     breaker then bypasses L2 and keeps invalidations to replay) rather
//     than forget. Give the cache a Redis, or a Cluster, of its own if
//     other users need an evicting policy.
//   - Restarts without persistence, and failovers (Sentinel or Cluster),
//     lose the writes the old server had not persisted or replicated,
//     tombstones included: for about one LoadTimeout after the restart or
//     failover, a fill that was in flight may store a value older than an
//     invalidation that was acknowledged before. The invalidation stream is
//     lost or cut alike; subscribers notice and flush their L1s.
//   - Clocks. Expiry (Expires) is checked against the reading host's
//     clock; hosts should agree to well under a second.
//
// Sentinel and Cluster need nothing from the tier: pass NewClient a
// Sentinel URL (redis://sentinel:26379?master_set=name) or several Cluster
// nodes. Scripts touch one slot each; PUBLISH from a script reaches
// subscribers on every Cluster node; the stream lives on one node.
//
// A Tier is safe for concurrent use. It starts at most one goroutine of
// its own (the wake subscription, at the first Lease), which Close stops;
// Subscribe runs on its caller's goroutine.
package redis
