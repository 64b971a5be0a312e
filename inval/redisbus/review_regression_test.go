package redisbus

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/strata-cache/strata/internal/testenv"
	"github.com/strata-cache/strata/inval"
)

// Bug: checkStream (subscriber.go) moves the node's recorded position to
// the new stream's head BEFORE calling LostFunc. The heartbeat goroutine
// records that position while LostFunc is still running (an edge emptying
// a large cache), so an invalidation published on the new stream is
// acknowledged by a node that has not yet forgotten anything.
func TestReviewCheckStreamRecordsBeforeLost(t *testing.T) {
	addr := testenv.Redis(t)
	opts := fast(newPrefix())
	opts.BlockTime = 3 * time.Second // the node's read blocks across the flush+publish below
	nodeBus := newBus(t, newClient(t, addr), opts)

	lostIn := make(chan error, 16)
	release := make(chan struct{})
	var calls int
	lost := func(reason error) {
		calls++ // only the delivery goroutine (and Subscribe) call this here
		if calls == 1 {
			return // ErrNewNode at Subscribe
		}
		lostIn <- reason
		<-release // forgetting a big cache takes a while
	}
	t.Cleanup(func() { close(release) })
	if err := nodeBus.SubscribeWithLost("n1", func(context.Context, inval.Event) error { return nil }, lost); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := nodeBus.Publish(context.Background(), inval.Event{Tags: []string{"x"}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := nodeBus.WaitAcked(waitCtx(t), 3); err != nil {
		t.Fatal(err)
	}
	// Redis loses its data (as a restart without persistence would).
	raw := newClient(t, addr)
	if err := raw.Do(context.Background(), raw.B().Flushall().Build()).Error(); err != nil {
		t.Fatal(err)
	}
	// A fresh admin process publishes an invalidation on the new stream.
	pub := newBus(t, newClient(t, addr), opts)
	seq, err := pub.Publish(context.Background(), inval.Event{Tags: []string{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	// The node notices the reset and starts forgetting.
	reason := receive(t, lostIn, "the node's loss after the flush")
	if !errors.Is(reason, ErrReset) {
		t.Fatalf("reason %v", reason)
	}
	// While it is still forgetting, the invalidation must not be acked.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := pub.WaitAcked(ctx, seq); err == nil {
		t.Fatalf("event %d acknowledged by node n1 while its LostFunc is still running (it has forgotten nothing yet)", seq)
	}
}
