package codec_test

import (
	"testing"

	"github.com/strata-cache/strata/cache/codec"
)

// The benchmarks encode and decode a ~200-byte struct and 16 KiB of text
// with each compression. Threshold is 1 so that the struct goes through the
// compressor too; with the default threshold of 1 KiB it would be stored as
// it is, as "none" shows. S2 does not shrink it, so that envelope is stored
// uncompressed and the figure is the cost of trying; zstd saves a few bytes.
// envelope-bytes is the size of what Encode wrote.
//
//	go test -run '^$' -bench . -benchmem -count 10 ./cache/codec/ > new.txt
//	benchstat old.txt new.txt

// benchProduct is a value of about 200 bytes in msgpack.
func benchProduct() product {
	return product{
		ID:    123456,
		Name:  "Espresso cup, white porcelain, 80 ml",
		Price: 12.5,
		Tags:  []string{"kitchen", "porcelain", "cups", "espresso"},
		Attrs: map[string]string{"color": "white", "volume": "80ml", "brand": "Strata"},
		Image: []byte("https://img.example/cups/123456.jpg"),
	}
}

var benchValues = []struct {
	name string
	v    any
	new  func() any
}{
	{"struct", benchProduct(), func() any { return new(product) }},
	{"bytes16KiB", text(16 << 10), func() any { return new([]byte) }},
}

func BenchmarkEncode(b *testing.B) {
	for _, bv := range benchValues {
		for _, comp := range []string{"none", "s2", "zstd"} {
			b.Run(bv.name+"/"+comp, func(b *testing.B) {
				f := codec.Format{Compression: comp, Threshold: 1}
				buf, err := f.Encode(nil, bv.v)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(msgpackOf(b, bv.v))))
				b.ReportAllocs()
				for b.Loop() {
					buf, err = f.Encode(buf[:0], bv.v)
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(buf)), "envelope-bytes")
			})
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, bv := range benchValues {
		for _, comp := range []string{"none", "s2", "zstd"} {
			b.Run(bv.name+"/"+comp, func(b *testing.B) {
				f := codec.Format{Compression: comp, Threshold: 1}
				data, err := f.Encode(nil, bv.v)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(msgpackOf(b, bv.v))))
				b.ReportAllocs()
				for b.Loop() {
					if err := f.Decode(data, bv.new()); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkCopy16KiB is the floor for bytes16KiB/none: one allocation and
// one copy.
func BenchmarkCopy16KiB(b *testing.B) {
	src := text(16 << 10)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	var sink []byte
	for b.Loop() {
		sink = append([]byte(nil), src...)
	}
	_ = sink
}
