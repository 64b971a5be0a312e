package inval

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
)

func TestMemoryDeliversInOrderAndAcks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := NewMemory(nil)
		defer bus.Close()
		var mu sync.Mutex
		got := map[string][]uint64{}
		for _, name := range []string{"edge", "l1"} {
			if err := bus.Subscribe(name, func(_ context.Context, ev Event) error {
				mu.Lock()
				defer mu.Unlock()
				got[name] = append(got[name], ev.Seq)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		if err := bus.Subscribe("edge", nil); !errors.Is(err, ErrDuplicateName) {
			t.Errorf("duplicate name: %v", err)
		}
		var last uint64
		for i := range 5 {
			seq, err := bus.Publish(context.Background(), Event{Keys: []string{"k"}})
			if err != nil || seq != uint64(i+1) {
				t.Fatalf("Publish = %d, %v", seq, err)
			}
			last = seq
		}
		if err := bus.WaitAcked(context.Background(), last); err != nil {
			t.Fatal(err)
		}
		if !bus.Acked(last) || bus.Acked(last+1) {
			t.Error("Acked disagrees with WaitAcked")
		}
		mu.Lock()
		defer mu.Unlock()
		for name, seqs := range got {
			if !slices.Equal(seqs, []uint64{1, 2, 3, 4, 5}) {
				t.Errorf("%s got %v", name, seqs)
			}
		}
	})
}

func TestMemoryRetriesFailedHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := NewMemory(nil)
		defer bus.Close()
		fails := 3
		var seen []uint64
		bus.Subscribe("flaky", func(_ context.Context, ev Event) error {
			if fails > 0 {
				fails--
				return errors.New("not now")
			}
			seen = append(seen, ev.Seq)
			return nil
		})
		seq, _ := bus.Publish(context.Background(), Event{})
		if bus.Acked(seq) {
			t.Fatal("acked before handled")
		}
		if err := bus.WaitAcked(context.Background(), seq); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(seen, []uint64{1}) {
			t.Errorf("seen %v", seen)
		}
	})
}

func TestMemoryClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := NewMemory(nil)
		bus.Subscribe("stuck", func(context.Context, Event) error { return errors.New("never") })
		seq, _ := bus.Publish(context.Background(), Event{})
		done := make(chan error)
		go func() { done <- bus.WaitAcked(context.Background(), seq) }()
		synctest.Wait()
		bus.Close()
		if err := <-done; !errors.Is(err, ErrClosed) {
			t.Errorf("WaitAcked after Close = %v", err)
		}
		if _, err := bus.Publish(context.Background(), Event{}); !errors.Is(err, ErrClosed) {
			t.Errorf("Publish after Close = %v", err)
		}
	})
}

func TestTracker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := NewMemory(nil)
		defer bus.Close()
		release := make(chan struct{})
		var purged [][]string
		bus.Subscribe("edge", func(_ context.Context, ev Event) error {
			<-release
			purged = append(purged, ev.Paths)
			return nil
		})
		tr := NewTracker(bus)
		ctx := context.Background()
		inv, err := tr.Create(ctx, []string{"/api/*"}, nil, "ref-1")
		if err != nil || inv.Status != StatusInProgress || len(inv.ID) != 14 {
			t.Fatalf("Create = %+v, %v", inv, err)
		}
		again, err := tr.Create(ctx, []string{"/api/*"}, nil, "ref-1")
		if err != nil || again.ID != inv.ID {
			t.Errorf("same caller reference gave %+v, %v", again, err)
		}
		if _, err := tr.Create(ctx, []string{"/other"}, nil, "ref-1"); !errors.Is(err, ErrConflict) {
			t.Errorf("conflicting batch: %v", err)
		}
		close(release)
		done, err := tr.Wait(ctx, inv.ID)
		if err != nil || done.Status != StatusCompleted {
			t.Fatalf("Wait = %+v, %v", done, err)
		}
		if len(purged) != 1 || purged[0][0] != "/api/*" {
			t.Errorf("subscriber saw %v", purged)
		}
		if _, err := tr.Get("Inope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get unknown: %v", err)
		}
	})
}

func TestTrackerRejectsBadInput(t *testing.T) {
	bus := NewMemory(nil)
	defer bus.Close()
	tr := NewTracker(bus)
	for _, paths := range [][]string{nil, {"api"}, {"/a*b"}, {"/a\nb"}, make([]string, MaxPaths+1)} {
		if _, err := tr.Create(context.Background(), paths, nil, ""); !errors.Is(err, ErrInvalid) {
			t.Errorf("Create(%q) err = %v", paths, err)
		}
	}
	if _, err := tr.Create(context.Background(), nil, []string{"two words"}, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad tag err = %v", err)
	}
}

// fakeOutbox is an in-memory Outbox for relay tests.
type fakeOutbox struct {
	rows   []Event
	pruned uint64
}

func (o *fakeOutbox) After(_ context.Context, after uint64, limit int) ([]Event, error) {
	var out []Event
	for _, r := range o.rows {
		if r.Version > after && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, nil
}

func (o *fakeOutbox) Last(context.Context) (uint64, error) {
	if len(o.rows) == 0 {
		return 0, nil
	}
	return o.rows[len(o.rows)-1].Version, nil
}

func (o *fakeOutbox) Prune(_ context.Context, upTo uint64) error { o.pruned = upTo; return nil }

func TestRelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ob := &fakeOutbox{rows: []Event{{Version: 1, Keys: []string{"old"}}}}
		bus := NewMemory(nil)
		defer bus.Close()
		var got []uint64
		bus.Subscribe("l1", func(_ context.Context, ev Event) error { got = append(got, ev.Version); return nil })
		r, err := NewRelay(context.Background(), ob, bus, nil)
		if err != nil {
			t.Fatal(err)
		}
		for v := uint64(2); v <= 300; v++ {
			ob.rows = append(ob.rows, Event{Version: v, Keys: []string{"k"}})
		}
		seq, err := r.Sync(context.Background())
		if err != nil || seq != 299 {
			t.Fatalf("Sync = %d, %v", seq, err)
		}
		bus.WaitAcked(context.Background(), seq)
		if len(got) != 299 || got[0] != 2 || got[298] != 300 {
			t.Errorf("delivered %d events, first %d", len(got), got[0])
		}
		if ob.pruned != 299 {
			t.Errorf("pruned up to %d, want 299", ob.pruned)
		}
	})
}

func FuzzValidatePath(f *testing.F) {
	for _, s := range []string{"/", "/api/*", "/a*b", "", "api", "/\x00", "/*/*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if err := ValidatePath(p); err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		if !strings.HasPrefix(p, "/") || strings.Contains(strings.TrimSuffix(p, "*"), "*") {
			t.Fatalf("accepted %q", p)
		}
	})
}

// Concurrent creations with one caller reference make one invalidation.
func TestTrackerCallerReferenceRace(t *testing.T) {
	bus := NewMemory(nil)
	defer bus.Close()
	tr := NewTracker(bus)
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Go(func() {
			inv, err := tr.Create(context.Background(), []string{"/x"}, nil, "same")
			if err != nil {
				t.Error(err)
			}
			ids[i] = inv.ID
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("ids differ: %v", ids)
		}
	}
	if seq, _ := bus.Publish(context.Background(), Event{}); seq != 2 {
		t.Errorf("the reference was published %d times", seq-1)
	}
}
