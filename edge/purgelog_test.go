package edge

import (
	"fmt"
	"strings"
	"testing"

	"github.com/strata-cache/strata/edge/store"
)

func TestPurgeLogCheck(t *testing.T) {
	en := &store.Entry{Key: "http://h/a/b?x\x00v1\x00fr", Primary: "http://h/a/b?x", Path: "/a/b", Tags: []string{"t1", "t2"}}
	for _, tt := range []struct {
		sel   store.Selector
		match bool
	}{
		{store.Selector{Kind: store.KindURL, Value: "http://h/a/b?x"}, true},
		{store.Selector{Kind: store.KindURL, Value: "http://h/a/b"}, false},
		{store.Selector{Kind: store.KindPath, Value: "/a/b"}, true},
		{store.Selector{Kind: store.KindPath, Value: "/a"}, false},
		{store.Selector{Kind: store.KindPrefix, Value: "/a/"}, true},
		{store.Selector{Kind: store.KindPrefix, Value: "/a/b"}, true},
		{store.Selector{Kind: store.KindPrefix, Value: "/a/b/"}, false},
		{store.Selector{Kind: store.KindTag, Value: "t2"}, true},
		{store.Selector{Kind: store.KindTag, Value: "t3"}, false},
		{store.Selector{Kind: store.KindAll}, true},
	} {
		for _, soft := range []bool{false, true} {
			// With few prefix selectors the log tries each; with many, it
			// probes each prefix of the path.
			for _, padding := range []int{0, 10} {
				var l purgeLog
				for i := range padding {
					l.add([]store.Selector{{Kind: store.KindPrefix, Value: fmt.Sprint("/zz", i)}}, false, 0)
				}
				since := l.current()
				if h, s := l.check(since, en, 0); h || s {
					t.Fatalf("%v: matched before any purge", tt.sel)
				}
				l.add([]store.Selector{tt.sel}, soft, 0)
				h, s := l.check(since, en, 0)
				if want := tt.match && !soft; h != want {
					t.Errorf("%v soft=%v padding=%d: hard = %v, want %v", tt.sel, soft, padding, h, want)
				}
				if want := tt.match && soft; s != want {
					t.Errorf("%v soft=%v padding=%d: soft = %v, want %v", tt.sel, soft, padding, s, want)
				}
				if h, s := l.check(l.current(), en, 0); h || s {
					t.Errorf("%v: a fetch that started after the purge is refused", tt.sel)
				}
				// A purge about data version 10: a response read at 9 is
				// refused (or stored stale) even from a fetch that started
				// after the purge; one read at 10 or later, or that says
				// nothing, is not.
				l.add([]store.Selector{tt.sel}, soft, 10)
				after := l.current()
				h, s = l.check(after, en, 9)
				if want := tt.match && !soft; h != want {
					t.Errorf("%v soft=%v: response older than the purge's version: hard = %v, want %v", tt.sel, soft, h, want)
				}
				if want := tt.match && soft; s != want {
					t.Errorf("%v soft=%v: response older than the purge's version: soft = %v, want %v", tt.sel, soft, s, want)
				}
				for _, v := range []uint64{10, 11, 0} {
					if h, s := l.check(after, en, v); h || s {
						t.Errorf("%v: a response read at version %d is refused after a purge about version 10", tt.sel, v)
					}
				}
			}
		}
	}
}

// The log stays bounded however many selectors are purged, and a fetch
// that started before what it forgot is refused rather than trusted.
func TestPurgeLogBounded(t *testing.T) {
	var l purgeLog
	en := &store.Entry{Key: "k", Path: "/p"}
	old := l.current()
	urls := make([]store.Selector, 100_000)
	for i := range urls {
		urls[i] = store.Selector{Kind: store.KindURL, Value: fmt.Sprint("http://h/", i)}
	}
	l.add(urls, false, 0) // one purge of 100k URLs
	for i := range 3 * maxLogged {
		l.add([]store.Selector{{Kind: store.KindTag, Value: fmt.Sprint("t", i)}}, i%2 == 0, 0)
	}
	size := len(l.order)
	for _, m := range l.bySel {
		size = max(size, len(m))
	}
	if size > maxLogged {
		t.Errorf("the log holds %d selectors, more than %d", size, maxLogged)
	}
	if h, _ := l.check(old, en, 0); !h {
		t.Error("a fetch older than the forgotten purges may store")
	}
	recent := l.current()
	l.add([]store.Selector{{Kind: store.KindPath, Value: "/q"}}, false, 0)
	if h, s := l.check(recent, en, 0); h || s {
		t.Error("a recent fetch is refused by a purge that does not match it")
	}
	l.add([]store.Selector{{Kind: store.KindPath, Value: "/p"}}, false, 0)
	if h, _ := l.check(recent, en, 0); !h {
		t.Error("a recent fetch is not refused by a purge that matches it")
	}
}

// BenchmarkPurgeLogCheck measures what a fill pays for the log after many
// purges, with a long path and several prefix selectors.
func BenchmarkPurgeLogCheck(b *testing.B) {
	var l purgeLog
	since := l.current()
	for i := range 10_000 {
		l.add([]store.Selector{
			{Kind: store.KindURL, Value: fmt.Sprint("http://h/u", i)},
			{Kind: store.KindTag, Value: fmt.Sprint("t", i)},
			{Kind: store.KindPrefix, Value: fmt.Sprint("/p", i, "/")},
		}, false, 0)
	}
	en := &store.Entry{Key: "http://h/x", Path: "/" + strings.Repeat("seg/", 20), Tags: []string{"a", "b", "c"}}
	b.ReportAllocs()
	for b.Loop() {
		l.check(since, en, 0)
	}
}
