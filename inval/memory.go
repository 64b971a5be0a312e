package inval

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Memory is an in-process Bus. Create it with NewMemory and Close it.
type Memory struct {
	mu      sync.Mutex
	log     []Event // events with Seq > base
	base    uint64  // sequence of the last event trimmed from log
	seq     uint64
	subs    map[string]*memSub
	changed chan struct{} // closed and replaced on every publish and ack
	closed  bool
	wg      sync.WaitGroup
	logger  *slog.Logger
	// MaxBackoff caps the delay before a failed event is retried.
	maxBackoff time.Duration
}

type memSub struct {
	name    string
	h       Handler
	acked   uint64
	started time.Time
}

var (
	_ Bus          = (*Memory)(nil)
	_ NodeReporter = (*Memory)(nil)
	_ LossNotifier = (*Memory)(nil)
)

// NewMemory returns an empty bus. logger receives handler errors (nil means
// slog.Default()).
func NewMemory(logger *slog.Logger) *Memory {
	if logger == nil {
		logger = slog.Default()
	}
	return &Memory{subs: map[string]*memSub{}, changed: make(chan struct{}), logger: logger, maxBackoff: 5 * time.Second}
}

// notify wakes everything waiting on m.changed; m.mu must be held.
func (m *Memory) notify() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// Publish implements Bus.
func (m *Memory) Publish(_ context.Context, ev Event) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, ErrClosed
	}
	m.seq++
	ev.Seq = m.seq
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	m.log = append(m.log, ev)
	m.trim()
	m.notify()
	return ev.Seq, nil
}

// trim drops events every subscriber has handled; m.mu must be held.
func (m *Memory) trim() {
	low := m.seq
	for _, s := range m.subs {
		low = min(low, s.acked)
	}
	if n := int(low - m.base); n > 0 {
		m.log = append(m.log[:0:0], m.log[n:]...)
		m.base = low
	}
}

// Subscribe implements Bus. The subscriber receives events published after
// this call.
func (m *Memory) Subscribe(name string, h Handler) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if _, ok := m.subs[name]; ok {
		return fmt.Errorf("%w: %q", ErrDuplicateName, name)
	}
	s := &memSub{name: name, h: h, acked: m.seq, started: time.Now()}
	m.subs[name] = s
	m.wg.Add(1)
	go m.deliver(s)
	return nil
}

// SubscribeWithLost implements LossNotifier. Memory never loses events, so
// lost is never called.
func (m *Memory) SubscribeWithLost(name string, h Handler, _ LostFunc) error {
	return m.Subscribe(name, h)
}

// Nodes implements NodeReporter: every subscriber, always live (it runs in
// this process), with the current time as its heartbeat.
func (m *Memory) Nodes(context.Context) ([]NodeStatus, error) {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]NodeStatus, 0, len(m.subs))
	for _, s := range m.subs {
		out = append(out, NodeStatus{Name: s.name, Applied: s.acked, Heartbeat: now, Started: s.started, Live: true, Lag: m.seq - s.acked})
	}
	slices.SortFunc(out, func(a, b NodeStatus) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// deliver runs one subscriber until the bus closes.
func (m *Memory) deliver(s *memSub) {
	defer m.wg.Done()
	backoff := 10 * time.Millisecond
	for {
		m.mu.Lock()
		for !m.closed && s.acked == m.seq {
			ch := m.changed
			m.mu.Unlock()
			<-ch
			m.mu.Lock()
		}
		if m.closed {
			m.mu.Unlock()
			return
		}
		ev := m.log[s.acked-m.base]
		ch := m.changed
		m.mu.Unlock()

		if err := s.h(context.Background(), ev); err != nil {
			m.logger.Warn("inval: handler failed; will retry", "subscriber", s.name, "seq", ev.Seq, "err", err)
			t := time.NewTimer(backoff)
			backoff = min(2*backoff, m.maxBackoff)
			for waiting := true; waiting; {
				select {
				case <-t.C:
					waiting = false
				case <-ch: // woken by a publish or close: re-check closed
					m.mu.Lock()
					closed := m.closed
					ch = m.changed
					m.mu.Unlock()
					if closed {
						t.Stop()
						return
					}
				}
			}
			continue
		}
		backoff = 10 * time.Millisecond
		m.mu.Lock()
		s.acked = ev.Seq
		m.trim()
		m.notify()
		m.mu.Unlock()
	}
}

// Acked implements Bus.
func (m *Memory) Acked(seq uint64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ackedLocked(seq)
}

func (m *Memory) ackedLocked(seq uint64) bool {
	for _, s := range m.subs {
		if s.acked < seq {
			return false
		}
	}
	return true
}

// WaitAcked implements Bus.
func (m *Memory) WaitAcked(ctx context.Context, seq uint64) error {
	for {
		m.mu.Lock()
		if m.ackedLocked(seq) {
			m.mu.Unlock()
			return nil
		}
		if m.closed {
			m.mu.Unlock()
			return ErrClosed
		}
		ch := m.changed
		m.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close stops delivery and waits for the subscriber goroutines to return.
func (m *Memory) Close() error {
	m.mu.Lock()
	if !m.closed {
		m.closed = true
		m.notify()
	}
	m.mu.Unlock()
	m.wg.Wait()
	return nil
}
