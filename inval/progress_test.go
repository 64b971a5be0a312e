package inval

import (
	"context"
	"errors"
	"testing"
)

func TestProgress(t *testing.T) {
	var p Progress
	got := make(chan uint64)
	go func() {
		seq, err := p.Wait(context.Background(), 5)
		if err != nil {
			t.Error(err)
		}
		got <- seq
	}()
	p.Applied(Event{Seq: 1, Version: 3})
	p.Applied(Event{Seq: 2}) // an admin purge: no data version
	select {
	case seq := <-got:
		t.Fatalf("Wait(5) returned %d after version 3", seq)
	default:
	}
	p.Applied(Event{Seq: 3, Version: 7})
	if seq := <-got; seq != 3 {
		t.Fatalf("Wait(5) = %d, want the sequence of version 7's event, 3", seq)
	}
	p.Applied(Event{Seq: 4, Version: 6}) // older: ignored
	if seq, _ := p.Wait(context.Background(), 7); seq != 3 || p.Version() != 7 {
		t.Errorf("after an older event: seq %d, version %d", seq, p.Version())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Wait(ctx, 8); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait past the newest version with a done context = %v", err)
	}
}
