package load

import (
	"fmt"
	"sort"
	"sync"
	"time"
)

// commit is one acknowledged update of a product.
type commit struct {
	version int64
	// maxVersion is the highest version among this commit and the ones
	// acknowledged before it for the same product.
	maxVersion int64
	sent       time.Time // when the PUT was sent
	acked      time.Time // when the PUT returned: the commit is acknowledged
	// dataVersion is the outbox sequence of the write (X-Data-Version), 0
	// when the response did not say.
	dataVersion uint64
	// completedByPut: the PUT answered "X-Invalidation: completed", so the
	// invalidation completed at the latest at acked.
	completedByPut bool
	// createTime and completeTime are the invalidation record's, zero
	// until a Completed record covering dataVersion is seen.
	createTime, completeTime time.Time
}

// completion reports when c's invalidation completed, at the latest, and
// whether that is known: the earlier of the record's completion and, when
// the PUT answered "completed", its return (a record's CompleteTime may be
// later than the PUT's promise: it is when a tracker first saw it, and the
// record may be of a later batch than the write's).
func (c *commit) completion() (time.Time, bool) {
	switch {
	case c.completedByPut && (c.completeTime.IsZero() || c.acked.Before(c.completeTime)):
		return c.acked, true
	case !c.completeTime.IsZero():
		return c.completeTime, true
	}
	return time.Time{}, false
}

// staleRead is a stale read whose class was not known when it was checked.
type staleRead struct {
	id      int64
	start   time.Time
	version int64
}

// staleness classes of a read.
type verdict int

const (
	fresh verdict = iota
	staleAfter
	staleBefore
	staleUnknown // a newer commit's invalidation has not been seen complete yet
)

// maxDeferred bounds the stale reads kept for classification at the end;
// past it, unclassified stale reads count as stale before completion.
const maxDeferred = 100_000

// maxExamples bounds the stale reads described in the report.
const maxExamples = 5

// checker keeps every acknowledged commit per product and classifies reads.
// It is safe for concurrent use.
type checker struct {
	mu      sync.RWMutex
	commits map[int64][]*commit // per product, in acknowledgement order
	// pending are commits with a data version whose invalidation record
	// has not been seen, by data version.
	pending map[uint64]*commit
	now     func() time.Time

	smu         sync.Mutex
	staleAfter  int64
	staleBefore int64
	overflow    int64 // stale reads past maxDeferred, counted before
	deferred    []staleRead
	examples    []string
	exampled    map[[2]int64]bool // (product, newer version) already described
	begin       time.Time
}

func newChecker(now func() time.Time) *checker {
	return &checker{commits: map[int64][]*commit{}, pending: map[uint64]*commit{}, now: now, begin: now()}
}

// commitAcked records a commit of product id at version. Its acknowledgement
// time is taken under the lock, so each product's commits are in
// acknowledgement order, and a read that started after it started after the
// PUT returned.
func (k *checker) commitAcked(id, version int64, sent time.Time, dataVersion uint64, completed bool) *commit {
	k.mu.Lock()
	defer k.mu.Unlock()
	c := &commit{version: version, maxVersion: version, sent: sent, acked: k.now(),
		dataVersion: dataVersion, completedByPut: completed}
	cs := k.commits[id]
	if n := len(cs); n > 0 {
		c.maxVersion = max(c.maxVersion, cs[n-1].maxVersion)
	}
	k.commits[id] = append(cs, c)
	if dataVersion > 0 {
		k.pending[dataVersion] = c
	}
	return c
}

// invalidationRecord is what the checker needs of an admin invalidation.
type invalidationRecord struct {
	from, to                 uint64 // data versions covered, inclusive
	createTime, completeTime time.Time
}

// recordsSeen applies Completed invalidation records to the commits whose
// data versions they cover, and returns how many commits they resolved.
func (k *checker) recordsSeen(recs []invalidationRecord) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := 0
	for _, r := range recs {
		if len(k.pending) == 0 {
			break
		}
		if r.to < r.from || r.completeTime.IsZero() {
			continue
		}
		apply := func(dv uint64, c *commit) {
			c.createTime, c.completeTime = r.createTime, r.completeTime
			delete(k.pending, dv)
			n++
		}
		if r.to-r.from < uint64(len(k.pending)) {
			for dv := r.from; ; dv++ {
				if c, ok := k.pending[dv]; ok {
					apply(dv, c)
				}
				if dv == r.to {
					break
				}
			}
			continue
		}
		for dv, c := range k.pending {
			if dv >= r.from && dv <= r.to {
				apply(dv, c)
			}
		}
	}
	return n
}

// pendingCount is the number of commits still waiting for their record.
func (k *checker) pendingCount() int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.pending)
}

// classify decides a read of product id that started at start and returned
// version. Callers hold k.mu for reading.
func (k *checker) classify(id int64, start time.Time, version int64) (verdict, *commit) {
	cs := k.commits[id]
	// n commits were acknowledged strictly before the read started.
	n := sort.Search(len(cs), func(i int) bool { return !cs[i].acked.Before(start) })
	if n == 0 || version >= cs[n-1].maxVersion {
		return fresh, nil
	}
	v := staleBefore
	var newest *commit
	for _, c := range cs[:n] {
		if c.version <= version {
			continue
		}
		if newest == nil || c.version > newest.version {
			newest = c
		}
		done, known := c.completion()
		switch {
		case known && done.Before(start):
			return staleAfter, c
		case !known:
			v = staleUnknown
		}
	}
	return v, newest
}

// read checks one read of product id that started at start and returned
// version.
func (k *checker) read(id int64, start time.Time, version int64) { k.readVia(id, start, version, "") }

// readVia is read with a description of where the response came from,
// which stale-read examples show.
func (k *checker) readVia(id int64, start time.Time, version int64, via string) {
	k.mu.RLock()
	v, c := k.classify(id, start, version)
	k.mu.RUnlock()
	if v == fresh {
		return
	}
	k.smu.Lock()
	defer k.smu.Unlock()
	switch v {
	case staleAfter:
		k.staleAfter++
		k.example(id, start, version, c, "after", via)
	case staleBefore:
		k.staleBefore++
		k.example(id, start, version, c, "before", via)
	case staleUnknown:
		if len(k.deferred) < maxDeferred {
			k.deferred = append(k.deferred, staleRead{id, start, version})
			return
		}
		k.overflow++
		k.staleBefore++
		k.example(id, start, version, c, "before", via)
	}
}

// example describes a stale read, for the first few. Callers hold k.smu.
func (k *checker) example(id int64, start time.Time, version int64, c *commit, class, via string) {
	if len(k.examples) >= maxExamples || c == nil || k.exampled[[2]int64{id, c.version}] {
		return
	}
	if k.exampled == nil {
		k.exampled = map[[2]int64]bool{}
	}
	k.exampled[[2]int64{id, c.version}] = true
	at := func(t time.Time) string { return fmt.Sprintf("+%.6fs", t.Sub(k.begin).Seconds()) }
	done := "not seen complete"
	if t, ok := c.completion(); ok {
		done = "complete by " + at(t)
	}
	k.examples = append(k.examples, fmt.Sprintf(
		"product %d: read started %s returned v%d; v%d acknowledged %s, invalidation %s (stale %s completion)",
		id, at(start), version, c.version, at(c.acked), done, class))
	if via != "" {
		k.examples[len(k.examples)-1] += "; " + via
	}
}

// finish classifies the stale reads deferred until invalidation records
// were seen; those still unknown count as stale before completion.
func (k *checker) finish() (after, before, overflow int64, examples []string) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	k.smu.Lock()
	defer k.smu.Unlock()
	for _, r := range k.deferred {
		v, c := k.classify(r.id, r.start, r.version)
		switch v {
		case staleAfter:
			k.staleAfter++
			k.example(r.id, r.start, r.version, c, "after", "")
		case staleBefore, staleUnknown:
			k.staleBefore++
			k.example(r.id, r.start, r.version, c, "before", "")
		}
	}
	k.deferred = nil
	return k.staleAfter, k.staleBefore, k.overflow, append([]string(nil), k.examples...)
}

// invalidationLatencies returns, for every commit, commit-to-completion
// latency from its invalidation record, or else, when the PUT waited for
// completion, the PUT's round trip (an upper bound); with how many of each.
func (k *checker) invalidationLatencies() (h *histogram, fromRecords, fromPuts, unknown int) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	h = &histogram{}
	for _, cs := range k.commits {
		for _, c := range cs {
			switch {
			case !c.completeTime.IsZero() && !c.createTime.IsZero():
				h.record(c.completeTime.Sub(c.createTime))
				fromRecords++
			case c.completedByPut:
				h.record(c.acked.Sub(c.sent))
				fromPuts++
			default:
				unknown++
			}
		}
	}
	return h, fromRecords, fromPuts, unknown
}
