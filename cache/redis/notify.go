package redis

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"
)

// Invalidation stream events. Fields: i, the event's number (one more than
// the previous event's) and e, the stream's epoch, both set by
// publishScript; op; v, the version in decimal; n, for opInvalidate, the
// names as written by appendStrings.
const (
	opInvalidate = "inv"
	opFlush      = "flush"
)

// How the subscriber reads the stream: blocking reads of at most
// streamBatch events, each waiting at most streamBlock on the server.
const (
	streamBatch = 512
	streamBlock = 2 * time.Second
)

// publish appends an event to the invalidation stream.
func (t *Tier[V]) publish(ctx context.Context, op string, version uint64, names []string) error {
	var epoch [8]byte
	_, _ = rand.Read(epoch[:])
	args := []string{strconv.FormatInt(t.opts.StreamMaxLen, 10), hex.EncodeToString(epoch[:]),
		"op", op, "v", strconv.FormatUint(version, 10)}
	if op == opInvalidate {
		args = append(args, "n", string(appendStrings(nil, names)))
	}
	if err := publishScript.exec(ctx, t.c, t.streamKey, args...).Error(); err != nil {
		return fmt.Errorf("publish to %s: %w", t.streamKey, err)
	}
	return nil
}

// Subscribe implements cache.Notifier: it reads the namespace's
// invalidation stream from its end at the first connection, and calls
// apply for every invalidation made through any tier of the namespace,
// in order, until ctx ends or the tier is closed.
//
// It calls lost, and the caller flushes its L1, when a read fails (once
// per outage; reading resumes after the last event seen when the
// connection is back), when the events it reads are not consecutive (the
// stream was trimmed past the last event seen, or was lost and created
// again), and when an event cannot be decoded. lost is called before any
// further apply. A Flush is delivered as apply(version, nil).
func (t *Tier[V]) Subscribe(ctx context.Context, apply func(version uint64, names []string), lost func()) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(t.ctx, cancel)()
	s := &subscriber[V]{t: t, apply: apply, lost: lost}
	defer s.disconnect()
	backoff := minBackoff
	for ctx.Err() == nil {
		err := s.step(ctx)
		if err == nil {
			backoff = minBackoff
			continue
		}
		s.disconnect()
		if ctx.Err() != nil {
			return
		}
		if !s.down {
			s.down = true
			t.log.Warn("redis: invalidation stream read failed; L1 flushed, retrying", "stream", t.streamKey, "err", err)
			s.lost()
		}
		if !sleepCtx(ctx, backoff) {
			return
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

type subscriber[V any] struct {
	t     *Tier[V]
	apply func(uint64, []string)
	lost  func()

	at   position // the last event seen; at.id is "" until the first read
	down bool     // a read failed, and lost was called, since the last success

	// conn is a connection of its own, so that a dropped connection is an
	// error at once rather than a read rueidis retries on another one,
	// which would hide the outage from lost.
	conn    rueidis.DedicatedClient
	release func()
}

// position is where an event sits in the stream.
type position struct {
	id    string // stream ID; "0-0" for the start of an empty stream
	seq   uint64 // field i
	epoch string // field e; "" before any event
}

func (s *subscriber[V]) connect() rueidis.DedicatedClient {
	if s.conn == nil {
		s.conn, s.release = s.t.c.Dedicate()
	}
	return s.conn
}

// disconnect closes the connection, rather than return it to the pool
// with a blocked read in flight.
func (s *subscriber[V]) disconnect() {
	if s.conn != nil {
		s.conn.Close()
		s.release()
		s.conn, s.release = nil, nil
	}
}

// step reads and handles one batch of events, waiting for up to
// streamBlock for one.
func (s *subscriber[V]) step(ctx context.Context) error {
	t := s.t
	if s.at.id == "" || s.down {
		tail, err := s.tail(ctx)
		if err != nil {
			return err
		}
		switch {
		case s.at.id == "":
			// Start at the end: the L1 starts empty, so nothing before
			// matters, unless reads failed before this one.
			s.at = tail
			if s.down {
				s.lost()
			}
		case s.reset(tail):
			s.resync(tail)
		}
		s.down = false
		if t.onConnected != nil {
			t.onConnected()
		}
	}
	// No deadline: rueidis then ends the read as soon as ctx does. A dead
	// connection is noticed by TCP keepalive.
	c := s.connect()
	cmd := c.B().Xread().Count(streamBatch).Block(streamBlock.Milliseconds()).Streams().Key(t.streamKey).Id(s.at.id).Build()
	streams, err := c.Do(ctx, cmd).AsXRead()
	if rueidis.IsRedisNil(err) {
		// Nothing new. Check that the stream was not created again with
		// IDs no greater than the last one read, which XREAD would never
		// return.
		tail, err := s.tail(ctx)
		if err != nil {
			return err
		}
		if s.reset(tail) {
			s.resync(tail)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", t.streamKey, err)
	}
	for _, e := range streams[t.streamKey] {
		s.handle(e)
	}
	return nil
}

// tail returns the position of the stream's last event.
func (s *subscriber[V]) tail(ctx context.Context) (position, error) {
	t := s.t
	c := s.connect()
	es, err := c.Do(ctx, c.B().Xrevrange().Key(t.streamKey).End("+").Start("-").Count(1).Build()).AsXRange()
	if err != nil {
		return position{}, fmt.Errorf("read the end of %s: %w", t.streamKey, err)
	}
	if len(es) == 0 {
		return position{id: "0-0"}, nil
	}
	seq, _ := strconv.ParseUint(es[0].FieldValues["i"], 10, 64)
	return position{id: es[0].ID, seq: seq, epoch: es[0].FieldValues["e"]}, nil
}

// reset reports whether the stream, whose last event is at tail, is not
// the one read so far: it was lost (a restart without persistence),
// deleted, or emptied, and maybe created again.
func (s *subscriber[V]) reset(tail position) bool {
	if tail.id == "0-0" {
		return s.at.seq > 0
	}
	return (s.at.epoch != "" && tail.epoch != s.at.epoch) || tail.seq < s.at.seq || compareIDs(tail.id, s.at.id) < 0
}

func (s *subscriber[V]) resync(tail position) {
	s.t.log.Warn("redis: invalidation stream was reset; L1 flushed", "stream", s.t.streamKey)
	s.at = tail
	s.lost()
}

func (s *subscriber[V]) handle(e rueidis.XRangeEntry) {
	f := e.FieldValues
	seq, err := strconv.ParseUint(f["i"], 10, 64)
	if err != nil || seq != s.at.seq+1 || (s.at.epoch != "" && f["e"] != s.at.epoch) {
		s.t.log.Warn("redis: invalidation events were missed (stream trimmed or reset); L1 flushed",
			"stream", s.t.streamKey, "last", s.at.seq, "next", f["i"])
		s.lost()
	}
	s.at = position{id: e.ID, seq: seq, epoch: f["e"]}
	switch f["op"] {
	case opInvalidate:
		v, err := strconv.ParseUint(f["v"], 10, 64)
		names, nerr := decodeStrings([]byte(f["n"]))
		if err != nil || nerr != nil {
			s.t.log.Warn("redis: undecodable invalidation event; L1 flushed", "stream", s.t.streamKey, "id", e.ID)
			s.lost()
			return
		}
		s.apply(v, names)
	case opFlush:
		v, err := strconv.ParseUint(f["v"], 10, 64)
		if err != nil {
			s.lost()
			return
		}
		s.apply(v, nil) // nil names: everything read before v
	default: // a newer release's event
		s.t.log.Warn("redis: unknown invalidation event; L1 flushed", "stream", s.t.streamKey, "id", e.ID, "op", f["op"])
		s.lost()
	}
}

// compareIDs compares two stream IDs, "ms-seq", as numbers.
func compareIDs(a, b string) int {
	am, as := splitID(a)
	bm, bs := splitID(b)
	if am != bm {
		return cmp.Compare(am, bm)
	}
	return cmp.Compare(as, bs)
}

func splitID(id string) (ms, seq uint64) {
	m, s, _ := strings.Cut(id, "-")
	ms, _ = strconv.ParseUint(m, 10, 64)
	seq, _ = strconv.ParseUint(s, 10, 64)
	return ms, seq
}
