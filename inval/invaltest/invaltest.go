package invaltest

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/strata-cache/strata/inval"
)

// timeout bounds every wait in these tests. It is a failure bound, not a
// duration anything waits for when the implementation is correct.
const timeout = 30 * time.Second

// NewBuses returns n buses that share one event log: n views of one
// in-memory bus, or n Redis buses on separate clients and one key prefix,
// as n processes would. They must be closed when the test ends; a test may
// close them earlier (each implements io.Closer).
type NewBuses func(t *testing.T, n int) []inval.Bus

// TestBus runs the bus contract of package inval against newBuses.
func TestBus(t *testing.T, newBuses NewBuses) {
	t.Run("OrderGaplessAcrossPublishers", func(t *testing.T) { testOrder(t, newBuses) })
	t.Run("RetriesFailingHandler", func(t *testing.T) { testRetry(t, newBuses) })
	t.Run("AckedWaitsForEverySubscriber", func(t *testing.T) { testAcked(t, newBuses) })
	t.Run("EventFields", func(t *testing.T) { testFields(t, newBuses) })
	t.Run("DuplicateName", func(t *testing.T) {
		b := newBuses(t, 1)[0]
		if err := b.Subscribe("x", func(context.Context, inval.Event) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if err := b.Subscribe("x", func(context.Context, inval.Event) error { return nil }); !errors.Is(err, inval.ErrDuplicateName) {
			t.Errorf("second Subscribe(x) = %v, want ErrDuplicateName", err)
		}
	})
	t.Run("Close", func(t *testing.T) { testClose(t, newBuses) })
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return ctx
}

// recorder collects the sequence numbers a subscriber handled.
type recorder struct {
	mu   sync.Mutex
	seqs []uint64
	evs  []inval.Event
}

func (r *recorder) handle(_ context.Context, ev inval.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seqs = append(r.seqs, ev.Seq)
	r.evs = append(r.evs, ev)
	return nil
}

func (r *recorder) got() []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seqs)
}

// testOrder: concurrent publishers on three buses get gapless sequence
// numbers, and every subscriber handles them all, in order.
func testOrder(t *testing.T, newBuses NewBuses) {
	buses := newBuses(t, 3)
	recs := make([]*recorder, len(buses))
	for i, b := range buses {
		recs[i] = new(recorder)
		if err := b.Subscribe(string(rune('a'+i)), recs[i].handle); err != nil {
			t.Fatal(err)
		}
	}
	const perPublisher = 40
	var (
		mu   sync.Mutex
		seqs []uint64
		wg   sync.WaitGroup
	)
	for _, b := range buses {
		for range 3 {
			wg.Go(func() {
				for range perPublisher {
					seq, err := b.Publish(context.Background(), inval.Event{Keys: []string{"k"}})
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					seqs = append(seqs, seq)
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	n := uint64(len(buses) * 3 * perPublisher)
	slices.Sort(seqs)
	first := seqs[0]
	for i, s := range seqs {
		if s != first+uint64(i) {
			t.Fatalf("sequence numbers are not gapless and unique: %v", seqs)
		}
	}
	last := first + n - 1
	for i, b := range buses {
		if err := b.WaitAcked(waitCtx(t), last); err != nil {
			t.Fatalf("bus %d: WaitAcked(%d): %v", i, last, err)
		}
		if !b.Acked(last) {
			t.Errorf("bus %d: Acked(%d) false after WaitAcked", i, last)
		}
	}
	for i, r := range recs {
		got := r.got()
		// A subscriber sees the events published after it subscribed:
		// here, all of them.
		want := make([]uint64, n)
		for j := range want {
			want[j] = first + uint64(j)
		}
		if !slices.Equal(got, want) {
			t.Errorf("subscriber %d handled %v, want %d..%d in order", i, got, first, last)
		}
	}
	if nr, ok := buses[0].(inval.NodeReporter); ok {
		nodes, err := nr.Nodes(waitCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, nd := range nodes {
			names = append(names, nd.Name)
			if !nd.Live || nd.Applied != last || nd.Lag != 0 {
				t.Errorf("node %+v, want live, applied %d, lag 0", nd, last)
			}
		}
		if !slices.Equal(names, []string{"a", "b", "c"}) {
			t.Errorf("Nodes names %v, want [a b c]", names)
		}
	}
}

// testRetry: a handler that fails gets the same event again; the event is
// not acknowledged until it succeeds.
func testRetry(t *testing.T, newBuses NewBuses) {
	b := newBuses(t, 1)[0]
	failing := make(chan struct{}, 1)
	var (
		mu    sync.Mutex
		fails = 3
		seen  []uint64
	)
	if err := b.Subscribe("flaky", func(_ context.Context, ev inval.Event) error {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, ev.Seq)
		if fails > 0 {
			fails--
			select {
			case failing <- struct{}{}:
			default:
			}
			return errors.New("not now")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	seq, err := b.Publish(context.Background(), inval.Event{Tags: []string{"t"}})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-failing:
	case <-time.After(timeout):
		t.Fatal("handler never called")
	}
	mu.Lock()
	stillFailing := fails > 0
	mu.Unlock()
	if stillFailing && b.Acked(seq) {
		t.Error("Acked while the handler is failing")
	}
	if err := b.WaitAcked(waitCtx(t), seq); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(seen, []uint64{seq, seq, seq, seq}) {
		t.Errorf("handler saw %v, want %d four times", seen, seq)
	}
}

// testAcked: Acked waits for the slowest subscriber.
func testAcked(t *testing.T, newBuses NewBuses) {
	buses := newBuses(t, 2)
	fast := new(recorder)
	if err := buses[0].Subscribe("fast", fast.handle); err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}, 1), make(chan struct{})
	if err := buses[1].Subscribe("slow", func(ctx context.Context, ev inval.Event) error {
		select {
		case entered <- struct{}{}:
		default:
		}
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	seq, err := buses[0].Publish(context.Background(), inval.Event{Paths: []string{"/x"}})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered:
	case <-time.After(timeout):
		t.Fatal("slow handler never called")
	}
	for i, b := range buses {
		if b.Acked(seq) {
			t.Errorf("bus %d: Acked(%d) while a subscriber has not handled it", i, seq)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := buses[0].WaitAcked(ctx, seq); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitAcked with a cancelled context = %v", err)
	}
	if nr, ok := buses[0].(inval.NodeReporter); ok {
		nodes, err := nr.Nodes(waitCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			if n.Name == "slow" && (n.Applied >= seq || n.Lag == 0 || !n.Live) {
				t.Errorf("slow node reported as %+v", n)
			}
		}
	}
	done := make(chan error, 1)
	go func() { done <- buses[0].WaitAcked(waitCtx(t), seq) }()
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for i, b := range buses {
		if !b.Acked(seq) {
			t.Errorf("bus %d: Acked(%d) false after WaitAcked", i, seq)
		}
	}
}

// testFields: every field of an event arrives as published.
func testFields(t *testing.T, newBuses NewBuses) {
	buses := newBuses(t, 2)
	rec := new(recorder)
	if err := buses[1].Subscribe("r", rec.handle); err != nil {
		t.Fatal(err)
	}
	when := time.Date(2025, 3, 4, 5, 6, 7, 89, time.UTC)
	ev := inval.Event{Version: 42, Keys: []string{"product:1", "products"}, Tags: []string{"t1", "t 2"},
		Paths: []string{"/api/*", "/ü"}, URLs: []string{"https://example.com/a?b=c"}, All: true, Soft: true,
		By: "admin@127.0.0.1:1", Time: when}
	seq, err := buses[0].Publish(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if err := buses[0].WaitAcked(waitCtx(t), seq); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.evs) != 1 {
		t.Fatalf("handled %d events", len(rec.evs))
	}
	got := rec.evs[0]
	ev.Seq = seq
	if !got.Time.Equal(ev.Time) {
		t.Errorf("Time %v, want %v", got.Time, ev.Time)
	}
	got.Time = ev.Time
	if got.Seq != ev.Seq || got.Version != ev.Version || !slices.Equal(got.Keys, ev.Keys) || !slices.Equal(got.Tags, ev.Tags) ||
		!slices.Equal(got.Paths, ev.Paths) || !slices.Equal(got.URLs, ev.URLs) || got.All != ev.All || got.Soft != ev.Soft || got.By != ev.By {
		t.Errorf("handled %+v\nwant %+v", got, ev)
	}
}

// testClose: Close stops delivery and waiting.
func testClose(t *testing.T, newBuses NewBuses) {
	b := newBuses(t, 1)[0]
	entered := make(chan struct{}, 1)
	if err := b.Subscribe("stuck", func(ctx context.Context, _ inval.Event) error {
		select {
		case entered <- struct{}{}:
		default:
		}
		return errors.New("never")
	}); err != nil {
		t.Fatal(err)
	}
	seq, err := b.Publish(context.Background(), inval.Event{})
	if err != nil {
		t.Fatal(err)
	}
	<-entered
	done := make(chan error, 1)
	go func() { done <- b.WaitAcked(waitCtx(t), seq) }()
	if err := b.(io.Closer).Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, inval.ErrClosed) {
		t.Errorf("WaitAcked across Close = %v, want ErrClosed", err)
	}
	if _, err := b.Publish(context.Background(), inval.Event{}); !errors.Is(err, inval.ErrClosed) {
		t.Errorf("Publish after Close = %v, want ErrClosed", err)
	}
	if err := b.Subscribe("late", func(context.Context, inval.Event) error { return nil }); !errors.Is(err, inval.ErrClosed) {
		t.Errorf("Subscribe after Close = %v, want ErrClosed", err)
	}
}

// NewStores returns n views of one empty store: the same MemoryStore n
// times, or n Redis stores on separate clients and one key prefix, as n
// processes would have.
type NewStores func(t *testing.T, n int) []inval.Store

// TestStore runs the Store contract of package inval against newStores.
func TestStore(t *testing.T, newStores NewStores) {
	newStore := func(t *testing.T) inval.Store { return newStores(t, 1)[0] }
	ctx := context.Background()
	t.Run("CreateGetList", func(t *testing.T) {
		s := newStore(t)
		base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := range 5 {
			inv := inval.Invalidation{ID: "I" + string(rune('A'+i)), Paths: []string{"/p"}, URLs: []string{"http://h/u"},
				Tags: []string{"t"}, Soft: true, By: "me", CreateTime: base.Add(time.Duration(i) * time.Second)}
			got, created, err := s.Create(ctx, inv)
			if err != nil || !created || got.ID != inv.ID || !got.CreateTime.Equal(inv.CreateTime) || !got.Soft || got.By != "me" {
				t.Fatalf("Create(%s) = %+v, %v, %v", inv.ID, got, created, err)
			}
		}
		got, err := s.Get(ctx, "IC")
		if err != nil || got.ID != "IC" || got.Seq != 0 || !got.CompleteTime.IsZero() || !slices.Equal(got.URLs, []string{"http://h/u"}) {
			t.Errorf("Get = %+v, %v", got, err)
		}
		if _, err := s.Get(ctx, "Inope"); !errors.Is(err, inval.ErrNotFound) {
			t.Errorf("Get(unknown) = %v, want ErrNotFound", err)
		}
		list, err := s.List(ctx, 3)
		if err != nil {
			t.Fatal(err)
		}
		var listed []string
		for _, inv := range list {
			listed = append(listed, inv.ID)
		}
		if !slices.Equal(listed, []string{"IE", "ID", "IC"}) {
			t.Errorf("List(3) = %v, want newest first [IE ID IC]", listed)
		}
	})
	t.Run("SeqAndCompleteAreSetOnce", func(t *testing.T) {
		s := newStore(t)
		if _, _, err := s.Create(ctx, inval.Invalidation{ID: "I1", Tags: []string{"t"}, CreateTime: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if got, err := s.SetSeq(ctx, "I1", 7); err != nil || got.Seq != 7 {
			t.Fatalf("SetSeq = %+v, %v", got, err)
		}
		if got, err := s.SetSeq(ctx, "I1", 9); err != nil || got.Seq != 7 {
			t.Errorf("second SetSeq = %+v, %v; want the first seq kept", got, err)
		}
		at := time.Date(2025, 2, 3, 4, 5, 6, 7000000, time.UTC)
		if got, err := s.Complete(ctx, "I1", at); err != nil || !got.CompleteTime.Equal(at) {
			t.Fatalf("Complete = %+v, %v", got, err)
		}
		if got, err := s.Complete(ctx, "I1", at.Add(time.Hour)); err != nil || !got.CompleteTime.Equal(at) {
			t.Errorf("second Complete = %+v, %v; want the first time kept", got, err)
		}
		if _, err := s.SetSeq(ctx, "Inope", 1); !errors.Is(err, inval.ErrNotFound) {
			t.Errorf("SetSeq(unknown) = %v", err)
		}
		if _, err := s.Complete(ctx, "Inope", at); !errors.Is(err, inval.ErrNotFound) {
			t.Errorf("Complete(unknown) = %v", err)
		}
	})
	t.Run("CallerReference", func(t *testing.T) {
		s := newStore(t)
		first, created, err := s.Create(ctx, inval.Invalidation{ID: "I1", CallerReference: "ref", Paths: []string{"/a"}, CreateTime: time.Now()})
		if err != nil || !created {
			t.Fatal(created, err)
		}
		again, created, err := s.Create(ctx, inval.Invalidation{ID: "I2", CallerReference: "ref", Paths: []string{"/b"}, CreateTime: time.Now()})
		if err != nil || created || again.ID != first.ID || !slices.Equal(again.Paths, []string{"/a"}) {
			t.Errorf("Create with a used reference = %+v, %v, %v", again, created, err)
		}
		if _, created, err := s.Create(ctx, inval.Invalidation{ID: "I3", Paths: []string{"/a"}, CreateTime: time.Now()}); err != nil || !created {
			t.Errorf("Create without reference = %v, %v", created, err)
		}
		if err := s.Delete(ctx, "I1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "I1"); !errors.Is(err, inval.ErrNotFound) {
			t.Errorf("Get after Delete = %v", err)
		}
		if got, created, err := s.Create(ctx, inval.Invalidation{ID: "I4", CallerReference: "ref", Paths: []string{"/c"}, CreateTime: time.Now()}); err != nil || !created || got.ID != "I4" {
			t.Errorf("Create after the reference's invalidation was deleted = %+v, %v, %v", got, created, err)
		}
	})
	t.Run("CallerReferenceRace", func(t *testing.T) {
		stores := newStores(t, 2)
		ids := make([]string, 16)
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			creates int
		)
		for i := range ids {
			wg.Go(func() {
				got, created, err := stores[i%2].Create(ctx, inval.Invalidation{ID: "I" + string(rune('a'+i)), CallerReference: "same",
					Tags: []string{"t"}, CreateTime: time.Now()})
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				if created {
					creates++
				}
				mu.Unlock()
				ids[i] = got.ID
			})
		}
		wg.Wait()
		if creates != 1 {
			t.Errorf("%d creations with one caller reference, want 1", creates)
		}
		for _, id := range ids {
			if id != ids[0] {
				t.Fatalf("one caller reference gave several invalidations: %v", ids)
			}
		}
		for i, s := range stores {
			if got, err := s.Get(ctx, ids[0]); err != nil || got.CallerReference != "same" {
				t.Errorf("store %d: Get(%s) = %+v, %v", i, ids[0], got, err)
			}
		}
	})
}
