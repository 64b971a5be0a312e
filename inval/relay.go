package inval

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
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

// RetentionPruner is an Outbox that can keep relayed rows for a while (to
// look at, or for a relay that lags) rather than prune them at once.
type RetentionPruner interface {
	// PruneBefore removes rows up to and including upTo that were written
	// before olderThan, and returns how many it removed.
	PruneBefore(ctx context.Context, upTo uint64, olderThan time.Time) (int64, error)
}

// Publisher creates invalidations; *Tracker is one.
type Publisher interface {
	Create(ctx context.Context, req Request) (Invalidation, error)
}

var _ Publisher = (*Tracker)(nil)

// Cursor keeps how far the relay has published, durably and shared by
// every relay that may take over (see redisbus.Cursor).
type Cursor interface {
	// Load returns the last outbox sequence published; ok is false when
	// nothing was ever stored.
	Load(ctx context.Context) (seq uint64, ok bool, err error)
	// Store records that rows up to seq are published. A lower seq than
	// the one stored is ignored.
	Store(ctx context.Context, seq uint64) error
	// Init stores seq if the cursor holds nothing, and returns what it
	// holds: of several relays starting at once on an empty cursor, the
	// first one's position wins, and none starts after rows another may
	// not have published.
	Init(ctx context.Context, seq uint64) (uint64, error)
}

// MemoryCursor is a Cursor held in process: a relay restarted with a new
// one starts after the outbox's last row, which is right only when every
// cache it serves starts empty too (one process, no shared L2).
type MemoryCursor struct {
	mu  sync.Mutex
	seq uint64
	ok  bool
}

// Load implements Cursor.
func (c *MemoryCursor) Load(context.Context) (uint64, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seq, c.ok, nil
}

// Store implements Cursor.
func (c *MemoryCursor) Store(_ context.Context, seq uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq, c.ok = max(c.seq, seq), true
	return nil
}

// Init implements Cursor.
func (c *MemoryCursor) Init(_ context.Context, seq uint64) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ok {
		c.seq, c.ok = seq, true
	}
	return c.seq, nil
}

// RelayConfig configures a Relay. Outbox and Publisher are required.
type RelayConfig struct {
	Outbox    Outbox
	Publisher Publisher
	// Apply, when set, runs on each coalesced event before it is
	// published (the scale-out relay writes the L2 tombstones here, so
	// that no subscriber can refill L2 from an old read after seeing the
	// event). An error stops the batch; it is retried.
	Apply func(ctx context.Context, ev Event) error
	// Cursor keeps the relay's position across restarts and failovers.
	// Nil means a MemoryCursor. A cursor that holds nothing starts the
	// relay after the outbox's last row.
	Cursor Cursor
	// Window is how long the relay waits after a wake-up for more commits
	// to join the batch. Default 0: no wait. Bursts are batched anyway —
	// rows committed while one batch is being published are all read, and
	// coalesced, by the next Sync — so a fixed wait only adds latency
	// unless the database is very fast and the bus slow.
	Window time.Duration
	// MaxRows caps the outbox rows coalesced into one invalidation.
	// Default 1000.
	MaxRows int
	// Retention is how long relayed rows stay in the outbox (when it is a
	// RetentionPruner; otherwise every relayed row but the newest is
	// pruned at once). Default 1 hour.
	Retention time.Duration
	// Logger receives relay errors. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock for retention. Default time.Now.
	Now func() time.Time
}

// Relay publishes outbox rows as invalidations, in order: rows are read
// after the cursor, coalesced (their keys, tags and paths merged, so a key
// updated many times in a burst is invalidated once), applied (Apply),
// published with CallerReference "outbox:FROM-TO@TIME" — which makes a batch
// published twice, by a relay that died before moving the cursor and the
// one taking over, one invalidation — and only then is the cursor moved.
// A crash anywhere in between publishes a batch again; it never skips one.
type Relay struct {
	cfg RelayConfig

	leading atomic.Bool // while Run runs, or RunLeader holds leadership

	mu        sync.Mutex // serialises Sync
	pos       uint64     // last outbox sequence published
	loaded    bool       // pos is read from the cursor
	last      Invalidation
	lastPrune time.Time
}

// ErrRelayConfig is returned by NewRelay for a config it cannot run.
var ErrRelayConfig = errors.New("inval: relay config")

// NewRelay returns a relay positioned at its cursor; a cursor that holds
// nothing is set to the outbox's last row now, so that rows committed from
// here on are all relayed.
func NewRelay(ctx context.Context, cfg RelayConfig) (*Relay, error) {
	if cfg.Outbox == nil || cfg.Publisher == nil {
		return nil, fmt.Errorf("%w: Outbox and Publisher are required", ErrRelayConfig)
	}
	if cfg.Cursor == nil {
		cfg.Cursor = &MemoryCursor{}
	}
	if cfg.MaxRows <= 0 {
		cfg.MaxRows = 1000
	}
	if cfg.Retention <= 0 {
		cfg.Retention = time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &Relay{cfg: cfg}
	if err := r.load(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// Position returns the last outbox sequence this relay published (or found
// published), 0 before its first Sync.
func (r *Relay) Position() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pos
}

// Leading reports whether the relay is running: in Run, or in RunLeader
// while it holds leadership.
func (r *Relay) Leading() bool { return r.leading.Load() }

// Backlog returns how many outbox rows are committed but not published by
// this relay (the outbox's last sequence minus Position).
func (r *Relay) Backlog(ctx context.Context) (uint64, error) {
	last, err := r.cfg.Outbox.Last(ctx)
	if err != nil {
		return 0, err
	}
	pos := r.Position()
	if last < pos {
		return 0, nil
	}
	return last - pos, nil
}

// Sync publishes every outbox row not yet published and returns the last
// invalidation this relay has published (zero if none): after Sync returns,
// its Version covers every row committed before Sync was called.
func (r *Relay) Sync(ctx context.Context) (Invalidation, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.loaded {
		if err := r.load(ctx); err != nil {
			return r.last, err
		}
	}
	for {
		evs, err := r.cfg.Outbox.After(ctx, r.pos, r.cfg.MaxRows)
		if err != nil {
			return r.last, fmt.Errorf("inval: reading outbox after %d: %w", r.pos, err)
		}
		if len(evs) == 0 {
			break
		}
		ev := coalesce(evs)
		if err := r.publish(ctx, ev, evs[0].Version); err != nil {
			return r.last, err
		}
		if len(evs) < r.cfg.MaxRows {
			break
		}
	}
	r.prune(ctx)
	return r.last, nil
}

// load reads the cursor; an empty one starts after the outbox's last row.
// A cursor ahead of the outbox means the database went back in time (a
// restore, another database): the relay then goes on from the outbox's
// last row, or it would skip every row up to the cursor, and says so. (The
// cursor itself only moves forward; until the outbox passes it, a relay
// that starts again republishes what followed, which is harmless.)
func (r *Relay) load(ctx context.Context) error {
	seq, ok, err := r.cfg.Cursor.Load(ctx)
	if err != nil {
		return fmt.Errorf("inval: relay cursor: %w", err)
	}
	last, err := r.cfg.Outbox.Last(ctx)
	if err != nil {
		return fmt.Errorf("inval: relay start: %w", err)
	}
	switch {
	case !ok:
		if seq, err = r.cfg.Cursor.Init(ctx, last); err != nil {
			return fmt.Errorf("inval: relay cursor: %w", err)
		}
	case seq > last:
		r.cfg.Logger.Error("inval: the relay's cursor is ahead of the outbox: the database was restored or replaced; relaying from its last row (see docs/consistency.md, Operations)",
			"cursor", seq, "outbox_last", last)
		seq = last
	}
	r.pos, r.loaded = seq, true
	return nil
}

// publish applies and publishes ev, which covers rows from..ev.Version,
// then moves the cursor.
func (r *Relay) publish(ctx context.Context, ev Event, from uint64) error {
	if r.cfg.Apply != nil {
		if err := r.cfg.Apply(ctx, ev); err != nil {
			return fmt.Errorf("inval: applying outbox rows %d-%d: %w", from, ev.Version, err)
		}
	}
	inv, err := r.cfg.Publisher.Create(ctx, Request{
		Keys: ev.Keys, Tags: ev.Tags, Paths: ev.Paths, All: ev.All, Flush: ev.Flush,
		FromVersion: from, Version: ev.Version, Time: ev.Time, By: ev.By,
		CallerReference: callerReference(from, ev),
	})
	if err != nil {
		return fmt.Errorf("inval: publishing outbox rows %d-%d: %w", from, ev.Version, err)
	}
	r.last = inv
	r.pos = ev.Version
	if err := r.cfg.Cursor.Store(ctx, ev.Version); err != nil {
		// Published but not recorded: a relay that takes over publishes
		// these rows again, which is harmless.
		r.cfg.Logger.Warn("inval: relay cursor not stored", "seq", ev.Version, "err", err)
	}
	return nil
}

// callerReference names a batch: its rows' sequences, and the time of its
// first row, so that rows numbered again after the database went back in
// time (a restore) are not taken for the batch that had those numbers.
func callerReference(from uint64, ev Event) string {
	ref := "outbox:" + strconv.FormatUint(from, 10) + "-" + strconv.FormatUint(ev.Version, 10)
	if !ev.Time.IsZero() {
		ref += "@" + strconv.FormatInt(ev.Time.UnixNano(), 10)
	}
	return ref
}

// prune removes relayed rows past retention, at most every 10 seconds.
func (r *Relay) prune(ctx context.Context) {
	now := r.cfg.Now()
	if now.Sub(r.lastPrune) < 10*time.Second || r.pos == 0 {
		return
	}
	r.lastPrune = now
	if p, ok := r.cfg.Outbox.(RetentionPruner); ok {
		if _, err := p.PruneBefore(ctx, r.pos, now.Add(-r.cfg.Retention)); err != nil {
			r.cfg.Logger.Warn("inval: pruning outbox", "err", err)
		}
		return
	}
	// Keep the newest row: its sequence may be the current data version.
	if r.pos > 1 {
		if err := r.cfg.Outbox.Prune(ctx, r.pos-1); err != nil {
			r.cfg.Logger.Warn("inval: pruning outbox", "err", err)
		}
	}
}

// coalesce merges consecutive outbox events into one: the union of their
// keys, tags and paths (each once, in first-seen order), the last version,
// the first time.
func coalesce(evs []Event) Event {
	if len(evs) == 1 {
		return evs[0]
	}
	out := Event{Version: evs[len(evs)-1].Version, Time: evs[0].Time, By: "outbox"}
	seen := map[string]bool{}
	add := func(dst []string, kind byte, vs []string) []string {
		for _, v := range vs {
			k := string(kind) + v
			if !seen[k] {
				seen[k] = true
				dst = append(dst, v)
			}
		}
		return dst
	}
	for _, ev := range evs {
		out.Keys = add(out.Keys, 'k', ev.Keys)
		out.Tags = add(out.Tags, 't', ev.Tags)
		out.Paths = add(out.Paths, 'p', ev.Paths)
		out.All = out.All || ev.All
		out.Flush = out.Flush || ev.Flush
	}
	if out.All {
		out.Tags, out.Paths = nil, nil // All takes no other edge selector
	}
	return out
}

// Run syncs when wake fires (after Window, to let a burst gather) and every
// poll interval, until ctx ends. Polling catches changes whose
// notification was lost; wake may be nil.
func (r *Relay) Run(ctx context.Context, wake <-chan struct{}, poll time.Duration) {
	r.leading.Store(true)
	defer r.leading.Store(false)
	r.run(ctx, nil, wake, poll)
}

// run is Run that also stops when lost is closed.
func (r *Relay) run(ctx context.Context, lost <-chan struct{}, wake <-chan struct{}, poll time.Duration) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-lost:
			return
		case <-t.C:
		case <-wake:
			if r.cfg.Window > 0 {
				w := time.NewTimer(r.cfg.Window)
				select {
				case <-ctx.Done():
					w.Stop()
					return
				case <-w.C:
				}
			}
		}
		if _, err := r.Sync(ctx); err != nil && ctx.Err() == nil {
			r.cfg.Logger.Warn("inval: relay sync failed", "err", err)
		}
	}
}

// Leadership is held by one relay at a time across processes (a
// PostgreSQL advisory lock, for one).
type Leadership interface {
	// Lost is closed when leadership may have passed to another process.
	Lost() <-chan struct{}
	// Release gives leadership up.
	Release()
}

// RunLeader runs the relay while it holds leadership, taking it with lead
// (which blocks until it is acquired or ctx ends), and takes it again when
// it is lost, until ctx ends. On each new term the relay rereads its
// cursor, so it goes on from where the previous leader stopped.
func (r *Relay) RunLeader(ctx context.Context, lead func(context.Context) (Leadership, error), wake <-chan struct{}, poll time.Duration) {
	for wait := 100 * time.Millisecond; ctx.Err() == nil; {
		l, err := lead(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.cfg.Logger.Warn("inval: relay leadership", "err", err)
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			wait = min(2*wait, 5*time.Second)
			continue
		}
		wait = 100 * time.Millisecond
		r.cfg.Logger.Info("inval: relay leading")
		r.mu.Lock()
		r.loaded = false // another leader may have moved the cursor
		r.mu.Unlock()
		// The term's work stops when leadership is lost, mid-Sync too:
		// another relay may be publishing by then.
		term, endTerm := context.WithCancel(ctx)
		go func() {
			select {
			case <-l.Lost():
				endTerm()
			case <-term.Done():
			}
		}()
		r.leading.Store(true)
		if _, err := r.Sync(term); err != nil && term.Err() == nil {
			r.cfg.Logger.Warn("inval: relay sync failed", "err", err)
		}
		r.run(term, l.Lost(), wake, poll)
		r.leading.Store(false)
		endTerm()
		l.Release()
		if ctx.Err() == nil {
			r.cfg.Logger.Warn("inval: relay leadership lost; taking it again")
		}
	}
}
