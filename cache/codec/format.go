package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// Errors that Decode (and Encode, for ErrTooLarge) wrap. Branch on them with
// errors.Is.
var (
	// ErrUnknownFormat is an envelope of a version, codec or compression
	// this release does not know: a newer release probably wrote it. Treat
	// it as a miss, and overwrite the entry.
	ErrUnknownFormat = errors.New("codec: unknown format")
	// ErrCorrupt is an envelope or payload that is truncated or malformed.
	ErrCorrupt = errors.New("codec: corrupt")
	// ErrTooLarge is a payload above the Format's MaxSize.
	ErrTooLarge = errors.New("codec: too large")
)

// Compressions, the values of Format.Compression.
const (
	CompressionNone = "none"
	CompressionS2   = "s2"   // fast, the default
	CompressionZstd = "zstd" // smaller, slower
)

// Defaults for Format's zero fields.
const (
	DefaultThreshold = 1024
	DefaultMaxSize   = 16 << 20
)

// version is the envelope version this release writes and reads.
const version = 1

// Compression ids in the envelope: stable forever, never reused.
const (
	compNone byte = 0
	compS2   byte = 1
	compZstd byte = 2
)

// Format is how values are written: which codec, which compression, and the
// size limits. The zero Format is MsgPack, S2 for payloads of 1 KiB or more,
// at most 16 MiB. A Format is a value; it is safe for concurrent use.
//
// Decode does not depend on Codec, Compression or Threshold: it reads what the
// envelope says, so settings can change while old entries stay readable.
type Format struct {
	// Codec serializes values. Nil means MsgPack.
	Codec Codec
	// Compression is "none", "s2" or "zstd". Empty means "s2".
	Compression string
	// Threshold is the smallest payload, in bytes, that is compressed;
	// smaller ones are stored as they are. Zero means DefaultThreshold
	// (1024); a negative Threshold turns compression off.
	Threshold int
	// MaxSize is the largest payload, in bytes before compression, that
	// Encode writes and Decode reads; they refuse larger ones with
	// ErrTooLarge. Zero means DefaultMaxSize (16 MiB).
	MaxSize int
}

// Validate reports whether f's settings make sense. Encode and Decode call it.
func (f Format) Validate() error {
	if f.Codec != nil && codecByID(f.Codec.ID()) != f.Codec {
		return fmt.Errorf("codec: Format.Codec %T is not one of MsgPack, JSON, Protobuf", f.Codec)
	}
	if _, ok := compressionID(f.Compression); !ok {
		return fmt.Errorf("codec: Format.Compression %q is unknown: want %q, %q or %q",
			f.Compression, CompressionNone, CompressionS2, CompressionZstd)
	}
	if f.MaxSize < 0 {
		return fmt.Errorf("codec: Format.MaxSize %d is negative: want 0 for the default (%d) or a limit in bytes", f.MaxSize, DefaultMaxSize)
	}
	return nil
}

func compressionID(name string) (byte, bool) {
	switch name {
	case CompressionNone:
		return compNone, true
	case CompressionS2, "":
		return compS2, true
	case CompressionZstd:
		return compZstd, true
	}
	return 0, false
}

func (f Format) codec() Codec {
	if f.Codec == nil {
		return MsgPack
	}
	return f.Codec
}

func (f Format) maxSize() int {
	if f.MaxSize == 0 {
		return DefaultMaxSize
	}
	return f.MaxSize
}

// compressAt is the smallest payload that f compresses, or -1 for none.
func (f Format) compressAt() int {
	id, _ := compressionID(f.Compression)
	switch {
	case id == compNone || f.Threshold < 0:
		return -1
	case f.Threshold == 0:
		return DefaultThreshold
	}
	return f.Threshold
}

// Encode appends the envelope for v to dst and returns the extended slice.
// On error it returns dst unchanged in length. Errors wrap ErrTooLarge when
// the payload exceeds MaxSize; otherwise they are the codec's, or f's
// (see Validate).
func (f Format) Encode(dst []byte, v any) ([]byte, error) {
	if err := f.Validate(); err != nil {
		return dst, err
	}
	c, limit, at := f.codec(), f.maxSize(), f.compressAt()
	comp, _ := compressionID(f.Compression)

	// Fast path: a []byte or string that will not be compressed goes
	// straight into dst, with one copy.
	if c == MsgPack {
		var n int
		switch b := v.(type) {
		case []byte:
			if b != nil {
				n = msgpackBytesLen(len(b), false)
			}
		case string:
			n = msgpackBytesLen(len(b), true)
		}
		if n > limit {
			return dst, tooLarge(c, v, n, limit)
		}
		if n > 0 && (at < 0 || n < at) {
			dst = appendHeader(dst, c.ID(), compNone, n)
			return c.marshalAppend(dst, v)
		}
	}

	bp := getBuffer()
	defer putBuffer(bp)
	payload, err := c.marshalAppend((*bp)[:0], v)
	if cap(payload) > cap(*bp) {
		*bp = payload[:0] // keep the larger buffer for next time
	}
	if err != nil {
		return dst, encodeError(c, v, err)
	}
	n := len(payload)
	if n > limit {
		return dst, tooLarge(c, v, n, limit)
	}
	start := len(dst)
	if at >= 0 && n >= at {
		dst = appendHeader(dst, c.ID(), comp, n)
		body := len(dst)
		switch comp {
		case compS2:
			dst = appendS2(dst, payload)
		case compZstd:
			enc, err := zstdEncoder()
			if err != nil {
				return dst[:start], err
			}
			dst = enc.EncodeAll(payload, dst)
		}
		if len(dst)-body < n {
			return dst, nil
		}
		// Compression did not help: store the payload as it is.
		dst = dst[:start]
	}
	dst = appendHeader(dst, c.ID(), compNone, n)
	return append(dst, payload...), nil
}

func tooLarge(c Codec, v any, n, limit int) error {
	return fmt.Errorf("%w: %s payload for %T is %d bytes, MaxSize is %d", ErrTooLarge, c.Name(), v, n, limit)
}

func appendHeader(dst []byte, codec, comp byte, n int) []byte {
	return binary.AppendUvarint(append(dst, version, codec, comp), uint64(n))
}

// appendS2 appends the S2 block for src to dst.
func appendS2(dst, src []byte) []byte {
	m := s2.MaxEncodedLen(len(src))
	dst = slices.Grow(dst, m)
	block := s2.Encode(dst[len(dst):len(dst)+m], src)
	return dst[:len(dst)+len(block)]
}

// Decode decodes the envelope in data into v, which is usually a non-nil
// pointer. It reads any envelope of version 1, whichever codec and compression
// wrote it; f contributes only MaxSize. See the package documentation for
// the errors. The result never aliases data.
func (f Format) Decode(data []byte, v any) error {
	if err := f.Validate(); err != nil {
		return err
	}
	c, comp, n, body, err := parseHeader(data)
	if err != nil {
		return err
	}
	if limit := f.maxSize(); n > limit {
		return fmt.Errorf("%w: envelope declares a %s payload of %d bytes, MaxSize is %d", ErrTooLarge, c.Name(), n, limit)
	}
	if comp == compNone {
		if len(body) != n {
			return fmt.Errorf("%w: envelope declares a %s payload of %d bytes and holds %d", ErrCorrupt, c.Name(), n, len(body))
		}
		if err := c.unmarshal(body, v, false); err != nil {
			return decodeError(c, v, err)
		}
		return nil
	}
	if n == 0 {
		// Never written: an empty payload is never compressed.
		return fmt.Errorf("%w: envelope declares an empty compressed payload", ErrCorrupt)
	}

	// A []byte or string result can own the decompressed payload;
	// anything else is decoded from a pooled buffer.
	var buf []byte
	owned := false
	if c == MsgPack {
		switch v.(type) {
		case *[]byte, *string:
			owned = true
			buf = make([]byte, n)
		}
	}
	if !owned {
		bp := getBuffer()
		defer putBuffer(bp)
		*bp = slices.Grow((*bp)[:0], n)
		buf = (*bp)[:n]
	}
	payload, err := decompress(comp, buf[:0:n], body)
	if err != nil {
		return err
	}
	if len(payload) != n {
		return fmt.Errorf("%w: %s payload decompresses to %d bytes, envelope declares %d", ErrCorrupt, compressionName(comp), len(payload), n)
	}
	if err := c.unmarshal(payload, v, owned); err != nil {
		return decodeError(c, v, err)
	}
	return nil
}

// parseHeader splits an envelope into its header fields and the body.
func parseHeader(data []byte) (c Codec, comp byte, n int, body []byte, err error) {
	if len(data) == 0 {
		return nil, 0, 0, nil, fmt.Errorf("%w: empty envelope", ErrCorrupt)
	}
	if data[0] != version {
		return nil, 0, 0, nil, fmt.Errorf("%w: envelope version %d (this release reads version %d)", ErrUnknownFormat, data[0], version)
	}
	if len(data) < 4 {
		return nil, 0, 0, nil, fmt.Errorf("%w: envelope truncated to %d bytes", ErrCorrupt, len(data))
	}
	c = codecByID(data[1])
	if c == nil {
		return nil, 0, 0, nil, fmt.Errorf("%w: codec id %d", ErrUnknownFormat, data[1])
	}
	comp = data[2]
	if comp > compZstd {
		return nil, 0, 0, nil, fmt.Errorf("%w: compression id %d", ErrUnknownFormat, comp)
	}
	u, k := binary.Uvarint(data[3:])
	switch {
	case k == 0:
		return nil, 0, 0, nil, fmt.Errorf("%w: envelope truncated in the payload length", ErrCorrupt)
	case k < 0 || u > uint64(maxInt):
		return nil, 0, 0, nil, fmt.Errorf("%w: payload length overflows", ErrCorrupt)
	case k != uvarintLen(u):
		return nil, 0, 0, nil, fmt.Errorf("%w: payload length is not in its shortest form", ErrCorrupt)
	}
	return c, comp, int(u), data[3+k:], nil
}

const maxInt = int(^uint(0) >> 1)

func uvarintLen(u uint64) int {
	n := 1
	for ; u >= 0x80; u >>= 7 {
		n++
	}
	return n
}

func compressionName(id byte) string {
	switch id {
	case compS2:
		return CompressionS2
	case compZstd:
		return CompressionZstd
	}
	return CompressionNone
}

// decompress appends the decompression of body to dst, never past
// cap(dst), which the caller sets to the declared length.
func decompress(comp byte, dst, body []byte) ([]byte, error) {
	switch comp {
	case compS2:
		// An S2 block starts with its own length: check it before
		// s2.Decode allocates by it.
		m, err := s2.DecodedLen(body)
		if err != nil {
			return nil, fmt.Errorf("%w: s2: %w", ErrCorrupt, err)
		}
		if m != cap(dst) {
			return nil, fmt.Errorf("%w: s2 block declares %d bytes, envelope %d", ErrCorrupt, m, cap(dst))
		}
		out, err := s2.Decode(dst[:m], body)
		if err != nil {
			return nil, fmt.Errorf("%w: s2: %w", ErrCorrupt, err)
		}
		return out, nil
	case compZstd:
		dec, err := zstdDecoder()
		if err != nil {
			return nil, err
		}
		// With WithDecodeAllCapLimit the decoder refuses to grow dst
		// past its capacity, however large the frame says it is.
		out, err := dec.DecodeAll(body, dst)
		if err != nil {
			return nil, fmt.Errorf("%w: zstd: %w", ErrCorrupt, err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: compression id %d", ErrUnknownFormat, comp)
}

// The zstd encoder and decoder are made once, on first use, and shared:
// EncodeAll and DecodeAll are safe for concurrent use, and neither starts a
// goroutine when the encoder and decoder have no stream attached.
var (
	zstdEncoder = sync.OnceValues(func() (*zstd.Encoder, error) {
		enc, err := zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedDefault),
			// Cache payloads are small; a smaller window costs the
			// ratio little and every encoder less memory.
			zstd.WithWindowSize(1<<20),
		)
		if err != nil {
			return nil, fmt.Errorf("codec: zstd encoder: %w", err)
		}
		return enc, nil
	})
	zstdDecoder = sync.OnceValues(func() (*zstd.Decoder, error) {
		dec, err := zstd.NewReader(nil,
			zstd.WithDecodeAllCapLimit(true),
			zstd.WithDecoderConcurrency(0), // as many as GOMAXPROCS
		)
		if err != nil {
			return nil, fmt.Errorf("codec: zstd decoder: %w", err)
		}
		return dec, nil
	})
)

// Buffers for payloads between the codec and the compressor. Buffers that
// grew past maxPooled are dropped, so one large value does not pin memory.
const maxPooled = 256 << 10

var buffers = sync.Pool{New: func() any {
	b := make([]byte, 0, 1024)
	return &b
}}

func getBuffer() *[]byte { return buffers.Get().(*[]byte) }

func putBuffer(b *[]byte) {
	if cap(*b) > maxPooled {
		return
	}
	buffers.Put(b)
}
