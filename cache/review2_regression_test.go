package cache

import (
	"context"
	"sync/atomic"
	"testing"
)

// A "not found" read after the key's tombstone (a deleted row) is cached:
// the loader reports the version it read at (the catalog's repository does
// since this review), so the negative entry is not refused as older than
// the tombstone and each Get does not load twice.
func TestReviewNegativeAfterDeleteIsCached(t *testing.T) {
	c := newCache(t, Options[string]{})
	ctx := context.Background()
	c.Get(ctx, "product:7", loaderOf("p", 3))
	c.Invalidate(ctx, 4, "product:7") // deleted at 4
	var calls atomic.Int32
	gone := func(context.Context, string) (Item[string], error) {
		calls.Add(1)
		return Item[string]{Version: 5}, ErrNotFound
	}
	for range 3 {
		c.Get(ctx, "product:7", gone)
	}
	if calls.Load() != 1 {
		t.Errorf("loader calls = %d for 3 Gets of a deleted key", calls.Load())
	}
}

// InvalidateAll(0) would flush nothing in L2 (a floor of 0 refuses
// nothing) and, while L2 was down, was kept as "nothing pending": it is
// refused now. A real flush made while L2 is down is kept for replay.
func TestReviewInvalidateAllWhileDown(t *testing.T) {
	l2 := newMemL2(t)
	c := newTwoLevel(t, l2, Options[string]{BreakerFailures: 1})
	ctx := context.Background()
	c.Get(ctx, "k", loaderOf("v", 1))
	if err := c.InvalidateAll(ctx, 0); err == nil {
		t.Error("InvalidateAll(0) accepted")
	}
	l2.down.Store(true)
	if err := c.InvalidateAll(ctx, 2); err == nil {
		t.Fatal("no error with L2 down")
	}
	c.pendMu.Lock()
	over := c.pendOver
	c.pendMu.Unlock()
	if over != 2 {
		t.Errorf("pending flush version = %d, want 2", over)
	}
}

// Lesser: Cache.Fill does not check the key; a bad key is an L2 "failure"
// and opens the breaker.
func TestReviewFillBadKeyOpensBreaker(t *testing.T) {
	l2 := &badKeyL2{newMemL2(t)}
	c, err := New(Options[string]{L2: l2, BreakerFailures: 2, Clock: preciseClock{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	c.Fill(context.Background(), "", Item[string]{Value: "v", Version: 1})
	c.Fill(context.Background(), "", Item[string]{Value: "v", Version: 1})
	if c.brk.isOpen() {
		t.Error("two Fills with an empty key opened the L2 breaker")
	}
}

type badKeyL2 struct{ *memL2 }

func (b *badKeyL2) Fill(ctx context.Context, key string, e Entry[string]) (bool, error) {
	if err := CheckKey(key); err != nil { // as cache/redis does
		return false, err
	}
	return b.memL2.Fill(ctx, key, e)
}
