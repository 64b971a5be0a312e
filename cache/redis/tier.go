package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/redis/rueidis"
	"github.com/strata-cache/strata/cache"
	"github.com/strata-cache/strata/cache/codec"
)

// Tier is the L2 tier of a cache.Cache on Redis: standalone, Sentinel or
// Cluster. It is safe for concurrent use. See the package documentation
// for the key layout and the guarantees.
type Tier[V any] struct {
	c    rueidis.Client
	opts Options
	log  *slog.Logger

	ns        string
	floorKey  string
	streamKey string
	wakeChan  string
	tombPX    string // tombstone lifetime, MaxTTL+HoldOff, in ms

	bad atomic.Uint64 // entries read as misses because they did not decode
	own ownTombstones // tag tombstones and floors this tier wrote lately

	// onConnected, when set (by tests, before Subscribe), is called each
	// time Subscribe has (re)connected and knows where it reads from:
	// events published after that reach it.
	onConnected func()

	ctx    context.Context // ends at Close
	cancel context.CancelFunc

	mu       sync.Mutex
	closed   bool
	waiters  map[string][]chan struct{} // key -> lease waiters, closed on wake
	wakeRun  bool                       // the wake subscription goroutine was started
	ready    chan struct{}              // closed while the wake subscription is confirmed
	isReady  bool                       // ready is closed
	wakeDone chan struct{}              // closed when that goroutine ends
}

var (
	_ cache.Tier[int] = (*Tier[int])(nil)
	_ cache.Leaser    = (*Tier[int])(nil)
	_ cache.Notifier  = (*Tier[int])(nil)
	_ cache.Pinger    = (*Tier[int])(nil)
)

// ErrClosed is returned by the methods that need the tier's background
// subscription (Lease) after Close.
var ErrClosed = errors.New("redis: tier closed")

// New returns a tier that keeps V values in Redis through client, under
// opts.Namespace. The caller keeps ownership of client; Close the tier
// before closing the client.
func New[V any](client rueidis.Client, opts Options) (*Tier[V], error) {
	if client == nil {
		return nil, fmt.Errorf("%w: redis: nil client", cache.ErrOptions)
	}
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	ns := opts.Namespace
	t := &Tier[V]{
		c: client, opts: opts, log: opts.Logger,
		ns:        ns,
		floorKey:  ns + ":floor",
		streamKey: ns + ":inval",
		wakeChan:  ns + ":wake",
		tombPX:    strconv.FormatInt(ceilMS(opts.MaxTTL+opts.HoldOff), 10),
		waiters:   make(map[string][]chan struct{}),
		ready:     make(chan struct{}),
		wakeDone:  make(chan struct{}),
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	return t, nil
}

// Close stops the tier's background work: the lease wake subscription and
// every Subscribe. Lease waiters return at once. It does not close the
// client. Calls other than Lease keep working after Close.
func (t *Tier[V]) Close() {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	t.closed = true
	started := t.wakeRun
	t.mu.Unlock()
	t.cancel()
	if started {
		<-t.wakeDone
	}
	t.wakeAll()
}

// Stats are a tier's counters.
type Stats struct {
	// BadEntries counts entries, tag tombstones and floors read as misses
	// because they did not decode: written by a newer release, corrupt, or
	// holding a value of another type.
	BadEntries uint64
}

// Stats returns the tier's counters.
func (t *Tier[V]) Stats() Stats {
	return Stats{BadEntries: t.bad.Load()}
}

// keyEscape starts the hash-tag part of a key that begins with '}' (or
// with keyEscape itself, to keep the mapping one-to-one): Redis takes an
// empty {} as no hash tag at all, which would send an entry and its lease
// key to different Cluster slots.
const keyEscape = '~'

// entryKey returns "<ns>:{<key>}"; key is not empty.
func (t *Tier[V]) entryKey(key string) string {
	if key[0] == '}' || key[0] == keyEscape {
		return t.ns + ":{" + string(keyEscape) + key + "}"
	}
	return t.ns + ":{" + key + "}"
}

// leaseKey shares entryKey's hash tag, so lives in the entry's slot.
func (t *Tier[V]) leaseKey(key string) string { return t.entryKey(key) + ":lease" }

func (t *Tier[V]) tagKey(name string) string { return t.ns + ":tag:{" + name + "}" }

// Get implements cache.Tier: one GET, then the floor and the entry's tag
// tombstones from the client-side cache (see readTombstones).
func (t *Tier[V]) Get(ctx context.Context, key string) (cache.Entry[V], bool, error) {
	var e cache.Entry[V]
	if err := cache.CheckKey(key); err != nil {
		return e, false, err
	}
	b, err := t.c.Do(ctx, t.c.B().Get().Key(t.entryKey(key)).Build()).AsBytes()
	if err != nil {
		if rueidis.IsRedisNil(err) {
			return e, false, nil
		}
		return e, false, fmt.Errorf("redis: get %s: %w", quoteKey(key), err)
	}
	if !t.decode(key, b, &e, time.Now().UnixMilli()) {
		return cache.Entry[V]{}, false, nil
	}
	ok, err := t.current(ctx, e.Version, e.Tags)
	if err != nil || !ok {
		return cache.Entry[V]{}, false, err
	}
	return e, true, nil
}

// decode decodes b into e and reports whether it is a live value or
// negative entry; anything undecodable is counted, logged and a miss.
func (t *Tier[V]) decode(key string, b []byte, e *cache.Entry[V], nowMS int64) bool {
	kind, err := decodeEntry(t.opts.Format, b, e)
	if err != nil {
		t.bad.Add(1)
		level := slog.LevelWarn
		if errors.Is(err, codec.ErrUnknownFormat) {
			level = slog.LevelDebug // a newer release's entry, during an upgrade
		}
		t.log.Log(t.ctx, level, "redis: undecodable entry read as a miss", "key", quoteKey(key), "err", err)
		return false
	}
	return kind != kindTombstone && e.Expires.UnixMilli() > nowMS
}

// current reports whether an entry read at version, with tags, is newer
// than the namespace's floor and every tag tombstone.
func (t *Tier[V]) current(ctx context.Context, version uint64, tags []string) (bool, error) {
	var buf [8]string
	keys := append(buf[:0], t.floorKey)
	for _, tag := range tags {
		keys = append(keys, t.tagKey(tag))
	}
	var vbuf [8]uint64
	vs := vbuf[:len(keys)]
	if len(keys) > len(vbuf) {
		vs = make([]uint64, len(keys))
	}
	if err := t.readTombstones(ctx, keys, vs); err != nil {
		return false, err
	}
	for _, v := range vs {
		if version < v {
			return false, nil
		}
	}
	return true, nil
}

// readTombstones sets vs[i] to the version in the floor or tag tombstone
// keys[i]. They come from the client-side cache: one DoCache per key costs
// a map lookup when the key is there, a good deal less than DoMultiCache's
// fan-out over connections; once one key is not, the rest are fetched in
// one DoMultiCache, so a cold read costs at most two round trips.
func (t *Tier[V]) readTombstones(ctx context.Context, keys []string, vs []uint64) error {
	now := time.Now().UnixNano()
	for i, k := range keys {
		r := t.c.DoCache(ctx, t.c.B().Get().Key(k).Cache(), t.opts.MaxTTL)
		v, err := t.tombstone(r, k, now)
		if err != nil {
			return err
		}
		vs[i] = v
		if rest := keys[i+1:]; len(rest) > 0 && !r.IsCacheHit() {
			cmds := make([]rueidis.CacheableTTL, len(rest))
			for j, k := range rest {
				cmds[j] = rueidis.CT(t.c.B().Get().Key(k).Cache(), t.opts.MaxTTL)
			}
			for j, r := range t.c.DoMultiCache(ctx, cmds...) {
				if vs[i+1+j], err = t.tombstone(r, rest[j], now); err != nil {
					return err
				}
			}
			return nil
		}
	}
	return nil
}

// tombstone returns the version of the floor or tag tombstone key, from
// its reply r or, if newer, what this tier wrote to it lately: 0 when there
// is none, MaxUint64 (nothing is current) when it does not decode.
func (t *Tier[V]) tombstone(r rueidis.RedisResult, key string, now int64) (uint64, error) {
	own := t.own.get(key, now)
	s, err := r.ToString()
	if err != nil {
		if rueidis.IsRedisNil(err) {
			return own, nil
		}
		return 0, fmt.Errorf("redis: read tombstones: %w", err)
	}
	v, ok := parseVersion(s)
	if !ok {
		t.bad.Add(1)
		t.log.Warn("redis: undecodable tag tombstone or floor: entries it may cover are misses until it is rewritten or expires", "key", key, "value", s)
		return math.MaxUint64, nil
	}
	return max(v, own), nil
}

// GetMany implements cache.Tier: one pipeline of GETs (split by node in a
// Cluster), then the floor and the tags of every entry found, from the
// client-side cache (see readTombstones).
func (t *Tier[V]) GetMany(ctx context.Context, keys []string) ([]cache.Entry[V], []bool, error) {
	es, oks := make([]cache.Entry[V], len(keys)), make([]bool, len(keys))
	if len(keys) == 0 {
		return es, oks, nil
	}
	cmds := make(rueidis.Commands, len(keys))
	for i, k := range keys {
		if err := cache.CheckKey(k); err != nil {
			return nil, nil, err
		}
		cmds[i] = t.c.B().Get().Key(t.entryKey(k)).Build()
	}
	now := time.Now().UnixMilli()
	var tags []string
	seen := make(map[string]int) // tag -> index in the DoMultiCache replies
	for i, r := range t.c.DoMulti(ctx, cmds...) {
		b, err := r.AsBytes()
		if err != nil {
			if rueidis.IsRedisNil(err) {
				continue
			}
			return nil, nil, fmt.Errorf("redis: get %d keys: %w", len(keys), err)
		}
		if oks[i] = t.decode(keys[i], b, &es[i], now); !oks[i] {
			es[i] = cache.Entry[V]{}
			continue
		}
		for _, tag := range es[i].Tags {
			if _, ok := seen[tag]; !ok {
				seen[tag] = len(tags) + 1
				tags = append(tags, tag)
			}
		}
	}
	tkeys := make([]string, 0, 1+len(tags))
	tkeys = append(tkeys, t.floorKey)
	for _, tag := range tags {
		tkeys = append(tkeys, t.tagKey(tag))
	}
	vs := make([]uint64, len(tkeys))
	if err := t.readTombstones(ctx, tkeys, vs); err != nil {
		return nil, nil, err
	}
	for i := range es {
		if !oks[i] {
			continue
		}
		current := es[i].Version >= vs[0]
		for _, tag := range es[i].Tags {
			current = current && es[i].Version >= vs[seen[tag]]
		}
		if !current {
			es[i], oks[i] = cache.Entry[V]{}, false
		}
	}
	return es, oks, nil
}

// Fill implements cache.Tier: one script that compares versions and sets
// the entry, living until e.Expires (at most MaxTTL), then wakes the
// key's lease waiters. A fill older than a tag tombstone or the floor may
// be stored, but is never served.
func (t *Tier[V]) Fill(ctx context.Context, key string, e cache.Entry[V]) (bool, error) {
	if err := cache.CheckKey(key); err != nil {
		return false, err
	}
	ttl := time.Until(e.Expires)
	if ttl <= 0 {
		return false, nil
	}
	b, err := encodeEntry(t.opts.Format, &e)
	if err != nil {
		return false, fmt.Errorf("redis: fill %s: %w: %w", quoteKey(key), cache.ErrValue, err)
	}
	px := strconv.FormatInt(ceilMS(min(ttl, t.opts.MaxTTL)), 10)
	// b is not touched again, so the string may share its bytes.
	n, err := fillScript.exec(ctx, t.c, t.entryKey(key),
		unsafe.String(unsafe.SliceData(b), len(b)), formatVersion(e.Version), px, t.wakeChan, key).AsInt64()
	if err != nil {
		return false, fmt.Errorf("redis: fill %s: %w", quoteKey(key), err)
	}
	return n == 1, nil
}

// Invalidate implements cache.Tier: for each name, a key tombstone on the
// entry and a tag tombstone, all in one pipeline; then one event on the
// invalidation stream for the other instances' L1s.
func (t *Tier[V]) Invalidate(ctx context.Context, version uint64, names ...string) error {
	if len(names) == 0 {
		return nil
	}
	ver := formatVersion(version)
	tomb := string(encodeTombstone(version))
	calls := make([]call, 0, 2*len(names))
	for _, n := range names {
		// A name no key could have needs no key tombstone.
		if cache.CheckKey(n) == nil {
			calls = append(calls, call{s: tombstoneScript, key: t.entryKey(n), args: []string{tomb, ver, t.tombPX}})
		}
		calls = append(calls, call{s: raiseScript, key: t.tagKey(n), args: []string{ver, t.tombPX}})
	}
	rs := runBatch(ctx, t.c, calls)
	now := time.Now().UnixNano()
	var err error
	for i, r := range rs {
		if e := r.Error(); e != nil {
			err = e
		} else if calls[i].s == raiseScript {
			t.own.add(calls[i].key, version, now)
		}
	}
	if err != nil {
		return fmt.Errorf("redis: invalidate %d names at version %d: %w", len(names), version, err)
	}
	if err := t.publish(ctx, opInvalidate, version, names); err != nil {
		return fmt.Errorf("redis: invalidate %d names at version %d: %w", len(names), version, err)
	}
	return nil
}

// Flush implements cache.Tier: it raises the namespace's floor, below
// which nothing is served or kept, then publishes a flush event.
func (t *Tier[V]) Flush(ctx context.Context, version uint64) error {
	if err := raiseScript.exec(ctx, t.c, t.floorKey, formatVersion(version), t.tombPX).Error(); err != nil {
		return fmt.Errorf("redis: flush at version %d: %w", version, err)
	}
	t.own.add(t.floorKey, version, time.Now().UnixNano())
	if err := t.publish(ctx, opFlush, version, nil); err != nil {
		return fmt.Errorf("redis: flush at version %d: %w", version, err)
	}
	return nil
}

// Ping implements cache.Pinger.
func (t *Tier[V]) Ping(ctx context.Context) error {
	if err := t.c.Do(ctx, t.c.B().Ping().Build()).Error(); err != nil {
		return fmt.Errorf("redis: ping: %w", err)
	}
	return nil
}

// ceilMS returns d in milliseconds, rounded up, at least 1.
func ceilMS(d time.Duration) int64 {
	return max(1, int64((d+time.Millisecond-1)/time.Millisecond))
}

// quoteKey quotes a key for logs and errors, shortened if long.
func quoteKey(k string) string {
	const maxLen = 64
	if len(k) > maxLen {
		return strconv.Quote(k[:maxLen]) + "..."
	}
	return strconv.Quote(k)
}
