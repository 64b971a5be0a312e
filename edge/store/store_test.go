package store

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func newMem(t testing.TB, max uint64) *Memory {
	t.Helper()
	m, err := NewMemory(Options{MaxBytes: max})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// fakeClock is an otter.Clock the test moves; it never ticks.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) NowNano() int64                      { return c.ns.Load() }
func (c *fakeClock) Tick(time.Duration) <-chan time.Time { return nil }
func (c *fakeClock) Advance(d time.Duration)             { c.ns.Add(int64(d)) }
func newClockMem(t testing.TB, max uint64) (*Memory, *fakeClock) {
	t.Helper()
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	m, err := NewMemory(Options{MaxBytes: max, Clock: c})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m, c
}

func TestNewMemoryNeedsBound(t *testing.T) {
	if _, err := NewMemory(Options{}); err != ErrNoBound {
		t.Fatalf("err = %v, want ErrNoBound", err)
	}
}

func TestSetGetPurge(t *testing.T) {
	m := newMem(t, 1<<20)
	for _, e := range []*Entry{
		{Key: "h/api/a", Path: "/api/a", Tags: []string{"product:1", "products"}, Retain: time.Hour},
		{Key: "h/api/a?x=1", Path: "/api/a", Retain: time.Hour},
		{Key: "h2/api/a", Path: "/api/a", Retain: time.Hour},
		{Key: "h/api/b", Path: "/api/b", Tags: []string{"products"}, Retain: time.Hour},
		{Key: "h/api", Path: "/api", Retain: time.Hour},
		{Key: "h/index.html", Path: "/index.html", Retain: time.Hour},
	} {
		m.Set(e)
	}
	if e, ok := m.Get("h/api/a"); !ok || e.Path != "/api/a" {
		t.Fatalf("Get = %v %v", e, ok)
	}
	steps := []struct {
		sel  Selector
		want int
		gone []string
	}{
		{PathSelector("/api/a"), 3, []string{"h/api/a", "h/api/a?x=1", "h2/api/a"}}, // every query and host
		{PathSelector("/api/a"), 0, nil},
		{Selector{Kind: KindTag, Value: "products"}, 1, []string{"h/api/b"}},
		{PathSelector("/api/*"), 0, nil}, // a prefix with the slash does not match /api
		{PathSelector("/ap*"), 1, []string{"h/api"}},
		{Selector{Kind: KindURL, Value: "h/index.html"}, 1, []string{"h/index.html"}},
	}
	for i, s := range steps {
		if n := m.Purge(s.sel); n != s.want {
			t.Errorf("step %d: Purge(%v) removed %d, want %d", i, s.sel, n, s.want)
		}
		for _, k := range s.gone {
			if _, ok := m.Get(k); ok {
				t.Errorf("step %d: %s survived", i, k)
			}
		}
	}
	if err := m.checkIndex(); err != nil {
		t.Fatal(err)
	}
	if m.Len() != 0 {
		t.Errorf("%d entries left", m.Len())
	}
}

func TestPathSelector(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Selector
	}{
		{"/a", Selector{KindPath, "/a"}},
		{"/a%20b", Selector{KindPath, "/a b"}},
		{"/100%", Selector{KindPath, "/100%"}},
		{"/api/*", Selector{KindPrefix, "/api/"}},
		{"/*", Selector{KindPrefix, "/"}},
		{"*", Selector{Kind: KindAll}},
	} {
		if got := PathSelector(tt.in); got != tt.want {
			t.Errorf("PathSelector(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestVariantsFollowTheirURL(t *testing.T) {
	m := newMem(t, 1<<20)
	m.Set(&Entry{Key: "u", Path: "/v", VaryNames: []string{"Accept-Language"}, Generation: 1, Retain: time.Hour})
	for _, l := range []string{"fr", "de"} {
		m.Set(&Entry{Key: "u\x00v1\x00" + l, Primary: "u", Path: "/v", Tags: []string{"t"}, Retain: time.Hour})
	}
	m.Set(&Entry{Key: "u2", Path: "/v", Retain: time.Hour})
	if n := m.MarkStale(Selector{KindURL, "u"}, time.Unix(1, 0)); n != 2 {
		t.Errorf("soft URL purge marked %d, want the 2 variants", n)
	}
	if e, _ := m.Get("u\x00v1\x00fr"); !hasMark(e) {
		t.Error("variant not marked")
	}
	if e, _ := m.Get("u"); hasMark(e) {
		t.Error("marker marked")
	}
	if n := m.Purge(Selector{KindURL, "u"}); n != 2 {
		t.Errorf("URL purge removed %d responses, want 2", n)
	}
	if _, ok := m.Get("u"); ok {
		t.Error("marker survived its URL's purge")
	}
	if _, ok := m.Get("u2"); !ok {
		t.Error("another URL of the path was removed")
	}
	if err := m.checkIndex(); err != nil {
		t.Fatal(err)
	}
}

func hasMark(e *Entry) bool {
	if e == nil {
		return false
	}
	_, ok := e.StaleSince()
	return ok
}

func TestMarkStale(t *testing.T) {
	m := newMem(t, 1<<20)
	m.Set(&Entry{Key: "a", Path: "/a", Tags: []string{"t"}, Retain: time.Hour})
	m.Set(&Entry{Key: "b", Path: "/b", Tags: []string{"t"}, Retain: time.Hour})
	m.Set(&Entry{Key: "c", Path: "/c", Retain: time.Hour})
	t1, t2 := time.Unix(100, 0), time.Unix(200, 0)
	if n := m.MarkStale(Selector{KindTag, "t"}, t1); n != 2 {
		t.Errorf("marked %d, want 2", n)
	}
	if n := m.MarkStale(Selector{Kind: KindAll}, t2); n != 1 {
		t.Errorf("marked %d, want only the 1 not marked yet", n)
	}
	if e, _ := m.Get("a"); !e.mustStaleSince(t, t1) {
		t.Error("an entry marked twice lost its first mark")
	}
	// A new entry replacing a marked one is not marked; one re-stored is
	// copied, keeping the stored one's mark where it is.
	a, _ := m.Get("a")
	m.Set(a)
	if e, _ := m.Get("a"); e == a || hasMark(e) {
		t.Errorf("re-stored entry: same %v, marked %v", e == a, hasMark(e))
	}
	m.SetStale(&Entry{Key: "d", Path: "/d", Retain: time.Hour}, t2)
	if e, _ := m.Get("d"); !e.mustStaleSince(t, t2) {
		t.Error("SetStale did not mark")
	}
	if m.Len() != 4 {
		t.Errorf("MarkStale changed the store: %d entries", m.Len())
	}
}

func (e *Entry) mustStaleSince(t *testing.T, want time.Time) bool {
	t.Helper()
	got, ok := e.StaleSince()
	return ok && got.Equal(want)
}

func TestByteBound(t *testing.T) {
	const bound = 64 << 10
	m := newMem(t, bound)
	body := []byte(strings.Repeat("x", 1024))
	for i := range 1000 {
		m.Set(&Entry{Key: string(rune('a'+i%26)) + strings.Repeat("k", i), Body: body, Retain: time.Hour})
	}
	m.c.CleanUp()
	if b := m.Bytes(); b > bound {
		t.Errorf("store holds %d bytes, above its bound %d", b, bound)
	}
	if m.Len() == 0 {
		t.Error("store kept nothing")
	}
	if err := m.checkIndex(); err != nil {
		t.Fatal(err)
	}
}

// Every way an entry leaves the store takes it out of the indexes.
func TestIndexFollowsEveryDeletionCause(t *testing.T) {
	entry := func(i int, tags ...string) *Entry {
		return &Entry{Key: fmt.Sprintf("k%d", i), Path: fmt.Sprintf("/p/%d", i%7), Tags: tags, Retain: time.Hour}
	}
	tests := []struct {
		name string
		run  func(m *Memory, c *fakeClock)
	}{
		{"replacement", func(m *Memory, _ *fakeClock) {
			for i := range 50 {
				m.Set(entry(i, "kept", "old", fmt.Sprint("o", i)))
			}
			// Half move to another path and lose tags, half keep path
			// and a tag: the new entry's slots must survive the old
			// one's removal.
			for i := range 50 {
				e := entry(i, "kept", "new")
				if i%2 == 0 {
					e.Path = "/moved"
				}
				m.Set(e)
			}
			if m.Purge(Selector{KindTag, "old"}) != 0 {
				panic("a replaced entry was still indexed")
			}
		}},
		{"invalidation", func(m *Memory, _ *fakeClock) {
			for i := range 50 {
				m.Set(entry(i, "t"))
			}
			for i := range 25 {
				m.Delete(fmt.Sprintf("k%d", i))
			}
		}},
		{"overflow", func(m *Memory, _ *fakeClock) {
			for i := range 2000 {
				m.Set(entry(i, "t", fmt.Sprint("o", i)))
			}
		}},
		{"expiration", func(m *Memory, c *fakeClock) {
			for i := range 50 {
				e := entry(i, "t")
				e.Retain = time.Duration(1+i%3) * time.Minute
				m.Set(e)
			}
			c.Advance(2*time.Minute + time.Second)
			m.CleanUp()
			if n := m.Len(); n == 0 || n == 50 {
				panic(fmt.Sprintf("%d entries left: expected some to expire", n))
			}
		}},
		{"purge all", func(m *Memory, _ *fakeClock) {
			for i := range 50 {
				m.Set(entry(i, "t"))
			}
			m.PurgeAll()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, c := newClockMem(t, 200<<10)
			tt.run(m, c)
			if err := m.checkIndex(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Randomised hammering from several goroutines, with evictions (a small
// bound) and expirations (a clock that moves), then index == store exactly.
func TestIndexStaysExactUnderConcurrency(t *testing.T) {
	ops := 20000
	if testing.Short() {
		ops = 3000
	}
	m, clock := newClockMem(t, 96<<10) // ~80 entries of 200 keys: constant eviction
	paths := []string{"/", "/a", "/a/b", "/a/bc", "/ab", "/b/c/d", "/b/c", "/x"}
	tags := []string{"t1", "t2", "t3", "all"}
	done := make(chan struct{})
	const workers = 6
	for w := range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			r := uint64(w)*0x9e3779b97f4a7c15 + 1
			next := func(n int) int { // xorshift: deterministic per worker
				r ^= r << 13
				r ^= r >> 7
				r ^= r << 17
				return int(r % uint64(n))
			}
			for range ops {
				key := fmt.Sprint("k", next(200))
				switch op := next(100); {
				case op < 45:
					e := &Entry{Key: key, Path: paths[next(len(paths))], Retain: time.Duration(1+next(30)) * time.Second}
					for range next(3) {
						e.Tags = append(e.Tags, tags[next(len(tags))])
					}
					switch next(4) {
					case 0:
						e.Primary = fmt.Sprint("u", next(5))
					case 1:
						e.VaryNames, e.Generation = []string{"Accept"}, 1
					}
					if next(10) == 0 {
						m.SetStale(e, time.Unix(1, 0))
					} else {
						m.Set(e)
					}
				case op < 55:
					if e, ok := m.Get(key); ok {
						m.Set(e) // re-store a stored entry
					}
				case op < 70:
					m.Get(key)
				case op < 78:
					m.Delete(key)
				case op < 81:
					m.Purge(Selector{KindTag, tags[next(len(tags))]})
				case op < 84:
					m.PurgeLater(Selector{KindTag, tags[next(len(tags))]}, func(int) {})
				case op < 88:
					m.Purge(PathSelector(paths[next(len(paths))] + []string{"", "*"}[next(2)]))
				case op < 92:
					m.Purge(Selector{KindURL, fmt.Sprint("u", next(5))})
				case op < 96:
					m.MarkStale(Selector{KindTag, tags[next(len(tags))]}, time.Unix(2, 0))
				case op < 98:
					clock.Advance(time.Duration(next(3)) * time.Second)
				case op < 99 && next(20) == 0:
					m.PurgeAll()
				default:
					m.CleanUp()
				}
			}
		}()
	}
	for range workers {
		<-done
	}
	m.CleanUp()
	m.checkSettled(t)
	clock.Advance(time.Hour) // everything expires
	if err := m.checkIndex(); err != nil {
		t.Fatal(err)
	}
	if n := m.idx.count(); n != 0 {
		t.Errorf("%d responses indexed after everything expired", n)
	}
}

func TestRadixTree(t *testing.T) {
	// Against a brute-force model: inserts and removals in a pseudo-random
	// order, checking exact lookups, every prefix and the tree's shape.
	var root radixNode
	model := map[string]*Entry{}
	words := []string{"", "/", "/a", "/ab", "/abc", "/abd", "/b", "/ba", "/a/b/c", "/a/b", "/x/y/z", "/x", "/xyz", "/é", "/éa"}
	r := uint64(7)
	for i := range 3000 {
		r = r*6364136223846793005 + 1442695040888963407
		w := words[(r>>33)%uint64(len(words))]
		if e, ok := model[w]; ok && (r>>20)%3 != 0 {
			root.find(w).removeEntry(e)
			delete(model, w)
		} else if !ok {
			e := &Entry{Key: fmt.Sprint("k", i), Path: w}
			root.insert(w).set.add(e)
			model[w] = e
		}
		if err := root.check(true); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		for _, p := range words {
			var got []string
			root.walkPrefix(p, func(n *radixNode) { n.set.each(func(e *Entry) { got = append(got, e.Path) }) })
			want := 0
			for w := range model {
				if strings.HasPrefix(w, p) {
					want++
				}
			}
			for _, g := range got {
				if !strings.HasPrefix(g, p) {
					t.Fatalf("step %d: prefix %q walked %q", i, p, g)
				}
			}
			if len(got) != want {
				t.Fatalf("step %d: prefix %q found %d, want %d", i, p, len(got), want)
			}
			n := root.find(p)
			if _, ok := model[p]; ok != (n != nil && !n.set.empty()) {
				t.Fatalf("step %d: find(%q) = %v, in model %v", i, p, n, ok)
			}
		}
	}
}

// A purge large enough to be reaped in many chunks: its entries are
// gone for Get when Purge returns, gone from the store once reaped, and the
// indexes stay exact while Sets and Deletes race the reaper.
func TestLargePurge(t *testing.T) {
	const n = 100 * reapChunk
	m := newMem(t, 1<<30)
	entry := func(i int, tags ...string) *Entry {
		return &Entry{Key: fmt.Sprint("k", i), Path: fmt.Sprint("/p/", i), Tags: tags, Retain: time.Hour}
	}
	for i := range n {
		m.Set(entry(i, "big", fmt.Sprint("i", i)))
	}
	m.Set(entry(n, "other"))
	if got := m.Purge(Selector{KindTag, "big"}); got != n {
		t.Fatalf("purged %d, want %d", got, n)
	}
	for i := range n {
		if _, ok := m.Get(fmt.Sprint("k", i)); ok {
			t.Fatalf("k%d is still served after the purge returned", i)
		}
	}
	if got := m.Purge(Selector{KindTag, "big"}); got != 0 {
		t.Errorf("purging again counted %d", got)
	}
	m.CleanUp()
	if got := m.Len(); got != 1 {
		t.Errorf("%d entries left after reaping, want 1", got)
	}

	// Again, with writers racing the reaper on the same keys.
	for i := range n {
		m.Set(entry(i, "big"))
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			switch i % 3 {
			case 0:
				m.Set(entry(i, "big", "new"))
			case 1:
				m.Delete(fmt.Sprint("k", i))
			default:
				m.Set(entry(i, "other"))
			}
		}
	}()
	m.Purge(Selector{KindTag, "big"})
	<-done
	if err := m.checkIndex(); err != nil {
		t.Fatal(err)
	}
}
