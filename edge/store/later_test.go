package store

import (
	"fmt"
	"testing"
	"time"
)

// holdClaims makes m's reaper wait before each claim until the returned
// function is called.
func holdClaims(m *Memory) (release func()) {
	gate := make(chan struct{})
	m.beforeClaim = func() { <-gate }
	return func() { close(gate) }
}

func tagged(key string, tags ...string) *Entry {
	return &Entry{Key: key, Path: "/" + key, Tags: tags, Retain: time.Hour}
}

// checkSettled checks that nothing of the tag purges is left over once the
// reaper is done.
func (m *Memory) checkSettled(t *testing.T) {
	t.Helper()
	if err := m.checkIndex(); err != nil {
		t.Fatal(err)
	}
	if n := m.lazy.Load(); n != 0 {
		t.Errorf("lazy count %d after the reaper is done", n)
	}
	if n := m.purged.Load(); n != 0 {
		t.Errorf("%d purged responses not reaped", n)
	}
	for i := range m.idx.shards {
		if p := m.idx.shards[i].pending.Load(); p != nil {
			t.Errorf("shard %d still has pending purges: %v", i, *p)
		}
	}
}

// A tag purge by PurgeLater is in effect when it returns, before any claim
// ran; purges, deletions and replacements meanwhile neither count a
// covered response twice nor lose it from the count.
func TestPurgeLaterInEffectBeforeClaims(t *testing.T) {
	m := newMem(t, 1<<30)
	release := holdClaims(m)
	for i := range 40 {
		m.Set(tagged(fmt.Sprint("a", i), "a"))
	}
	for i := range 10 {
		m.Set(tagged(fmt.Sprint("ab", i), "a", "b"))
	}
	for i := range 5 {
		m.Set(tagged(fmt.Sprint("b", i), "b"))
	}
	m.Set(tagged("c", "c"))
	// A vary marker carrying the tag is purged but not counted.
	m.Set(&Entry{Key: "marker", Path: "/marker", Tags: []string{"a"}, VaryNames: []string{"Accept"}, Retain: time.Hour})

	first := make(chan int, 1)
	m.PurgeLater(Selector{KindTag, "a"}, func(n int) { first <- n })
	present := func(key string, want bool) {
		t.Helper()
		if _, ok := m.Get(key); ok != want {
			t.Errorf("Get(%q) found %v, want %v", key, ok, want)
		}
	}
	for i := range 40 {
		present(fmt.Sprint("a", i), false)
	}
	for i := range 10 {
		present(fmt.Sprint("ab", i), false)
	}
	present("marker", false)
	for i := range 5 {
		present(fmt.Sprint("b", i), true)
	}
	present("c", true)

	// Stored after the purge: not covered.
	m.Set(tagged("a-new", "a"))
	present("a-new", true)
	// An eager purge leaves the covered "ab" entries to the pending one.
	if n := m.Purge(Selector{KindTag, "b"}); n != 5 {
		t.Errorf("purge of b counted %d, want the 5 b-only responses", n)
	}
	// A covered entry deleted or replaced is counted by the pending purge
	// as it leaves, not by whatever removed it.
	if m.Delete("a0") {
		t.Error("Delete reported a covered entry as stored")
	}
	if n := m.Purge(Selector{KindURL, "a1"}); n != 0 {
		t.Errorf("URL purge counted %d covered responses", n)
	}
	m.Set(tagged("a2", "a"))
	present("a2", true)
	// A soft purge marks only what is not purged.
	if n := m.MarkStale(Selector{KindTag, "a"}, time.Unix(1, 0)); n != 2 {
		t.Errorf("soft purge marked %d, want a-new and a2", n)
	}
	second := make(chan int, 1)
	m.PurgeLater(Selector{KindTag, "a"}, func(n int) { second <- n })
	present("a-new", false)
	present("a2", false)
	select {
	case n := <-first:
		t.Fatalf("counted %d before any claim ran", n)
	default:
	}

	release()
	if n := <-first; n != 50 {
		t.Errorf("first purge counted %d, want 50 (40 a, 10 ab)", n)
	}
	if n := <-second; n != 2 {
		t.Errorf("second purge counted %d, want 2 (a-new, a2)", n)
	}
	m.CleanUp()
	m.checkSettled(t)
	present("c", true)
	if n := m.Len(); n != 1 {
		t.Errorf("%d entries left, want only c", n)
	}
}

// Where two pending purges cover an entry, the older counts it, whether
// its claim reaches the entry or the entry leaves first.
func TestPurgeLaterOldestCounts(t *testing.T) {
	m := newMem(t, 1<<30)
	release := holdClaims(m)
	for i := range 8 {
		m.Set(tagged(fmt.Sprint("xy", i), "x", "y"))
	}
	for i := range 3 {
		m.Set(tagged(fmt.Sprint("y", i), "y"))
	}
	x, y := make(chan int, 1), make(chan int, 1)
	m.PurgeLater(Selector{KindTag, "x"}, func(n int) { x <- n })
	m.PurgeLater(Selector{KindTag, "y"}, func(n int) { y <- n })
	m.Delete("xy0") // leaves before the claims: x's
	m.Delete("y0")  // y's
	release()
	if n := <-x; n != 8 {
		t.Errorf("x counted %d, want 8", n)
	}
	if n := <-y; n != 3 {
		t.Errorf("y counted %d, want 3", n)
	}
	m.CleanUp()
	m.checkSettled(t)
	if n := m.Len(); n != 0 {
		t.Errorf("%d entries left", n)
	}
}

// PurgeLater of a tag nothing carries, or of another selector, counts
// before it returns.
func TestPurgeLaterCountsAtOnce(t *testing.T) {
	m := newMem(t, 1<<30)
	holdClaims(m) // never released: no claim may be needed
	m.Set(tagged("k", "t"))
	for _, sel := range []Selector{{KindTag, "none"}, PathSelector("/k"), {KindURL, "nothing"}} {
		got := -1
		m.PurgeLater(sel, func(n int) { got = n })
		want := 0
		if sel.Kind == KindPath {
			want = 1
		}
		if got != want {
			t.Errorf("PurgeLater(%v) counted %d before returning, want %d", sel, got, want)
		}
	}
}
