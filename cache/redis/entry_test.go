package redis

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/strata-cache/strata/cache"
	"github.com/strata-cache/strata/cache/codec"
)

func TestVersionDigits(t *testing.T) {
	for _, v := range []uint64{0, 1, 9, 10, 41, 1 << 53, math.MaxUint64 - 1, math.MaxUint64} {
		s := formatVersion(v)
		if len(s) != versionDigits {
			t.Errorf("formatVersion(%d) = %q, %d digits", v, s, len(s))
		}
		if got, ok := parseVersion(s); !ok || got != v {
			t.Errorf("parseVersion(%q) = %d %v", s, got, ok)
		}
	}
	// Versions order as their strings do.
	vs := []uint64{0, 7, 10, 99, 100, 1 << 40, math.MaxUint64}
	for i := 1; i < len(vs); i++ {
		if formatVersion(vs[i-1]) >= formatVersion(vs[i]) {
			t.Errorf("%d and %d do not order as strings", vs[i-1], vs[i])
		}
	}
	for _, bad := range []string{"", "18446744073709551616", "99999999999999999999", "12a", "-1", "123456789012345678901"} {
		if v, ok := parseVersion(bad); ok {
			t.Errorf("parseVersion(%q) = %d, want failure", bad, v)
		}
	}
}

func TestEntryRoundTrip(t *testing.T) {
	now := time.UnixMilli(time.Now().UnixMilli())
	for _, e := range []cache.Entry[[]byte]{
		{Value: []byte("hello"), Version: 7, Tags: []string{"products", "product:1"},
			Stored: now, Fresh: now.Add(time.Minute), Expires: now.Add(2 * time.Minute), Delta: 1234 * time.Microsecond},
		{Version: math.MaxUint64, Negative: true, Expires: now},
		{Value: []byte{}, Tags: []string{"", "\x00\xff"}},
		{Value: bytes.Repeat([]byte("compressible "), 1000), Version: 1},
	} {
		b, err := encodeEntry(codec.Format{}, &e)
		if err != nil {
			t.Fatal(err)
		}
		var got cache.Entry[[]byte]
		kind, err := decodeEntry(codec.Format{}, b, &got)
		if err != nil {
			t.Fatalf("decode %+v: %v", e, err)
		}
		wantKind := byte(kindValue)
		if e.Negative {
			wantKind = kindNegative
		}
		if kind != wantKind || got.Version != e.Version || got.Negative != e.Negative ||
			!bytes.Equal(got.Value, e.Value) || !slices.Equal(got.Tags, e.Tags) ||
			!got.Stored.Equal(e.Stored) || !got.Fresh.Equal(e.Fresh) || !got.Expires.Equal(e.Expires) || got.Delta != e.Delta {
			t.Errorf("round trip: got kind %c %+v, want %+v", kind, got, e)
		}
		if b[0] != format1 || string(b[2:prefixLen]) != formatVersion(e.Version) {
			t.Errorf("prefix %q", b[:prefixLen])
		}
	}
	var got cache.Entry[[]byte]
	if kind, err := decodeEntry(codec.Format{}, encodeTombstone(42), &got); err != nil || kind != kindTombstone || got.Version != 42 {
		t.Errorf("tombstone: %c %+v %v", kind, got, err)
	}
}

func TestDecodeEntryErrors(t *testing.T) {
	good, err := encodeEntry(codec.Format{}, &cache.Entry[string]{Value: "v", Version: 3, Tags: []string{"t"}})
	if err != nil {
		t.Fatal(err)
	}
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, codec.ErrCorrupt},
		{"short", good[:10], codec.ErrCorrupt},
		{"future format", mod(func(b []byte) []byte { b[0] = '2'; return b }), codec.ErrUnknownFormat},
		{"future kind", mod(func(b []byte) []byte { b[1] = 'x'; return b }), codec.ErrUnknownFormat},
		{"bad digits", mod(func(b []byte) []byte { b[5] = 'a'; return b }), codec.ErrCorrupt},
		{"truncated header", good[:prefixLen+2], codec.ErrCorrupt},
		{"tombstone with tail", append(encodeTombstone(1), 0), codec.ErrCorrupt},
		{"huge tag count", append(append(bytes.Clone(good[:prefixLen]), 0, 0, 0, 0), 0xff, 0xff, 0xff, 0x0f), codec.ErrCorrupt},
		{"trailing byte", append(bytes.Clone(good), 0), codec.ErrCorrupt},
	} {
		var e cache.Entry[string]
		if _, err := decodeEntry(codec.Format{}, tc.b, &e); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestStrings(t *testing.T) {
	for _, ss := range [][]string{nil, {""}, {"a", "", "\x00{}\n"}} {
		got, err := decodeStrings(appendStrings(nil, ss))
		if err != nil || !slices.Equal(got, ss) {
			t.Errorf("%q: got %q %v", ss, got, err)
		}
	}
	for _, bad := range [][]byte{{}, {1}, {2, 1, 'a'}, {1, 5, 'a'}, {0, 0}} {
		if ss, err := decodeStrings(bad); err == nil {
			t.Errorf("%v decoded to %q", bad, ss)
		}
	}
}

// FuzzDecodeEntry checks that no stored bytes make the decoder panic, and
// that whatever decodes encodes back to bytes that decode the same.
func FuzzDecodeEntry(f *testing.F) {
	for _, e := range []cache.Entry[any]{
		{Value: "s", Version: 1, Tags: []string{"a", "b"}},
		{Value: map[string]any{"k": []any{1, 2.5, "x"}}, Version: 99},
		{Negative: true, Version: 5},
	} {
		b, err := encodeEntry(codec.Format{}, &e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(encodeTombstone(7))
	f.Add([]byte("1v00000000000000000001"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var e cache.Entry[any]
		kind, err := decodeEntry(codec.Format{MaxSize: 1 << 16}, b, &e)
		if err != nil || kind == kindTombstone {
			return
		}
		b2, err := encodeEntry(codec.Format{}, &e)
		if err != nil {
			return // e.g. a msgpack map key that decodes but has no Go form to encode back
		}
		var e2 cache.Entry[any]
		if _, err := decodeEntry(codec.Format{}, b2, &e2); err != nil {
			t.Fatalf("re-encoded entry does not decode: %v", err)
		}
		if e2.Version != e.Version || e2.Negative != e.Negative || !slices.Equal(e2.Tags, e.Tags) ||
			e2.Stored.UnixMilli() != e.Stored.UnixMilli() || e2.Expires.UnixMilli() != e.Expires.UnixMilli() {
			t.Fatalf("round trip changed the header: %+v -> %+v", e, e2)
		}
	})
}
