package writebehind

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The journal directory holds:
//
//	LOCK                  held with flock while a Queue has the directory open
//	<first seq>.wal       segments, 20 decimal digits: a header, then records
//	checkpoint            the flushed position, replaced atomically
//	checkpoint.tmp        a checkpoint being written (removed by Open)
const (
	lockName       = "LOCK"
	checkpointName = "checkpoint"
	checkpointTmp  = "checkpoint.tmp"
	segmentExt     = ".wal"

	segmentMagic     = "STRWBJ01" // a segment's first bytes
	segmentHeaderLen = len(segmentMagic)
	checkpointMagic  = "STRWBCP1"
	checkpointLen    = len(checkpointMagic) + 8 + 4 // magic, seq, CRC-32C
)

// segment is one journal file as the queue knows it.
type segment struct {
	first uint64 // seq of its first record, and its name
	size  int64  // bytes that are durable and valid: header and whole records
}

func segmentName(first uint64) string { return fmt.Sprintf("%020d%s", first, segmentExt) }

// listSegments returns the segments in dir in order. Their sizes are not set.
func listSegments(dir string) ([]segment, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var segs []segment
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), segmentExt)
		if !ok || len(name) != 20 || !e.Type().IsRegular() {
			continue
		}
		first, err := strconv.ParseUint(name, 10, 64)
		if err != nil || first == 0 {
			continue
		}
		segs = append(segs, segment{first: first})
	}
	slices.SortFunc(segs, func(a, b segment) int { return cmpUint(a.first, b.first) })
	return segs, nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// createSegment creates the segment file for first and writes its header.
// The caller syncs the file, and the directory, before it relies on either.
func createSegment(dir string, first uint64) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, segmentName(first)), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err := f.WriteString(segmentMagic); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func readCheckpoint(dir string) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(dir, checkpointName))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(b) != checkpointLen || string(b[:len(checkpointMagic)]) != checkpointMagic ||
		crc32Castagnoli(b[:checkpointLen-4]) != binary.LittleEndian.Uint32(b[checkpointLen-4:]) {
		return 0, fmt.Errorf("%w: %s is damaged", ErrCorrupt, checkpointName)
	}
	return binary.LittleEndian.Uint64(b[len(checkpointMagic):]), nil
}

func crc32Castagnoli(b []byte) uint32 { return recordChecksum(nil, b) }

// writeCheckpoint records seq as flushed: it writes a temporary file, syncs
// it, renames it over the checkpoint and syncs the directory.
func writeCheckpoint(dir *os.File, seq uint64) error {
	b := make([]byte, 0, checkpointLen)
	b = append(b, checkpointMagic...)
	b = binary.LittleEndian.AppendUint64(b, seq)
	b = binary.LittleEndian.AppendUint32(b, crc32Castagnoli(b))
	tmp := filepath.Join(dir.Name(), checkpointTmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir.Name(), checkpointName))
	}
	if err == nil {
		err = dir.Sync()
	}
	return err
}

// journalState is what Open learns from the directory.
type journalState struct {
	segs       []segment // remaining segments, in order; sizes set
	last       uint64    // seq of the last record, or 0 if there is none
	checkpoint uint64    // every seq up to this one has been flushed
	next       position  // where record checkpoint+1 starts, if last > checkpoint
	nextTime   time.Time // and when it was enqueued
}

// position is a place in the journal: a segment and a byte offset in it.
type position struct {
	seg uint64 // the segment's first seq
	off int64
}

// recoverJournal reads the checkpoint and verifies every segment that holds
// unflushed records. A damaged or torn tail of the last segment, with no
// valid record after the damage, is a write that was never acknowledged: it
// is truncated away. Any other damage, a gap in the sequence, or records
// missing before the checkpoint is an error wrapping ErrCorrupt, since
// acknowledged writes could be lost.
func recoverJournal(dir string) (journalState, error) {
	var st journalState
	cp, err := readCheckpoint(dir)
	if err != nil {
		return st, err
	}
	st.checkpoint = cp
	if err := os.Remove(filepath.Join(dir, checkpointTmp)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return st, err
	}
	segs, err := listSegments(dir)
	if err != nil {
		return st, err
	}
	// A segment followed by one starting at or before checkpoint+1 holds
	// only flushed records: delete it unread.
	for len(segs) > 1 && segs[1].first <= cp+1 {
		if err := os.Remove(filepath.Join(dir, segmentName(segs[0].first))); err != nil {
			return st, err
		}
		segs = segs[1:]
	}
	if len(segs) > 0 && segs[0].first > cp+1 {
		return st, fmt.Errorf("%w: first segment %s starts after the checkpoint (%d): records %d to %d are missing",
			ErrCorrupt, segmentName(segs[0].first), cp, cp+1, segs[0].first-1)
	}
	prev := uint64(0) // seq of the last record seen
	for i := range segs {
		seg := &segs[i]
		if i > 0 && seg.first != prev+1 {
			return st, fmt.Errorf("%w: segment %s follows a segment that ends at record %d",
				ErrCorrupt, segmentName(seg.first), prev)
		}
		if prev, err = recoverSegment(dir, seg, i == len(segs)-1, cp, &st); err != nil {
			return st, err
		}
	}
	st.last = prev
	if n := len(segs); n > 0 && segs[n-1].size == 0 {
		// A last segment torn before its header was complete: nothing in it
		// was ever acknowledged.
		if err := os.Remove(filepath.Join(dir, segmentName(segs[n-1].first))); err != nil {
			return st, err
		}
		segs = segs[:n-1]
	}
	st.segs = segs
	return st, nil
}

// recoverSegment verifies one segment, sets seg.size, records the position
// of the record after the checkpoint in st, and returns the seq of the
// segment's last record (seg.first-1 if it has none). In the last segment, damage with
// no valid record after it is truncated (to size 0 if the header is damaged).
func recoverSegment(dir string, seg *segment, isLast bool, cp uint64, st *journalState) (uint64, error) {
	name := segmentName(seg.first)
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := fi.Size()
	sc := newScanner(f, 0, size)
	want := seg.first - 1 // seq of the last record seen
	damaged := func(off int64, cause error) (uint64, error) {
		if !isLast {
			return 0, fmt.Errorf("%w: %s at offset %d: %v", ErrCorrupt, name, off, cause)
		}
		if seq, at, found, err := sc.findRecordAfter(off, want); err != nil {
			return 0, err
		} else if found {
			return 0, fmt.Errorf("%w: %s at offset %d: %v, and record %d at offset %d follows it",
				ErrCorrupt, name, off, cause, seq, at)
		}
		// A torn write that was never acknowledged: cut it off.
		if err := f.Truncate(off); err != nil {
			return 0, err
		}
		if err := f.Sync(); err != nil {
			return 0, err
		}
		seg.size = off
		return want, nil
	}
	header, err := sc.bytesAt(0, segmentHeaderLen)
	if err != nil {
		return 0, err
	}
	if len(header) < segmentHeaderLen || string(header[:segmentHeaderLen]) != segmentMagic {
		return damaged(0, errors.New("bad segment header"))
	}
	sc.off = int64(segmentHeaderLen)
	for {
		off := sc.off
		r, err := sc.next()
		if err == io.EOF {
			break
		}
		if err != nil && !errors.Is(err, errShortRecord) && !errors.Is(err, errBadRecord) {
			return 0, err
		}
		if err == nil && r.seq != want+1 {
			// A whole record, not a torn one, in the wrong place.
			return 0, fmt.Errorf("%w: %s at offset %d: record has seq %d, want %d", ErrCorrupt, name, off, r.seq, want+1)
		}
		if err != nil {
			return damaged(off, err)
		}
		want = r.seq
		if r.seq == cp+1 {
			st.next = position{seg: seg.first, off: off}
			st.nextTime = time.Unix(0, r.time)
		}
	}
	seg.size = sc.off
	if isLast {
		// Records a crashed process wrote but did not sync are about to be
		// flushed: make them durable first, so a later power loss cannot
		// take back a seq the database has seen.
		if err := f.Sync(); err != nil {
			return 0, err
		}
	}
	return want, nil
}

// mkdirDurable creates dir and its missing parents with mode 0700 and syncs
// the directory holding each one it created, so the journal's directory
// outlives a power loss along with the journal.
func mkdirDurable(dir string) error {
	var created []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		_, err := os.Stat(d)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		created = append(created, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, d := range created {
		if err := syncDir(filepath.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}

// syncDir syncs a directory, so that the entries created in it last.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
