package codec_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/strata-cache/strata/cache/codec"
)

// envelope builds an envelope by hand: version, codec id, compression id,
// declared length, body.
func envelope(ver, codecID, comp byte, n uint64, body []byte) []byte {
	b := binary.AppendUvarint([]byte{ver, codecID, comp}, n)
	return append(b, body...)
}

func msgpackOf(t testing.TB, v any) []byte {
	t.Helper()
	b, err := codec.MsgPack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func zstdOf(t testing.TB, b []byte) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	return enc.EncodeAll(b, nil)
}

// zstdStreamOf returns a zstd frame that does not declare its size.
func zstdStreamOf(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enc.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDecodeErrors(t *testing.T) {
	payload := msgpackOf(t, "hello")
	n := uint64(len(payload))
	big := msgpackOf(t, text(4096))
	bigN := uint64(len(big))
	good := envelope(1, 1, 0, n, payload)
	goodS2 := envelope(1, 1, 1, bigN, s2.Encode(nil, big))
	goodZstd := envelope(1, 1, 2, bigN, zstdOf(t, big))

	cases := []struct {
		name string
		data []byte
		f    codec.Format
		want error
		msg  string // in the error's text
	}{
		{"empty", nil, codec.Format{}, codec.ErrCorrupt, "empty"},
		{"version 0", envelope(0, 1, 0, n, payload), codec.Format{}, codec.ErrUnknownFormat, "version 0"},
		{"version 2", envelope(2, 1, 0, n, payload), codec.Format{}, codec.ErrUnknownFormat, "version 2"},
		{"version 2 alone", []byte{2}, codec.Format{}, codec.ErrUnknownFormat, "version 2"},
		{"codec id 0", envelope(1, 0, 0, n, payload), codec.Format{}, codec.ErrUnknownFormat, "codec id 0"},
		{"codec id 4", envelope(1, 4, 0, n, payload), codec.Format{}, codec.ErrUnknownFormat, "codec id 4"},
		{"codec id 255", envelope(1, 255, 0, n, payload), codec.Format{}, codec.ErrUnknownFormat, "codec id 255"},
		{"compression id 3", envelope(1, 1, 3, n, payload), codec.Format{}, codec.ErrUnknownFormat, "compression id 3"},
		{"compression id 255", envelope(1, 1, 255, n, payload), codec.Format{}, codec.ErrUnknownFormat, "compression id 255"},
		{"header only", []byte{1, 1, 0}, codec.Format{}, codec.ErrCorrupt, "truncated"},
		{"length truncated", []byte{1, 1, 0, 0x80}, codec.Format{}, codec.ErrCorrupt, "truncated"},
		{"length overflows", append([]byte{1, 1, 0}, bytes.Repeat([]byte{0xff}, 11)...), codec.Format{}, codec.ErrCorrupt, "overflows"},
		{"length not shortest", append([]byte{1, 1, 0, 0x80 | byte(n), 0}, payload...), codec.Format{}, codec.ErrCorrupt, "shortest"},
		{"payload short", envelope(1, 1, 0, n+1, payload), codec.Format{}, codec.ErrCorrupt, "holds"},
		{"payload long", envelope(1, 1, 0, n-1, payload), codec.Format{}, codec.ErrCorrupt, "holds"},
		{"msgpack truncated", envelope(1, 1, 0, n-1, payload[:n-1]), codec.Format{}, codec.ErrCorrupt, "truncated"},
		{"msgpack trailing", envelope(1, 1, 0, n+1, append(append([]byte{}, payload...), 0xc0)), codec.Format{}, codec.ErrCorrupt, "trailing"},
		{"msgpack invalid code", envelope(1, 1, 0, 1, []byte{0xc1}), codec.Format{}, codec.ErrCorrupt, "invalid code"},
		{"json invalid", envelope(1, 2, 0, 3, []byte(`{"a`)), codec.Format{}, codec.ErrCorrupt, "json"},
		{"protobuf invalid", envelope(1, 3, 0, 2, []byte{0x0a, 0x05}), codec.Format{}, codec.ErrCorrupt, "protobuf"},
		{"s2 length mismatch", envelope(1, 1, 1, bigN+1, goodS2[3+2:]), codec.Format{}, codec.ErrCorrupt, "s2 block declares"},
		{"s2 truncated", goodS2[:len(goodS2)-10], codec.Format{}, codec.ErrCorrupt, "s2"},
		{"s2 garbage", envelope(1, 1, 1, 5, []byte{5, 0xff, 0xff, 0xff}), codec.Format{}, codec.ErrCorrupt, "s2"},
		{"zstd declares less", envelope(1, 1, 2, bigN-1, goodZstd[3+2:]), codec.Format{}, codec.ErrCorrupt, "zstd"},
		{"zstd declares more", envelope(1, 1, 2, bigN+1, goodZstd[3+2:]), codec.Format{}, codec.ErrCorrupt, "decompresses to"},
		{"zstd stream declares more", envelope(1, 1, 2, bigN+1, zstdStreamOf(t, big)), codec.Format{}, codec.ErrCorrupt, "decompresses to"},
		{"zstd stream declares less", envelope(1, 1, 2, bigN-1, zstdStreamOf(t, big)), codec.Format{}, codec.ErrCorrupt, "zstd"},
		{"zstd truncated", goodZstd[:len(goodZstd)-10], codec.Format{}, codec.ErrCorrupt, "zstd"},
		{"zstd garbage", envelope(1, 1, 2, 5, []byte("hello")), codec.Format{}, codec.ErrCorrupt, "zstd"},
		{"compressed empty", envelope(1, 1, 2, 0, zstdOf(t, nil)), codec.Format{}, codec.ErrCorrupt, "empty"},
		{"too large", good, codec.Format{MaxSize: int(n) - 1}, codec.ErrTooLarge, "MaxSize"},
		{"too large s2", goodS2, codec.Format{MaxSize: 1000}, codec.ErrTooLarge, "MaxSize"},
		{"too large zstd", goodZstd, codec.Format{MaxSize: 1000}, codec.ErrTooLarge, "MaxSize"},
		{"too large default", envelope(1, 1, 2, 16<<20+1, zstdOf(t, big)), codec.Format{}, codec.ErrTooLarge, "MaxSize"},
		{"huge declared", envelope(1, 1, 2, 1<<62, zstdOf(t, big)), codec.Format{}, codec.ErrTooLarge, "MaxSize"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var target any = new(string)
			if len(tc.data) > 1 && tc.data[1] == 3 {
				target = new(*structpb.Struct)
			}
			err := tc.f.Decode(tc.data, target)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode = %v, want %v", err, tc.want)
			}
			for _, other := range []error{codec.ErrCorrupt, codec.ErrUnknownFormat, codec.ErrTooLarge} {
				if other != tc.want && errors.Is(err, other) {
					t.Fatalf("Decode = %v, which is also %v", err, other)
				}
			}
			if !strings.HasPrefix(err.Error(), "codec: ") || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Decode = %q, want the codec: prefix and %q", err, tc.msg)
			}
		})
	}
	// The good envelopes are good.
	for _, data := range [][]byte{good, goodS2, goodZstd} {
		var s string
		if err := (codec.Format{}).Decode(data, &s); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDecodeTruncated cuts valid envelopes of every kind at every length.
func TestDecodeTruncated(t *testing.T) {
	for _, c := range []codec.Codec{codec.MsgPack, codec.JSON} {
		for _, comp := range compressions {
			f := codec.Format{Codec: c, Compression: comp, Threshold: 1}
			for _, v := range []any{sampleProduct(), text(2000)} {
				data, err := f.Encode(nil, v)
				if err != nil {
					t.Fatal(err)
				}
				for i := range len(data) {
					var p product
					var b []byte
					if err := f.Decode(data[:i], &p); !errors.Is(err, codec.ErrCorrupt) {
						t.Fatalf("%s %s %T cut to %d of %d bytes: Decode = %v, want ErrCorrupt", c.Name(), compressionName(comp), v, i, len(data), err)
					}
					if err := f.Decode(data[:i], &b); !errors.Is(err, codec.ErrCorrupt) {
						t.Fatalf("%s %s %T cut to %d of %d bytes: Decode into []byte = %v, want ErrCorrupt", c.Name(), compressionName(comp), v, i, len(data), err)
					}
				}
			}
		}
	}
}

// TestDecodeBounded checks that small hostile envelopes cannot make Decode
// allocate much more than MaxSize.
func TestDecodeBounded(t *testing.T) {
	// A zstd frame that inflates to 64 MiB, in an envelope that declares
	// 1000 bytes, with and without the frame declaring its own size.
	bomb := make([]byte, 64<<20)
	zframe := zstdOf(t, bomb)
	zstream := zstdStreamOf(t, bomb)
	s2block := s2.Encode(nil, bomb)
	bomb = nil
	arrayBomb := []byte{0xdd, 0xff, 0xff, 0xff, 0xff} // array32 of 4G elements
	mapBomb := []byte{0xdf, 0xff, 0xff, 0xff, 0xff}   // map32 of 4G pairs
	deep := append(bytes.Repeat([]byte{0x91}, 1_000_000), 0xc0)
	deepZ := zstdOf(t, deep)

	cases := []struct {
		name   string
		data   []byte
		target func() any
		msg    string
	}{
		{"zstd frame", envelope(1, 1, 2, 1000, zframe), func() any { return new([]byte) }, "zstd"},
		{"zstd frame into struct", envelope(1, 1, 2, 1000, zframe), func() any { return new(product) }, "zstd"},
		{"zstd stream", envelope(1, 1, 2, 1000, zstream), func() any { return new([]byte) }, "zstd"},
		{"s2 block", envelope(1, 1, 1, 1000, s2block), func() any { return new([]byte) }, "s2"},
		{"msgpack array", envelope(1, 1, 0, 5, arrayBomb), func() any { return new([]int64) }, "declares"},
		{"msgpack array of structs", envelope(1, 1, 0, 5, arrayBomb), func() any { return new([]product) }, "declares"},
		{"msgpack map", envelope(1, 1, 0, 5, mapBomb), func() any { return new(map[string]int) }, "declares"},
		{"msgpack any", envelope(1, 1, 0, 5, arrayBomb), func() any { return new(any) }, "declares"},
		{"msgpack deep", envelope(1, 1, 2, uint64(len(deep)), deepZ), func() any { return new(any) }, "nested"},
		{"json deep", envelope(1, 2, 2, 2_000_000, zstdOf(t, []byte(strings.Repeat("[", 1_000_000)+strings.Repeat("]", 1_000_000)))), func() any { return new(any) }, "depth"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := codec.Format{MaxSize: 2 << 20}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			err := f.Decode(tc.data, tc.target())
			runtime.ReadMemStats(&after)
			if !errors.Is(err, codec.ErrCorrupt) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Decode = %v, want ErrCorrupt mentioning %q", err, tc.msg)
			}
			// Decode may allocate a few times MaxSize: the payload, a
			// block of slack, the decoder's own work.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4*uint64(f.MaxSize) {
				t.Fatalf("Decode allocated %d bytes", alloc)
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	type withFunc struct{ F func() }
	cases := []struct {
		name string
		f    codec.Format
		v    any
		want error  // nil: no sentinel
		msg  string // in the error's text
	}{
		{"msgpack func", codec.Format{}, func() {}, nil, "msgpack: encode func()"},
		{"msgpack chan", codec.Format{}, make(chan int), nil, "msgpack: encode chan int"},
		{"msgpack field func", codec.Format{}, withFunc{F: func() {}}, nil, "msgpack: encode codec_test.withFunc"},
		{"json func", codec.Format{Codec: codec.JSON}, func() {}, nil, "json: encode func()"},
		{"json chan", codec.Format{Codec: codec.JSON}, make(chan int), nil, "unsupported type: chan int"},
		{"json complex", codec.Format{Codec: codec.JSON}, complex(1, 2), nil, "complex128"},
		{"protobuf non-message", codec.Format{Codec: codec.Protobuf}, "hello", nil, "string is not a proto.Message"},
		{"protobuf struct value", codec.Format{Codec: codec.Protobuf}, sampleProduct(), nil, "not a proto.Message"},
		{"protobuf nil", codec.Format{Codec: codec.Protobuf}, (*structpb.Struct)(nil), nil, "nil *structpb.Struct"},
		{"too large bytes", codec.Format{MaxSize: 100}, make([]byte, 100), codec.ErrTooLarge, "[]uint8 is 102 bytes, MaxSize is 100"},
		{"too large string", codec.Format{MaxSize: 100}, strings.Repeat("x", 100), codec.ErrTooLarge, "MaxSize is 100"},
		{"too large struct", codec.Format{MaxSize: 100}, product{Name: strings.Repeat("x", 100)}, codec.ErrTooLarge, "codec_test.product"},
		{"too large json", codec.Format{Codec: codec.JSON, MaxSize: 100}, strings.Repeat("x", 100), codec.ErrTooLarge, "json payload"},
		{"too large protobuf", codec.Format{Codec: codec.Protobuf, MaxSize: 100}, wrapperspb.String(strings.Repeat("x", 100)), codec.ErrTooLarge, "protobuf payload"},
		{"too large compressible", codec.Format{MaxSize: 1 << 20, Compression: "zstd"}, make([]byte, 1<<20), codec.ErrTooLarge, "MaxSize"},
		{"bad compression", codec.Format{Compression: "gzip"}, "x", nil, `"gzip" is unknown`},
		{"negative MaxSize", codec.Format{MaxSize: -1}, "x", nil, "MaxSize -1 is negative"},
		{"foreign codec", codec.Format{Codec: struct{ codec.Codec }{codec.MsgPack}}, "x", nil, "is not one of MsgPack, JSON, Protobuf"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte("keep")
			got, err := tc.f.Encode(dst, tc.v)
			if err == nil {
				t.Fatal("Encode succeeded")
			}
			if string(got) != "keep" {
				t.Fatalf("Encode returned %q after an error, want dst as it was", got)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Encode = %v, want %v", err, tc.want)
			}
			for _, s := range []error{codec.ErrCorrupt, codec.ErrUnknownFormat, codec.ErrTooLarge} {
				if s != tc.want && errors.Is(err, s) {
					t.Fatalf("Encode = %v, which is %v", err, s)
				}
			}
			if !strings.HasPrefix(err.Error(), "codec: ") || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Encode = %q, want the codec: prefix and %q", err, tc.msg)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	good := []codec.Format{
		{},
		{Codec: codec.JSON, Compression: "none"},
		{Codec: codec.Protobuf, Compression: "zstd", Threshold: -1, MaxSize: 1},
		{Codec: codec.MsgPack, Compression: "s2", Threshold: 1},
	}
	for _, f := range good {
		if err := f.Validate(); err != nil {
			t.Errorf("%+v: Validate = %v", f, err)
		}
	}
	bad := []codec.Format{
		{Compression: "gzip"},
		{Compression: "S2"},
		{MaxSize: -5},
		{Codec: struct{ codec.Codec }{codec.JSON}},
	}
	for _, f := range bad {
		err := f.Validate()
		if err == nil {
			t.Errorf("%+v: Validate succeeded", f)
			continue
		}
		// Decode refuses a bad Format too.
		data, _ := codec.Format{}.Encode(nil, "x")
		var s string
		if derr := f.Decode(data, &s); derr == nil || derr.Error() != err.Error() {
			t.Errorf("%+v: Decode = %v, want %v", f, derr, err)
		}
	}
}

func TestUnmarshalTargets(t *testing.T) {
	msg, _ := codec.Protobuf.Marshal(wrapperspb.String("x"))
	cases := []struct {
		name string
		c    codec.Codec
		data []byte
		v    any
		msg  string
	}{
		{"protobuf into string", codec.Protobuf, msg, new(string), "*string is neither a proto.Message nor a non-nil pointer to one"},
		{"protobuf into nil message", codec.Protobuf, msg, (*wrapperspb.StringValue)(nil), "nil *wrapperspb.StringValue"},
		{"protobuf into nil pointer", codec.Protobuf, msg, (**wrapperspb.StringValue)(nil), "neither"},
		{"protobuf into non-pointer", codec.Protobuf, msg, product{}, "codec_test.product is neither"},
		{"msgpack into non-pointer", codec.MsgPack, msgpackOf(t, 1), 0, "msgpack: decode into int"},
		{"msgpack into nil", codec.MsgPack, msgpackOf(t, 1), nil, "msgpack: decode into <nil>"},
		{"msgpack type mismatch", codec.MsgPack, msgpackOf(t, "x"), new(int), "msgpack: decode into *int"},
		{"json type mismatch", codec.JSON, []byte(`"x"`), new(int), "json: decode into *int"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Unmarshal(tc.data, tc.v)
			if err == nil || !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), "codec: ") {
				t.Fatalf("Unmarshal = %v, want an error with %q", err, tc.msg)
			}
			if errors.Is(err, codec.ErrCorrupt) {
				t.Fatalf("Unmarshal = %v: not corrupt, the data is fine", err)
			}
			// Through an envelope the error is the same.
			data := envelope(1, tc.c.ID(), 0, uint64(len(tc.data)), tc.data)
			if derr := (codec.Format{}).Decode(data, tc.v); derr == nil || derr.Error() != err.Error() {
				t.Fatalf("Decode = %v, want %v", derr, err)
			}
		})
	}
}

// TestMsgpackPanicIsError checks that well-formed input on which the library
// panics gives an error instead.
func TestMsgpackPanicIsError(t *testing.T) {
	// {[1]: 2} into a map with interface keys: the library sets the
	// unhashable []interface{}{1} as a key, and Go panics.
	data := []byte{0x81, 0x91, 0x01, 0x02}
	var m map[any]any
	err := codec.MsgPack.Unmarshal(data, &m)
	if err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("Unmarshal = %v, %v; want the panic as an error", m, err)
	}
	t.Log(err)
	// The next decode works: the pool did not keep a broken decoder.
	if err := codec.MsgPack.Unmarshal([]byte{0x81, 0x01, 0x02}, &m); err != nil || m[int8(1)] != int8(2) {
		t.Fatalf("Unmarshal = %v, %v", m, err)
	}
}
