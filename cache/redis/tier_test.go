package redis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/strata-cache/strata/cache"
	"github.com/strata-cache/strata/cache/cachetest"
	"github.com/strata-cache/strata/cache/codec"
	"github.com/strata-cache/strata/internal/testenv"
)

var nsSeq atomic.Int64

// newNamespace returns a namespace no other tier of this test binary uses.
func newNamespace() string {
	return fmt.Sprintf("strata:test%d", nsSeq.Add(1))
}

// newClient connects to the servers at addrs (one address, or a Cluster's
// nodes) and closes the client when the test ends.
func newClient(t testing.TB, addrs ...string) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: addrs})
	if err != nil {
		t.Fatalf("rueidis.NewClient(%v): %v", addrs, err)
	}
	t.Cleanup(c.Close)
	return c
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// newTier returns a tier on c, in opts.Namespace or a fresh one, closed
// when the test ends.
func newTier[V any](t testing.TB, c rueidis.Client, opts Options) *Tier[V] {
	t.Helper()
	if opts.Namespace == "" {
		opts.Namespace = newNamespace()
	}
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	tier, err := New[V](c, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(tier.Close)
	return tier
}

func entry[V any](v V, version uint64, tags ...string) cache.Entry[V] {
	now := time.Now()
	return cache.Entry[V]{
		Value: v, Version: version, Tags: tags,
		Stored: now, Fresh: now.Add(time.Minute), Expires: now.Add(2 * time.Minute),
	}
}

func mustFill[V any](t testing.TB, tier *Tier[V], key string, e cache.Entry[V]) bool {
	t.Helper()
	ok, err := tier.Fill(context.Background(), key, e)
	if err != nil {
		t.Fatalf("Fill(%q): %v", key, err)
	}
	return ok
}

func mustGet[V any](t testing.TB, tier *Tier[V], key string) (cache.Entry[V], bool) {
	t.Helper()
	e, ok, err := tier.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return e, ok
}

func do(t testing.TB, c rueidis.Client, args ...string) rueidis.RedisResult {
	t.Helper()
	r := c.Do(context.Background(), c.B().Arbitrary(args...).Build())
	if err := r.Error(); err != nil && !rueidis.IsRedisNil(err) {
		t.Fatalf("%v: %v", args, err)
	}
	return r
}

func TestConformance(t *testing.T) {
	c := newClient(t, testenv.Redis(t))
	cachetest.TestTier(t, func(t *testing.T) cache.Tier[string] {
		return newTier[string](t, c, Options{})
	})
}

// TestCluster runs the conformance suite and the lease and notice tests
// against a three-master Redis Cluster, whose keys spread over the nodes.
func TestCluster(t *testing.T) {
	addrs := testenv.RedisCluster(t)
	c := newClient(t, addrs...)
	if c.Mode() != rueidis.ClientModeCluster {
		t.Fatalf("client mode %v, want cluster", c.Mode())
	}
	t.Run("Conformance", func(t *testing.T) {
		cachetest.TestTier(t, func(t *testing.T) cache.Tier[string] {
			return newTier[string](t, c, Options{})
		})
	})
	clients := func(t *testing.T, n int) []rueidis.Client {
		cs := make([]rueidis.Client, n)
		for i := range cs {
			cs[i] = newClient(t, addrs...)
		}
		return cs
	}
	t.Run("NewClient", func(t *testing.T) {
		url := strings.Join(addrs, ",")
		c, err := NewClient(url)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if c.Mode() != rueidis.ClientModeCluster {
			t.Errorf("NewClient(%q): mode %v, want cluster", url, c.Mode())
		}
	})
	t.Run("Lease", func(t *testing.T) { testLease(t, clients) })
	t.Run("Notify", func(t *testing.T) { testNotify(t, clients) })
	t.Run("KeysSpread", func(t *testing.T) {
		// Entries land on every node, and the ones on other nodes than the
		// floor and the tags are still read correctly.
		tier := newTier[string](t, c, Options{})
		for i := range 30 {
			k := fmt.Sprintf("key-%d", i)
			mustFill(t, tier, k, entry("v", 1, "tag-a", "tag-b"))
		}
		used := 0
		for _, n := range c.Nodes() {
			if size, _ := n.Do(context.Background(), n.B().Dbsize().Build()).AsInt64(); size > 0 {
				used++
			}
		}
		if used != len(addrs) {
			t.Errorf("entries on %d of %d nodes", used, len(addrs))
		}
		if err := tier.Invalidate(context.Background(), 2, "tag-b"); err != nil {
			t.Fatal(err)
		}
		keys := make([]string, 30)
		for i := range keys {
			keys[i] = fmt.Sprintf("key-%d", i)
		}
		_, oks, err := tier.GetMany(context.Background(), keys)
		if err != nil {
			t.Fatal(err)
		}
		for i, ok := range oks {
			if ok {
				t.Errorf("%s served after its tag was invalidated", keys[i])
			}
		}
	})
}

func TestOptions(t *testing.T) {
	c := newClient(t, testenv.Redis(t))
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"no namespace", Options{}, "Namespace is required"},
		{"brace", Options{Namespace: "a{b"}, "'{' or '}'"},
		{"closing brace", Options{Namespace: "a}"}, "'{' or '}'"},
		{"negative", Options{Namespace: "a", HoldOff: -1}, "negative"},
		{"tiny MaxTTL", Options{Namespace: "a", MaxTTL: time.Microsecond}, "resolution"},
		{"bad format", Options{Namespace: "a", Format: codec.Format{Compression: "lz4"}}, "lz4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New[string](c, tc.opts)
			if !errors.Is(err, cache.ErrOptions) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want cache.ErrOptions mentioning %q", err, tc.want)
			}
		})
	}
	tier, err := New[string](c, Options{Namespace: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	defer tier.Close()
	if tier.opts.HoldOff != DefaultHoldOff || tier.opts.MaxTTL != DefaultMaxTTL || tier.opts.StreamMaxLen != DefaultStreamMaxLen {
		t.Errorf("defaults: %+v", tier.opts)
	}
}

// A tier reads its own tombstones at once, though it holds the tags and
// the floor in its client-side cache.
func TestOwnTombstonesSeenAtOnce(t *testing.T) {
	c := newClient(t, testenv.Redis(t))
	tier := newTier[string](t, c, Options{})
	ctx := context.Background()
	for v := uint64(1); v <= 2000; v += 2 {
		mustFill(t, tier, "k", entry("x", v, "tag"))
		if _, ok := mustGet(t, tier, "k"); !ok { // caches tag and floor
			t.Fatalf("v%d: missing after fill", v)
		}
		if err := tier.Invalidate(ctx, v+1, "tag"); err != nil {
			t.Fatal(err)
		}
		if e, ok := mustGet(t, tier, "k"); ok {
			t.Fatalf("v%d served after tag invalidated at v%d", e.Version, v+1)
		}
	}
	mustFill(t, tier, "f", entry("x", 500))
	if _, ok := mustGet(t, tier, "f"); !ok {
		t.Fatal("missing after fill")
	}
	if err := tier.Flush(ctx, 501); err != nil {
		t.Fatal(err)
	}
	if _, ok := mustGet(t, tier, "f"); ok {
		t.Fatal("served after flush")
	}
}

// Another tier on another client sees a tag tombstone once Redis's
// invalidation push reached its client-side cache.
func TestOtherTierSeesTagTombstone(t *testing.T) {
	addr := testenv.Redis(t)
	ns := newNamespace()
	a := newTier[string](t, newClient(t, addr), Options{Namespace: ns})
	pushed := make(chan string, 100)
	cb, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress: []string{addr},
		OnInvalidations: func(ms []rueidis.RedisMessage) {
			for _, m := range ms {
				k, _ := m.ToString()
				select { // never block rueidis's reader
				case pushed <- k:
				default:
				}
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cb.Close)
	b := newTier[string](t, cb, Options{Namespace: ns})
	mustFill(t, a, "k", entry("x", 1, "tag"))
	if _, ok := mustGet(t, b, "k"); !ok { // caches the tag tombstone, absent
		t.Fatal("b: missing after fill")
	}
	if err := a.Invalidate(context.Background(), 2, "tag"); err != nil {
		t.Fatal(err)
	}
	for k := ""; k != b.tagKey("tag"); {
		select {
		case k = <-pushed:
		case <-time.After(waitTimeout):
			t.Fatal("no invalidation pushed to b")
		}
	}
	if _, ok := mustGet(t, b, "k"); ok {
		t.Fatal("b served an entry whose tag a invalidated")
	}
}

func TestFillCapsLifetime(t *testing.T) {
	c := newClient(t, testenv.Redis(t))
	tier := newTier[string](t, c, Options{MaxTTL: time.Minute})
	e := entry("v", 1)
	e.Expires = time.Now().Add(24 * time.Hour)
	mustFill(t, tier, "k", e)
	pttl, _ := do(t, c, "PTTL", tier.entryKey("k")).AsInt64()
	if pttl <= 0 || pttl > time.Minute.Milliseconds() {
		t.Errorf("PTTL = %dms, want at most MaxTTL (60000ms)", pttl)
	}
}

// A value that replaces a tombstone inherits its lifetime, so that a late
// fill older than the tombstone is refused even after the value expired.
func TestTombstoneOutlivesReplacingValue(t *testing.T) {
	c := newClient(t, testenv.Redis(t))
	tier := newTier[string](t, c, Options{})
	ctx := context.Background()
	if err := tier.Invalidate(ctx, 10, "k"); err != nil {
		t.Fatal(err)
	}
	e := entry("short", 10)
	e.Expires = time.Now().Add(time.Second)
	mustFill(t, tier, "k", e)
	pttl, _ := do(t, c, "PTTL", tier.entryKey("k")).AsInt64()
	if want := (DefaultMaxTTL + DefaultHoldOff - time.Minute).Milliseconds(); pttl < want {
		t.Errorf("PTTL = %dms, want the tombstone's lifetime (about %dms)", pttl, want)
	}
	// Invalidating at a version the value already has extends its life
	// the same way.
	mustFill(t, tier, "k2", e)
	if err := tier.Invalidate(ctx, 10, "k2"); err != nil {
		t.Fatal(err)
	}
	if got, ok := mustGet(t, tier, "k2"); !ok || got.Value != "short" {
		t.Fatalf("k2 = %+v %v, want the value kept", got, ok)
	}
	pttl, _ = do(t, c, "PTTL", tier.entryKey("k2")).AsInt64()
	if want := (DefaultMaxTTL + DefaultHoldOff - time.Minute).Milliseconds(); pttl < want {
		t.Errorf("k2 PTTL = %dms, want about %dms", pttl, want)
	}
}

func TestBadEntriesAreMisses(t *testing.T) {
	c := newClient(t, testenv.Redis(t))
	tier := newTier[string](t, c, Options{})
	valid, err := encodeEntry(codec.Format{}, &cache.Entry[string]{Value: "v", Version: 3, Expires: time.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	newer := bytes.Clone(valid)
	newer[0] = '2'
	badEnvelope := append(bytes.Clone(valid[:len(valid)-3]), 0xc1, 0xc1, 0xc1)
	futureCodec := bytes.Clone(valid)
	futureCodec[len(valid)-5] = 99 // the envelope's codec id
	for i, raw := range [][]byte{
		[]byte("garbage"),
		[]byte(""),
		newer,
		badEnvelope,
		futureCodec,
		append(bytes.Clone(valid), 0), // trailing byte
	} {
		key := fmt.Sprintf("bad%d", i)
		do(t, c, "SET", tier.entryKey(key), string(raw))
		if e, ok := mustGet(t, tier, key); ok {
			t.Errorf("%q: served %+v", raw, e)
		}
		es, oks, err := tier.GetMany(context.Background(), []string{key})
		if err != nil || oks[0] {
			t.Errorf("%q: GetMany = %+v %v %v", raw, es, oks, err)
		}
		// A fill overwrites it (the prefix of newer says version 3).
		if !mustFill(t, tier, key, entry("good", 3)) {
			t.Errorf("%q: fill refused", raw)
		}
		if e, ok := mustGet(t, tier, key); !ok || e.Value != "good" {
			t.Errorf("%q: after fill: %+v %v", raw, e, ok)
		}
	}
	if got := tier.Stats().BadEntries; got != 12 {
		t.Errorf("BadEntries = %d, want 12", got)
	}

	// An entry of another type is a miss too.
	ints := newTier[int](t, c, Options{Namespace: tier.ns})
	if e, ok, err := ints.Get(context.Background(), "bad0"); ok || err != nil {
		t.Errorf("Tier[int] read a string entry: %+v %v %v", e, ok, err)
	}

	// A garbage tag tombstone or floor hides what it may cover.
	mustFill(t, tier, "tagged", entry("v", 5, "t"))
	do(t, c, "SET", tier.tagKey("t"), "not a version")
	if _, ok := mustGet(t, tier, "tagged"); ok {
		t.Error("served an entry whose tag tombstone does not decode")
	}
}

func TestFillErrors(t *testing.T) {
	c := newClient(t, testenv.Redis(t))
	ctx := context.Background()

	anys := newTier[any](t, c, Options{})
	for _, v := range []any{func() {}, make(chan int)} {
		ok, err := anys.Fill(ctx, "k", entry[any](v, 1))
		if err == nil || ok || !strings.Contains(err.Error(), "redis: fill \"k\"") {
			t.Errorf("Fill(%T) = %v, %v; want a clear error", v, ok, err)
		}
	}
	if n, _ := do(t, c, "EXISTS", anys.entryKey("k")).AsInt64(); n != 0 {
		t.Error("a value that failed to encode was stored")
	}

	small := newTier[[]byte](t, c, Options{Format: codec.Format{MaxSize: 100}})
	ok, err := small.Fill(ctx, "big", entry(make([]byte, 1000), 1))
	if !errors.Is(err, codec.ErrTooLarge) || ok {
		t.Errorf("oversized Fill = %v, %v; want codec.ErrTooLarge", ok, err)
	}

	if _, err := small.Fill(ctx, "", entry([]byte("x"), 1)); !errors.Is(err, cache.ErrBadKey) {
		t.Errorf("Fill of the empty key: %v", err)
	}
	if _, _, err := small.Get(ctx, strings.Repeat("k", cache.MaxKeyLen+1)); !errors.Is(err, cache.ErrBadKey) {
		t.Errorf("Get of a long key: %v", err)
	}
	if _, _, err := small.GetMany(ctx, []string{"a", ""}); !errors.Is(err, cache.ErrBadKey) {
		t.Errorf("GetMany with the empty key: %v", err)
	}
}

func TestNegativeAndTimes(t *testing.T) {
	c := newClient(t, testenv.Redis(t))
	tier := newTier[[]byte](t, c, Options{})
	e := entry[[]byte](nil, 9, "a", "")
	e.Negative = true
	e.Delta = 1500 * time.Microsecond
	mustFill(t, tier, "n", e)
	got, ok := mustGet(t, tier, "n")
	if !ok || !got.Negative || got.Value != nil || got.Version != 9 || got.Delta != e.Delta || len(got.Tags) != 2 {
		t.Fatalf("got %+v %v", got, ok)
	}
	// A tag named "" works like any other.
	if err := tier.Invalidate(context.Background(), 10, ""); err != nil {
		t.Fatal(err)
	}
	if _, ok := mustGet(t, tier, "n"); ok {
		t.Error("served after its tag \"\" was invalidated")
	}
}

func TestUnreachable(t *testing.T) {
	srv := testenv.StartRedis(t)
	c := newClient(t, srv.Addr())
	tier := newTier[string](t, c, Options{})
	ctx := context.Background()
	if err := tier.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := tier.Ping(ctx); err == nil {
		t.Error("Ping succeeded with Redis stopped")
	}
	if _, _, err := tier.Get(ctx, "k"); err == nil {
		t.Error("Get succeeded with Redis stopped")
	}
	if _, err := tier.Fill(ctx, "k", entry("v", 1)); err == nil {
		t.Error("Fill succeeded with Redis stopped")
	}
	if err := tier.Invalidate(ctx, 1, "k"); err == nil {
		t.Error("Invalidate succeeded with Redis stopped")
	}
}

func TestHashTags(t *testing.T) {
	tier := &Tier[string]{ns: "ns"}
	for _, k := range []string{"a", "}{", "}", "~", "~}", "{", "{}", "a}b", "a{b}c", "\x00\xff", "}}}", "~~"} {
		ek, lk := tier.entryKey(k), tier.leaseKey(k)
		if hashTag(ek) == "" || hashTag(ek) != hashTag(lk) {
			t.Errorf("key %q: entry %q (tag %q) and lease %q (tag %q) in different slots", k, ek, hashTag(ek), lk, hashTag(lk))
		}
	}
	// The mapping is one-to-one.
	seen := map[string]string{}
	for _, k := range []string{"}", "~}", "~~}", "~", "~~", "a", "~a"} {
		ek := tier.entryKey(k)
		if other, dup := seen[ek]; dup {
			t.Errorf("keys %q and %q share %q", k, other, ek)
		}
		seen[ek] = k
	}
}

// hashTag is the part of key Redis Cluster hashes when it is not the
// whole key (see the Cluster specification); "" means the whole key.
func hashTag(key string) string {
	i := strings.IndexByte(key, '{')
	if i < 0 {
		return ""
	}
	j := strings.IndexByte(key[i+1:], '}')
	if j <= 0 {
		return ""
	}
	return key[i+1 : i+1+j]
}
