package cachetest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-cache/strata/cache"
)

// NewTier returns a new, empty tier for one subtest. Tiers made by one
// NewTier for the same test share nothing.
type NewTier func(t *testing.T) cache.Tier[string]

// TestTier runs the conformance suite against the tiers newTier makes.
func TestTier(t *testing.T, newTier NewTier) {
	tests := []struct {
		name string
		f    func(t *testing.T, tier cache.Tier[string])
	}{
		{"MissingKey", testMissing},
		{"FillThenGet", testFillThenGet},
		{"NegativeEntry", testNegative},
		{"HigherVersionWins", testHigherVersionWins},
		{"EqualVersionReplaces", testEqualVersionReplaces},
		{"InvalidateKey", testInvalidateKey},
		{"TombstoneRefusesOlderFill", testTombstoneRefusesOlderFill},
		{"InvalidateTag", testInvalidateTag},
		{"TagTombstoneRefusesOlderFill", testTagTombstoneRefusesOlderFill},
		{"InvalidateIsMonotonic", testInvalidateMonotonic},
		{"Flush", testFlush},
		{"ExpiredEntryNotStoredOrServed", testExpired},
		{"GetMany", testGetMany},
		{"OddKeys", testOddKeys},
		{"KeysAreIndependent", testKeysIndependent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.f(t, newTier(t)) })
	}
}

func entry(v string, version uint64, tags ...string) cache.Entry[string] {
	now := time.Now()
	return cache.Entry[string]{
		Value: v, Version: version, Tags: tags,
		Stored: now, Fresh: now.Add(time.Minute), Expires: now.Add(2 * time.Minute),
		Delta: 3 * time.Millisecond,
	}
}

func fill(t *testing.T, tier cache.Tier[string], key string, e cache.Entry[string]) bool {
	t.Helper()
	ok, err := tier.Fill(context.Background(), key, e)
	if err != nil {
		t.Fatalf("Fill(%q, v%d): %v", key, e.Version, err)
	}
	return ok
}

func get(t *testing.T, tier cache.Tier[string], key string) (cache.Entry[string], bool) {
	t.Helper()
	e, ok, err := tier.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return e, ok
}

func invalidate(t *testing.T, tier cache.Tier[string], version uint64, names ...string) {
	t.Helper()
	if err := tier.Invalidate(context.Background(), version, names...); err != nil {
		t.Fatalf("Invalidate(%d, %q): %v", version, names, err)
	}
}

func wantValue(t *testing.T, tier cache.Tier[string], key, value string, version uint64) {
	t.Helper()
	e, ok := get(t, tier, key)
	if !ok {
		t.Fatalf("Get(%q): missing, want %q v%d", key, value, version)
	}
	if e.Value != value || e.Version != version || e.Negative {
		t.Fatalf("Get(%q) = %q v%d negative=%v, want %q v%d", key, e.Value, e.Version, e.Negative, value, version)
	}
}

func wantMissing(t *testing.T, tier cache.Tier[string], key string) {
	t.Helper()
	if e, ok := get(t, tier, key); ok {
		t.Fatalf("Get(%q) = %q v%d, want missing", key, e.Value, e.Version)
	}
}

func testMissing(t *testing.T, tier cache.Tier[string]) {
	wantMissing(t, tier, "nothing-here")
}

func testFillThenGet(t *testing.T, tier cache.Tier[string]) {
	in := entry("hello", 7, "products", "product:1")
	if !fill(t, tier, "k", in) {
		t.Fatal("first fill refused")
	}
	got, ok := get(t, tier, "k")
	if !ok {
		t.Fatal("missing after fill")
	}
	if got.Value != "hello" || got.Version != 7 || !slices.Equal(got.Tags, in.Tags) || got.Negative {
		t.Errorf("got %+v", got)
	}
	// Times survive to the millisecond (L2 stores milliseconds).
	for _, c := range []struct {
		name      string
		got, want time.Time
	}{{"Stored", got.Stored, in.Stored}, {"Fresh", got.Fresh, in.Fresh}, {"Expires", got.Expires, in.Expires}} {
		if d := c.got.Sub(c.want); d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if d := got.Delta - in.Delta; d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("Delta = %v, want %v", got.Delta, in.Delta)
	}
}

func testNegative(t *testing.T, tier cache.Tier[string]) {
	e := entry("", 3)
	e.Negative = true
	fill(t, tier, "gone", e)
	got, ok := get(t, tier, "gone")
	if !ok || !got.Negative || got.Version != 3 {
		t.Fatalf("negative entry: got %+v ok=%v", got, ok)
	}
	// A real value at a newer version replaces it.
	if !fill(t, tier, "gone", entry("back", 4)) {
		t.Fatal("newer value refused over a negative entry")
	}
	wantValue(t, tier, "gone", "back", 4)
}

func testHigherVersionWins(t *testing.T, tier cache.Tier[string]) {
	fill(t, tier, "k", entry("new", 10))
	if fill(t, tier, "k", entry("old", 9)) {
		t.Error("a fill older than the stored entry was accepted")
	}
	wantValue(t, tier, "k", "new", 10)
	if !fill(t, tier, "k", entry("newer", 11)) {
		t.Error("a newer fill was refused")
	}
	wantValue(t, tier, "k", "newer", 11)
}

func testEqualVersionReplaces(t *testing.T, tier cache.Tier[string]) {
	fill(t, tier, "k", entry("a", 5))
	if !fill(t, tier, "k", entry("b", 5)) {
		t.Error("a fill at the stored version (a refresh) was refused")
	}
	wantValue(t, tier, "k", "b", 5)
}

func testInvalidateKey(t *testing.T, tier cache.Tier[string]) {
	fill(t, tier, "k", entry("v", 5))
	fill(t, tier, "other", entry("o", 5))
	invalidate(t, tier, 6, "k")
	wantMissing(t, tier, "k")
	wantValue(t, tier, "other", "o", 5)
	// Invalidating a version the entry already has leaves it alone.
	fill(t, tier, "k2", entry("v", 8))
	invalidate(t, tier, 8, "k2")
	wantValue(t, tier, "k2", "v", 8)
}

// The stale-set race: a reader loaded version 41, a writer committed 42 and
// invalidated; the reader's late fill must be refused, while a fill that
// read the new data is stored.
func testTombstoneRefusesOlderFill(t *testing.T, tier cache.Tier[string]) {
	invalidate(t, tier, 42, "k")
	if fill(t, tier, "k", entry("old", 41)) {
		t.Fatal("a fill read before the invalidation was stored")
	}
	wantMissing(t, tier, "k")
	if !fill(t, tier, "k", entry("new", 42)) {
		t.Fatal("a fill read at the invalidation's version was refused")
	}
	wantValue(t, tier, "k", "new", 42)
}

func testInvalidateTag(t *testing.T, tier cache.Tier[string]) {
	fill(t, tier, "a", entry("a", 5, "products", "product:1"))
	fill(t, tier, "b", entry("b", 5, "products"))
	fill(t, tier, "c", entry("c", 5, "users"))
	fill(t, tier, "d", entry("d", 9, "products"))
	invalidate(t, tier, 6, "products")
	wantMissing(t, tier, "a")
	wantMissing(t, tier, "b")
	wantValue(t, tier, "c", "c", 5)
	wantValue(t, tier, "d", "d", 9) // read after the change
}

func testTagTombstoneRefusesOlderFill(t *testing.T, tier cache.Tier[string]) {
	invalidate(t, tier, 20, "products")
	// A tier may store a fill refused by a tag tombstone, but must never
	// serve it.
	fill(t, tier, "list", entry("old", 19, "products"))
	wantMissing(t, tier, "list")
	if !fill(t, tier, "list", entry("new", 20, "products")) {
		t.Fatal("a fill at the tag tombstone's version was refused")
	}
	wantValue(t, tier, "list", "new", 20)
}

func testInvalidateMonotonic(t *testing.T, tier cache.Tier[string]) {
	invalidate(t, tier, 30, "k", "tag")
	invalidate(t, tier, 25, "k", "tag") // a late, older event
	if fill(t, tier, "k", entry("v", 28)) {
		t.Error("an older invalidation lowered the key's tombstone")
	}
	fill(t, tier, "t", entry("v", 28, "tag"))
	wantMissing(t, tier, "t")
}

func testFlush(t *testing.T, tier cache.Tier[string]) {
	fill(t, tier, "a", entry("a", 5))
	fill(t, tier, "b", entry("b", 5, "x"))
	if err := tier.Flush(context.Background(), 10); err != nil {
		t.Fatal(err)
	}
	wantMissing(t, tier, "a")
	wantMissing(t, tier, "b")
	fill(t, tier, "a", entry("old", 9))
	wantMissing(t, tier, "a")
	if !fill(t, tier, "a", entry("new", 10)) {
		t.Fatal("fill at the flush version refused")
	}
	wantValue(t, tier, "a", "new", 10)
}

func testExpired(t *testing.T, tier cache.Tier[string]) {
	e := entry("v", 1)
	e.Fresh = time.Now().Add(-2 * time.Second)
	e.Expires = time.Now().Add(-time.Second)
	if fill(t, tier, "k", e) {
		t.Error("an entry already past Expires was stored")
	}
	wantMissing(t, tier, "k")
	// Past Fresh but before Expires: stored and returned (stale).
	e.Expires = time.Now().Add(time.Minute)
	if !fill(t, tier, "k", e) {
		t.Fatal("a stale entry within its stale window was refused")
	}
	got, ok := get(t, tier, "k")
	if !ok || !got.Fresh.Before(time.Now()) {
		t.Errorf("stale entry: got %+v ok=%v", got, ok)
	}
}

func testGetMany(t *testing.T, tier cache.Tier[string]) {
	fill(t, tier, "a", entry("A", 1))
	fill(t, tier, "c", entry("C", 3, "t"))
	fill(t, tier, "d", entry("D", 3, "t"))
	invalidate(t, tier, 4, "d")
	es, oks, err := tier.GetMany(context.Background(), []string{"a", "b", "c", "d", "a"})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 5 || len(oks) != 5 {
		t.Fatalf("GetMany returned %d entries, %d flags", len(es), len(oks))
	}
	want := []struct {
		ok bool
		v  string
	}{{true, "A"}, {false, ""}, {true, "C"}, {false, ""}, {true, "A"}}
	for i, w := range want {
		if oks[i] != w.ok || (w.ok && es[i].Value != w.v) {
			t.Errorf("GetMany[%d] = %q ok=%v, want %q ok=%v", i, es[i].Value, oks[i], w.v, w.ok)
		}
	}
	if es, oks, err := tier.GetMany(context.Background(), nil); err != nil || len(es) != 0 || len(oks) != 0 {
		t.Errorf("GetMany(nil) = %v %v %v", es, oks, err)
	}
}

func testOddKeys(t *testing.T, tier cache.Tier[string]) {
	keys := []string{
		"with space", "{braces}", "}{", "a{b}c", "tab\tnew\nline", "\x00nul\xff", "ünïcödé ✓",
		"colon:and*star?", strings.Repeat("long", 1000),
	}
	for i, k := range keys {
		fill(t, tier, k, entry("v"+k, uint64(i+1), "tag "+k))
	}
	for i, k := range keys {
		wantValue(t, tier, k, "v"+k, uint64(i+1))
	}
	invalidate(t, tier, 100, keys[1], "tag "+keys[2])
	wantMissing(t, tier, keys[1])
	wantMissing(t, tier, keys[2])
	wantValue(t, tier, keys[3], "v"+keys[3], 4)
}

func testKeysIndependent(t *testing.T, tier cache.Tier[string]) {
	// Keys that share prefixes, and a key named like a tag, do not collide.
	fill(t, tier, "p", entry("p", 1))
	fill(t, tier, "p:1", entry("p1", 1))
	fill(t, tier, "products", entry("list", 1))
	invalidate(t, tier, 2, "p")
	wantMissing(t, tier, "p")
	wantValue(t, tier, "p:1", "p1", 1)
	wantValue(t, tier, "products", "list", 1)
}
