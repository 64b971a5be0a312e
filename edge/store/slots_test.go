package store

import (
	"testing"
	"time"
)

// A released slot goes to waiting urgent work before waiting background
// work, and to background work in the order it came.
func TestSlotsUrgentFirst(t *testing.T) {
	s := newSlots(1)
	s.acquire(false)
	got := make(chan string, 3)
	waitQueued := func(urgent, background int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; {
			s.mu.Lock()
			u, b := len(s.urgent), len(s.background)
			s.mu.Unlock()
			if u == urgent && b == background {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("waiters: %d urgent, %d background; want %d, %d", u, b, urgent, background)
			}
			time.Sleep(time.Millisecond)
		}
	}
	for i, name := range []string{"background 1", "background 2"} {
		go func() { s.acquire(false); got <- name; s.release() }()
		waitQueued(0, i+1)
	}
	go func() { s.acquire(true); got <- "urgent"; s.release() }()
	waitQueued(1, 2)
	s.release()
	for _, want := range []string{"urgent", "background 1", "background 2"} {
		if g := <-got; g != want {
			t.Fatalf("got %q, want %q", g, want)
		}
	}
	// All released: the slot is free again, for either kind.
	s.acquire(false)
	s.release()
	s.acquire(true)
	s.release()
	if s.free != 1 {
		t.Fatalf("free = %d, want 1", s.free)
	}
}

// Rests accumulate across workers: runs of work done by anyone push the
// shared resume time ahead, so several reapers together stay within the
// pace one would keep; and a pause longer than the debt clears it.
func TestPacerShared(t *testing.T) {
	p := pacer{ratio: 3}
	t0 := time.Unix(1000, 0)
	if got := p.rest(t0, time.Millisecond); got != 3*time.Millisecond {
		t.Fatalf("first rest = %v, want 3ms", got)
	}
	// A second worker finishing 1ms later with 1ms of work rests until
	// 3ms + 3ms after t0.
	if got := p.rest(t0.Add(time.Millisecond), time.Millisecond); got != 5*time.Millisecond {
		t.Fatalf("second rest = %v, want 5ms", got)
	}
	// Long after, the debt is gone.
	if got := p.rest(t0.Add(time.Second), 2*time.Millisecond); got != 6*time.Millisecond {
		t.Fatalf("rest after idle = %v, want 6ms", got)
	}
}
