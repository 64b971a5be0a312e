package inval

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeOutbox is an in-memory Outbox for relay tests.
type fakeOutbox struct {
	mu     sync.Mutex
	rows   []Event
	pruned uint64
	fail   error // After fails with it when set
}

func (o *fakeOutbox) add(evs ...Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.rows = append(o.rows, evs...)
}

func (o *fakeOutbox) After(_ context.Context, after uint64, limit int) ([]Event, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail != nil {
		return nil, o.fail
	}
	var out []Event
	for _, r := range o.rows {
		if r.Version > after && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, nil
}

func (o *fakeOutbox) Last(context.Context) (uint64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.rows) == 0 {
		return 0, nil
	}
	return o.rows[len(o.rows)-1].Version, nil
}

func (o *fakeOutbox) Prune(_ context.Context, upTo uint64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.pruned = upTo
	return nil
}

// relayEnv is a relay publishing through a Tracker on a memory bus, with
// one subscriber recording what it applies.
type relayEnv struct {
	ob      *fakeOutbox
	bus     *Memory
	tracker *Tracker
	mu      sync.Mutex
	applied []Event
}

func newRelayEnv(t *testing.T) *relayEnv {
	t.Helper()
	e := &relayEnv{ob: &fakeOutbox{}, bus: NewMemory(nil)}
	e.tracker = NewTracker(e.bus)
	t.Cleanup(func() { e.tracker.Close(); e.bus.Close() })
	e.bus.Subscribe("l1", func(_ context.Context, ev Event) error {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.applied = append(e.applied, ev)
		return nil
	})
	return e
}

func (e *relayEnv) relay(t *testing.T, cfg RelayConfig) *Relay {
	t.Helper()
	cfg.Outbox, cfg.Publisher = e.ob, e.tracker
	r, err := NewRelay(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (e *relayEnv) events() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.applied)
}

func row(v uint64, keys ...string) Event {
	return Event{Version: v, Keys: keys, Tags: keys, Paths: []string{"/p/" + keys[0]}, Time: time.Unix(int64(v), 0)}
}

// A relay starts after the rows that exist when it is made (its cursor
// is empty), coalesces what comes later into one invalidation per batch —
// each key once — with the range of versions it covers, and prunes.
func TestRelayCoalescesAndCovers(t *testing.T) {
	e := newRelayEnv(t)
	e.ob.add(row(1, "old"))
	now := time.Unix(0, 0)
	r := e.relay(t, RelayConfig{Now: func() time.Time { now = now.Add(time.Minute); return now }})
	if inv, err := r.Sync(context.Background()); err != nil || inv.ID != "" {
		t.Fatalf("first Sync = %+v, %v; want nothing published", inv, err)
	}
	for v := uint64(2); v <= 301; v++ {
		e.ob.add(row(v, "k", "products"))
	}
	inv, err := r.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if inv.FromVersion != 2 || inv.Version != 301 || !slices.Equal(inv.Keys, []string{"k", "products"}) || !inv.CreateTime.Equal(time.Unix(2, 0)) {
		t.Fatalf("invalidation = %+v; want versions 2-301, keys [k products], created at row 2's time", inv)
	}
	if err := e.bus.WaitAcked(context.Background(), inv.Seq); err != nil {
		t.Fatal(err)
	}
	evs := e.events()
	if len(evs) != 1 || evs[0].Version != 301 || len(evs[0].Keys) != 2 || len(evs[0].Paths) != 1 {
		t.Fatalf("subscriber applied %+v; want one event at version 301 with 2 keys, 1 path", evs)
	}
	if e.ob.pruned != 300 {
		t.Errorf("pruned up to %d, want 300", e.ob.pruned)
	}
	if r.Position() != 301 {
		t.Errorf("Position = %d", r.Position())
	}
}

// MaxRows splits a long backlog into several invalidations, in order.
func TestRelayMaxRows(t *testing.T) {
	e := newRelayEnv(t)
	r := e.relay(t, RelayConfig{MaxRows: 10, Cursor: &MemoryCursor{ok: true}})
	for v := uint64(1); v <= 25; v++ {
		e.ob.add(row(v, "k"))
	}
	inv, err := r.Sync(context.Background())
	if err != nil || inv.FromVersion != 21 || inv.Version != 25 {
		t.Fatalf("Sync = %+v, %v", inv, err)
	}
	e.bus.WaitAcked(context.Background(), inv.Seq)
	var got []uint64
	for _, ev := range e.events() {
		got = append(got, ev.Version)
	}
	if !slices.Equal(got, []uint64{10, 20, 25}) {
		t.Errorf("versions published %v, want [10 20 25]", got)
	}
}

// A relay that takes over from the shared cursor goes on from where the
// previous one stopped; one that died after publishing but before moving
// the cursor has its batch published again as the same invalidation (the
// caller reference), not lost and not doubled.
func TestRelayTakeOverFromCursor(t *testing.T) {
	e := newRelayEnv(t)
	cur := &MemoryCursor{ok: true}
	first := e.relay(t, RelayConfig{Cursor: cur})
	e.ob.add(row(1, "a"), row(2, "b"))
	inv1, err := first.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The first relay "dies" right after publishing rows 3-4, before its
	// cursor moves: a cursor that refuses the write stands for it.
	e.ob.add(row(3, "c"), row(4, "d"))
	dying := e.relay(t, RelayConfig{Cursor: refusingCursor{cur}})
	inv2, err := dying.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	second := e.relay(t, RelayConfig{Cursor: cur})
	inv3, err := second.Sync(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if inv1.Version != 2 || inv2.Version != 4 || inv3.ID != inv2.ID {
		t.Fatalf("invalidations %+v, %+v, %+v; want 1-2, 3-4, and 3-4 again as the same one", inv1, inv2, inv3)
	}
	if seq, _, _ := cur.Load(context.Background()); seq != 4 {
		t.Errorf("cursor = %d, want 4", seq)
	}
	list, _ := e.tracker.List(context.Background(), 10)
	if len(list) != 2 {
		t.Errorf("%d invalidations recorded, want 2: %+v", len(list), list)
	}
}

type refusingCursor struct{ Cursor }

func (refusingCursor) Store(context.Context, uint64) error { return errors.New("relay died") }

// An Apply error (L2 unreachable) publishes nothing and moves nothing: the
// rows are applied and published on the next Sync.
func TestRelayApplyErrorRetries(t *testing.T) {
	e := newRelayEnv(t)
	fail := errors.New("redis down")
	var applied []uint64
	r := e.relay(t, RelayConfig{Cursor: &MemoryCursor{ok: true}, Apply: func(_ context.Context, ev Event) error {
		if fail != nil {
			return fail
		}
		applied = append(applied, ev.Version)
		return nil
	}})
	e.ob.add(row(1, "a"))
	if _, err := r.Sync(context.Background()); !errors.Is(err, fail) {
		t.Fatalf("Sync = %v, want the Apply error", err)
	}
	if r.Position() != 0 {
		t.Fatalf("position moved to %d on a failed batch", r.Position())
	}
	fail = nil
	inv, err := r.Sync(context.Background())
	if err != nil || inv.Version != 1 || !slices.Equal(applied, []uint64{1}) {
		t.Fatalf("retry: %+v, %v, applied %v", inv, err, applied)
	}
}

// An outbox read error is returned with context and nothing moves.
func TestRelayOutboxError(t *testing.T) {
	e := newRelayEnv(t)
	e.ob.fail = errors.New("database is gone")
	r := e.relay(t, RelayConfig{Cursor: &MemoryCursor{ok: true}})
	if _, err := r.Sync(context.Background()); !errors.Is(err, e.ob.fail) {
		t.Fatalf("Sync = %v", err)
	}
}

// fakeLeadership is leadership lost when its channel is closed.
type fakeLeadership struct{ lost chan struct{} }

func (l fakeLeadership) Lost() <-chan struct{} { return l.lost }
func (l fakeLeadership) Release()              {}

// RunLeader relays only while it leads, takes leadership again after
// losing it, rereads the cursor on each term, and wakes on notifications
// without waiting for the poll.
func TestRelayRunLeader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newRelayEnv(t)
		cur := &MemoryCursor{ok: true}
		r := e.relay(t, RelayConfig{Cursor: cur, Window: time.Millisecond})
		terms := make(chan fakeLeadership)
		lead := func(ctx context.Context) (Leadership, error) {
			select {
			case l := <-terms:
				return l, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		wake := make(chan struct{}, 1)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); r.RunLeader(ctx, lead, wake, time.Hour) }()

		e.ob.add(row(1, "a"))
		synctest.Wait()
		if len(e.events()) != 0 {
			t.Fatal("published without leadership")
		}
		if r.Leading() {
			t.Fatal("Leading before taking leadership")
		}
		term1 := fakeLeadership{lost: make(chan struct{})}
		terms <- term1
		synctest.Wait()
		if !r.Leading() {
			t.Fatal("not Leading while holding leadership")
		}
		if n, err := r.Backlog(context.Background()); err != nil || n != 0 {
			t.Fatalf("Backlog = %d, %v after syncing", n, err)
		}
		if evs := e.events(); len(evs) != 1 || evs[0].Version != 1 {
			t.Fatalf("after taking leadership: %+v", evs)
		}
		e.ob.add(row(2, "b"))
		wake <- struct{}{}
		time.Sleep(time.Second) // the bubble's clock: the window passes, the poll does not
		synctest.Wait()
		if evs := e.events(); len(evs) != 2 {
			t.Fatalf("after a wake-up: %d events", len(evs))
		}
		close(term1.lost)
		synctest.Wait()
		if r.Leading() {
			t.Fatal("Leading after losing leadership")
		}
		// Another relay moved the cursor meanwhile (it published row 3).
		cur.Store(context.Background(), 3)
		e.ob.add(row(3, "c"), row(4, "d"))
		terms <- fakeLeadership{lost: make(chan struct{})}
		synctest.Wait()
		evs := e.events()
		if len(evs) != 3 || evs[2].Version != 4 || !slices.Equal(evs[2].Keys, []string{"d"}) {
			t.Fatalf("second term published %+v; want only row 4", evs[2:])
		}
		cancel()
		<-done
	})
}

// Concurrent Syncs (a write's and the poll's) publish each row once.
func TestRelayConcurrentSync(t *testing.T) {
	e := newRelayEnv(t)
	r := e.relay(t, RelayConfig{Cursor: &MemoryCursor{ok: true}})
	for v := range uint64(8) {
		e.ob.add(row(v+1, "k"))
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := r.Sync(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	inv, _ := r.Sync(context.Background())
	e.bus.WaitAcked(context.Background(), inv.Seq)
	if evs := e.events(); len(evs) != 1 || evs[0].Version != 8 {
		t.Errorf("published %+v; want one event for rows 1-8", evs)
	}
}

// A flush (an outbox row that does not say what changed) survives
// coalescing and publication, with All, and reaches subscribers.
func TestRelayFlush(t *testing.T) {
	e := newRelayEnv(t)
	r := e.relay(t, RelayConfig{Cursor: &MemoryCursor{ok: true}})
	e.ob.add(row(1, "a"), Event{Version: 2, Keys: []string{"products"}, All: true, Flush: true})
	inv, err := r.Sync(context.Background())
	if err != nil || !inv.Flush || !inv.All || len(inv.Tags) != 0 {
		t.Fatalf("Sync = %+v, %v; want a flush with All and no tags", inv, err)
	}
	e.bus.WaitAcked(context.Background(), inv.Seq)
	if evs := e.events(); len(evs) != 1 || !evs[0].Flush || !evs[0].All || evs[0].Version != 2 {
		t.Errorf("subscriber got %+v", evs)
	}
}

// A database that went back in time (restored from a backup) leaves the
// shared cursor ahead of its outbox: the relay goes on from the outbox's
// last row instead of skipping every row up to the cursor, and rows
// numbered again are new invalidations, not the old batches that had
// those numbers.
func TestRelayDatabaseWentBack(t *testing.T) {
	e := newRelayEnv(t)
	cur := &MemoryCursor{ok: true}
	r := e.relay(t, RelayConfig{Cursor: cur})
	e.ob.add(row(1, "a"), row(2, "b"), row(3, "c"))
	old, err := r.Sync(context.Background())
	if err != nil || old.Version != 3 {
		t.Fatalf("Sync = %+v, %v", old, err)
	}
	// Restore: the outbox holds row 1 only; then row 2 is written anew.
	e.ob.mu.Lock()
	e.ob.rows = e.ob.rows[:1]
	e.ob.mu.Unlock()
	restarted := e.relay(t, RelayConfig{Cursor: cur})
	e.ob.add(Event{Version: 2, Keys: []string{"b"}, Time: time.Unix(1000, 0)})
	inv, err := restarted.Sync(context.Background())
	if err != nil || inv.Version != 2 || inv.ID == "" || inv.ID == old.ID {
		t.Fatalf("after the restore, Sync = %+v, %v; want a new invalidation of row 2", inv, err)
	}
	e.bus.WaitAcked(context.Background(), inv.Seq)
	evs := e.events()
	if last := evs[len(evs)-1]; last.Version != 2 || !slices.Equal(last.Keys, []string{"b"}) {
		t.Errorf("subscriber's last event %+v, want row 2 again", last)
	}
}
