package writebehind

import (
	"fmt"
	"time"
)

// runCommitter writes buffered records to the journal, one write and one
// fsync for everything buffered since the last (group commit), and wakes the
// Enqueue calls waiting on them. It stops when Close asks, after committing
// what is buffered, so no seq handed out is left unwritten.
func (q *Queue) runCommitter() {
	defer close(q.committerDone)
	for {
		stopping := false
		select {
		case <-q.commitc:
		case <-q.stopCommit:
			stopping = true
		}
		for q.commitOnce() {
		}
		if stopping {
			return
		}
	}
}

// commitOnce commits the buffered records, if any, and reports whether there
// were any.
func (q *Queue) commitOnce() bool {
	q.mu.Lock()
	buf, g, err := q.buf, q.group, q.err
	if g == nil {
		q.mu.Unlock()
		return false
	}
	q.buf, q.spare, q.group = q.spare[:0], nil, nil
	q.mu.Unlock()

	if err == nil {
		if err = q.appendJournal(buf, g.first); err != nil {
			err = fmt.Errorf("writebehind: journal write: %w", err)
		}
	}

	q.mu.Lock()
	if err != nil {
		if q.err == nil {
			q.err = err
		}
		g.err = q.err
	} else {
		if n := len(q.segs); q.segs[n-1].first != q.activeFirst {
			q.segs = append(q.segs, segment{first: q.activeFirst})
		}
		q.segs[len(q.segs)-1].size = q.activeSize
		if q.durable == q.flushed {
			q.pendingSince = time.Now()
			q.headTime = g.firstTime
		}
		if q.afterSnap.IsZero() {
			q.afterSnap = g.firstTime
		}
		q.durable = g.last
		q.commits++
	}
	if cap(buf) <= maxSpareBuf {
		q.spare = buf
	}
	q.mu.Unlock()
	close(g.done)
	if err == nil {
		signal(q.wake)
	}
	return true
}

// appendJournal writes buf, whose first record has seq first, to the active
// segment, starting a new segment first if the active one would outgrow
// SegmentSize, and syncs it.
func (q *Queue) appendJournal(buf []byte, first uint64) error {
	if q.activeSize > int64(segmentHeaderLen) && q.activeSize+int64(len(buf)) > q.opts.SegmentSize {
		// The active segment was synced with its last commit.
		f, err := createSegment(q.dirf.Name(), first)
		if err != nil {
			return err
		}
		old := q.w
		q.w, q.activeFirst, q.activeSize, q.newSegment = f, first, int64(segmentHeaderLen), true
		if err := old.Close(); err != nil {
			return err
		}
	}
	if _, err := q.w.Write(buf); err != nil {
		return err
	}
	if q.hooks != nil && q.hooks.beforeSync != nil {
		q.hooks.beforeSync()
	}
	if err := q.w.Sync(); err != nil {
		return err
	}
	if q.newSegment {
		if err := q.dirf.Sync(); err != nil {
			return err
		}
		q.newSegment = false
	}
	q.activeSize += int64(len(buf))
	return nil
}
