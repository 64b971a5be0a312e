package store

import (
	"runtime"
	"sync"
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
// the indexes for marking, reapChunk entries for the reaper — each with a
// slot held, and a purge's marking goes before the reapers: it is what the
// purge waits for, while reaping entries that are already absent is
// background work.
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
