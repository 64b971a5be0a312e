package writebehind

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func TestRecordRoundTrip(t *testing.T) {
	for _, w := range []struct {
		seq   uint64
		time  int64
		key   string
		value []byte
	}{
		{1, 0, "", nil},
		{42, 1_700_000_000_123_456_789, "product:42", []byte("price=12")},
		{1<<64 - 1, -1, string(make([]byte, MaxKeySize)), make([]byte, 1<<20)},
	} {
		b := appendRecord([]byte("prefix"), w.seq, w.time, w.key, w.value)[len("prefix"):]
		r, n, err := readRecord(append(b, "suffix"...))
		if err != nil {
			t.Fatalf("readRecord: %v", err)
		}
		if n != len(b) || r.seq != w.seq || r.time != w.time || string(r.key) != w.key || !bytes.Equal(r.value, w.value) {
			t.Fatalf("read %d bytes: seq %d time %d key %.20q value %d bytes; want %d bytes: %d %d %.20q %d bytes",
				n, r.seq, r.time, r.key, len(r.value), len(b), w.seq, w.time, w.key, len(w.value))
		}
		for i := range len(b) - 1 {
			if _, _, err := readRecord(b[:i]); !errors.Is(err, errShortRecord) && !errors.Is(err, errBadRecord) {
				t.Fatalf("readRecord of %d of %d bytes: %v", i, len(b), err)
			}
		}
	}
}

func FuzzReadRecord(f *testing.F) {
	two := appendRecord(appendRecord(nil, 7, 1, "a", []byte("x")), 8, 2, "b", nil)
	f.Add(two)
	f.Add(two[:len(two)-1])
	f.Add(appendRecord(nil, 1<<40, -1, "", []byte("value")))
	f.Add([]byte{})
	f.Add(make([]byte, 64))
	f.Add([]byte{20, 0, 0, 0, 1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, n, err := readRecord(b)
		if err != nil {
			if !errors.Is(err, errShortRecord) && !errors.Is(err, errBadRecord) {
				t.Fatalf("unexpected error %v", err)
			}
		} else {
			if n < minRecordLen || n > len(b) {
				t.Fatalf("record of %d bytes from %d", n, len(b))
			}
			if got, want := recordChecksum(b[:4], b[recordHeaderLen:n]), binary.LittleEndian.Uint32(b[4:]); got != want {
				t.Fatalf("returned a record with checksum %08x, stored %08x", got, want)
			}
			if again := appendRecord(nil, r.seq, r.time, string(r.key), r.value); !bytes.Equal(again, b[:n]) {
				t.Fatalf("re-encoding gives %x, want %x", again, b[:n])
			}
		}

		// The scanner, over the same bytes as a file, agrees and never
		// panics.
		sc := newScanner(bytes.NewReader(b), 0, int64(len(b)))
		for i := 0; ; i++ {
			off := sc.off
			r2, err := sc.next()
			if err != nil {
				break
			}
			if _, n2, err := readRecord(b[off:]); err != nil || int64(n2) != sc.off-off {
				t.Fatalf("scanner read a record at %d that readRecord does not: %v", off, err)
			}
			if i == 0 && r2.seq != r.seq {
				t.Fatalf("scanner and readRecord disagree")
			}
		}
		sc = newScanner(bytes.NewReader(b), 0, int64(len(b)))
		if _, off, found, err := sc.findRecordAfter(0, 0); err != nil {
			t.Fatal(err)
		} else if found {
			if _, _, err := readRecord(b[off:]); err != nil {
				t.Fatalf("findRecordAfter found an invalid record at %d: %v", off, err)
			}
		}
	})
}
