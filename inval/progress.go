package inval

import (
	"context"
	"sync"
)

// Progress follows what one subscriber has applied: the newest data
// version (Event.Version) and the bus sequence it came in. A writer uses it
// to wait until its own change has reached this process, and then
// Bus.WaitAcked(seq) for every other one. The zero value is ready to use.
type Progress struct {
	mu      sync.Mutex
	version uint64
	seq     uint64
	changed chan struct{} // closed and replaced on each advance
}

// Applied records that ev was applied. Call it after the handler has
// applied ev; events with no data version are ignored.
func (p *Progress) Applied(ev Event) {
	if ev.Version == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if ev.Version <= p.version {
		return
	}
	p.version, p.seq = ev.Version, ev.Seq
	if p.changed != nil {
		close(p.changed)
		p.changed = nil
	}
}

// Version returns the newest data version applied.
func (p *Progress) Version() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.version
}

// Wait blocks until a data version of at least version has been applied,
// and returns the bus sequence of the event that brought it, or ctx's
// error.
func (p *Progress) Wait(ctx context.Context, version uint64) (seq uint64, err error) {
	for {
		p.mu.Lock()
		if p.version >= version {
			seq = p.seq
			p.mu.Unlock()
			return seq, nil
		}
		if p.changed == nil {
			p.changed = make(chan struct{})
		}
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}
