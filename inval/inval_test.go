package inval

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
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
		var purged []Event
		bus.Subscribe("edge", func(_ context.Context, ev Event) error {
			<-release
			purged = append(purged, ev)
			return nil
		})
		tr := NewTracker(bus)
		defer tr.Close()
		ctx := context.Background()
		start := time.Now()
		req := Request{Paths: []string{"/api/*"}, URLs: []string{"https://shop.example/a?b=1"}, Soft: true, CallerReference: "ref-1", By: "admin@test"}
		inv, err := tr.Create(ctx, req)
		if err != nil || inv.Status != StatusInProgress || len(inv.ID) != 14 || !inv.CompleteTime.IsZero() || inv.By != "admin@test" || !inv.Soft {
			t.Fatalf("Create = %+v, %v", inv, err)
		}
		if len(inv.Nodes) != 1 || inv.Nodes[0] != (NodeProgress{Node: "edge", Applied: 0, Live: true, Done: false}) {
			t.Errorf("progress %+v", inv.Nodes)
		}
		again, err := tr.Create(ctx, req)
		if err != nil || again.ID != inv.ID {
			t.Errorf("same caller reference gave %+v, %v", again, err)
		}
		other := req
		other.Soft = false
		if _, err := tr.Create(ctx, other); !errors.Is(err, ErrConflict) {
			t.Errorf("conflicting batch: %v", err)
		}
		time.Sleep(3 * time.Second) // fake time: the purge takes 3s
		close(release)
		done, err := tr.Wait(ctx, inv.ID)
		if err != nil || done.Status != StatusCompleted {
			t.Fatalf("Wait = %+v, %v", done, err)
		}
		if got := done.CompleteTime.Sub(start); got != 3*time.Second {
			t.Errorf("completed %v after creation, want 3s", got)
		}
		if len(done.Nodes) != 1 || !done.Nodes[0].Done || done.Nodes[0].Applied != done.Seq {
			t.Errorf("progress when done %+v", done.Nodes)
		}
		synctest.Wait() // the watcher has recorded the completion too
		time.Sleep(time.Minute)
		if got, _ := tr.Get(ctx, inv.ID); !got.CompleteTime.Equal(done.CompleteTime) {
			t.Errorf("CompleteTime moved: %v, then %v", done.CompleteTime, got.CompleteTime)
		}
		if len(purged) != 1 || purged[0].Paths[0] != "/api/*" || purged[0].URLs[0] != "https://shop.example/a?b=1" || !purged[0].Soft || purged[0].By != "admin@test" {
			t.Errorf("subscriber saw %+v", purged)
		}
		if _, err := tr.Get(ctx, "Inope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get unknown: %v", err)
		}
	})
}

// The watcher records the completion time even when nobody asks.
func TestTrackerRecordsCompletionUnasked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := NewMemory(nil)
		defer bus.Close()
		release := make(chan struct{})
		bus.Subscribe("edge", func(context.Context, Event) error { <-release; return nil })
		store := NewMemoryStore(0)
		tr := NewTrackerWith(bus, TrackerOptions{Store: store})
		defer tr.Close()
		inv, err := tr.Create(context.Background(), Request{All: true})
		if err != nil || !inv.All {
			t.Fatal(inv, err)
		}
		time.Sleep(time.Second)
		close(release)
		synctest.Wait()
		got, _ := store.Get(context.Background(), inv.ID)
		if got.CompleteTime.Sub(inv.CreateTime) != time.Second {
			t.Errorf("stored completion %v, created %v", got.CompleteTime, inv.CreateTime)
		}
	})
}

func TestTrackerList(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := NewMemory(nil)
		defer bus.Close()
		tr := NewTracker(bus)
		defer tr.Close()
		for _, tag := range []string{"a", "b", "c"} {
			if _, err := tr.Create(context.Background(), Request{Tags: []string{tag}}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
		}
		list, err := tr.List(context.Background(), 2)
		if err != nil || len(list) != 2 || list[0].Tags[0] != "c" || list[1].Tags[0] != "b" {
			t.Fatalf("List = %+v, %v", list, err)
		}
		for _, inv := range list {
			// No subscriber: nothing holds an invalidation open.
			if inv.Status != StatusCompleted || inv.Nodes != nil {
				t.Errorf("listed %+v", inv)
			}
		}
	})
}

func TestTrackerRejectsBadInput(t *testing.T) {
	bus := NewMemory(nil)
	defer bus.Close()
	tr := NewTracker(bus)
	defer tr.Close()
	long := strings.Repeat("a", MaxItemBytes)
	for _, req := range []Request{
		{},
		{Paths: []string{"api"}},
		{Paths: []string{"/a*b"}},
		{Paths: []string{"/a\nb"}},
		{Paths: []string{"/" + long}},
		{Paths: make([]string, MaxPaths+1)},
		{Paths: []string{"/a"}, URLs: make([]string, MaxPaths)},
		{Tags: []string{"two words"}},
		{Tags: []string{""}},
		{URLs: []string{"/relative"}},
		{URLs: []string{"ftp://h/x"}},
		{URLs: []string{"http:///nohost"}},
		{URLs: []string{"http://user:pw@h/x"}},
		{URLs: []string{"http://h/x#frag"}},
		{URLs: []string{"http://h/\x00"}},
		{All: true, Paths: []string{"/"}},
		{All: true, Tags: []string{"t"}},
		{Paths: []string{"/"}, CallerReference: strings.Repeat("r", MaxCallerReferenceBytes+1)},
	} {
		if _, err := tr.Create(context.Background(), req); !errors.Is(err, ErrInvalid) {
			t.Errorf("Create(%.80v) err = %v", req, err)
		}
	}
	if seq, _ := bus.Publish(context.Background(), Event{}); seq != 1 {
		t.Errorf("bad requests published %d events", seq-1)
	}
	for _, req := range []Request{
		{Paths: make([]string, 0), Tags: []string{"t"}},
		{URLs: []string{"https://h:8443/p?q=1&r=%20"}},
		{All: true, Soft: true},
		{Paths: []string{"/" + long[1:]}},
	} {
		if _, err := tr.Create(context.Background(), req); err != nil {
			t.Errorf("Create(%.80v) err = %v", req, err)
		}
	}
}

// A caller with a caller reference whose invalidation another caller is
// still publishing waits for it; if that caller died before publishing,
// it publishes after pendingTimeout.
func TestTrackerPendingCallerReference(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := NewMemory(nil)
		defer bus.Close()
		store := NewMemoryStore(0)
		tr := NewTrackerWith(bus, TrackerOptions{Store: store})
		defer tr.Close()
		// A record whose creator died between storing and publishing.
		dead := Invalidation{ID: "IDEAD", CallerReference: "r", Tags: []string{"t"}, CreateTime: time.Now().UTC()}
		if _, _, err := store.Create(context.Background(), dead); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		got, err := tr.Create(context.Background(), Request{Tags: []string{"t"}, CallerReference: "r"})
		if err != nil || got.ID != "IDEAD" || got.Seq != 1 {
			t.Fatalf("Create = %+v, %v", got, err)
		}
		if waited := time.Since(start); waited < pendingTimeout || waited > pendingTimeout+time.Second {
			t.Errorf("took over after %v, want about %v", waited, pendingTimeout)
		}
	})
}

// A failed publication leaves no record behind and frees the reference.
func TestTrackerPublishFailure(t *testing.T) {
	bus := NewMemory(nil)
	bus.Close()
	store := NewMemoryStore(0)
	tr := NewTrackerWith(bus, TrackerOptions{Store: store})
	defer tr.Close()
	if _, err := tr.Create(context.Background(), Request{Tags: []string{"t"}, CallerReference: "r"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Create on a closed bus = %v", err)
	}
	if list, _ := store.List(context.Background(), 10); len(list) != 0 {
		t.Errorf("records left: %+v", list)
	}
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
	defer tr.Close()
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Go(func() {
			inv, err := tr.Create(context.Background(), Request{Paths: []string{"/x"}, CallerReference: "same"})
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
