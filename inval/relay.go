package inval

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Outbox is the database side of the relay: rows that triggers wrote in the
// same transaction as the change they describe.
type Outbox interface {
	// After returns up to limit events with Version (the outbox sequence)
	// greater than after, in increasing order.
	After(ctx context.Context, after uint64, limit int) ([]Event, error)
	// Last returns the newest outbox sequence, 0 when empty.
	Last(ctx context.Context) (uint64, error)
	// Prune removes rows up to and including upTo that are no longer needed.
	Prune(ctx context.Context, upTo uint64) error
}

// Relay publishes outbox rows on a bus, in order, exactly once per process
// (at least once across restarts of a durable bus).
type Relay struct {
	outbox Outbox
	bus    Bus
	logger *slog.Logger

	mu      sync.Mutex // serialises Sync
	pos     uint64     // last outbox sequence published
	lastBus uint64     // bus sequence of the last event published
}

// NewRelay returns a relay that starts after the outbox's current last row:
// caches of a process that is just starting hold nothing older.
func NewRelay(ctx context.Context, outbox Outbox, bus Bus, logger *slog.Logger) (*Relay, error) {
	if logger == nil {
		logger = slog.Default()
	}
	last, err := outbox.Last(ctx)
	if err != nil {
		return nil, fmt.Errorf("inval: relay start: %w", err)
	}
	return &Relay{outbox: outbox, bus: bus, logger: logger, pos: last}, nil
}

// Sync publishes every outbox row not yet published and returns the bus
// sequence of the last event published so far (0 if none), which callers can
// pass to Bus.WaitAcked.
func (r *Relay) Sync(ctx context.Context) (uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		evs, err := r.outbox.After(ctx, r.pos, 256)
		if err != nil {
			return r.lastBus, fmt.Errorf("inval: reading outbox: %w", err)
		}
		for _, ev := range evs {
			seq, err := r.bus.Publish(ctx, ev)
			if err != nil {
				return r.lastBus, fmt.Errorf("inval: publishing outbox row %d: %w", ev.Version, err)
			}
			r.pos, r.lastBus = ev.Version, seq
		}
		if len(evs) < 256 {
			break
		}
	}
	// Keep the newest row: its sequence is the current data version.
	if r.pos > 1 {
		if err := r.outbox.Prune(ctx, r.pos-1); err != nil {
			r.logger.Warn("inval: pruning outbox", "err", err)
		}
	}
	return r.lastBus, nil
}

// Run syncs every interval until ctx ends. It catches changes made by other
// database clients (psql, migrations); writes through the API call Sync
// themselves so they need not wait for the interval.
func (r *Relay) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := r.Sync(ctx); err != nil && ctx.Err() == nil {
			r.logger.Warn("inval: relay sync failed", "err", err)
		}
	}
}
