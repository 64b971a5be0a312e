package compress

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// ErrUnsupported is returned for a content coding this package does not
// encode or decode.
var ErrUnsupported = errors.New("compress: unsupported content coding")

// Levels, documented in the package comment.
const (
	gzipLevel     = 6
	brotliQuality = 5
	zstdWindow    = 8 << 20 // RFC 9659: the "zstd" coding's window is at most 8 MiB
)

// encoder is what the three libraries' writers have in common.
type encoder interface {
	io.WriteCloser
	Flush() error
	Reset(io.Writer)
}

// zstdEncoder adapts *zstd.Encoder, whose Reset has no error either but
// which is created with options.
type zstdEncoder struct{ *zstd.Encoder }

func (z zstdEncoder) Reset(w io.Writer) { z.Encoder.Reset(w) }

var pools = map[string]*sync.Pool{
	Gzip: {New: func() any {
		w, err := gzip.NewWriterLevel(nil, gzipLevel)
		if err != nil {
			panic(err) // a constant, valid level
		}
		return encoder(w)
	}},
	Brotli: {New: func() any {
		return encoder(brotli.NewWriterOptions(nil, brotli.WriterOptions{Quality: brotliQuality}))
	}},
	Zstd: {New: func() any {
		w, err := zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedDefault),
			zstd.WithEncoderConcurrency(1), // no goroutines per encoder: one request, one core
			zstd.WithWindowSize(zstdWindow),
		)
		if err != nil {
			panic(err) // constant, valid options
		}
		return encoder(zstdEncoder{w})
	}},
}

// Supported reports whether enc is a coding NewEncoder accepts.
func Supported(enc string) bool { return pools[enc] != nil }

// Encoder compresses a stream written to it into its destination. Get one
// with NewEncoder; Close it to finish the stream.
type Encoder struct {
	enc  string
	w    encoder
	pool *sync.Pool
}

// NewEncoder returns an Encoder that writes enc-coded data (Gzip, Brotli
// or Zstd) to dst, reusing a pooled encoder.
func NewEncoder(dst io.Writer, enc string) (*Encoder, error) {
	p := pools[enc]
	if p == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnsupported, enc)
	}
	w := p.Get().(encoder)
	w.Reset(dst)
	return &Encoder{enc: enc, w: w, pool: p}, nil
}

// Write compresses p.
func (e *Encoder) Write(p []byte) (int, error) { return e.w.Write(p) }

// Flush writes what has been compressed so far to the destination, so a
// reader can decode everything written up to now.
func (e *Encoder) Flush() error { return e.w.Flush() }

// Close finishes the stream and returns the encoder to its pool; e must not
// be used after.
func (e *Encoder) Close() error {
	err := e.w.Close()
	e.w.Reset(io.Discard) // drop the reference to the destination
	e.pool.Put(e.w)
	e.w = nil
	return err
}

// maxPooledBuffer bounds the scratch buffers Compress keeps for reuse, so
// one large body does not pin its size in memory.
const maxPooledBuffer = 1 << 20

var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Compress returns body encoded with enc, in a slice of exactly its length
// (so a cache that stores it holds no spare capacity).
func Compress(enc string, body []byte) ([]byte, error) {
	buf := buffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledBuffer {
			buffers.Put(buf)
		}
	}()
	buf.Reset()
	e, err := NewEncoder(buf, enc)
	if err != nil {
		return nil, err
	}
	if _, err := e.Write(body); err != nil {
		e.Close()
		return nil, err
	}
	if err := e.Close(); err != nil {
		return nil, err
	}
	out := make([]byte, buf.Len())
	copy(out, buf.Bytes())
	return out, nil
}

// NewDecoder returns a reader of the decoded form of r, which is enc-coded
// (Gzip, Brotli, Zstd; Identity and "" return r itself). Close it when done.
func NewDecoder(r io.Reader, enc string) (io.ReadCloser, error) {
	switch enc {
	case "", Identity:
		return io.NopCloser(r), nil
	case Gzip:
		return gzip.NewReader(r)
	case Brotli:
		return io.NopCloser(brotli.NewReader(r)), nil
	case Zstd:
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(zstdWindow))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnsupported, enc)
}
