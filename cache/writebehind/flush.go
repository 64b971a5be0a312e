package writebehind

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// runFlusher hands batches of durable writes, read back from the journal, to
// the FlushFunc, in seq order, and records each success in the checkpoint.
// When Close drains it, it flushes what is pending without retrying and
// stops.
//
// immediate says to flush without waiting for FlushInterval: at the start,
// when there are writes to replay, and after a batch, for the writes that
// came during it.
func (q *Queue) runFlusher(immediate bool) {
	defer close(q.flusherDone)
	defer func() { q.rd.Close() }()
	for {
		q.mu.Lock()
		pending := q.durable - q.flushed
		asked := q.want > q.flushed
		since := q.pendingSince
		q.mu.Unlock()
		draining := isClosed(q.drain)
		if pending == 0 {
			if draining {
				return
			}
			immediate = false
			select {
			case <-q.wake:
			case <-q.drain:
			}
			continue
		}
		if !immediate && !draining && !asked && pending < uint64(q.opts.BatchSize) {
			if d := q.opts.FlushInterval - time.Since(since); d > 0 {
				q.timer.Reset(d)
				select {
				case <-q.wake:
				case <-q.drain:
				case <-q.timer.C:
				}
				q.timer.Stop()
				continue
			}
		}
		if q.flushBatch(draining) {
			return
		}
		immediate = true
	}
}

// flushBatch flushes the next batch, retrying with backoff until it
// succeeds, and reports whether the flusher must stop: the journal could not
// be read, or a flush failed while draining.
func (q *Queue) flushBatch(draining bool) (stop bool) {
	if err := q.fill(); err != nil {
		q.mu.Lock()
		if q.err == nil {
			q.err = err
		}
		close(q.progress)
		q.progress = make(chan struct{})
		q.mu.Unlock()
		return true
	}
	n := min(len(q.ahead), q.opts.BatchSize)
	batch := q.ahead[:n]
	last := batch[n-1].Seq
	out := q.coalesce(batch)
	backoff := q.opts.RetryBackoff
	for {
		start := time.Now()
		err := q.flush(context.Background(), out)
		if err == nil {
			if err = writeCheckpoint(q.dirf, last); err != nil {
				err = fmt.Errorf("writebehind: checkpoint: %w", err)
			}
		}
		q.rec.Flushed(len(out), time.Since(start), err)
		if err == nil {
			break
		}
		q.mu.Lock()
		q.lastErr = err
		left := q.durable - q.flushed
		if draining {
			q.closeErr = fmt.Errorf("writebehind: close: %d writes left in the journal for the next Open: %w", left, err)
		}
		q.mu.Unlock()
		q.rec.Lag(q.Pending())
		if draining {
			return true
		}
		q.timer.Reset(backoff)
		select {
		case <-q.timer.C:
		case <-q.drain:
			draining = true // one more attempt, then stop
		}
		q.timer.Stop()
		backoff = min(2*backoff, maxRetryFactor*q.opts.RetryBackoff)
	}
	clear(q.out)
	q.ahead = slices.Delete(q.ahead, 0, n)

	// A segment followed by one that starts at or before last+1 holds only
	// flushed writes: delete it. (The committer only appends to q.segs.)
	q.mu.Lock()
	q.doneBuf = q.doneBuf[:0]
	for len(q.doneBuf)+1 < len(q.segs) && q.segs[len(q.doneBuf)+1].first <= last+1 {
		q.doneBuf = append(q.doneBuf, q.segs[len(q.doneBuf)].first)
	}
	q.mu.Unlock()
	for _, first := range q.doneBuf {
		// A segment that cannot be removed now is removed by the next Open.
		_ = os.Remove(filepath.Join(q.dirf.Name(), segmentName(first)))
	}

	q.mu.Lock()
	q.segs = q.segs[len(q.doneBuf):]
	q.flushed = last
	q.lastErr = nil
	switch {
	case len(q.ahead) > 0:
		q.headTime = q.ahead[0].Time
	case q.durable > last:
		// Everything read was flushed, so write last+1 was committed after
		// the journal was last read.
		q.headTime = q.afterSnap
	}
	close(q.progress)
	q.progress = make(chan struct{})
	q.mu.Unlock()
	q.rec.Lag(q.Pending())
	return false
}

// fill reads durable records from the journal into q.ahead until it holds
// one more than a batch (so the time of the write after the batch is known)
// or every durable record is read.
func (q *Queue) fill() error {
	if len(q.ahead) > q.opts.BatchSize {
		return nil
	}
	q.mu.Lock()
	limit := q.durable
	q.segsBuf = append(q.segsBuf[:0], q.segs...)
	q.afterSnap = time.Time{}
	q.mu.Unlock()
	for q.readSeq < limit && len(q.ahead) <= q.opts.BatchSize {
		want := q.readSeq + 1
		i, _ := slices.BinarySearchFunc(q.segsBuf, want+1, func(s segment, seq uint64) int { return cmpUint(s.first, seq) })
		if i == 0 {
			return fmt.Errorf("%w: no segment holds record %d", ErrCorrupt, want)
		}
		seg := q.segsBuf[i-1] // the last segment starting at or before want
		if seg.first != q.rdFirst {
			f, err := os.Open(filepath.Join(q.dirf.Name(), segmentName(seg.first)))
			if err != nil {
				return fmt.Errorf("writebehind: journal read: %w", err)
			}
			q.rd.Close()
			q.rd, q.rdFirst = f, seg.first
			q.sc.reset(f, int64(segmentHeaderLen), seg.size)
		}
		q.sc.end = seg.size
		off := q.sc.off
		r, err := q.sc.next()
		if err == nil && r.seq > want {
			err = fmt.Errorf("record has seq %d, want %d", r.seq, want)
		}
		if err != nil {
			return fmt.Errorf("%w: %s at offset %d, reading record %d: %v", ErrCorrupt, segmentName(seg.first), off, want, err)
		}
		if r.seq < want {
			continue // flushed before; only at the start of a segment
		}
		q.ahead = append(q.ahead, Write{
			Seq:   r.seq,
			Key:   string(r.key),
			Value: bytes.Clone(r.value),
			Time:  time.Unix(0, r.time),
		})
		q.readSeq = r.seq
	}
	return nil
}

// coalesce returns the writes of batch that are the last to their key, in
// seq order.
func (q *Queue) coalesce(batch []Write) []Write {
	if len(batch) < 2 {
		return batch
	}
	clear(q.lastIdx)
	for i, w := range batch {
		q.lastIdx[w.Key] = i
	}
	if len(q.lastIdx) == len(batch) {
		return batch
	}
	out := q.out[:0]
	for i, w := range batch {
		if q.lastIdx[w.Key] == i {
			out = append(out, w)
		}
	}
	q.out = out
	return out
}
