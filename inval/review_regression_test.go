package inval

import (
	"context"
	"errors"
	"testing"
	"time"
)

type failSetSeq struct {
	*MemoryStore
	fail bool
}

func (s *failSetSeq) SetSeq(ctx context.Context, id string, seq uint64) (Invalidation, error) {
	if s.fail {
		s.fail = false
		return Invalidation{}, errors.New("redis: i/o timeout")
	}
	return s.MemoryStore.SetSeq(ctx, id, seq)
}

// When SetSeq fails after a successful Publish, the record kept Seq 0 and
// nothing repaired it: Get and List reported InProgress forever although
// every node applied the event. The write is retried now.
func TestReviewSetSeqFailureIsRetried(t *testing.T) {
	bus := NewMemory(nil)
	defer bus.Close()
	applied := make(chan uint64, 4)
	if err := bus.Subscribe("n", func(_ context.Context, ev Event) error { applied <- ev.Seq; return nil }); err != nil {
		t.Fatal(err)
	}
	st := &failSetSeq{MemoryStore: NewMemoryStore(0), fail: true}
	tr := NewTrackerWith(bus, TrackerOptions{Store: st})
	defer tr.Close()
	if _, err := tr.Create(context.Background(), Request{Tags: []string{"x"}}); err != nil {
		t.Fatalf("Create with one failed SetSeq: %v", err)
	}
	seq := <-applied
	if err := bus.WaitAcked(context.Background(), seq); err != nil {
		t.Fatal(err)
	}
	invs, _ := tr.List(context.Background(), 10)
	if len(invs) != 1 {
		t.Fatalf("%d invalidations", len(invs))
	}
	got, _ := tr.Get(context.Background(), invs[0].ID)
	if got.Status != StatusCompleted {
		t.Errorf("event %d applied by every node, invalidation %s still %s (seq %d) with no way to complete but a Wait call %v later",
			seq, got.ID, got.Status, got.Seq, pendingTimeout-time.Since(got.CreateTime).Round(time.Second))
	}
}
