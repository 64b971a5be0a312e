package store

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// holdClaims makes PurgeLater leave every tag purge to m's reaper, however
// small, and the reaper wait before each claim until the returned function
// is called (at the latest when the test ends).
func holdClaims(t *testing.T, m *Memory) (release func()) {
	old := claimAtOnce
	claimAtOnce = 0
	gate := make(chan struct{})
	m.beforeClaim = func() { <-gate }
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(func() {
		release()
		claimAtOnce = old
	})
	return release
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
	if claims, objects := m.PurgeBacklog(); claims != 0 || objects != 0 {
		t.Errorf("purge backlog %d claims, %d objects after the reaper is done", claims, objects)
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
	release := holdClaims(t, m)
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
	if claims, _ := m.PurgeBacklog(); claims == 0 {
		t.Error("PurgeBacklog reports no claims while they wait")
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
	release := holdClaims(t, m)
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
	m.beforeClaim = func() { t.Error("PurgeLater left a claim to the reaper") }
	m.Set(tagged("k", "t"))
	// A small tag is claimed at once, up to claimAtOnce entries per shard
	// (one path: one shard).
	for i := range claimAtOnce {
		m.Set(&Entry{Key: fmt.Sprint("s", i), Path: "/small", Tags: []string{"small"}, Retain: time.Hour})
	}
	for _, tc := range []struct {
		sel  Selector
		want int
	}{
		{Selector{KindTag, "none"}, 0},
		{PathSelector("/k"), 1},
		{Selector{KindURL, "nothing"}, 0},
		{Selector{KindTag, "small"}, claimAtOnce},
	} {
		got := -1
		m.PurgeLater(tc.sel, func(n int) { got = n })
		if got != tc.want {
			t.Errorf("PurgeLater(%v) counted %d before returning, want %d", tc.sel, got, tc.want)
		}
	}
	m.CleanUp()
	m.checkSettled(t)
}

// A small tag claimed at once leaves alone what an older pending purge
// covers: that purge counts it.
func TestPurgeLaterAtOnceLeavesOlderPurgesTheirs(t *testing.T) {
	m := newMem(t, 1<<30)
	release := holdClaims(t, m)
	for i := range 3 {
		m.Set(&Entry{Key: fmt.Sprint("k", i), Path: "/p", Tags: []string{"big", "small"}, Retain: time.Hour})
	}
	big := make(chan int, 1)
	m.PurgeLater(Selector{KindTag, "big"}, func(n int) { big <- n })
	claimAtOnce = 64
	m.Set(&Entry{Key: "k3", Path: "/p", Tags: []string{"small"}, Retain: time.Hour})
	got := -1
	m.PurgeLater(Selector{KindTag, "small"}, func(n int) { got = n })
	if got != 1 {
		t.Errorf("the small purge counted %d, want 1 (k3)", got)
	}
	release()
	if n := <-big; n != 3 {
		t.Errorf("the pending purge counted %d, want 3", n)
	}
	m.CleanUp()
	m.checkSettled(t)
}

// Entries a pending purge covers count for it when they expire before its
// claim, and a purge of everything meanwhile counts only the others.
func TestPurgeLaterCreditsExpiryAndPurgeAll(t *testing.T) {
	m, clock := newClockMem(t, 1<<30)
	release := holdClaims(t, m)
	for i := range 6 {
		e := tagged(fmt.Sprint("k", i), "t")
		if i < 2 {
			e.Retain = time.Second
		}
		m.Set(e)
	}
	m.Set(tagged("other", "u"))
	counted := make(chan int, 1)
	m.PurgeLater(Selector{KindTag, "t"}, func(n int) { counted <- n })
	clock.Advance(time.Minute)
	m.c.CleanUp() // the store's own: m.CleanUp would wait for the claims
	if _, ok := m.Get("k0"); ok {
		t.Fatal("k0 outlived its retention")
	}
	all := make(chan int, 1)
	go func() { all <- m.Purge(Selector{Kind: KindAll}) }()
	release()
	if n := <-counted; n != 6 {
		t.Errorf("the tag purge counted %d, want 6 (2 of them expired first)", n)
	}
	if n := <-all; n != 1 {
		t.Errorf("the purge of everything counted %d, want 1 (other)", n)
	}
	m.CleanUp()
	m.checkSettled(t)
}

// No Get that starts after PurgeLater returned finds a covered entry,
// while the reaper claims them.
func TestPurgeLaterNoHitWhileClaiming(t *testing.T) {
	m := newMem(t, 1<<30)
	rounds := 8
	if testing.Short() {
		rounds = 3
	}
	const n = 4096 // about 128 per shard: claims, not marked at once
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprint("k", i)
	}
	for r := range rounds {
		tag := fmt.Sprint("round", r)
		for _, k := range keys {
			m.Set(tagged(k, tag))
		}
		counted := make(chan int)
		m.PurgeLater(Selector{KindTag, tag}, func(n int) { counted <- n })
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 2 {
			wg.Go(func() {
				for i := w; ; i = (i + 2) % n {
					select {
					case <-stop:
						return
					default:
					}
					if _, ok := m.Get(keys[i]); ok {
						t.Errorf("round %d: %s found after its purge", r, keys[i])
						return
					}
				}
			})
		}
		got := <-counted
		close(stop)
		wg.Wait()
		if got != n {
			t.Fatalf("round %d counted %d, want %d", r, got, n)
		}
		m.CleanUp()
	}
	m.checkSettled(t)
}

// Under concurrent stores, deletions and purges of every kind (everything
// included), each response stored leaves in exactly one count: still
// stored, deleted, or counted by one purge.
func TestPurgeCountsAddUp(t *testing.T) {
	ops := 4000
	if testing.Short() {
		ops = 1500
	}
	m := newMem(t, 1<<30) // nothing is evicted
	tags := []string{"t1", "t2", "t3", "all"}
	paths := []string{"/a", "/a/b", "/b", "/c/d"}
	var stored, deleted, purged atomic.Int64
	const workers = 4
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			var mine []string
			for i := range ops {
				switch op := rng.IntN(100); {
				case op < 55 || len(mine) == 0:
					key := fmt.Sprint("w", w, "-", i) // every key once: no replacements
					e := &Entry{Key: key, Path: paths[rng.IntN(len(paths))], Retain: time.Hour}
					for range 1 + rng.IntN(2) {
						e.Tags = append(e.Tags, tags[rng.IntN(len(tags))])
					}
					m.Set(e)
					stored.Add(1)
					mine = append(mine, key)
				case op < 65:
					if m.Delete(mine[rng.IntN(len(mine))]) {
						deleted.Add(1)
					}
				case op < 75:
					purged.Add(int64(m.Purge(Selector{KindTag, tags[rng.IntN(len(tags))]})))
				case op < 90:
					m.PurgeLater(Selector{KindTag, tags[rng.IntN(len(tags))]}, func(n int) { purged.Add(int64(n)) })
				case op < 94:
					purged.Add(int64(m.Purge(Selector{KindURL, mine[rng.IntN(len(mine))]})))
				case op < 97:
					purged.Add(int64(m.Purge(PathSelector(paths[rng.IntN(len(paths))] + []string{"", "*"}[rng.IntN(2)]))))
				case op < 99:
					m.MarkStale(Selector{KindTag, tags[rng.IntN(len(tags))]}, time.Unix(1, 0))
				case rng.IntN(4) == 0:
					purged.Add(int64(m.Purge(Selector{Kind: KindAll})))
				}
			}
		})
	}
	wg.Wait()
	m.CleanUp() // every claim made, every count reported
	m.checkSettled(t)
	left := int64(m.idx.count())
	if s, d, p := stored.Load(), deleted.Load(), purged.Load(); s != left+d+p {
		t.Errorf("stored %d responses; %d left + %d deleted + %d counted by purges = %d", s, left, d, p, left+d+p)
	}
}
