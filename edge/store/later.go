package store

import (
	"maps"
	"slices"
	"sync/atomic"
)

// Tag purges left to the reaper.
//
// A purge by tag can match a large share of the store: marking each entry
// it matches costs a cache miss or two per entry, about 16 ms of one core
// for 100 000 entries on a small VM, and every edge node marks its share
// at the same moment, the moment it receives the purge. On a small machine
// that burst is what hits wait behind.
//
// PurgeLater makes a tag purge take effect without visiting the entries,
// as Varnish's bans do: in each shard that holds many entries of the tag
// (more than claimAtOnce; fewer it marks at once), it records the shard's
// current addition number (seq) as the tag's pending purge. Every
// entry of that shard added before it carries the tag and a smaller seq,
// and Get treats such an entry as purged. The reaper later claims the
// entries — marks each purged, counts it, and queues it for removal — one
// shard at a time, paced like its removals, and then drops the pending
// purge. Lookups pay for this only while a claim is outstanding (Memory's
// lazy count is not zero), and then one map lookup per tag of the entry
// found.
//
// Counting. A purge counts the responses it removes, as Purge does: every
// response that carries the tag and is stored, and not purged, when the
// purge takes effect. Its claims count those they mark; a covered entry
// that leaves the store before its claim (replaced, deleted, evicted,
// expired) is counted by the purge as it leaves (credit). Where several
// pending purges cover an entry, the oldest counts it: claims run in the
// order of their purges, and eager purges leave covered entries to them.
// So no response is counted twice, and none is missed.

// claim is a tag purge's work in one shard.
type claim struct {
	job   *laterJob
	shard *shard
	tag   string
	seq   uint64 // entries of the shard added before this are covered
}

// laterJob is one PurgeLater call: its claims, and whom to tell the count.
type laterJob struct {
	order   uint64       // PurgeLater calls are numbered: claims run in this order
	left    atomic.Int32 // claims not made yet
	n       atomic.Int64 // responses counted so far
	counted func(n int)
}

// PurgeLater purges the entries sel matches, as Purge does, and calls
// counted with the number of responses it removed. For a tag selector it
// returns as soon as the purge is in effect — from then on Get finds none
// of the entries it matches — leaving the marking and counting to the
// reaper, which calls counted from its goroutine; other selectors are
// purged as by Purge, and counted is called before PurgeLater returns.
// counted must not wait for the store's reaper (CleanUp, Close, a purge of
// everything).
func (m *Memory) PurgeLater(sel Selector, counted func(n int)) {
	if sel.Kind != KindTag {
		counted(m.Purge(sel))
		return
	}
	job := &laterJob{counted: counted}
	// Purge work, if only on small sets: with a slot, taken before reapMu
	// as the reaper does.
	purgeSlots.acquire(true)
	// Under reapMu, so that the claims of every shard are queued in the
	// order their purges were recorded in it.
	m.reapMu.Lock()
	m.laterJobs++
	job.order = m.laterJobs
	var claims []*claim
	now := 0 // responses claimed at once
	// The lazy count rises before any shard records a pending purge, so
	// that a Get that could see the record looks for it.
	m.lazy.Add(1)
	for i := range m.idx.shards {
		s := &m.idx.shards[i]
		s.mu.Lock()
		switch set := s.tags[sel.Value]; {
		case set == nil:
		case set.len() <= claimAtOnce:
			// Cheaper to claim than to record: a burst of small tag
			// purges leaves nothing pending. Entries an older pending
			// purge covers are its own.
			es, n := m.mark(set.each, s.seq, s)
			now += n
			if len(es) > 0 {
				m.reapQ = append(m.reapQ, es)
			}
		default:
			c := &claim{job: job, shard: s, tag: sel.Value, seq: s.seq}
			s.addPending(c)
			claims = append(claims, c)
			m.lazy.Add(1)
		}
		s.mu.Unlock()
	}
	m.lazy.Add(-1)
	// Added, not stored: an entry a claim recorded above covers may have
	// left since, and been counted (credit).
	job.n.Add(int64(now))
	if len(claims) > 0 {
		job.left.Store(int32(len(claims)))
		m.claimQ = append(m.claimQ, claims...)
	}
	if len(claims) > 0 || len(m.reapQ) > 0 {
		m.startReaper()
	}
	m.reapMu.Unlock()
	purgeSlots.release()
	if len(claims) == 0 {
		counted(now)
	}
}

// claimAtOnce is the most entries of a tag in one shard that PurgeLater
// marks itself rather than leave to the reaper: at most about 10 µs of
// work per shard.
var claimAtOnce = 64 // a variable for tests

// mark marks purged the entries each visits that were added before seq
// and are not marked yet, counts them in m.purged, and returns them and
// how many responses are among them. With older, the entries' shard, it
// leaves alone the entries a pending purge covers (eager purges and
// PurgeLater's marking at once; when the reaper makes a claim, the claims
// of older purges have all run). each visits the entries of one shard
// under its lock.
func (m *Memory) mark(each func(func(*Entry)), seq uint64, older *shard) (es []*Entry, n int) {
	each(func(e *Entry) {
		if e.meta.seq < seq && (older == nil || !older.pendingPurge(e)) && e.meta.purged.CompareAndSwap(false, true) {
			es = append(es, e)
			if !e.IsVaryMarker() {
				n++
			}
		}
	})
	m.purged.Add(int64(n))
	return es, n
}

// claimNow makes claim c: it marks the entries c covers purged, queues them
// for removal, drops c's pending purge, and adds to c's job's count. It
// reports whether c was the job's last claim: then the caller reports the
// count (job.report), with no purge slot held.
func (m *Memory) claimNow(c *claim) (last bool) {
	s := c.shard
	var es []*Entry
	n := 0
	s.mu.Lock()
	if set := s.tags[c.tag]; set != nil {
		es, n = m.mark(set.each, c.seq, nil)
	}
	s.dropPending(c)
	s.mu.Unlock()
	m.lazy.Add(-1)
	if len(es) > 0 {
		m.reapMu.Lock()
		m.reapQ = append(m.reapQ, es)
		m.reapMu.Unlock()
	}
	c.job.n.Add(int64(n))
	return c.job.left.Add(-1) == 0
}

// report tells j's caller its count, once its last claim is made.
func (j *laterJob) report() { j.counted(int(j.n.Load())) }

// pendingPurge reports whether a tag purge left to the reaper covers e,
// an entry of s.
func (s *shard) pendingPurge(e *Entry) bool {
	p := s.pending.Load()
	if p == nil {
		return false
	}
	for _, t := range e.Tags {
		// The last claim of a tag covers the most.
		if cs := (*p)[t]; len(cs) > 0 && e.meta.seq < cs[len(cs)-1].seq {
			return true
		}
	}
	return false
}

// credit counts e, which is leaving the store, for the oldest pending
// purge that covers it, if any, marks it purged so that nothing counts it
// again, and reports whether it did; the caller holds s.mu.
func (s *shard) credit(e *Entry) bool {
	p := s.pending.Load()
	if p == nil || e.meta.purged.Load() {
		return false
	}
	var oldest *claim
	for _, t := range e.Tags {
		for _, c := range (*p)[t] {
			if e.meta.seq < c.seq {
				if oldest == nil || c.job.order < oldest.job.order {
					oldest = c
				}
				break // the tag's later claims are newer
			}
		}
	}
	if oldest == nil {
		return false
	}
	e.meta.purged.Store(true)
	if !e.IsVaryMarker() {
		oldest.job.n.Add(1)
	}
	return true
}

// addPending records claim c as pending in s; the caller holds s.mu.
func (s *shard) addPending(c *claim) {
	next := map[string][]*claim{}
	if p := s.pending.Load(); p != nil {
		maps.Copy(next, *p)
	}
	next[c.tag] = append(slices.Clip(next[c.tag]), c)
	s.pending.Store(&next)
}

// dropPending removes claim c from the pending ones of s; the caller holds
// s.mu.
func (s *shard) dropPending(c *claim) {
	p := s.pending.Load()
	if p == nil {
		return
	}
	cs := slices.DeleteFunc(slices.Clone((*p)[c.tag]), func(x *claim) bool { return x == c })
	next := maps.Clone(*p)
	if len(cs) == 0 {
		delete(next, c.tag)
	} else {
		next[c.tag] = cs
	}
	if len(next) == 0 {
		s.pending.Store(nil)
		return
	}
	s.pending.Store(&next)
}
