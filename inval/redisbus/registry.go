package redisbus

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/strata-cache/strata/inval"
)

// record is a node's entry in the registry hash {Prefix}:nodes, under the
// node's name, as JSON. Times are Unix milliseconds on the Redis server's
// clock, so that nodes' clocks need not agree.
type record struct {
	Applied   uint64 `json:"applied"`   // last sequence number applied
	Epoch     string `json:"epoch"`     // the stream epoch Applied counts in
	Heartbeat int64  `json:"heartbeat"` // last heartbeat
	Started   int64  `json:"started"`   // when the node's current process subscribed
}

// recordScript writes a node's record with the server's time as its
// heartbeat (and as its start, if ARGV[4] is empty), and publishes the
// node's name on the applied channel if ARGV[5] is not empty. It returns
// the time, Unix ms.
//
//	KEYS[1] nodes
//	ARGV[1] name, ARGV[2] applied, ARGV[3] epoch, ARGV[4] started, ARGV[5] channel
var recordScript = rueidis.NewLuaScript(`
local t = redis.call('TIME')
local now = t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000))
local started = ARGV[4]
if started == '' then started = now end
redis.call('HSET', KEYS[1], ARGV[1], '{"applied":' .. ARGV[2] .. ',"epoch":"' .. ARGV[3] ..
  '","heartbeat":' .. now .. ',"started":' .. started .. '}')
if ARGV[5] ~= '' then redis.call('PUBLISH', ARGV[5], ARGV[1]) end
return now
`)

// readScript returns {the server's time in Unix ms, the last sequence
// number, the epoch, the registry as a flat name, record list}, read at
// one instant.
//
//	KEYS[1] nodes, KEYS[2] seq, KEYS[3] epoch
var readScript = rueidis.NewLuaScript(`
local t = redis.call('TIME')
local now = t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000))
return {now, redis.call('GET', KEYS[2]) or '0', redis.call('GET', KEYS[3]) or '', redis.call('HGETALL', KEYS[1])}
`)

// pruneScript removes a node's record if it is still the one read.
//
//	KEYS[1] nodes; ARGV[1] name, ARGV[2] the record as read
var pruneScript = rueidis.NewLuaScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
`)

// record writes the node's record; with notify, it also tells waiters
// (local ones directly, others through Pub/Sub) that it made progress.
// Nothing is written before the node's start position is chosen.
func (s *subscriber) record(ctx context.Context, notify bool) error {
	return s.recordWithin(ctx, notify, s.b.o.OpTimeout)
}

// recordWithin is record bounded by d.
func (s *subscriber) recordWithin(ctx context.Context, notify bool, d time.Duration) error {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	s.mu.Lock()
	applied, epoch, started := s.applied, s.epoch, s.started
	s.mu.Unlock()
	if epoch == "" {
		return nil // not registered yet
	}
	channel := ""
	if notify {
		channel = s.b.k.applied
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	now, err := recordScript.Exec(ctx, s.b.c, []string{s.b.k.nodes},
		[]string{s.name, strconv.FormatUint(applied, 10), epoch, started, channel}).ToString()
	if err != nil {
		return fmt.Errorf("record node %q in %s: %w", s.name, s.b.k.nodes, err)
	}
	if started == "" {
		s.mu.Lock()
		s.started = now
		s.mu.Unlock()
	}
	if notify {
		s.b.wake()
	}
	return nil
}

// loadRecord reads name's record.
func (b *Bus) loadRecord(ctx context.Context, name string) (record, bool, error) {
	v, err := b.c.Do(ctx, b.c.B().Hget().Key(b.k.nodes).Field(name).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return record{}, false, nil
	}
	if err != nil {
		return record{}, false, fmt.Errorf("read node %q from %s: %w", name, b.k.nodes, err)
	}
	var rec record
	if err := json.Unmarshal([]byte(v), &rec); err != nil {
		b.log.Warn("redisbus: unreadable node record; the node starts afresh", "node", name, "record", v, "err", err)
		return record{}, false, nil
	}
	return rec, true, nil
}

// readNodes reads the registry: every node's status, sorted by name. It
// removes nodes dead for longer than Retention.
//
// A node whose record counts in another epoch than the stream's (it has
// not yet noticed that Redis lost its data, and its heartbeat rewrote its
// old record) is shown as having applied nothing, since its number counts
// events of a stream that is gone.
func (b *Bus) readNodes(ctx context.Context) ([]inval.NodeStatus, error) {
	res, err := readScript.Exec(ctx, b.c, []string{b.k.nodes, b.k.seq, b.k.epoch}, nil).ToArray()
	if err != nil {
		return nil, fmt.Errorf("redisbus: read %s: %w", b.k.nodes, err)
	}
	if len(res) != 4 {
		return nil, fmt.Errorf("redisbus: read %s: %d replies, want 4", b.k.nodes, len(res))
	}
	nowS, err1 := res[0].ToString()
	headS, err2 := res[1].ToString()
	epoch, err3 := res[2].ToString()
	flat, err4 := res[3].AsStrSlice()
	now, err5 := strconv.ParseInt(nowS, 10, 64)
	head, err6 := strconv.ParseUint(headS, 10, 64)
	if err := firstErr(err1, err2, err3, err4, err5, err6); err != nil {
		return nil, fmt.Errorf("redisbus: read %s: %w", b.k.nodes, err)
	}
	b.seen(head)
	nodes := make([]inval.NodeStatus, 0, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		name, v := flat[i], flat[i+1]
		var rec record
		if err := json.Unmarshal([]byte(v), &rec); err != nil {
			b.log.Warn("redisbus: unreadable node record; ignored", "node", name, "record", v, "err", err)
			continue
		}
		age := time.Duration(now-rec.Heartbeat) * time.Millisecond
		if age > b.o.Retention {
			if err := pruneScript.Exec(ctx, b.c, []string{b.k.nodes}, []string{name, v}).Error(); err != nil {
				b.log.Warn("redisbus: removing a long-dead node failed", "node", name, "err", err)
			} else {
				b.log.Info("redisbus: removed a node dead for longer than the retention", "node", name, "heartbeat", time.UnixMilli(rec.Heartbeat))
			}
			continue
		}
		if rec.Epoch != epoch {
			rec.Applied = 0
		}
		st := inval.NodeStatus{Name: name, Applied: rec.Applied, Heartbeat: time.UnixMilli(rec.Heartbeat).UTC(),
			Live: age < b.o.NodeTTL}
		if rec.Started != 0 {
			st.Started = time.UnixMilli(rec.Started).UTC()
		}
		if head > rec.Applied {
			st.Lag = head - rec.Applied
		}
		nodes = append(nodes, st)
	}
	slices.SortFunc(nodes, func(a, b inval.NodeStatus) int { return strings.Compare(a.Name, b.Name) })
	return nodes, nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Nodes implements inval.NodeReporter: every node in the registry, live
// or dead (until Retention has passed), with its lag behind the stream.
func (b *Bus) Nodes(ctx context.Context) ([]inval.NodeStatus, error) {
	return b.readNodes(ctx)
}

// ackedFloor returns the lowest sequence number applied by a live node,
// or MaxUint64 when no node is live.
func ackedFloor(nodes []inval.NodeStatus) uint64 {
	floor := uint64(math.MaxUint64)
	for _, n := range nodes {
		if n.Live {
			floor = min(floor, n.Applied)
		}
	}
	return floor
}

// Acked implements inval.Bus: it reads the registry (bounded by OpTimeout)
// and reports whether every live node has applied seq. It reports false
// when Redis cannot be read.
func (b *Bus) Acked(seq uint64) bool {
	ctx, cancel := context.WithTimeout(b.ctx, b.o.OpTimeout)
	defer cancel()
	nodes, err := b.readNodes(ctx)
	if err != nil {
		return false
	}
	return ackedFloor(nodes) >= seq
}

// acks is what WaitAcked's waiters share: the result of the watcher's last
// registry read.
type acks struct {
	mu      sync.Mutex
	waiters int
	started uint64        // registry reads started, numbered
	reads   uint64        // the number of the last read completed
	ok      bool          // the last read succeeded
	floor   uint64        // its ackedFloor
	changed chan struct{} // closed and replaced after each read
}

// wake asks the watcher to read the registry now.
func (b *Bus) wake() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// WaitAcked implements inval.Bus. Waiters share one watcher goroutine per
// Bus, which reads the registry while anyone waits: at once when a local
// subscriber records progress or when a Pub/Sub message on
// {Prefix}:applied says a remote one did, and every PollInterval in any
// case, since Pub/Sub messages can be lost and a node going dead sends
// none. It returns inval.ErrClosed if the bus closes first.
func (b *Bus) WaitAcked(ctx context.Context, seq uint64) error {
	if err := b.startWatching(); err != nil {
		return err
	}
	a := &b.acks
	a.mu.Lock()
	a.waiters++
	after := a.started // a read started before this call may predate seq
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.waiters--
		a.mu.Unlock()
	}()
	b.wake()
	for {
		a.mu.Lock()
		// Only a read that started after this call began counts.
		if a.reads > after && a.ok && a.floor >= seq {
			a.mu.Unlock()
			return nil
		}
		ch := a.changed
		a.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-b.ctx.Done():
			return inval.ErrClosed
		}
	}
}

// startWatching starts the watcher and the Pub/Sub listener once.
func (b *Bus) startWatching() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return inval.ErrClosed
	}
	if b.watching {
		return nil
	}
	b.watching = true
	b.wg.Add(2)
	go func() {
		defer b.wg.Done()
		b.watch()
	}()
	go func() {
		defer b.wg.Done()
		b.listen()
	}()
	return nil
}

// watch reads the registry for WaitAcked's waiters; see WaitAcked.
func (b *Bus) watch() {
	a := &b.acks
	timer := time.NewTimer(b.o.PollInterval)
	timer.Stop()
	for {
		a.mu.Lock()
		waiting := a.waiters > 0
		a.mu.Unlock()
		var tick <-chan time.Time
		if waiting {
			timer.Reset(b.o.PollInterval)
			tick = timer.C
		}
		select {
		case <-b.ctx.Done():
			timer.Stop()
			return
		case <-b.kick:
		case <-tick:
		}
		timer.Stop()
		a.mu.Lock()
		waiting = a.waiters > 0
		if waiting {
			a.started++
		}
		started := a.started
		a.mu.Unlock()
		if !waiting {
			continue
		}
		ctx, cancel := context.WithTimeout(b.ctx, b.o.OpTimeout)
		nodes, err := b.readNodes(ctx)
		cancel()
		a.mu.Lock()
		a.reads = started
		a.ok = err == nil
		a.floor = ackedFloor(nodes)
		close(a.changed)
		a.changed = make(chan struct{})
		a.mu.Unlock()
	}
}

// listen wakes the watcher on every message on {Prefix}:applied, which
// subscribers publish when they record progress.
func (b *Bus) listen() {
	backoff := minBackoff
	for b.ctx.Err() == nil {
		began := time.Now()
		err := b.c.Receive(b.ctx, b.c.B().Subscribe().Channel(b.k.applied).Build(), func(rueidis.PubSubMessage) {
			b.wake()
		})
		if b.ctx.Err() != nil {
			return
		}
		b.log.Debug("redisbus: Pub/Sub subscription ended; WaitAcked polls meanwhile", "channel", b.k.applied, "err", err)
		// Reads while unsubscribed rely on polling; wake once after
		// resubscribing in case a message was missed.
		if time.Since(began) > b.o.MaxBackoff {
			backoff = minBackoff
		}
		if !sleepCtx(b.ctx, backoff) {
			return
		}
		backoff = min(2*backoff, b.o.MaxBackoff)
		b.wake()
	}
}
