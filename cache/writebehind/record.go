package writebehind

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// A journal record, little endian:
//
//	offset  size  field
//	0       4     body length L (everything after the checksum)
//	4       4     CRC-32C of bytes 0..3 followed by the body
//	8       8     seq
//	16      8     time the write was accepted, Unix nanoseconds
//	24      4     key length K
//	28      K     key
//	28+K    L-20-K value
//
// The checksum covers the length, so a damaged length is caught rather than
// trusted.
const (
	recordHeaderLen = 8
	recordFixedLen  = 20 // seq, time and key length
	minRecordLen    = recordHeaderLen + recordFixedLen

	// MaxKeySize is the largest key Enqueue accepts.
	MaxKeySize = 1<<16 - 1
	// maxRecordBody bounds the length a decoder believes, whatever the file
	// says; Options.MaxValueSize is checked against it.
	maxRecordBody = 1 << 30
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var (
	// errShortRecord: the bytes end inside the record. At the end of the
	// journal this is a torn write.
	errShortRecord = errors.New("record cut short")
	// errBadRecord: the record is complete but its checksum or fields are
	// wrong.
	errBadRecord = errors.New("damaged record")
)

// record is a decoded record whose key and value alias the decoder's input.
type record struct {
	seq   uint64
	time  int64
	key   []byte
	value []byte
}

// appendRecord appends the encoding of one write to dst.
func appendRecord(dst []byte, seq uint64, unixNano int64, key string, value []byte) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(recordFixedLen+len(key)+len(value)))
	dst = append(dst, 0, 0, 0, 0) // checksum, filled in below
	dst = binary.LittleEndian.AppendUint64(dst, seq)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(unixNano))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(key)))
	dst = append(dst, key...)
	dst = append(dst, value...)
	binary.LittleEndian.PutUint32(dst[start+4:], recordChecksum(dst[start:start+4], dst[start+recordHeaderLen:]))
	return dst
}

func recordChecksum(length, body []byte) uint32 {
	return crc32.Update(crc32.Checksum(length, castagnoli), castagnoli, body)
}

// readRecord decodes the record at the start of b and returns it with its
// encoded size. It returns errShortRecord if b ends inside the record and an
// error wrapping errBadRecord if the record is damaged; it never returns a
// record whose checksum does not match.
func readRecord(b []byte) (r record, n int, err error) {
	if len(b) < recordHeaderLen {
		return record{}, 0, errShortRecord
	}
	l := binary.LittleEndian.Uint32(b)
	if l < recordFixedLen || l > maxRecordBody {
		return record{}, 0, fmt.Errorf("%w: body length %d", errBadRecord, l)
	}
	n = recordHeaderLen + int(l)
	if len(b) < n {
		return record{}, 0, errShortRecord
	}
	body := b[recordHeaderLen:n]
	if got, want := recordChecksum(b[:4], body), binary.LittleEndian.Uint32(b[4:]); got != want {
		return record{}, 0, fmt.Errorf("%w: checksum %08x, want %08x", errBadRecord, got, want)
	}
	k := binary.LittleEndian.Uint32(body[16:])
	if k > MaxKeySize || int(k) > len(body)-recordFixedLen {
		return record{}, 0, fmt.Errorf("%w: key length %d", errBadRecord, k)
	}
	return record{
		seq:   binary.LittleEndian.Uint64(body),
		time:  int64(binary.LittleEndian.Uint64(body[8:])),
		key:   body[recordFixedLen : recordFixedLen+k],
		value: body[recordFixedLen+k:],
	}, n, nil
}

// scanChunk is how much a scanner reads from the file at a time.
const scanChunk = 256 << 10

// scanner decodes consecutive records from a file region [off, end).
type scanner struct {
	r      io.ReaderAt
	off    int64 // file offset of the next record
	end    int64 // file offset where readable data ends
	buf    []byte
	bufOff int64 // file offset of buf[0]
}

func newScanner(r io.ReaderAt, off, end int64) *scanner {
	return &scanner{r: r, off: off, end: end}
}

// reset points the scanner at another file, discarding what it buffered.
func (s *scanner) reset(r io.ReaderAt, off, end int64) {
	s.r, s.off, s.end, s.buf, s.bufOff = r, off, end, s.buf[:0], 0
}

// bytesAt returns the data from file offset off: at least n bytes, or all up
// to s.end when fewer remain. The result is valid until the next call.
func (s *scanner) bytesAt(off int64, n int) ([]byte, error) {
	if off >= s.bufOff && off+int64(n) <= s.bufOff+int64(len(s.buf)) {
		return s.buf[off-s.bufOff:], nil
	}
	size := int64(max(n, scanChunk))
	if rest := s.end - off; size > rest {
		size = max(rest, 0)
	}
	if int64(cap(s.buf)) < size {
		s.buf = make([]byte, size)
	}
	s.buf = s.buf[:size]
	m, err := s.r.ReadAt(s.buf, off)
	s.buf, s.bufOff = s.buf[:m], off
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	// At io.EOF the file is shorter than s.end said; the caller sees fewer
	// bytes and reports the record as cut short.
	return s.buf, nil
}

// next decodes the record at s.off and advances past it. It returns io.EOF
// exactly at s.end, errShortRecord when the data ends inside a record, and an
// error wrapping errBadRecord for a damaged record (s.off is left at the
// record that failed). The record aliases the scanner's buffer.
func (s *scanner) next() (record, error) {
	if s.off >= s.end {
		return record{}, io.EOF
	}
	b, err := s.bytesAt(s.off, minRecordLen)
	if err != nil {
		return record{}, err
	}
	r, n, err := readRecord(b)
	if errors.Is(err, errShortRecord) && len(b) >= recordHeaderLen {
		need := recordHeaderLen + int64(binary.LittleEndian.Uint32(b))
		if need > s.end-s.off {
			return record{}, errShortRecord
		}
		if b, err = s.bytesAt(s.off, int(need)); err != nil {
			return record{}, err
		}
		r, n, err = readRecord(b)
	}
	if err != nil {
		return record{}, err
	}
	s.off += int64(n)
	return r, nil
}

// findRecordAfter looks past damage at offset damaged, up to s.end, for a
// valid record that could have followed the record with sequence number
// after: one whose seq is above after and no higher than the records that
// fit between the damage and it allow. It is how a damaged tail (a torn
// write that nobody was told had succeeded) is told apart from damage with
// acknowledged records behind it.
//
// The plausibility test keeps the scan linear. A value that embeds a copy of
// a journal record could still match, and then Open reports damage rather
// than truncating: it errs on the side of keeping data.
func (s *scanner) findRecordAfter(damaged int64, after uint64) (seq uint64, off int64, found bool, err error) {
	for p := damaged + 1; p+minRecordLen <= s.end; p++ {
		b, err := s.bytesAt(p, minRecordLen)
		if err != nil {
			return 0, 0, false, err
		}
		if len(b) < minRecordLen {
			break
		}
		l := int64(binary.LittleEndian.Uint32(b))
		seq := binary.LittleEndian.Uint64(b[recordHeaderLen:])
		if l < recordFixedLen || recordHeaderLen+l > s.end-p ||
			seq <= after || seq-after > uint64((p-damaged)/minRecordLen)+1 {
			continue
		}
		if b, err = s.bytesAt(p, recordHeaderLen+int(l)); err != nil {
			return 0, 0, false, err
		}
		if r, _, err := readRecord(b); err == nil {
			return r.seq, p, true, nil
		}
	}
	return 0, 0, false, nil
}
