package invaltest

import (
	"context"
	"testing"

	"github.com/strata-cache/strata/inval"
)

// TestCursor checks the contract of inval.Cursor. newCursors returns n
// cursors sharing one position (the relays of n processes).
func TestCursor(t *testing.T, newCursors func(t *testing.T, n int) []inval.Cursor) {
	ctx := context.Background()
	cs := newCursors(t, 2)
	if seq, ok, err := cs[0].Load(ctx); err != nil || ok || seq != 0 {
		t.Fatalf("new cursor Load = %d, %v, %v; want 0, false, nil", seq, ok, err)
	}
	// Of relays starting at once on an empty cursor, the first position
	// wins and every one starts there.
	if got, err := cs[0].Init(ctx, 5); err != nil || got != 5 {
		t.Fatalf("Init(5) on an empty cursor = %d, %v; want 5", got, err)
	}
	if got, err := cs[1].Init(ctx, 9); err != nil || got != 5 {
		t.Fatalf("a second Init(9) = %d, %v; want the first one's 5", got, err)
	}
	cs = newCursors(t, 2)
	if err := cs[0].Store(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if seq, ok, err := cs[1].Load(ctx); err != nil || !ok || seq != 0 {
		t.Fatalf("after Store(0): Load = %d, %v, %v; want 0, true (a stored zero is not an empty cursor)", seq, ok, err)
	}
	if err := cs[0].Store(ctx, 42); err != nil {
		t.Fatal(err)
	}
	if seq, _, _ := cs[1].Load(ctx); seq != 42 {
		t.Fatalf("the other cursor loads %d, want 42", seq)
	}
	// A deposed relay writing late does not move the cursor back.
	if err := cs[1].Store(ctx, 7); err != nil {
		t.Fatal(err)
	}
	if seq, _, _ := cs[0].Load(ctx); seq != 42 {
		t.Fatalf("a lower Store moved the cursor to %d", seq)
	}
	if err := cs[1].Store(ctx, 43); err != nil {
		t.Fatal(err)
	}
	if seq, _, _ := cs[0].Load(ctx); seq != 43 {
		t.Fatalf("Load = %d, want 43", seq)
	}
}
