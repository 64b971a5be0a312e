package writebehind

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Write is one write accepted by Enqueue, as FlushFunc receives it.
type Write struct {
	// Seq numbers writes in the order Enqueue accepted them: gapless and
	// increasing, from 1 in a new journal, continuing across restarts.
	Seq   uint64
	Key   string
	Value []byte
	// Time is when Enqueue accepted the write, read back from the journal
	// (so it has no monotonic clock reading).
	Time time.Time
}

// FlushFunc stores a batch of writes, typically in one database
// transaction, and returns nil only once they are durable there. Writes in a
// batch have distinct keys and increasing Seq. The queue calls it from one
// goroutine at a time.
//
// Delivery is at least once: a batch can be delivered again, whole or in
// part, after a failed call (even one that stored it) or a crash. So the
// function must be idempotent, and must not let an old write overwrite a
// newer one: e.g. an upsert keyed by Key that only replaces a row whose
// stored seq is lower than the write's Seq.
//
// The context is not cancelled by the queue; give the call its own timeout.
// The function must not modify batch or keep it after returning; it may
// keep the Key and Value of its writes.
type FlushFunc func(ctx context.Context, batch []Write) error

// Recorder receives the queue's measurements. Its methods are called from
// the flusher goroutine and must not block.
type Recorder interface {
	// Flushed is called after every FlushFunc call with the number of writes
	// in the batch and how long the call and the recording of its success
	// took; err is the call's error, or the error recording its success.
	Flushed(n int, d time.Duration, err error)
	// Lag is called after every flush attempt with what Pending returns.
	Lag(pending int, oldest time.Duration)
}

var (
	// ErrClosed is returned by methods called after Close.
	ErrClosed = errors.New("writebehind: queue closed")
	// ErrTooLarge is returned by Enqueue for a key longer than MaxKeySize
	// or a value longer than Options.MaxValueSize.
	ErrTooLarge = errors.New("writebehind: write too large")
	// ErrLocked is returned by Open when another Queue, in this process or
	// another, has the directory open.
	ErrLocked = errors.New("writebehind: journal directory in use")
	// ErrCorrupt is returned by Open when the journal is damaged in a way
	// that could lose acknowledged writes; the error names the file and
	// offset, and Open leaves the unflushed part of the journal as it was.
	// Damage found later, while reading writes back to flush them, stops
	// the flusher and is returned by Enqueue, Flush and Close.
	ErrCorrupt = errors.New("writebehind: journal damaged")
)

// Queue is a write-behind queue over a journal directory. Its methods are
// safe for concurrent use.
type Queue struct {
	opts  Options
	flush FlushFunc
	rec   Recorder
	hooks *testHooks
	lock  *os.File // flock'd LOCK file; closing it releases the directory
	dirf  *os.File // the directory, for syncs

	commitc       chan struct{} // records are buffered (capacity 1)
	wake          chan struct{} // new durable writes or a Flush (capacity 1)
	stopCommit    chan struct{} // closed by Close: commit what is buffered, stop
	committerDone chan struct{}
	drain         chan struct{} // closed by Close once the committer stopped
	flusherDone   chan struct{}

	// Owned by the committer goroutine.
	w           *os.File // the active segment, opened for append
	activeFirst uint64
	activeSize  int64
	newSegment  bool // w was created since its last sync: sync the directory

	// Owned by the flusher goroutine.
	ahead   []Write   // read from the journal, not yet flushed, in seq order
	readSeq uint64    // seq of the last record read
	rd      *os.File  // the segment being read
	rdFirst uint64    // its first seq
	sc      *scanner  // over rd
	segsBuf []segment // copy of segs for reading without the lock
	doneBuf []uint64  // segments to delete
	lastIdx map[string]int
	out     []Write
	timer   *time.Timer

	mu       sync.Mutex
	closed   bool
	err      error // sticky: the journal cannot be written or read
	closeErr error // the flush that failed while closing
	lastErr  error // the last flush attempt's error, nil after a success
	nextSeq  uint64
	buf      []byte        // records waiting for the committer
	spare    []byte        // the buffer before, to reuse
	group    *commitGroup  // the Enqueue calls waiting on buf
	durable  uint64        // every seq up to this one is synced to the journal
	flushed  uint64        // every seq up to this one is flushed and checkpointed
	want     uint64        // Flush waits for flushed to reach this: do not wait
	segs     []segment     // the journal's segments; the last is the active one
	commits  uint64        // fsyncs of the journal, for benchmarks
	progress chan struct{} // closed and replaced when flushed moves or err is set

	// Pending's oldest write: headTime is the time of write flushed+1 when
	// there is one. pendingSince is when the flusher last went from idle to
	// pending. afterSnap is the time of the first write committed since the
	// flusher last read the journal up to durable.
	headTime     time.Time
	pendingSince time.Time
	afterSnap    time.Time
}

// commitGroup is the Enqueue calls whose records one fsync makes durable.
type commitGroup struct {
	done        chan struct{} // closed once err is set
	first, last uint64
	firstTime   time.Time
	err         error
}

// testHooks let tests stop the queue at chosen points.
type testHooks struct {
	enqueued   func(seq uint64) // a write is buffered; Enqueue is about to wait
	beforeSync func()           // the committer is about to fsync a group
}

// maxSpareBuf is the largest commit buffer kept for reuse.
const maxSpareBuf = 4 << 20

// Open opens the journal in opts.Dir, creating it if needed, and starts the
// queue's committer and flusher goroutines; Close stops them.
//
// Open verifies every record not yet flushed. A torn write at the very end
// of the journal (from a crash during a write that was never acknowledged)
// is truncated away; any other damage makes Open fail with an error wrapping
// ErrCorrupt. Writes left unflushed by the previous Queue are handed to
// flush first, in order, before any new write and without waiting for
// FlushInterval; Open does not wait for them (call Flush to).
func Open(opts Options, flush FlushFunc) (*Queue, error) {
	return open(opts, flush, nil)
}

func open(opts Options, flush FlushFunc, hooks *testHooks) (_ *Queue, err error) {
	opts, err = opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if flush == nil {
		return nil, errors.New("writebehind: nil FlushFunc")
	}
	q := &Queue{
		opts:          opts,
		flush:         flush,
		rec:           opts.Recorder,
		hooks:         hooks,
		commitc:       make(chan struct{}, 1),
		wake:          make(chan struct{}, 1),
		stopCommit:    make(chan struct{}),
		committerDone: make(chan struct{}),
		drain:         make(chan struct{}),
		flusherDone:   make(chan struct{}),
		lastIdx:       make(map[string]int),
		progress:      make(chan struct{}),
		timer:         time.NewTimer(time.Hour),
	}
	q.timer.Stop()
	defer func() {
		if err == nil {
			return
		}
		for _, f := range []*os.File{q.w, q.rd, q.dirf, q.lock} {
			if f != nil {
				f.Close()
			}
		}
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrLocked) {
			err = fmt.Errorf("writebehind: open %s: %w", opts.Dir, err)
		}
	}()
	if err := mkdirDurable(opts.Dir); err != nil {
		return nil, err
	}
	if q.lock, err = lockDir(opts.Dir); err != nil {
		return nil, err
	}
	if q.dirf, err = os.Open(opts.Dir); err != nil {
		return nil, err
	}
	st, err := recoverJournal(opts.Dir)
	if err != nil {
		return nil, err
	}
	q.flushed = st.checkpoint
	q.durable = max(st.last, st.checkpoint)
	q.nextSeq = q.durable + 1
	q.readSeq = st.checkpoint

	if len(st.segs) > 0 && st.last >= st.checkpoint {
		// Append to the last segment, which ends at record st.last.
		active := st.segs[len(st.segs)-1]
		q.w, err = os.OpenFile(filepath.Join(opts.Dir, segmentName(active.first)), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return nil, err
		}
		q.activeFirst, q.activeSize = active.first, active.size
		q.segs = st.segs
	} else {
		// No journal, or it ends before the checkpoint: every record in it
		// is flushed. Start afresh at the next seq.
		if q.w, err = createSegment(opts.Dir, q.nextSeq); err != nil {
			return nil, err
		}
		if err := q.w.Sync(); err != nil {
			return nil, err
		}
		if err := q.dirf.Sync(); err != nil {
			return nil, err
		}
		for _, s := range st.segs {
			if err := os.Remove(filepath.Join(opts.Dir, segmentName(s.first))); err != nil {
				return nil, err
			}
		}
		q.activeFirst, q.activeSize = q.nextSeq, int64(segmentHeaderLen)
		q.segs = []segment{{first: q.activeFirst, size: q.activeSize}}
	}

	// The flusher starts reading at the first unflushed record.
	start := position{seg: q.activeFirst, off: q.activeSize}
	if q.durable > q.flushed {
		start = st.next
		q.headTime = st.nextTime
	}
	if q.rd, err = os.Open(filepath.Join(opts.Dir, segmentName(start.seg))); err != nil {
		return nil, err
	}
	q.rdFirst = start.seg
	q.sc = newScanner(q.rd, start.off, start.off)

	go q.runCommitter()
	go q.runFlusher(q.durable > q.flushed)
	return q, nil
}

// Enqueue appends a write to the journal and returns its seq once the write
// is durable there (fsynced). Concurrent calls share one fsync. The value is
// copied; the caller may reuse it.
//
// If ctx ends first, Enqueue returns an error wrapping ctx.Err(), and the
// write may or may not be delivered. Once the journal cannot be written
// (a failed write or fsync), every later Enqueue fails with that error: the
// queue must be closed and opened again.
func (q *Queue) Enqueue(ctx context.Context, key string, value []byte) (seq uint64, err error) {
	if len(key) > MaxKeySize || len(value) > q.opts.MaxValueSize {
		return 0, fmt.Errorf("%w: key of %d bytes (limit %d), value of %d bytes (limit %d)",
			ErrTooLarge, len(key), MaxKeySize, len(value), q.opts.MaxValueSize)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return 0, ErrClosed
	}
	if q.err != nil {
		err := q.err
		q.mu.Unlock()
		return 0, err
	}
	seq = q.nextSeq
	q.nextSeq++
	now := time.Now()
	q.buf = appendRecord(q.buf, seq, now.UnixNano(), key, value)
	g := q.group
	if g == nil {
		g = &commitGroup{done: make(chan struct{}), first: seq, firstTime: now}
		q.group = g
	}
	g.last = seq
	q.mu.Unlock()
	signal(q.commitc)
	if q.hooks != nil && q.hooks.enqueued != nil {
		q.hooks.enqueued(seq)
	}

	select {
	case <-g.done:
	case <-ctx.Done():
		select {
		case <-g.done:
		default:
			return 0, fmt.Errorf("writebehind: enqueue: write %d not yet durable: %w", seq, ctx.Err())
		}
	}
	if g.err != nil {
		return 0, g.err
	}
	return seq, nil
}

// Flush starts a flush of every write whose Enqueue has returned and waits
// until they are flushed, ctx ends, or the queue is closed. Flush does not
// cut short the wait after a failed flush: while flushes fail it waits for
// them to succeed, and when ctx ends it returns ctx's error together with
// the last flush error.
func (q *Queue) Flush(ctx context.Context) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	target := q.durable
	q.want = max(q.want, target)
	q.mu.Unlock()
	signal(q.wake)
	for {
		q.mu.Lock()
		flushed, progress := q.flushed, q.progress
		q.mu.Unlock()
		if flushed >= target {
			return nil
		}
		select {
		case <-progress:
		case <-q.flusherDone:
			// Closed, or the journal could not be read back.
			q.mu.Lock()
			flushed, err := q.flushed, q.err
			q.mu.Unlock()
			switch {
			case flushed >= target:
				return nil
			case err != nil:
				return err
			}
			return ErrClosed
		case <-ctx.Done():
			q.mu.Lock()
			last := q.lastErr
			q.mu.Unlock()
			if last != nil {
				return fmt.Errorf("writebehind: flush: %w (last flush attempt: %w)", ctx.Err(), last)
			}
			return fmt.Errorf("writebehind: flush: %w", ctx.Err())
		}
	}
}

// Pending returns how many acknowledged writes are not yet flushed, and how
// long the oldest of them has waited since Enqueue accepted it. The count is
// before coalescing. It is the queue's lag: it grows while flushes fail.
func (q *Queue) Pending() (n int, oldest time.Duration) {
	q.mu.Lock()
	pending, head := q.durable-q.flushed, q.headTime
	q.mu.Unlock()
	if pending == 0 {
		return 0, 0
	}
	return int(pending), max(time.Since(head), 0)
}

// Close stops accepting writes (Enqueue returns ErrClosed), waits for the
// Enqueue calls in progress, and then flushes what is pending: batch after
// batch while they succeed. A batch that fails (or a batch in its retry
// backoff when Close is called, after one more attempt) is not retried:
// Close stops, returns that error, and the writes stay in the journal, to
// be delivered after the next Open. So Close takes as long as the flushes it
// makes; bound it with a timeout inside FlushFunc. Close then releases the
// directory. Calling Close again returns ErrClosed.
func (q *Queue) Close() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	q.closed = true
	q.mu.Unlock()

	close(q.stopCommit)
	<-q.committerDone
	close(q.drain)
	<-q.flusherDone

	q.mu.Lock()
	err := q.err
	if err == nil {
		err = q.closeErr
	}
	q.mu.Unlock()
	var errs []error
	for _, f := range []*os.File{q.w, q.dirf, q.lock} {
		if cerr := f.Close(); cerr != nil {
			errs = append(errs, cerr)
		}
	}
	if err == nil && len(errs) > 0 {
		err = fmt.Errorf("writebehind: close: %w", errors.Join(errs...))
	}
	return err
}

// signal makes a non-blocking send on a channel of capacity 1.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
