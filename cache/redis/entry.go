package redis

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/strata-cache/strata/cache"
	"github.com/strata-cache/strata/cache/codec"
)

// The stored form of an entry (see the package documentation, "Value
// format"). Bytes 0 to 21 keep their meaning in every format version, so
// that the scripts of any release compare versions the same way.
const (
	format1 = '1' // the only format version this release writes and reads

	kindValue     = 'v'
	kindNegative  = 'n'
	kindTombstone = 't'

	versionDigits = 20 // math.MaxUint64 has 20 decimal digits
	prefixLen     = 2 + versionDigits
)

// appendVersion appends v as exactly 20 decimal digits, zero-padded, so
// that versions compare as strings the way they compare as numbers.
func appendVersion(dst []byte, v uint64) []byte {
	var b [versionDigits]byte
	for i := versionDigits - 1; i >= 0; i-- {
		b[i] = '0' + byte(v%10)
		v /= 10
	}
	return append(dst, b[:]...)
}

func formatVersion(v uint64) string { return string(appendVersion(nil, v)) }

// parseVersion parses the 20 digits written by appendVersion. It accepts
// any decimal number of 1 to 20 digits that fits a uint64.
func parseVersion[S string | []byte](s S) (uint64, bool) {
	if len(s) == 0 || len(s) > versionDigits {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// encodeEntry returns the stored form of e: the prefix, the header and,
// for a value, the codec envelope of e.Value.
func encodeEntry[V any](f codec.Format, e *cache.Entry[V]) ([]byte, error) {
	size := prefixLen + 4*binary.MaxVarintLen64 + binary.MaxVarintLen32
	for _, t := range e.Tags {
		size += binary.MaxVarintLen32 + len(t)
	}
	dst := make([]byte, 0, size+64)
	kind := byte(kindValue)
	if e.Negative {
		kind = kindNegative
	}
	dst = append(dst, format1, kind)
	dst = appendVersion(dst, e.Version)
	dst = binary.AppendVarint(dst, e.Stored.UnixMilli())
	dst = binary.AppendVarint(dst, e.Fresh.UnixMilli())
	dst = binary.AppendVarint(dst, e.Expires.UnixMilli())
	dst = binary.AppendVarint(dst, e.Delta.Microseconds())
	dst = appendStrings(dst, e.Tags)
	if e.Negative {
		return dst, nil
	}
	return f.Encode(dst, e.Value)
}

// encodeTombstone returns the stored form of a key tombstone.
func encodeTombstone(version uint64) []byte {
	return appendVersion([]byte{format1, kindTombstone}, version)
}

// decodeEntry decodes the stored form b into e and returns its kind. A
// tombstone sets only e.Version. Errors wrap codec.ErrUnknownFormat (a
// format version or kind a newer release wrote) or codec.ErrCorrupt, or
// are the codec's (those two, codec.ErrTooLarge, or a value that does not
// fit V); every one of them means the entry cannot be served.
// The result does not alias b.
func decodeEntry[V any](f codec.Format, b []byte, e *cache.Entry[V]) (kind byte, err error) {
	if len(b) < prefixLen {
		return 0, fmt.Errorf("%w: entry of %d bytes, shorter than the %d-byte prefix", codec.ErrCorrupt, len(b), prefixLen)
	}
	if b[0] != format1 {
		return 0, fmt.Errorf("%w: entry format version %q (this release reads %q)", codec.ErrUnknownFormat, b[0], format1)
	}
	kind = b[1]
	v, ok := parseVersion(b[2:prefixLen])
	if !ok {
		return 0, fmt.Errorf("%w: entry version %q is not 20 decimal digits", codec.ErrCorrupt, b[2:prefixLen])
	}
	e.Version = v
	switch kind {
	case kindTombstone:
		if len(b) != prefixLen {
			return 0, fmt.Errorf("%w: tombstone with %d trailing bytes", codec.ErrCorrupt, len(b)-prefixLen)
		}
		return kind, nil
	case kindValue, kindNegative:
	default:
		return 0, fmt.Errorf("%w: entry kind %q", codec.ErrUnknownFormat, kind)
	}
	r := reader{b: b[prefixLen:]}
	stored, fresh, expires, delta := r.varint(), r.varint(), r.varint(), r.varint()
	tags := r.strings()
	if r.err != nil {
		return 0, fmt.Errorf("%w: entry header: %v", codec.ErrCorrupt, r.err)
	}
	e.Stored, e.Fresh, e.Expires = time.UnixMilli(stored), time.UnixMilli(fresh), time.UnixMilli(expires)
	e.Delta = time.Duration(delta) * time.Microsecond
	e.Tags = tags
	if kind == kindNegative {
		if len(r.b) != 0 {
			return 0, fmt.Errorf("%w: negative entry with %d trailing bytes", codec.ErrCorrupt, len(r.b))
		}
		e.Negative = true
		return kind, nil
	}
	if err := f.Decode(r.b, &e.Value); err != nil {
		return 0, err
	}
	return kind, nil
}

// appendStrings appends a uvarint count, then each string as a uvarint
// length and its bytes.
func appendStrings(dst []byte, ss []string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ss)))
	for _, s := range ss {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	return dst
}

// decodeStrings decodes what appendStrings wrote, and nothing after it.
func decodeStrings(b []byte) ([]string, error) {
	r := reader{b: b}
	ss := r.strings()
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d trailing bytes", len(r.b))
	}
	return ss, r.err
}

// reader consumes varints and strings from b; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errors.New("truncated or overlong varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("truncated or overlong uvarint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) strings() []string {
	n := r.uvarint()
	if r.err != nil || n == 0 {
		return nil
	}
	// Each string takes at least its one-byte length: a count beyond the
	// bytes left is corrupt, and allocating by it would trust the input.
	if n > uint64(len(r.b)) {
		r.err = fmt.Errorf("%d strings declared, %d bytes left", n, len(r.b))
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		l := r.uvarint()
		if r.err != nil {
			return nil
		}
		if l > uint64(len(r.b)) {
			r.err = fmt.Errorf("string of %d bytes declared, %d left", l, len(r.b))
			return nil
		}
		ss[i] = string(r.b[:l])
		r.b = r.b[l:]
	}
	return ss
}
