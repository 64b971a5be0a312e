package codec_test

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/strata-cache/strata/cache/codec"
)

// product is a typical cached value.
type product struct {
	ID    int64             `msgpack:"id" json:"id"`
	Name  string            `msgpack:"name" json:"name"`
	Price float64           `msgpack:"price" json:"price"`
	Tags  []string          `msgpack:"tags" json:"tags"`
	Attrs map[string]string `msgpack:"attrs" json:"attrs"`
	Image []byte            `msgpack:"image" json:"image"`
	Next  *product          `msgpack:"next" json:"next"`
}

func sampleProduct() product {
	return product{
		ID:    42,
		Name:  "Espresso cup, white porcelain",
		Price: 12.5,
		Tags:  []string{"kitchen", "porcelain", "cups"},
		Attrs: map[string]string{"color": "white", "volume": "80ml"},
		Image: []byte{0x89, 'P', 'N', 'G', 0, 1, 2, 3},
		Next:  &product{ID: 43, Name: "Saucer"},
	}
}

// text returns n bytes of compressible, text-like data.
func text(n int) []byte {
	words := []string{"cache ", "strata ", "edge ", "redis ", "tombstone ", "version ", "lease ", "purge "}
	var b bytes.Buffer
	x := uint32(1)
	for b.Len() < n {
		x = x*1664525 + 1013904223
		b.WriteString(words[x>>29])
	}
	return b.Bytes()[:n]
}

// noise returns n bytes that do not compress.
func noise(n int) []byte {
	b := make([]byte, n)
	x := uint64(88172645463325252)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

// plainValues are values that MsgPack and JSON both round-trip exactly.
func plainValues() map[string]any {
	big := sampleProduct()
	for i := range 200 {
		big.Tags = append(big.Tags, fmt.Sprintf("tag-%d", i%7))
	}
	return map[string]any{
		"struct":        sampleProduct(),
		"struct big":    big,
		"struct zero":   product{},
		"pointer":       &product{ID: 1, Name: "p"},
		"pointer nil":   (*product)(nil),
		"map":           map[string]int{"a": 1, "b": 2},
		"map nil":       map[string]int(nil),
		"bytes":         []byte("hello"),
		"bytes empty":   []byte{},
		"bytes nil":     []byte(nil),
		"bytes 16KiB":   text(16 << 10),
		"bytes 70KiB":   text(70 << 10), // bin32 and str32 headers
		"bytes noise":   noise(4 << 10),
		"string":        "hello, world",
		"string empty":  "",
		"string 300":    strings.Repeat("x", 300), // str16 header
		"string 16KiB":  string(text(16 << 10)),
		"int":           123456789,
		"int zero":      0,
		"float":         math.Pi,
		"bool":          true,
		"slice strings": []string{"a", "", "c"},
	}
}

// protoValues are messages for Protobuf.
func protoValues(t testing.TB) map[string]proto.Message {
	s, err := structpb.NewStruct(map[string]any{
		"name":  "cup",
		"price": 12.5,
		"tags":  []any{"a", "b"},
		"nested": map[string]any{
			"ok": true, "none": nil,
		},
		"long": strings.Repeat("porcelain ", 300),
	})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]proto.Message{
		"struct":       s,
		"struct empty": &structpb.Struct{},
		"string":       wrapperspb.String("hello"),
		"bytes":        wrapperspb.Bytes(text(16 << 10)),
		"zero int":     wrapperspb.Int64(0),
	}
}

var compressions = []string{"", codec.CompressionNone, codec.CompressionS2, codec.CompressionZstd}

func compressionName(s string) string {
	if s == "" {
		return "default"
	}
	return s
}

// decodeNew decodes data into a new value of want's type and returns it.
func decodeNew(t testing.TB, f codec.Format, data []byte, want any) any {
	t.Helper()
	p := reflect.New(reflect.TypeOf(want))
	if err := f.Decode(data, p.Interface()); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return p.Elem().Interface()
}

func TestRoundTrip(t *testing.T) {
	for _, c := range []codec.Codec{codec.MsgPack, codec.JSON} {
		for _, comp := range compressions {
			for name, v := range plainValues() {
				for _, threshold := range []int{0, 1} {
					t.Run(fmt.Sprintf("%s/%s/%s/threshold=%d", c.Name(), compressionName(comp), name, threshold), func(t *testing.T) {
						f := codec.Format{Codec: c, Compression: comp, Threshold: threshold}
						prefix := []byte("prefix")
						data, err := f.Encode(prefix, v)
						if err != nil {
							t.Fatalf("Encode: %v", err)
						}
						if !bytes.HasPrefix(data, []byte("prefix")) {
							t.Fatalf("Encode did not append to dst: %q", data[:6])
						}
						data = data[len(prefix):]
						if data[0] != 1 || data[1] != c.ID() {
							t.Fatalf("envelope starts % x, want version 1, codec %d", data[:2], c.ID())
						}
						got := decodeNew(t, codec.Format{}, data, v)
						if !reflect.DeepEqual(got, v) {
							t.Fatalf("round trip changed the value:\n got %#v\nwant %#v", got, v)
						}
					})
				}
			}
		}
	}
	for _, comp := range compressions {
		for name, m := range protoValues(t) {
			t.Run(fmt.Sprintf("protobuf/%s/%s", compressionName(comp), name), func(t *testing.T) {
				f := codec.Format{Codec: codec.Protobuf, Compression: comp, Threshold: 1}
				data, err := f.Encode(nil, m)
				if err != nil {
					t.Fatalf("Encode: %v", err)
				}
				// Into a pointer to a message pointer, as a generic cache
				// of messages decodes...
				got := decodeNew(t, f, data, m).(proto.Message)
				if !proto.Equal(got, m) {
					t.Fatalf("round trip changed the message:\n got %v\nwant %v", got, m)
				}
				// ...and into a message.
				into := m.ProtoReflect().New().Interface()
				if err := f.Decode(data, into); err != nil {
					t.Fatal(err)
				}
				if !proto.Equal(into, m) {
					t.Fatalf("round trip changed the message:\n got %v\nwant %v", into, m)
				}
			})
		}
	}
}

// TestCodecs checks the Codec methods on their own, and that MsgPack's fast
// path for []byte and string writes what the library writes.
func TestCodecs(t *testing.T) {
	ids := map[codec.Codec]byte{codec.MsgPack: 1, codec.JSON: 2, codec.Protobuf: 3}
	names := map[codec.Codec]string{codec.MsgPack: "msgpack", codec.JSON: "json", codec.Protobuf: "protobuf"}
	for c, id := range ids {
		if c.ID() != id || c.Name() != names[c] {
			t.Errorf("codec %s has id %d, want %s %d: ids are stable forever", c.Name(), c.ID(), names[c], id)
		}
	}
	for _, c := range []codec.Codec{codec.MsgPack, codec.JSON} {
		for name, v := range plainValues() {
			b, err := c.Marshal(v)
			if err != nil {
				t.Fatalf("%s %s: Marshal: %v", c.Name(), name, err)
			}
			p := reflect.New(reflect.TypeOf(v))
			if err := c.Unmarshal(b, p.Interface()); err != nil {
				t.Fatalf("%s %s: Unmarshal: %v", c.Name(), name, err)
			}
			if got := p.Elem().Interface(); !reflect.DeepEqual(got, v) {
				t.Fatalf("%s %s: round trip changed the value:\n got %#v\nwant %#v", c.Name(), name, got, v)
			}
		}
	}
	// A named []byte and a named string take the library's path; they
	// must come out as the fast path's bytes.
	type blob []byte
	type text string
	for _, n := range []int{0, 1, 31, 32, 255, 256, 65535, 65536} {
		s := strings.Repeat("z", n)
		fast, _ := codec.MsgPack.Marshal(s)
		slow, _ := codec.MsgPack.Marshal(text(s))
		if !bytes.Equal(fast, slow) {
			t.Errorf("string of %d bytes: fast path wrote % x..., library % x...", n, fast[:min(6, len(fast))], slow[:min(6, len(slow))])
		}
		fast, _ = codec.MsgPack.Marshal([]byte(s))
		slow, _ = codec.MsgPack.Marshal(blob(s))
		if !bytes.Equal(fast, slow) {
			t.Errorf("[]byte of %d bytes: fast path wrote % x..., library % x...", n, fast[:min(6, len(fast))], slow[:min(6, len(slow))])
		}
		// And each decodes into the other's type, as msgpack allows.
		var bs []byte
		if err := codec.MsgPack.Unmarshal(slow, &bs); err != nil || string(bs) != s {
			t.Errorf("[]byte of %d bytes: Unmarshal = %d bytes, %v", n, len(bs), err)
		}
		var str string
		if err := codec.MsgPack.Unmarshal(fast, &str); err != nil || str != s {
			t.Errorf("string from bin of %d bytes: Unmarshal = %d bytes, %v", n, len(str), err)
		}
	}
	nilBytes, _ := codec.MsgPack.Marshal([]byte(nil))
	libNil, _ := codec.MsgPack.Marshal(blob(nil))
	if !bytes.Equal(nilBytes, libNil) {
		t.Errorf("nil []byte: fast path wrote % x, library % x", nilBytes, libNil)
	}
}

// TestDecodeDoesNotAlias checks that a decoded value owns its memory:
// callers reuse the buffers they read from Redis.
func TestDecodeDoesNotAlias(t *testing.T) {
	for _, comp := range compressions {
		f := codec.Format{Compression: comp, Threshold: 1}
		want := text(4096)
		data, err := f.Encode(nil, want)
		if err != nil {
			t.Fatal(err)
		}
		var b []byte
		var s string
		var p product
		if err := f.Decode(data, &b); err != nil {
			t.Fatal(err)
		}
		if err := f.Decode(data, &s); err != nil {
			t.Fatal(err)
		}
		pdata, err := f.Encode(nil, product{Name: string(want), Image: want})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Decode(pdata, &p); err != nil {
			t.Fatal(err)
		}
		jf := codec.Format{Codec: codec.JSON, Compression: comp, Threshold: 1}
		jdata, err := jf.Encode(nil, product{Name: string(want), Image: want})
		if err != nil {
			t.Fatal(err)
		}
		var jp product
		if err := jf.Decode(jdata, &jp); err != nil {
			t.Fatal(err)
		}
		pf := codec.Format{Codec: codec.Protobuf, Compression: comp, Threshold: 1}
		mdata, err := pf.Encode(nil, wrapperspb.Bytes(want))
		if err != nil {
			t.Fatal(err)
		}
		var m *wrapperspb.BytesValue
		if err := pf.Decode(mdata, &m); err != nil {
			t.Fatal(err)
		}
		for _, d := range [][]byte{data, pdata, jdata, mdata} {
			clear(d)
		}
		// Decode other values, so that pooled buffers are overwritten too.
		other := bytes.Repeat([]byte("x"), len(want))
		for _, ff := range []codec.Format{f, jf} {
			d, err := ff.Encode(nil, product{Name: string(other), Image: other})
			if err != nil {
				t.Fatal(err)
			}
			if err := ff.Decode(d, new(product)); err != nil {
				t.Fatal(err)
			}
		}
		if d, err := pf.Encode(nil, wrapperspb.Bytes(other)); err != nil || pf.Decode(d, new(*wrapperspb.BytesValue)) != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, want) || s != string(want) || p.Name != string(want) || !bytes.Equal(p.Image, want) ||
			jp.Name != string(want) || !bytes.Equal(jp.Image, want) || !bytes.Equal(m.GetValue(), want) {
			t.Fatalf("%s: decoded values changed when the envelope was overwritten", compressionName(comp))
		}
	}
}

func TestThreshold(t *testing.T) {
	// A msgpack []byte of n >= 256 bytes is a payload of n+3 bytes.
	const header = 3
	cases := []struct {
		name     string
		f        codec.Format
		v        []byte
		wantComp byte
	}{
		{"below default", codec.Format{Compression: "zstd"}, text(1024 - header - 1), 0},
		{"at default", codec.Format{Compression: "zstd"}, text(1024 - header), 2},
		{"default compression is s2", codec.Format{}, text(4096), 1},
		{"below custom", codec.Format{Compression: "s2", Threshold: 500}, text(500 - header - 1), 0},
		{"at custom", codec.Format{Compression: "s2", Threshold: 500}, text(500 - header), 1},
		{"negative disables", codec.Format{Compression: "zstd", Threshold: -1}, text(64 << 10), 0},
		{"none", codec.Format{Compression: "none"}, text(64 << 10), 0},
		{"incompressible s2", codec.Format{Compression: "s2"}, noise(8 << 10), 0},
		{"incompressible zstd", codec.Format{Compression: "zstd"}, noise(8 << 10), 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data, err := tc.f.Encode(nil, tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if data[2] != tc.wantComp {
				t.Fatalf("compression id = %d, want %d", data[2], tc.wantComp)
			}
			if tc.wantComp != 0 && len(data) >= len(tc.v) {
				t.Fatalf("compressed envelope is %d bytes for %d bytes of text", len(data), len(tc.v))
			}
			if got := decodeNew(t, tc.f, data, tc.v); !bytes.Equal(got.([]byte), tc.v) {
				t.Fatal("round trip changed the value")
			}
		})
	}
}

// TestDecodeOtherFormats checks that any Format reads what any other wrote.
func TestDecodeOtherFormats(t *testing.T) {
	var writers []codec.Format
	for _, c := range []codec.Codec{codec.MsgPack, codec.JSON} {
		for _, comp := range compressions {
			writers = append(writers, codec.Format{Codec: c, Compression: comp, Threshold: 1})
		}
	}
	readers := []codec.Format{
		{},
		{Codec: codec.JSON, Compression: "none", Threshold: -1},
		{Codec: codec.Protobuf, Compression: "zstd", MaxSize: 1 << 20},
	}
	big := sampleProduct()
	big.Image = text(8 << 10)
	for _, w := range writers {
		for _, v := range []any{sampleProduct(), big, text(8 << 10), "short"} {
			data, err := w.Encode(nil, v)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range readers {
				if got := decodeNew(t, r, data, v); !reflect.DeepEqual(got, v) {
					t.Fatalf("written by %+v, read by %+v: got %#v", w, r, got)
				}
			}
		}
	}
	// Protobuf too.
	m := wrapperspb.Bytes(text(8 << 10))
	for _, comp := range compressions {
		data, err := codec.Format{Codec: codec.Protobuf, Compression: comp}.Encode(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		var got *wrapperspb.BytesValue
		if err := (codec.Format{Codec: codec.JSON}).Decode(data, &got); err != nil || !proto.Equal(got, m) {
			t.Fatalf("protobuf with %s read by a JSON Format: %v", compressionName(comp), err)
		}
	}
}

// TestNoGoroutines checks that encoding and decoding start no goroutine that
// outlives them (msgpack's UsePreallocateValues would, one per decoded type;
// zstd's encoder and decoder would if they had a stream).
func TestNoGoroutines(t *testing.T) {
	type withPointers struct {
		P *product
		M map[string]*product
		S []*product
	}
	roundTrip := func() {
		for _, comp := range compressions {
			f := codec.Format{Compression: comp, Threshold: 1}
			data, _ := f.Encode(nil, product{ID: 9})
			var p product
			_ = f.Decode(data, &p)
		}
	}
	roundTrip() // package-level encoders and decoders exist from here on
	before := runtime.NumGoroutine()
	for _, comp := range compressions {
		f := codec.Format{Compression: comp, Threshold: 1}
		v := withPointers{P: &product{ID: 1}, M: map[string]*product{"a": {ID: 2}}, S: []*product{{ID: 3}}}
		data, err := f.Encode(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		var got withPointers
		if err := f.Decode(data, &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, v) {
			t.Fatalf("got %#v", got)
		}
	}
	if after := runtime.NumGoroutine(); after > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines before, %d after:\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}
