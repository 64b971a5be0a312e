package writebehind

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func lastSegment(t *testing.T, dir string) string {
	t.Helper()
	segs := segmentFiles(t, dir)
	if len(segs) == 0 {
		t.Fatal("no segment")
	}
	return segs[len(segs)-1]
}

func appendFile(t *testing.T, name string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func truncateBy(t *testing.T, name string, n int64) {
	t.Helper()
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(name, fi.Size()-n); err != nil {
		t.Fatal(err)
	}
}

// flipByte changes the byte at off (negative: from the end).
func flipByte(t *testing.T, name string, off int64) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if off < 0 {
		off += int64(len(b))
	}
	b[off] ^= 0x5a
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// firstRecordOff is where a segment's first record starts.
const firstRecordOff = int64(segmentHeaderLen)

func TestTornTail(t *testing.T) {
	five := []string{"a=1", "b=2", "c=3", "d=4", "e=5"}
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, seg string)
		want   int // writes that survive
	}{
		{"random garbage", func(t *testing.T, seg string) {
			garbage := make([]byte, 1000)
			r := rand.New(rand.NewPCG(1, 2))
			for i := range garbage {
				garbage[i] = byte(r.Uint32())
			}
			appendFile(t, seg, garbage)
		}, 5},
		{"zeros", func(t *testing.T, seg string) { appendFile(t, seg, make([]byte, 4096)) }, 5},
		{"half a header", func(t *testing.T, seg string) { appendFile(t, seg, []byte{40, 0, 0}) }, 5},
		{"record cut short", func(t *testing.T, seg string) { truncateBy(t, seg, 3) }, 4},
		{"record without its checksum", func(t *testing.T, seg string) {
			rec := appendRecord(nil, 6, time.Now().UnixNano(), "f", []byte("6"))
			rec[len(rec)-1] ^= 1
			appendFile(t, seg, rec)
		}, 5},
		{"length beyond the end", func(t *testing.T, seg string) {
			rec := appendRecord(nil, 6, time.Now().UnixNano(), "f", bytes.Repeat([]byte("6"), 100))
			appendFile(t, seg, rec[:50])
		}, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			prepare(t, Options{Dir: dir}, five...)
			tc.damage(t, lastSegment(t, dir))

			s := &sink{}
			q := mustOpen(t, Options{Dir: dir, FlushInterval: time.Hour}, s.flush)
			mustFlush(t, q)
			var want []string
			for i, kv := range five[:tc.want] {
				want = append(want, fmt.Sprintf("%d:%s", i+1, kv))
			}
			if got := kvs(s.writes()); !slices.Equal(got, want) {
				t.Fatalf("flushed %v, want %v", got, want)
			}
			// The journal continues cleanly after the cut.
			seq := mustEnqueue(t, q, "z", "9")
			if seq != uint64(tc.want+1) {
				t.Fatalf("next seq %d, want %d", seq, tc.want+1)
			}
			if err := q.Close(); err != nil {
				t.Fatal(err)
			}
			s2 := &sink{}
			q2 := mustOpen(t, Options{Dir: dir}, s2.flush)
			mustFlush(t, q2)
			if n := len(s2.writes()); n != 0 {
				t.Fatalf("second reopen replayed %v", kvs(s2.writes()))
			}
		})
	}
}

// A torn segment header (a crash while creating a segment) is a torn tail.
func TestTornSegmentHeader(t *testing.T) {
	dir := t.TempDir()
	prepare(t, Options{Dir: dir}, "a=1")
	if err := os.WriteFile(filepath.Join(dir, segmentName(2)), []byte(segmentMagic[:3]), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &sink{}
	q := mustOpen(t, Options{Dir: dir}, s.flush)
	mustFlush(t, q)
	if got := kvs(s.writes()); !slices.Equal(got, []string{"1:a=1"}) {
		t.Fatalf("flushed %v", got)
	}
	if seq := mustEnqueue(t, q, "b", "2"); seq != 2 {
		t.Fatalf("next seq %d, want 2", seq)
	}
}

func TestCorruption(t *testing.T) {
	small := Options{SegmentSize: 150} // three 39-byte records a segment
	writes := []string{"a=1111111111", "b=2222222222", "c=3333333333", "d=4444444444", "e=5555555555",
		"f=6666666666", "g=7777777777", "h=8888888888", "i=9999999999"}
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, dir string)
		msg    string // in the error
	}{
		{"middle of the last segment", func(t *testing.T, dir string) {
			flipByte(t, lastSegment(t, dir), firstRecordOff+30)
		}, "record 8 at offset"},
		{"length in the last segment", func(t *testing.T, dir string) {
			flipByte(t, lastSegment(t, dir), firstRecordOff+2)
		}, "follows it"},
		{"tail of an earlier segment", func(t *testing.T, dir string) {
			flipByte(t, segmentFiles(t, dir)[0], -1)
		}, segmentName(1)},
		{"earlier segment cut short", func(t *testing.T, dir string) {
			truncateBy(t, segmentFiles(t, dir)[0], 1)
		}, segmentName(1)},
		{"earlier segment header", func(t *testing.T, dir string) {
			flipByte(t, segmentFiles(t, dir)[1], 0)
		}, "bad segment header"},
		{"missing segment", func(t *testing.T, dir string) {
			if err := os.Remove(segmentFiles(t, dir)[1]); err != nil {
				t.Fatal(err)
			}
		}, "follows a segment that ends at record 3"},
		{"missing first segment", func(t *testing.T, dir string) {
			if err := os.Remove(segmentFiles(t, dir)[0]); err != nil {
				t.Fatal(err)
			}
		}, "records 1 to 3 are missing"},
		{"checkpoint", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, checkpointName), []byte("garbage"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, checkpointName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := small
			opts.Dir = dir
			prepare(t, opts, writes...)
			if n := len(segmentFiles(t, dir)); n != 3 {
				t.Fatalf("%d segments, want 3", n)
			}
			tc.damage(t, dir)
			before := snapshot(t, dir)

			q, err := Open(opts, (&sink{}).flush)
			if err == nil {
				q.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Open: %v; want ErrCorrupt mentioning %q", err, tc.msg)
			}
			if after := snapshot(t, dir); !equalSnapshots(before, after) {
				t.Fatalf("Open changed the journal:\nbefore %v\nafter  %v", keys(before), keys(after))
			}
		})
	}
}

// snapshot returns the journal files and their contents (not the lock).
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]string)
	for _, e := range entries {
		if e.Name() == lockName {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = string(b)
	}
	return m
}

func equalSnapshots(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func TestSegmentRotationAndDeletion(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Dir: dir, SegmentSize: 1024}
	var writes []string
	value := strings.Repeat("v", 100)
	for i := range 50 {
		writes = append(writes, fmt.Sprintf("k%02d=%s", i, value))
	}
	prepare(t, opts, writes...)
	segs := segmentFiles(t, dir)
	if len(segs) < 5 {
		t.Fatalf("%d segments for 50 writes of 130 bytes with SegmentSize 1024", len(segs))
	}
	for _, name := range segs[:len(segs)-1] {
		if fi, err := os.Stat(name); err != nil || fi.Size() > 1024 {
			t.Errorf("%s: %v bytes, %v", name, fi.Size(), err)
		}
	}

	s := &sink{}
	opts.FlushInterval, opts.BatchSize = time.Hour, 1000 // flush only when asked
	q := mustOpen(t, opts, s.flush)
	mustFlush(t, q)
	if got := s.seqs(); len(got) != 50 || got[0] != 1 || got[49] != 50 {
		t.Fatalf("flushed %v", got)
	}
	if left := segmentFiles(t, dir); len(left) != 1 {
		t.Fatalf("segments left after flushing everything: %v", left)
	}
	// New writes go on, in new segments, and are deleted in turn.
	for i := range 20 {
		mustEnqueue(t, q, fmt.Sprintf("n%d", i), value)
	}
	if n := len(segmentFiles(t, dir)); n < 2 {
		t.Fatalf("%d segments after 20 more writes", n)
	}
	mustFlush(t, q)
	if left := segmentFiles(t, dir); len(left) != 1 {
		t.Fatalf("segments left: %v", left)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q2 := mustOpen(t, opts, (&sink{}).flush)
	if seq := mustEnqueue(t, q2, "x", "y"); seq != 71 {
		t.Fatalf("seq after reopen %d, want 71", seq)
	}
}

func TestRecordOutOfSequence(t *testing.T) {
	dir := t.TempDir()
	prepare(t, Options{Dir: dir}, "a=1", "b=2")
	appendFile(t, lastSegment(t, dir), appendRecord(nil, 4, time.Now().UnixNano(), "d", []byte("4")))
	q, err := Open(Options{Dir: dir}, (&sink{}).flush)
	if err == nil {
		q.Close()
		t.Fatal("Open succeeded")
	}
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "record has seq 4, want 3") {
		t.Fatalf("Open: %v", err)
	}
}

// Damage found while reading writes back stops the flusher, and every
// method reports it.
func TestDamageWhileRunning(t *testing.T) {
	dir := t.TempDir()
	s := &sink{}
	q := mustOpen(t, Options{Dir: dir, FlushInterval: time.Hour}, s.flush)
	mustEnqueue(t, q, "a", "1")
	mustEnqueue(t, q, "b", "2")
	flipByte(t, lastSegment(t, dir), -1)
	if err := q.Flush(t.Context()); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Flush = %v, want ErrCorrupt", err)
	}
	if len(s.writes()) != 0 {
		t.Fatalf("flushed %v", kvs(s.writes()))
	}
	if _, err := q.Enqueue(t.Context(), "c", nil); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Enqueue = %v, want ErrCorrupt", err)
	}
	if err := q.Close(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Close = %v, want ErrCorrupt", err)
	}
}
