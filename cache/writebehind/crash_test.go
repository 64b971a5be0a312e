package writebehind

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The crash test runs TestCrashChild in a child process (this test binary
// again), which enqueues writes from several goroutines and prints a line
// for every acknowledgement ("A seq key") and every write its FlushFunc
// stores ("F seq key"). The parent kills it with SIGKILL in mid-stream, opens
// the journal, and checks that every acknowledged write was stored by the
// child or is delivered now, in order.
const (
	crashDirEnv  = "STRATA_WRITEBEHIND_CRASH_DIR"
	crashFailEnv = "STRATA_WRITEBEHIND_CRASH_FAIL" // "1": the child's flushes fail
)

func crashValue(key string) []byte {
	return []byte("value of " + key + strings.Repeat(".", 80))
}

func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("run by TestCrashDurability")
	}
	fail := os.Getenv(crashFailEnv) == "1"
	var mu sync.Mutex
	emit := func(s string) { // one write(2) per call: whole lines reach the pipe
		mu.Lock()
		defer mu.Unlock()
		os.Stdout.WriteString(s)
	}
	flush := func(_ context.Context, batch []Write) error {
		if fail {
			return errDB
		}
		var b strings.Builder
		for _, w := range batch {
			fmt.Fprintf(&b, "F %d %s\n", w.Seq, w.Key)
		}
		emit(b.String())
		return nil
	}
	q, err := Open(Options{Dir: dir, FlushInterval: time.Millisecond, BatchSize: 32, SegmentSize: 16 << 10, RetryBackoff: time.Millisecond}, flush)
	if err != nil {
		emit("ERR " + err.Error() + "\n")
		os.Exit(1)
	}
	for g := range 8 {
		go func() {
			for i := 0; ; i++ {
				key := fmt.Sprintf("w%d-%d", g, i)
				seq, err := q.Enqueue(context.Background(), key, crashValue(key))
				if err != nil {
					emit("ERR " + err.Error() + "\n")
					os.Exit(1)
				}
				emit(fmt.Sprintf("A %d %s\n", seq, key))
			}
		}()
	}
	select {} // until killed
}

func TestCrashDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	for _, tc := range []struct {
		name      string
		failFlush bool
		killAfter int // acknowledgements
	}{
		{"early", false, 3},
		{"flushing", false, 500},
		{"database down", true, 500},
		{"long run", false, 3000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			acked, stored := runCrashChild(t, dir, tc.failFlush, tc.killAfter)
			if len(acked) < tc.killAfter {
				t.Fatalf("child acknowledged %d writes before it was killed, want %d", len(acked), tc.killAfter)
			}
			if tc.failFlush && len(stored) > 0 {
				t.Fatalf("child stored %d writes with a failing flush", len(stored))
			}

			s := &sink{}
			q := mustOpen(t, Options{Dir: dir, BatchSize: 100}, s.flush)
			mustFlush(t, q)
			if err := q.Close(); err != nil {
				t.Fatal(err)
			}
			replayed := s.writes()

			// Replayed writes are in order and gapless, and continue where
			// what the child stored leaves off: no seq is missing from
			// either.
			delivered := make(map[uint64]string)
			for seq, key := range stored {
				delivered[seq] = key
			}
			for i, w := range replayed {
				if i > 0 && w.Seq != replayed[i-1].Seq+1 {
					t.Fatalf("replayed seq %d after %d", w.Seq, replayed[i-1].Seq)
				}
				if !bytes.Equal(w.Value, crashValue(w.Key)) {
					t.Fatalf("replayed write %d: value %q for key %q", w.Seq, w.Value, w.Key)
				}
				if key, ok := delivered[w.Seq]; ok && key != w.Key {
					t.Fatalf("seq %d: child stored key %q, replay delivers %q", w.Seq, key, w.Key)
				}
				delivered[w.Seq] = w.Key
			}
			for seq := uint64(1); seq <= uint64(len(delivered)); seq++ {
				if _, ok := delivered[seq]; !ok {
					t.Fatalf("seq %d never delivered, though %d writes were", seq, len(delivered))
				}
			}
			for seq, key := range acked {
				if got, ok := delivered[seq]; !ok {
					t.Fatalf("acknowledged write %d (%s) lost", seq, key)
				} else if got != key {
					t.Fatalf("acknowledged write %d is %q, delivered %q", seq, key, got)
				}
			}
			t.Logf("%d acknowledged, %d stored by the child, %d replayed (first %d)",
				len(acked), len(stored), len(replayed), firstSeq(replayed))
		})
	}
}

func firstSeq(ws []Write) uint64 {
	if len(ws) == 0 {
		return 0
	}
	return ws[0].Seq
}

// runCrashChild runs the child, kills it after killAfter acknowledgements,
// and returns the writes it acknowledged and those its FlushFunc stored.
func runCrashChild(t *testing.T, dir string, failFlush bool, killAfter int) (acked, stored map[uint64]string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashFailEnv+"="+map[bool]string{true: "1", false: "0"}[failFlush])
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked, stored = make(map[uint64]string), make(map[uint64]string)
	killed := false
	// Read to the end: lines written before the kill stay in the pipe.
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		kind, rest, _ := strings.Cut(sc.Text(), " ")
		seqText, key, _ := strings.Cut(rest, " ")
		seq, _ := strconv.ParseUint(seqText, 10, 64)
		switch kind {
		case "A":
			acked[seq] = key
		case "F":
			stored[seq] = key
		case "ERR":
			t.Errorf("child: %s", rest)
		}
		if !killed && len(acked) >= killAfter {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child exited before it was killed: %v\n%s", err, stderr.Bytes())
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v\n%s", err, stderr.Bytes())
	}
	return acked, stored
}
