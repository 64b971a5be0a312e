package writebehind

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// sink is a FlushFunc that keeps what it is given.
type sink struct {
	mu      sync.Mutex
	batches [][]Write
}

func (s *sink) flush(_ context.Context, batch []Write) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches = append(s.batches, slices.Clone(batch))
	return nil
}

func (s *sink) writes() []Write {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Concat(s.batches...)
}

func (s *sink) seqs() []uint64 {
	var seqs []uint64
	for _, w := range s.writes() {
		seqs = append(seqs, w.Seq)
	}
	return seqs
}

var errDB = errors.New("database unavailable")

func failFlush(context.Context, []Write) error { return errDB }

// mustOpen opens a queue that the test closes at its end, if it did not.
func mustOpen(t testing.TB, opts Options, flush FlushFunc) *Queue {
	t.Helper()
	return mustOpenHooks(t, opts, flush, nil)
}

func mustOpenHooks(t testing.TB, opts Options, flush FlushFunc, hooks *testHooks) *Queue {
	t.Helper()
	q, err := open(opts, flush, hooks)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

func mustEnqueue(t testing.TB, q *Queue, key, value string) uint64 {
	t.Helper()
	seq, err := q.Enqueue(context.Background(), key, []byte(value))
	if err != nil {
		t.Fatalf("Enqueue(%q): %v", key, err)
	}
	return seq
}

func mustFlush(t testing.TB, q *Queue) {
	t.Helper()
	if err := q.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

// prepare leaves a journal in dir holding the given writes (key=value), none
// flushed, as a crash would.
func prepare(t *testing.T, opts Options, kvs ...string) {
	t.Helper()
	opts.FlushInterval = time.Hour
	q := mustOpen(t, opts, failFlush)
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		mustEnqueue(t, q, k, v)
	}
	if err := q.Close(); !errors.Is(err, errDB) {
		t.Fatalf("Close with a failing flush = %v, want %v", err, errDB)
	}
}

// kvs renders writes as "seq:key=value" for comparison.
func kvs(ws []Write) []string {
	var out []string
	for _, w := range ws {
		out = append(out, fmt.Sprintf("%d:%s=%s", w.Seq, w.Key, w.Value))
	}
	return out
}

func segmentFiles(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*"+segmentExt))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := &sink{}
	q := mustOpen(t, Options{Dir: dir, FlushInterval: time.Hour}, s.flush)
	before := time.Now()
	for i := range 3 {
		if seq := mustEnqueue(t, q, fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i)); seq != uint64(i+1) {
			t.Fatalf("seq = %d, want %d", seq, i+1)
		}
	}
	after := time.Now()
	if n, _ := q.Pending(); n != 3 {
		t.Fatalf("Pending = %d, want 3", n)
	}
	mustFlush(t, q)
	got := s.writes()
	if want := []string{"1:k0=v0", "2:k1=v1", "3:k2=v2"}; !slices.Equal(kvs(got), want) {
		t.Fatalf("flushed %v, want %v", kvs(got), want)
	}
	for _, w := range got {
		if w.Time.Before(before.Truncate(0)) || w.Time.After(after) {
			t.Errorf("write %d: Time %v outside [%v, %v]", w.Seq, w.Time, before, after)
		}
	}
	if n, oldest := q.Pending(); n != 0 || oldest != 0 {
		t.Fatalf("Pending after Flush = %d, %v", n, oldest)
	}
	if err := q.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	// The checkpoint keeps flushed writes from being replayed, and seqs
	// continue.
	s2 := &sink{}
	q2 := mustOpen(t, Options{Dir: dir, FlushInterval: time.Hour}, s2.flush)
	if n, _ := q2.Pending(); n != 0 {
		t.Fatalf("Pending after reopen = %d, want 0", n)
	}
	if seq := mustEnqueue(t, q2, "k3", "v3"); seq != 4 {
		t.Fatalf("seq after reopen = %d, want 4", seq)
	}
	mustFlush(t, q2)
	if want := []string{"4:k3=v3"}; !slices.Equal(kvs(s2.writes()), want) {
		t.Fatalf("flushed after reopen %v, want %v", kvs(s2.writes()), want)
	}
}

func TestOrdering(t *testing.T) {
	s := &sink{}
	q := mustOpen(t, Options{Dir: t.TempDir(), BatchSize: 7, FlushInterval: time.Millisecond}, s.flush)
	const n = 100
	for i := range n {
		mustEnqueue(t, q, fmt.Sprintf("k%d", i), "v")
	}
	mustFlush(t, q)
	want := make([]uint64, n)
	for i := range want {
		want[i] = uint64(i + 1)
	}
	if got := s.seqs(); !slices.Equal(got, want) {
		t.Fatalf("flushed seqs %v, want 1..%d once each in order", got, n)
	}
	for _, b := range s.batches {
		if len(b) > 7 {
			t.Fatalf("batch of %d writes, BatchSize is 7", len(b))
		}
	}
}

func TestCoalescing(t *testing.T) {
	t.Run("one batch", func(t *testing.T) {
		s := &sink{}
		q := mustOpen(t, Options{Dir: t.TempDir(), FlushInterval: time.Hour}, s.flush)
		for _, kv := range []string{"a=1", "b=1", "a=2", "c=1", "a=3", "b=2"} {
			k, v, _ := strings.Cut(kv, "=")
			mustEnqueue(t, q, k, v)
		}
		mustFlush(t, q)
		if len(s.batches) != 1 {
			t.Fatalf("%d batches, want 1", len(s.batches))
		}
		if got, want := kvs(s.writes()), []string{"4:c=1", "5:a=3", "6:b=2"}; !slices.Equal(got, want) {
			t.Fatalf("flushed %v, want %v", got, want)
		}
	})
	t.Run("not across batches", func(t *testing.T) {
		dir := t.TempDir()
		prepare(t, Options{Dir: dir}, "a=1", "a=2", "a=3", "b=1", "a=4")
		s := &sink{}
		q := mustOpen(t, Options{Dir: dir, BatchSize: 2}, s.flush)
		mustFlush(t, q)
		var got [][]string
		for _, b := range s.batches {
			got = append(got, kvs(b))
		}
		want := [][]string{{"2:a=2"}, {"3:a=3", "4:b=1"}, {"5:a=4"}}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("batches %v, want %v", got, want)
		}
	})
}

// TestGroupCommit holds the first fsync until 63 more writes are buffered,
// and checks that one more fsync makes them all durable.
func TestGroupCommit(t *testing.T) {
	const writers = 64
	var (
		mu       sync.Mutex
		syncs    int
		inSync   = make(chan struct{})
		release  = make(chan struct{})
		buffered = make(chan uint64, writers)
	)
	hooks := &testHooks{
		enqueued: func(seq uint64) { buffered <- seq },
		beforeSync: func() {
			mu.Lock()
			syncs++
			first := syncs == 1
			mu.Unlock()
			if first {
				close(inSync)
				<-release
			}
		},
	}
	s := &sink{}
	q := mustOpenHooks(t, Options{Dir: t.TempDir(), FlushInterval: time.Hour}, s.flush, hooks)

	seqs := make(chan uint64, writers)
	var wg sync.WaitGroup
	enqueue := func(i int) {
		defer wg.Done()
		seq, err := q.Enqueue(context.Background(), fmt.Sprintf("k%d", i), []byte("v"))
		if err != nil {
			t.Errorf("Enqueue: %v", err)
		}
		seqs <- seq
	}
	wg.Add(1)
	go enqueue(0)
	<-buffered
	<-inSync // the committer holds write 1 in its fsync
	for i := 1; i < writers; i++ {
		wg.Add(1)
		go enqueue(i)
	}
	for range writers - 1 {
		<-buffered
	}
	close(release)
	wg.Wait()
	close(seqs)

	if syncs != 2 {
		t.Errorf("%d fsyncs for %d writes, want 2", syncs, writers)
	}
	got := slices.Sorted(func(yield func(uint64) bool) {
		for s := range seqs {
			if !yield(s) {
				return
			}
		}
	})
	for i, seq := range got {
		if seq != uint64(i+1) {
			t.Fatalf("seqs %v, want 1..%d", got, writers)
		}
	}
	mustFlush(t, q)
	if n := len(s.writes()); n != writers {
		t.Fatalf("flushed %d writes, want %d", n, writers)
	}
}

// TestConcurrentEnqueue runs many writers against a running flusher: every
// write is delivered once, in seq order, and each writer's seqs increase.
func TestConcurrentEnqueue(t *testing.T) {
	const writers, each = 64, 50
	s := &sink{}
	q := mustOpen(t, Options{Dir: t.TempDir(), BatchSize: 16, FlushInterval: time.Millisecond, SegmentSize: 4096}, s.flush)
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			var last uint64
			for i := range each {
				seq, err := q.Enqueue(context.Background(), fmt.Sprintf("g%d-%d", g, i), []byte("value"))
				if err != nil {
					t.Errorf("Enqueue: %v", err)
					return
				}
				if seq <= last {
					t.Errorf("writer %d: seq %d after %d", g, seq, last)
				}
				last = seq
				if i%10 == 0 {
					q.Pending()
				}
			}
		})
	}
	wg.Wait()
	mustFlush(t, q)
	got := s.seqs()
	if len(got) != writers*each {
		t.Fatalf("flushed %d writes, want %d", len(got), writers*each)
	}
	for i, seq := range got {
		if seq != uint64(i+1) {
			t.Fatalf("flushed seq %d at position %d", seq, i)
		}
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestReplayBeforeNewWrites(t *testing.T) {
	dir := t.TempDir()
	prepare(t, Options{Dir: dir}, "a=1", "b=1", "c=1")
	s := &sink{}
	q := mustOpen(t, Options{Dir: dir, FlushInterval: time.Hour}, s.flush)
	if seq := mustEnqueue(t, q, "d", "1"); seq != 4 {
		t.Fatalf("seq = %d, want 4", seq)
	}
	mustFlush(t, q)
	if got, want := kvs(s.writes()), []string{"1:a=1", "2:b=1", "3:c=1", "4:d=1"}; !slices.Equal(got, want) {
		t.Fatalf("flushed %v, want %v", got, want)
	}
}

func TestClose(t *testing.T) {
	t.Run("flushes pending", func(t *testing.T) {
		s := &sink{}
		q := mustOpen(t, Options{Dir: t.TempDir(), FlushInterval: time.Hour}, s.flush)
		mustEnqueue(t, q, "a", "1")
		if err := q.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if got := kvs(s.writes()); !slices.Equal(got, []string{"1:a=1"}) {
			t.Fatalf("flushed %v", got)
		}
	})
	t.Run("methods after close", func(t *testing.T) {
		q := mustOpen(t, Options{Dir: t.TempDir()}, (&sink{}).flush)
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := q.Enqueue(context.Background(), "a", nil); !errors.Is(err, ErrClosed) {
			t.Errorf("Enqueue after Close = %v, want ErrClosed", err)
		}
		if err := q.Flush(context.Background()); !errors.Is(err, ErrClosed) {
			t.Errorf("Flush after Close = %v, want ErrClosed", err)
		}
		if err := q.Close(); !errors.Is(err, ErrClosed) {
			t.Errorf("second Close = %v, want ErrClosed", err)
		}
	})
	t.Run("failing flush leaves the journal", func(t *testing.T) {
		dir := t.TempDir()
		prepare(t, Options{Dir: dir}, "a=1", "b=2") // Close returned errDB
		s := &sink{}
		q := mustOpen(t, Options{Dir: dir}, s.flush)
		mustFlush(t, q)
		if got := kvs(s.writes()); !slices.Equal(got, []string{"1:a=1", "2:b=2"}) {
			t.Fatalf("flushed after reopen %v", got)
		}
	})
}

func TestTooLarge(t *testing.T) {
	q := mustOpen(t, Options{Dir: t.TempDir(), MaxValueSize: 10}, (&sink{}).flush)
	ctx := context.Background()
	if _, err := q.Enqueue(ctx, "k", make([]byte, 11)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("11-byte value: %v, want ErrTooLarge", err)
	}
	if _, err := q.Enqueue(ctx, strings.Repeat("k", MaxKeySize+1), nil); !errors.Is(err, ErrTooLarge) {
		t.Errorf("long key: %v, want ErrTooLarge", err)
	}
	if _, err := q.Enqueue(ctx, strings.Repeat("k", MaxKeySize), make([]byte, 10)); err != nil {
		t.Errorf("largest write: %v", err)
	}
}

func TestLocked(t *testing.T) {
	dir := t.TempDir()
	q := mustOpen(t, Options{Dir: dir}, (&sink{}).flush)
	if q2, err := Open(Options{Dir: dir}, (&sink{}).flush); !errors.Is(err, ErrLocked) {
		if q2 != nil {
			q2.Close()
		}
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q3 := mustOpen(t, Options{Dir: dir}, (&sink{}).flush)
	if err := q3.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOptions(t *testing.T) {
	dir := t.TempDir()
	for _, opts := range []Options{
		{},
		{Dir: dir, BatchSize: -1},
		{Dir: dir, FlushInterval: -1},
		{Dir: dir, SegmentSize: -1},
		{Dir: dir, MaxValueSize: maxMaxValueSize + 1},
		{Dir: dir, RetryBackoff: -1},
	} {
		if q, err := Open(opts, (&sink{}).flush); err == nil {
			q.Close()
			t.Errorf("Open(%+v) succeeded", opts)
		}
	}
	if _, err := Open(Options{Dir: dir}, nil); err == nil {
		t.Error("Open with a nil FlushFunc succeeded")
	}
	sub := filepath.Join(dir, "a", "b")
	q := mustOpen(t, Options{Dir: sub}, (&sink{}).flush)
	q.Close()
	if fi, err := os.Stat(sub); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("created directory: %v, %v; want mode 0700", fi.Mode(), err)
	}
}

func TestEnqueueCancelled(t *testing.T) {
	q := mustOpen(t, Options{Dir: t.TempDir()}, (&sink{}).flush)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := q.Enqueue(ctx, "a", nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Enqueue with a cancelled context = %v", err)
	}
	if n, _ := q.Pending(); n != 0 {
		t.Fatalf("Pending = %d, want 0", n)
	}
}
