package store

import (
	"runtime"
	"sync"
	"time"
)

// Purge work and requests.
//
// A purge's work — marking the matching entries, and reaping them after —
// is CPU work with no waits in it, and Go's scheduler does not preempt it
// for a request: a goroutine that the network made ready (a connection with
// a request to read) is looked for only when a P runs out of work, or else
// every 10 ms by sysmon. So while every P of the process is busy with purge
// work, a request that arrives waits, milliseconds, before it is even read.
// That is what a cache hit during a large purge paid, several stores (edge
// nodes in one process) purging at once, and reapers behind them.
//
// So purge work runs only with a slot of purgeSlots held: one fewer than
// GOMAXPROCS (at process start), at least one. However many stores purge at
// once, one P is left for requests. Work is done in short runs — a shard of
// the indexes for marking, a shard's claim of a tag purge or reapChunk
// entries for the reaper — each with a slot held, and a purge's marking
// goes before the reapers: it is what the purge waits for, while claiming
// and reaping entries that are already absent is background work.
var purgeSlots = newSlots(max(1, runtime.GOMAXPROCS(0)-1))

// slots is a counting semaphore with two priorities: a waiting urgent
// acquire is given the next free slot before any background one.
type slots struct {
	mu         sync.Mutex
	free       int
	urgent     []chan struct{} // waiters, oldest first
	background []chan struct{}
}

func newSlots(n int) *slots { return &slots{free: n} }

// acquire takes a slot, waiting for one; urgent work goes before
// background work that waits.
func (s *slots) acquire(urgent bool) {
	s.mu.Lock()
	if s.free > 0 && (urgent || len(s.urgent) == 0) {
		s.free--
		s.mu.Unlock()
		return
	}
	ch := make(chan struct{})
	if urgent {
		s.urgent = append(s.urgent, ch)
	} else {
		s.background = append(s.background, ch)
	}
	s.mu.Unlock()
	<-ch // the releaser handed its slot over
}

// release gives a slot back, or hands it to the next waiter.
func (s *slots) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	var q *[]chan struct{}
	switch {
	case len(s.urgent) > 0:
		q = &s.urgent
	case len(s.background) > 0:
		q = &s.background
	default:
		s.free++
		return
	}
	ch := (*q)[0]
	(*q)[0] = nil
	*q = (*q)[1:]
	close(ch)
}

// Reaping is paced, too. Removing a purged entry costs a few microseconds
// (cache misses in the indexes and the cache), so a purge of 100 000
// entries leaves about half a second of CPU work behind it; done flat out it
// takes a whole core from requests for that long, which on a small machine
// doubles hit latency while it lasts. Purged entries are already absent for
// Get and their bytes count against the store's bound, so nothing but
// memory that is bounded anyway waits for the reaper: it can go slowly. So
// after each chunk, the reapers of the process rest reapRest times as long
// as the chunk took — reaping uses about a quarter of one core however many
// stores reap — unless someone waits for them (CleanUp, Close). Varnish's
// ban lurker rests between batches for the same reason.
var reapPace = pacer{ratio: reapRest}

// reapRest is how many times as long as they worked the reapers rest.
const reapRest = 3

// pacer spreads background work over time: every run of work, whoever did
// it, pushes a shared resume time ratio times the run's length ahead.
type pacer struct {
	mu    sync.Mutex
	next  time.Time // when background work may resume
	ratio float64
}

// rest records a run of work of length worked that ended at now and
// returns how long its worker should rest before the next run.
func (p *pacer) rest(now time.Time, worked time.Duration) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next.Before(now) {
		p.next = now
	}
	p.next = p.next.Add(time.Duration(float64(worked) * p.ratio))
	return p.next.Sub(now)
}
