package redisbus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/strata-cache/strata/inval"
)

// Options configures a Bus. The zero value is usable: every field has a
// default.
type Options struct {
	// Prefix names the Redis keys, all in one Cluster slot through the hash
	// tag {Prefix}: {Prefix}:events (the stream), {Prefix}:seq (the last
	// sequence number), {Prefix}:epoch, {Prefix}:nodes (the node registry)
	// and the Pub/Sub channel {Prefix}:applied. It must not contain braces.
	// Default "strata:inval".
	Prefix string
	// MaxLen is the stream's approximate length cap (XADD MAXLEN ~): how
	// many events a node that was away can replay. A node away for longer
	// calls its LostFunc. Default 1,000,000.
	MaxLen int64
	// BlockTime is how long one stream read waits on the server for new
	// events. Between reads the subscriber checks that the stream was not
	// lost. Default 1s.
	BlockTime time.Duration
	// BatchSize is how many events one read returns at most. Default 256.
	BatchSize int
	// HeartbeatInterval is how often each subscriber records that it is
	// alive, even when idle. Default 1s.
	HeartbeatInterval time.Duration
	// NodeTTL is how long after its last heartbeat a node counts as live.
	// A node that is not live does not hold invalidations open. At least
	// twice HeartbeatInterval. Default 5s.
	NodeTTL time.Duration
	// Retention is how long after its last heartbeat a node is kept in
	// the registry (and listed by Nodes). A node that comes back after
	// that starts afresh and calls its LostFunc. Default 1 hour.
	Retention time.Duration
	// PollInterval is how often WaitAcked reads the registry while it
	// waits, in case it missed a notification (Pub/Sub is not reliable)
	// and to notice nodes going dead. Default 100ms.
	PollInterval time.Duration
	// MaxBackoff caps the delay before a failing handler is called again
	// or a failed read is retried. Default 5s.
	MaxBackoff time.Duration
	// OpTimeout bounds the Redis calls the bus makes on its own account
	// (heartbeats, registration, registry reads for Acked). Default 5s.
	OpTimeout time.Duration
	// OnLost is the LostFunc of subscribers made with Subscribe, called
	// with the subscriber's name. Nil means losses are only logged, which
	// is right only for subscribers that hold nothing.
	OnLost func(node string, reason error)
	// Logger receives handler errors, losses and outages. Default
	// slog.Default().
	Logger *slog.Logger
}

// Defaults.
const (
	DefaultPrefix = "strata:inval"
	DefaultMaxLen = 1_000_000
)

const minBackoff = 10 * time.Millisecond

func (o *Options) setDefaults() error {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(o.Prefix, "{}") {
		return fmt.Errorf("redisbus: Prefix %q must not contain braces", o.Prefix)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if o.MaxLen <= 0 {
		o.MaxLen = DefaultMaxLen
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 256
	}
	def(&o.BlockTime, time.Second)
	def(&o.HeartbeatInterval, time.Second)
	def(&o.NodeTTL, 5*time.Second)
	def(&o.Retention, time.Hour)
	def(&o.PollInterval, 100*time.Millisecond)
	def(&o.MaxBackoff, 5*time.Second)
	def(&o.OpTimeout, 5*time.Second)
	if o.BlockTime < time.Millisecond {
		return fmt.Errorf("redisbus: BlockTime %v is under a millisecond", o.BlockTime)
	}
	if o.NodeTTL < 2*o.HeartbeatInterval {
		return fmt.Errorf("redisbus: NodeTTL %v must be at least twice HeartbeatInterval %v", o.NodeTTL, o.HeartbeatInterval)
	}
	if o.Retention < o.NodeTTL {
		return fmt.Errorf("redisbus: Retention %v is shorter than NodeTTL %v", o.Retention, o.NodeTTL)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

// Reasons given to a LostFunc; each wraps inval.ErrLost.
var (
	ErrNewNode = fmt.Errorf("%w: the node has no recorded position (it is new, or was away longer than the registry's retention)", inval.ErrLost)
	ErrTrimmed = fmt.Errorf("%w: events the node had not applied were trimmed from the stream", inval.ErrLost)
	ErrReset   = fmt.Errorf("%w: the stream was lost or replaced (Redis lost its data)", inval.ErrLost)
	// ErrPartitioned: the node could not reach Redis for almost NodeTTL, so
	// the other nodes are about to count it dead and complete invalidations
	// without it; it must forget what it holds rather than serve something
	// a completed invalidation removed everywhere else.
	ErrPartitioned = fmt.Errorf("%w: the node lost Redis for about NodeTTL; invalidations may complete without it", inval.ErrLost)
	ErrUndecodable = fmt.Errorf("%w: an event could not be decoded", inval.ErrLost)
)

// keys are the Redis keys and channel of one prefix.
type keys struct {
	seq, epoch, events, nodes, applied string
}

func newKeys(prefix string) keys {
	tag := "{" + prefix + "}"
	return keys{seq: tag + ":seq", epoch: tag + ":epoch", events: tag + ":events", nodes: tag + ":nodes", applied: tag + ":applied"}
}

// Bus is an inval.Bus on a Redis stream, shared by every process that uses
// the same Redis and Prefix. Create it with New and Close it.
type Bus struct {
	c    rueidis.Client
	o    Options
	k    keys
	log  *slog.Logger
	ctx  context.Context // cancelled by Close
	stop context.CancelFunc

	highest atomic.Uint64 // the highest sequence number seen (published, read or recorded)

	mu       sync.Mutex // guards subs, closed, watching and wg.Add
	subs     map[string]*subscriber
	closed   bool
	watching bool // the watcher and Pub/Sub listener run
	wg       sync.WaitGroup

	acks acks
	kick chan struct{} // wakes the watcher; capacity 1
}

var (
	_ inval.Bus          = (*Bus)(nil)
	_ inval.NodeReporter = (*Bus)(nil)
	_ inval.LossNotifier = (*Bus)(nil)
)

// New returns a bus on client. It starts no goroutine until the first
// Subscribe or WaitAcked; Close stops them all. The client stays the
// caller's to close, after the bus.
func New(client rueidis.Client, opts Options) (*Bus, error) {
	if client == nil {
		return nil, errors.New("redisbus: a client is required")
	}
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	b := &Bus{c: client, o: opts, k: newKeys(opts.Prefix), log: opts.Logger, ctx: ctx, stop: stop,
		subs: map[string]*subscriber{}, kick: make(chan struct{}, 1)}
	b.acks.changed = make(chan struct{})
	return b, nil
}

// Close stops every subscriber, heartbeat and waiter of this bus and waits
// for them. The registry keeps this bus's nodes: they count as dead once
// NodeTTL has passed, and resume where they were if a process subscribes
// under their names again.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	b.stop()
	b.wg.Wait()
	return nil
}

// goroutine runs f on a new goroutine tracked by Close, unless the bus is
// closed.
func (b *Bus) goroutine(f func()) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		f()
	}()
	return true
}

// seen raises the highest sequence number seen to seq.
func (b *Bus) seen(seq uint64) {
	for {
		cur := b.highest.Load()
		if seq <= cur || b.highest.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// The Lua scripts. Each declares its keys, all in the {Prefix} slot.
//
// initLua makes sure the epoch and the sequence counter exist, and returns
// them. A missing counter (a new stream, or Redis lost its data) starts
// from the highest number the caller has seen, or the stream's last ID if
// higher, so that numbers keep increasing across a loss of data as far as
// the processes that reconnect know; a missing epoch gets the caller's
// fresh one, which tells subscribers that events may have been lost.
//
//	KEYS[1] seq, KEYS[2] epoch, KEYS[3] events
const initLua = `
local function init(floor, fresh)
  redis.call('SET', KEYS[2], fresh, 'NX')
  local epoch = redis.call('GET', KEYS[2])
  local n = redis.call('GET', KEYS[1])
  if not n then
    n = floor
    local last = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
    if #last == 1 then
      local id = string.match(last[1][1], '^(%d+)-')
      if id and tonumber(id) > tonumber(n) then n = id end
    end
    redis.call('SET', KEYS[1], n)
  end
  return epoch, n
end
`

// syncScript returns {epoch, last sequence number}.
//
//	ARGV[1] the caller's highest seen sequence, ARGV[2] a fresh epoch
var syncScript = rueidis.NewLuaScript(initLua + `
local epoch, n = init(ARGV[1], ARGV[2])
return {epoch, n}
`)

// publishScript takes the next sequence number and appends the event with
// it as its stream ID (seq-0), in one atomic step, so that sequence
// numbers are gapless across publishers and the stream is in their order.
// %.0f keeps the number exact up to 2^53, where tostring would switch to
// an exponent.
//
//	ARGV[1] MAXLEN (approximate), ARGV[2] the caller's highest seen
//	sequence, ARGV[3] a fresh epoch, ARGV[4] the encoded event
//
// Returns {seq, epoch}.
var publishScript = rueidis.NewLuaScript(initLua + `
local epoch = init(ARGV[2], ARGV[3])
local seq = string.format('%.0f', redis.call('INCR', KEYS[1]))
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[1], seq .. '-0', 'e', epoch, 'ev', ARGV[4])
return {seq, epoch}
`)

// newEpoch returns a fresh random epoch.
func newEpoch() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (b *Bus) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// Publish implements inval.Bus: it appends ev to the stream with the next
// sequence number. With Redis unreachable it fails at once (it does not
// queue): the caller reports the error or retries.
func (b *Bus) Publish(ctx context.Context, ev inval.Event) (uint64, error) {
	if b.isClosed() {
		return 0, inval.ErrClosed
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	payload, err := encodeEvent(ev)
	if err != nil {
		return 0, fmt.Errorf("redisbus: publish: %w", err)
	}
	res, err := publishScript.Exec(ctx, b.c, []string{b.k.seq, b.k.epoch, b.k.events},
		[]string{strconv.FormatInt(b.o.MaxLen, 10), strconv.FormatUint(b.highest.Load(), 10), newEpoch(), payload}).AsStrSlice()
	if err != nil {
		return 0, fmt.Errorf("redisbus: publish to %s: %w", b.k.events, err)
	}
	if len(res) != 2 {
		return 0, fmt.Errorf("redisbus: publish to %s: unexpected reply %q", b.k.events, res)
	}
	seq, err := strconv.ParseUint(res[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("redisbus: publish to %s: bad sequence %q", b.k.events, res[0])
	}
	b.seen(seq)
	return seq, nil
}

// sync returns the stream's epoch and last sequence number, creating them
// if Redis lost them.
func (b *Bus) sync(ctx context.Context) (epoch string, head uint64, err error) {
	res, err := syncScript.Exec(ctx, b.c, []string{b.k.seq, b.k.epoch, b.k.events},
		[]string{strconv.FormatUint(b.highest.Load(), 10), newEpoch()}).AsStrSlice()
	if err != nil {
		return "", 0, fmt.Errorf("read the head of %s: %w", b.k.events, err)
	}
	if len(res) != 2 {
		return "", 0, fmt.Errorf("read the head of %s: unexpected reply %q", b.k.events, res)
	}
	head, err = strconv.ParseUint(res[1], 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("read the head of %s: bad sequence %q", b.k.events, res[1])
	}
	b.seen(head)
	return res[0], head, nil
}

// wireEvent is an Event as the stream's "ev" field holds it, in JSON. The
// sequence number is the entry's ID.
type wireEvent struct {
	Version uint64    `json:"version,omitempty"`
	Keys    []string  `json:"keys,omitempty"`
	Tags    []string  `json:"tags,omitempty"`
	Paths   []string  `json:"paths,omitempty"`
	URLs    []string  `json:"urls,omitempty"`
	All     bool      `json:"all,omitempty"`
	Flush   bool      `json:"flush,omitempty"`
	Soft    bool      `json:"soft,omitempty"`
	By      string    `json:"by,omitempty"`
	Time    time.Time `json:"time"`
}

func encodeEvent(ev inval.Event) (string, error) {
	b, err := json.Marshal(wireEvent{Version: ev.Version, Keys: ev.Keys, Tags: ev.Tags, Paths: ev.Paths, URLs: ev.URLs,
		All: ev.All, Flush: ev.Flush, Soft: ev.Soft, By: ev.By, Time: ev.Time})
	return string(b), err
}

func decodeEvent(s string) (inval.Event, error) {
	var w wireEvent
	if err := json.Unmarshal([]byte(s), &w); err != nil {
		return inval.Event{}, err
	}
	return inval.Event{Version: w.Version, Keys: w.Keys, Tags: w.Tags, Paths: w.Paths, URLs: w.URLs,
		All: w.All, Flush: w.Flush, Soft: w.Soft, By: w.By, Time: w.Time}, nil
}

// parseID returns the sequence number of a stream ID "seq-0".
func parseID(id string) (uint64, error) {
	s, rest, ok := strings.Cut(id, "-")
	if !ok || rest != "0" {
		return 0, fmt.Errorf("stream ID %q is not seq-0", id)
	}
	return strconv.ParseUint(s, 10, 64)
}

// sleepCtx waits for d or ctx's end, and reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
