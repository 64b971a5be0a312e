package writebehind

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// recorder is a Recorder that keeps what it is told.
type recorder struct {
	mu      sync.Mutex
	flushed []string // "n err"
	lags    []int
}

func (r *recorder) Flushed(n int, _ time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushed = append(r.flushed, fmt.Sprintf("%d %v", n, err))
}

func (r *recorder) Lag(pending int, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lags = append(r.lags, pending)
}

var _ Recorder = (*recorder)(nil)

// flaky is a FlushFunc that fails its first fails calls, noting when each
// call was made (relative to start) and telling failed after each failure.
type flaky struct {
	sink
	start  time.Time
	fails  int
	mu     sync.Mutex
	calls  []time.Duration
	failed chan struct{}
}

func (f *flaky) flush(ctx context.Context, batch []Write) error {
	f.mu.Lock()
	f.calls = append(f.calls, time.Since(f.start))
	fail := len(f.calls) <= f.fails
	f.mu.Unlock()
	if fail {
		f.failed <- struct{}{}
		return errDB
	}
	return f.sink.flush(ctx, batch)
}

func TestFlushFailureAndRecovery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ms := time.Millisecond
		f := &flaky{start: time.Now(), fails: 7, failed: make(chan struct{}, 16)}
		rec := &recorder{}
		q := mustOpen(t, Options{Dir: t.TempDir(), FlushInterval: 10 * ms, RetryBackoff: 100 * ms, Recorder: rec}, f.flush)

		mustEnqueue(t, q, "a", "1")
		<-f.failed // first attempt, after FlushInterval
		if n, oldest := q.Pending(); n != 1 || oldest != 10*ms {
			t.Fatalf("Pending after a failure = %d, %v; want 1, 10ms", n, oldest)
		}
		// Writes are still accepted, durably; the lag grows.
		mustEnqueue(t, q, "b", "1")
		mustEnqueue(t, q, "a", "2")
		if n, _ := q.Pending(); n != 3 {
			t.Fatalf("Pending = %d, want 3", n)
		}

		// Flush gives up when its context ends, naming the flush error.
		ctx, cancel := context.WithTimeout(context.Background(), 50*ms)
		err := q.Flush(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, errDB) {
			t.Fatalf("Flush with a deadline = %v; want DeadlineExceeded and %v", err, errDB)
		}

		mustFlush(t, q)
		synctest.Wait() // for the flusher to record the lag
		f.mu.Lock()
		defer f.mu.Unlock()
		// Retries back off 100ms, 200ms, ... up to 30 x 100ms; then the
		// first batch (a=1) succeeds and the next (b, a=2) goes at once.
		want := []time.Duration{10, 110, 310, 710, 1510, 3110, 6110, 9110, 9110}
		for i := range want {
			want[i] *= ms
		}
		if !slices.Equal(f.calls, want) {
			t.Errorf("flush calls at %v, want %v", f.calls, want)
		}
		if got, want := kvs(f.writes()), []string{"1:a=1", "2:b=1", "3:a=2"}; !slices.Equal(got, want) {
			t.Errorf("flushed %v, want %v", got, want)
		}
		rec.mu.Lock()
		wantRec := []string{}
		for range 7 {
			wantRec = append(wantRec, "1 "+errDB.Error())
		}
		wantRec = append(wantRec, "1 <nil>", "2 <nil>")
		if !slices.Equal(rec.flushed, wantRec) {
			t.Errorf("recorded flushes %q, want %q", rec.flushed, wantRec)
		}
		if last := rec.lags[len(rec.lags)-1]; last != 0 {
			t.Errorf("last recorded lag %d, want 0", last)
		}
		rec.mu.Unlock()
		if n, oldest := q.Pending(); n != 0 || oldest != 0 {
			t.Errorf("Pending = %d, %v after recovery", n, oldest)
		}
	})
}

// Close makes one more attempt at a batch in backoff, then gives up.
func TestCloseDuringBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		f := &flaky{start: time.Now(), fails: 1000, failed: make(chan struct{}, 16)}
		q := mustOpen(t, Options{Dir: dir, FlushInterval: time.Millisecond, RetryBackoff: time.Hour}, f.flush)
		mustEnqueue(t, q, "a", "1")
		<-f.failed
		time.Sleep(time.Minute)
		err := q.Close()
		if !errors.Is(err, errDB) {
			t.Fatalf("Close = %v, want %v", err, errDB)
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if want := []time.Duration{time.Millisecond, time.Millisecond + time.Minute}; !slices.Equal(f.calls, want) {
			t.Fatalf("flush calls at %v, want %v", f.calls, want)
		}
	})
}

func TestFlushInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ms := time.Millisecond
		type call struct {
			at   time.Duration
			seqs []uint64
		}
		calls := make(chan call, 10)
		start := time.Now()
		flush := func(_ context.Context, batch []Write) error {
			var seqs []uint64
			for _, w := range batch {
				seqs = append(seqs, w.Seq)
			}
			calls <- call{time.Since(start), seqs}
			return nil
		}
		q := mustOpen(t, Options{Dir: t.TempDir(), FlushInterval: 100 * ms, BatchSize: 3}, flush)

		// One write waits FlushInterval.
		mustEnqueue(t, q, "a", "1")
		time.Sleep(60 * ms)
		if n, oldest := q.Pending(); n != 1 || oldest != 60*ms {
			t.Fatalf("Pending = %d, %v; want 1, 60ms", n, oldest)
		}
		mustEnqueue(t, q, "b", "1")
		if c := <-calls; c.at != 100*ms || !slices.Equal(c.seqs, []uint64{1, 2}) {
			t.Fatalf("flush %+v, want seqs 1, 2 at 100ms", c)
		}

		// A full batch goes at once.
		time.Sleep(time.Second)
		for _, k := range []string{"c", "d", "e"} {
			mustEnqueue(t, q, k, "1")
		}
		if c := <-calls; c.at != 1100*ms || !slices.Equal(c.seqs, []uint64{3, 4, 5}) {
			t.Fatalf("flush %+v, want seqs 3-5 at 1100ms", c)
		}

		// Flush does not wait for the interval.
		mustEnqueue(t, q, "f", "1")
		mustFlush(t, q)
		if c := <-calls; c.at != 1100*ms || !slices.Equal(c.seqs, []uint64{6}) {
			t.Fatalf("flush %+v, want seq 6 at 1100ms", c)
		}
	})
}

// Pending's oldest follows the head of the queue as batches are flushed.
func TestPendingOldest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ms := time.Millisecond
		dir := t.TempDir()
		q1 := mustOpen(t, Options{Dir: dir, FlushInterval: time.Hour}, failFlush)
		for _, k := range []string{"a", "b", "c"} { // at 0, 10 and 20ms
			mustEnqueue(t, q1, k, "1")
			time.Sleep(10 * ms)
		}
		if err := q1.Close(); !errors.Is(err, errDB) {
			t.Fatal(err)
		}

		gate := make(chan struct{})
		gated := func(context.Context, []Write) error { <-gate; return nil }
		q := mustOpen(t, Options{Dir: dir, BatchSize: 1}, gated)
		check := func(wantN int, wantOldest time.Duration) {
			t.Helper()
			synctest.Wait() // the flusher is blocked in gated
			if n, oldest := q.Pending(); n != wantN || oldest != wantOldest {
				t.Fatalf("Pending = %d, %v; want %d, %v", n, oldest, wantN, wantOldest)
			}
		}
		check(3, 30*ms) // replaying a; b was read ahead
		gate <- struct{}{}
		check(2, 20*ms) // b, from the write read ahead
		time.Sleep(10 * ms)
		mustEnqueue(t, q, "d", "1") // at 40ms
		gate <- struct{}{}
		check(2, 20*ms) // c, read ahead once b was flushed
		gate <- struct{}{}
		check(1, 0) // d, read ahead
		time.Sleep(5 * ms)
		check(1, 5*ms)
		mustEnqueue(t, q, "e", "1") // at 45ms, while d is being flushed
		time.Sleep(5 * ms)
		gate <- struct{}{}
		check(1, 5*ms) // e, committed after the flusher last read
		gate <- struct{}{}
		check(0, 0)
	})
}
