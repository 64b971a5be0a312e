package load

import "testing"

// A PUT that answered "X-Invalidation: completed" promises that its
// invalidation completed by the time it returned. The invalidation record
// matched to its X-Data-Version may say it completed later: the API names
// the newest data version (outbox.Last after the commit), whose batch can
// be a later one than the write's, and a record's CompleteTime is when a
// tracker first saw it complete, which can be after the acknowledgement.
// The checker took the record's time over the PUT's, so a stale read
// between the PUT's return and that later time counted as stale *before*
// completion, hiding a broken promise.
func TestCheckerStaleAfterCompletedPutDespiteLaterRecord(t *testing.T) {
	clk := &fakeClock{t0}
	k := newChecker(clk.now)
	clk.t = at(10)
	k.commitAcked(42, 2, at(8), 7, true) // PUT returned "completed" at 10
	k.recordsSeen([]invalidationRecord{{from: 7, to: 7, createTime: at(5), completeTime: at(80)}})
	k.read(42, at(50), 1) // stale, and after the PUT said it was complete
	after, before, _, _ := k.finish()
	if after != 1 || before != 0 {
		t.Errorf("stale after, before = %d, %d; want 1, 0", after, before)
	}
}
