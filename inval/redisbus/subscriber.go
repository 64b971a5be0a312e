package redisbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/strata-cache/strata/inval"
)

// subscriber is one node: it reads the stream, applies events in order,
// and records its progress and heartbeat in the registry.
type subscriber struct {
	b    *Bus
	name string
	h    inval.Handler
	lost inval.LostFunc

	recMu sync.Mutex // serialises record writes, so a stale one never lands last

	// runMu makes the handler and the LostFunc mutually exclusive, as
	// inval.LostFunc promises (the heartbeat goroutine calls lost too).
	runMu sync.Mutex

	mu      sync.Mutex // guards the fields below
	applied uint64     // last sequence number applied
	epoch   string     // the stream epoch applied was counted in
	started string     // registration time, Unix ms on the server's clock; "" before

	// Used only by the delivery goroutine.
	resync bool // check the stream's epoch and head before the next read
	down   bool // reads have been failing; logged once
}

// Subscribe implements inval.Bus. The subscriber's LostFunc is
// Options.OnLost. See SubscribeWithLost.
func (b *Bus) Subscribe(name string, h inval.Handler) error {
	var lost inval.LostFunc
	if b.o.OnLost != nil {
		lost = func(reason error) { b.o.OnLost(name, reason) }
	}
	return b.SubscribeWithLost(name, h, lost)
}

// SubscribeWithLost implements inval.LossNotifier. name is the node's id:
// unique among running nodes, and the same across restarts of one node, so
// that a restarted node resumes after the last event it applied.
//
// Before it returns, the node is registered (it counts for Acked at once)
// and its start position is chosen: after its recorded position if the
// stream still holds every event after it; otherwise at the stream's end,
// after calling lost (a new node, a node away for longer than the stream
// or the registry keeps, a stream Redis lost). It fails, subscribing
// nothing, if Redis cannot be reached within Options.OpTimeout.
func (b *Bus) SubscribeWithLost(name string, h inval.Handler, lost inval.LostFunc) error {
	if name == "" {
		return errors.New("redisbus: subscribe: empty node name")
	}
	if h == nil {
		return fmt.Errorf("redisbus: subscribe %q: nil handler", name)
	}
	s := &subscriber{b: b, name: name, h: h, lost: lost}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return inval.ErrClosed
	}
	if _, ok := b.subs[name]; ok {
		b.mu.Unlock()
		return fmt.Errorf("%w: %q", inval.ErrDuplicateName, name)
	}
	b.subs[name] = s
	b.mu.Unlock()
	if lost == nil {
		b.log.Warn("redisbus: subscriber has no LostFunc; lost events will only be logged", "node", name)
	}

	ctx, cancel := context.WithTimeout(b.ctx, b.o.OpTimeout)
	defer cancel()
	err := s.start(ctx)
	if err == nil && !b.goroutine(s.deliver) {
		err = inval.ErrClosed
	}
	if err == nil && !b.goroutine(s.heartbeat) {
		err = inval.ErrClosed
	}
	if err != nil {
		b.mu.Lock()
		delete(b.subs, name)
		b.mu.Unlock()
		if errors.Is(err, inval.ErrClosed) {
			return err
		}
		return fmt.Errorf("redisbus: subscribe %q: %w", name, err)
	}
	return nil
}

// start chooses the start position and registers the node.
func (s *subscriber) start(ctx context.Context) error {
	b := s.b
	epoch, head, err := b.sync(ctx)
	if err != nil {
		return err
	}
	rec, found, err := b.loadRecord(ctx, s.name)
	if err != nil {
		return err
	}
	var reason error
	switch {
	case !found:
		reason = ErrNewNode
	case rec.Epoch != epoch || rec.Applied > head:
		reason = ErrReset
	case rec.Applied < head:
		first, err := b.firstSeq(ctx)
		if err != nil {
			return err
		}
		if first == 0 || first > rec.Applied+1 {
			reason = fmt.Errorf("%w: applied %d, oldest event in the stream %d", ErrTrimmed, rec.Applied, first)
		}
	}
	s.mu.Lock()
	s.epoch, s.applied = epoch, head
	if reason == nil {
		s.applied = rec.Applied
	}
	s.mu.Unlock()
	if reason != nil {
		s.callLost(reason)
	} else if rec.Applied < head {
		b.log.Info("redisbus: node resumes", "node", s.name, "applied", rec.Applied, "head", head)
	}
	b.seen(s.applied)
	return s.record(ctx, true)
}

// firstSeq returns the sequence number of the oldest event in the stream,
// 0 if it is empty.
func (b *Bus) firstSeq(ctx context.Context) (uint64, error) {
	es, err := b.c.Do(ctx, b.c.B().Xrange().Key(b.k.events).Start("-").End("+").Count(1).Build()).AsXRange()
	if err != nil {
		return 0, fmt.Errorf("read the start of %s: %w", b.k.events, err)
	}
	if len(es) == 0 {
		return 0, nil
	}
	return parseID(es[0].ID)
}

func (s *subscriber) callLost(reason error) {
	// A node without a record is most often a new one, which holds nothing
	// to forget: that is routine, not a warning. (It may also have been
	// away longer than the registry's retention; its LostFunc hears of it
	// either way.)
	level := slog.LevelWarn
	if errors.Is(reason, ErrNewNode) {
		level = slog.LevelInfo
	}
	s.b.log.Log(context.Background(), level, "redisbus: node lost events it cannot replay; it must forget what it holds", "node", s.name, "reason", reason)
	s.forget(reason)
}

// forget calls the LostFunc, never while the handler runs.
func (s *subscriber) forget(reason error) {
	if s.lost != nil {
		s.runMu.Lock()
		defer s.runMu.Unlock()
		s.lost(reason)
	}
}

func (s *subscriber) position() (uint64, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applied, s.epoch
}

// deliver reads and applies events until the bus closes.
func (s *subscriber) deliver() {
	b := s.b
	backoff := minBackoff
	for b.ctx.Err() == nil {
		err := s.step(b.ctx)
		if err == nil {
			if s.down {
				b.log.Info("redisbus: reading the stream again", "node", s.name)
				s.down = false
			}
			backoff = minBackoff
			continue
		}
		s.resync = true
		if b.ctx.Err() != nil {
			return
		}
		if !s.down {
			b.log.Warn("redisbus: reading the stream failed; retrying", "node", s.name, "err", err)
			s.down = true
		}
		if !sleepCtx(b.ctx, backoff) {
			return
		}
		backoff = min(2*backoff, b.o.MaxBackoff)
	}
}

// step reads one batch of events, waiting up to BlockTime for one, and
// applies them.
func (s *subscriber) step(ctx context.Context) error {
	b := s.b
	if s.resync {
		if err := s.checkStream(ctx); err != nil {
			return err
		}
		s.resync = false
	}
	applied, epoch := s.position()
	cmd := b.c.B().Xread().Count(int64(b.o.BatchSize)).Block(b.o.BlockTime.Milliseconds()).
		Streams().Key(b.k.events).Id(strconv.FormatUint(applied, 10) + "-0").Build()
	streams, err := b.c.Do(ctx, cmd).AsXRead()
	if rueidis.IsRedisNil(err) {
		// Nothing new: check that the stream was not lost and created
		// again (its new events could have IDs XREAD will never return).
		s.resync = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", b.k.events, err)
	}
	progressed := false
	defer func() {
		if progressed {
			if err := s.record(ctx, true); err != nil && ctx.Err() == nil {
				b.log.Warn("redisbus: recording progress failed", "node", s.name, "err", err)
			}
		}
	}()
	for _, e := range streams[b.k.events] {
		seq, err := parseID(e.ID)
		if err != nil {
			return fmt.Errorf("read %s: %w", b.k.events, err)
		}
		var (
			reason  error
			atLeast uint64
		)
		switch {
		case e.FieldValues["e"] != epoch:
			reason = fmt.Errorf("%w: event %d has epoch %q, the node read epoch %q", ErrReset, seq, e.FieldValues["e"], epoch)
			atLeast = seq // skip it: it is not of the stream the node reads
		case seq != applied+1:
			reason = fmt.Errorf("%w: applied %d, next event in the stream %d", ErrTrimmed, applied, seq)
			atLeast = seq - 1
		}
		if reason != nil {
			if err := s.jump(ctx, reason, atLeast); err != nil {
				return err
			}
			progressed = true
			return nil
		}
		ev, err := decodeEvent(e.FieldValues["ev"])
		if err != nil {
			b.log.Error("redisbus: undecodable event", "node", s.name, "seq", seq, "stream", b.k.events, "err", err)
			s.callLost(fmt.Errorf("%w: event %d: %v", ErrUndecodable, seq, err))
		} else {
			ev.Seq = seq
			if !s.apply(ctx, ev) {
				return ctx.Err()
			}
		}
		s.mu.Lock()
		s.applied = seq
		s.mu.Unlock()
		applied = seq
		progressed = true
		b.seen(seq)
	}
	return nil
}

// checkStream compares the stream's epoch and head with the node's
// position, and jumps to the end when the stream is not the one the node
// was reading.
func (s *subscriber) checkStream(ctx context.Context) error {
	epoch, head, err := s.b.sync(ctx)
	if err != nil {
		return err
	}
	applied, mine := s.position()
	if epoch == mine && head >= applied {
		return nil
	}
	// Forget first, then move: a heartbeat recording the new position
	// before the cache is empty would count this node as having applied
	// events it has not.
	s.callLost(fmt.Errorf("%w: the stream's epoch is %s, was %s; its last event %d, applied %d", ErrReset, epoch, mine, head, applied))
	s.mu.Lock()
	s.epoch, s.applied = epoch, head
	s.mu.Unlock()
	return s.record(ctx, true)
}

// jump moves the node to the end of the stream after calling lost: the
// head is read first, so every event up to it was published before the
// node forgot what it held. The node moves at least to atLeast, so that an
// entry numbered beyond the head (not written by Publish) is read next
// rather than forever.
func (s *subscriber) jump(ctx context.Context, reason error, atLeast uint64) error {
	epoch, head, err := s.b.sync(ctx)
	if err != nil {
		return err
	}
	s.callLost(reason)
	s.mu.Lock()
	s.epoch, s.applied = epoch, max(head, atLeast)
	s.mu.Unlock()
	return nil
}

// apply calls the handler until it succeeds (at-least-once), backing off
// between failures. It reports false if the bus closed first.
func (s *subscriber) apply(ctx context.Context, ev inval.Event) bool {
	b := s.b
	backoff := minBackoff
	for attempt := 1; ; attempt++ {
		s.runMu.Lock()
		err := s.h(ctx, ev)
		s.runMu.Unlock()
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		b.log.Warn("redisbus: handler failed; will retry", "node", s.name, "seq", ev.Seq, "attempt", attempt, "err", err)
		if attempt == 1 {
			// Show the progress made before this event while it fails.
			if err := s.record(ctx, true); err != nil && ctx.Err() == nil {
				b.log.Warn("redisbus: recording progress failed", "node", s.name, "err", err)
			}
		}
		if !sleepCtx(ctx, backoff) {
			return false
		}
		backoff = min(2*backoff, b.o.MaxBackoff)
	}
}

// heartbeat records the node's position every HeartbeatInterval.
func (s *subscriber) heartbeat() {
	b := s.b
	t := time.NewTicker(b.o.HeartbeatInterval)
	defer t.Stop()
	failing, forgotten := false, false
	lastOK := time.Now()
	// Others count this node dead NodeTTL after its last recorded
	// heartbeat (stamped by Redis, no earlier than the request was sent);
	// it forgets its cache two heartbeats before that, so no invalidation
	// can complete without it while it still serves. Each heartbeat is
	// bounded by HeartbeatInterval, so a Redis that stops answering (rather
	// than refusing) is noticed as soon as one that refuses.
	forgetAfter := b.o.NodeTTL - 2*b.o.HeartbeatInterval
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-t.C:
		}
		sent := time.Now()
		err := s.recordWithin(b.ctx, false, b.o.HeartbeatInterval)
		switch {
		case err == nil:
			if failing {
				b.log.Info("redisbus: heartbeat recorded again", "node", s.name)
			}
			failing, forgotten, lastOK = false, false, sent
		case b.ctx.Err() != nil:
			return
		default:
			if !failing {
				b.log.Warn("redisbus: heartbeat failed; other nodes will count this one dead after NodeTTL", "node", s.name, "err", err)
				failing = true
			}
			// While cut off, it keeps forgetting, every heartbeat, what it
			// stored since: a purge completed without it can leave it
			// serving something for at most one HeartbeatInterval.
			if time.Since(lastOK) >= forgetAfter {
				if !forgotten {
					s.callLost(ErrPartitioned)
				} else {
					s.forget(ErrPartitioned)
				}
				forgotten = true
			}
		}
	}
}
