package compress

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
)

func sample() []byte {
	return []byte(strings.Repeat(`<li class="product"><a href="/p/42">Product 42</a> <span>€ 19.99</span></li>`+"\n", 200))
}

func TestCompressRoundTrip(t *testing.T) {
	body := sample()
	for _, enc := range []string{Gzip, Brotli, Zstd} {
		t.Run(enc, func(t *testing.T) {
			c, err := Compress(enc, body)
			if err != nil {
				t.Fatal(err)
			}
			if len(c) >= len(body)/4 || len(c) != cap(c) {
				t.Errorf("%d bytes (cap %d) from %d", len(c), cap(c), len(body))
			}
			again, _ := Compress(enc, body)
			if !bytes.Equal(c, again) {
				t.Error("not deterministic")
			}
			if got := decode(t, enc, c); !bytes.Equal(got, body) {
				t.Errorf("round trip differs")
			}
		})
	}
}

func TestEncoderFlush(t *testing.T) {
	for _, enc := range []string{Gzip, Brotli, Zstd} {
		var out bytes.Buffer
		e, err := NewEncoder(&out, enc)
		if err != nil {
			t.Fatal(err)
		}
		e.Write([]byte("hello, "))
		if err := e.Flush(); err != nil {
			t.Fatal(err)
		}
		if out.Len() == 0 {
			t.Errorf("%s: nothing written after Flush", enc)
		}
		e.Write([]byte("world"))
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		if got := decode(t, enc, out.Bytes()); string(got) != "hello, world" {
			t.Errorf("%s: %q", enc, got)
		}
	}
}

func TestConcurrentEncoders(t *testing.T) {
	body := sample()
	var wg sync.WaitGroup
	for i := range 16 {
		enc := []string{Gzip, Brotli, Zstd}[i%3]
		wg.Go(func() {
			for range 5 {
				c, err := Compress(enc, body)
				if err != nil {
					t.Error(err)
					return
				}
				if got := decode(t, enc, c); !bytes.Equal(got, body) {
					t.Errorf("%s: round trip differs", enc)
				}
			}
		})
	}
	wg.Wait()
}

func TestUnsupported(t *testing.T) {
	if _, err := Compress("deflate", nil); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Compress(deflate): %v", err)
	}
	if _, err := NewDecoder(nil, "compress"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("NewDecoder(compress): %v", err)
	}
	if Supported(Identity) || !Supported(Zstd) {
		t.Error("Supported")
	}
}

func decode(t testing.TB, enc string, b []byte) []byte {
	t.Helper()
	r, err := NewDecoder(bytes.NewReader(b), enc)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: %v", enc, err)
	}
	return got
}

// BenchmarkCompress is the one-time cost of compressing 16 KiB of HTML.
//
//	go test -run='^$' -bench=Compress -benchmem ./edge/compress
func BenchmarkCompress(b *testing.B) {
	body := sample()[:16<<10]
	for _, enc := range []string{Gzip, Brotli, Zstd} {
		b.Run(enc, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Compress(enc, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
