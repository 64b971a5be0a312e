package redis

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/strata-cache/strata/internal/testenv"
)

func TestNotify(t *testing.T) {
	addr := testenv.Redis(t)
	testNotify(t, func(t *testing.T, n int) []rueidis.Client {
		cs := make([]rueidis.Client, n)
		for i := range cs {
			cs[i] = newClient(t, addr)
		}
		return cs
	})
}

// notice is one callback of Subscribe: an apply, or lost when lost is set.
type notice struct {
	lost    bool
	version uint64
	names   []string
}

func (n notice) String() string {
	if n.lost {
		return "lost"
	}
	return fmt.Sprintf("v%d%q", n.version, n.names)
}

// subscribe runs tier.Subscribe until the test ends, sending every
// callback to the returned channel, and returns once it reads the stream.
// Each later (re)connection is signalled on connected. block, when set, is
// called inside apply before it returns.
func subscribe[V any](t *testing.T, tier *Tier[V], block func(notice)) (notices <-chan notice, connected <-chan struct{}) {
	t.Helper()
	ch := make(chan notice, 1000)
	conn := make(chan struct{}, 100)
	tier.onConnected = func() {
		select {
		case conn <- struct{}{}:
		default:
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		<-done
	})
	go func() {
		defer close(done)
		tier.Subscribe(ctx, func(v uint64, names []string) {
			n := notice{version: v, names: names}
			ch <- n
			if block != nil {
				block(n)
			}
		}, func() { ch <- notice{lost: true} })
	}()
	select {
	case <-conn:
	case <-time.After(waitTimeout):
		t.Fatal("Subscribe never read the stream")
	}
	return ch, conn
}

func next(t *testing.T, ch <-chan notice) notice {
	t.Helper()
	select {
	case n := <-ch:
		return n
	case <-time.After(waitTimeout):
		t.Fatal("no notice")
		return notice{}
	}
}

// nextApply skips lost notices until an apply, and reports whether any
// lost came first.
func nextApply(t *testing.T, ch <-chan notice) (n notice, lost bool) {
	t.Helper()
	for {
		n := next(t, ch)
		if !n.lost {
			return n, lost
		}
		lost = true
	}
}

func invalidate[V any](t *testing.T, tier *Tier[V], version uint64, names ...string) {
	t.Helper()
	if err := tier.Invalidate(context.Background(), version, names...); err != nil {
		t.Fatalf("Invalidate(%d, %q): %v", version, names, err)
	}
}

func testNotify(t *testing.T, clients func(t *testing.T, n int) []rueidis.Client) {
	pair := func(t *testing.T) (a, b *Tier[string], cb rueidis.Client) {
		cs := clients(t, 2)
		ns := newNamespace()
		return newTier[string](t, cs[0], Options{Namespace: ns}), newTier[string](t, cs[1], Options{Namespace: ns}), cs[1]
	}

	t.Run("InOrder", func(t *testing.T) {
		a, b, _ := pair(t)
		got, _ := subscribe(t, b, nil)
		own, _ := subscribe(t, a, nil)
		odd := []string{"", "{x}", "a\x00b", "\xff\n", "ünï"}
		for v := uint64(1); v <= 50; v++ {
			invalidate(t, a, v, fmt.Sprint("k", v), odd[v%uint64(len(odd))])
		}
		for v := uint64(1); v <= 50; v++ {
			want := notice{version: v, names: []string{fmt.Sprint("k", v), odd[v%uint64(len(odd))]}}
			for name, ch := range map[string]<-chan notice{"other": got, "own": own} {
				if n := next(t, ch); n.String() != want.String() {
					t.Fatalf("%s tier: got %v, want %v", name, n, want)
				}
			}
		}
	})

	t.Run("FlushIsANilNotice", func(t *testing.T) {
		a, b, _ := pair(t)
		got, _ := subscribe(t, b, nil)
		invalidate(t, a, 1, "x")
		if err := a.Flush(context.Background(), 2); err != nil {
			t.Fatal(err)
		}
		invalidate(t, a, 3, "y")
		var seq []string
		for range 3 {
			seq = append(seq, next(t, got).String())
		}
		if want := []string{`v1["x"]`, `v2[]`, `v3["y"]`}; !slices.Equal(seq, want) {
			t.Errorf("got %v, want %v", seq, want)
		}
	})

	t.Run("Trimmed", func(t *testing.T) {
		a, b, cb := pair(t)
		// The subscriber is held inside the apply of v1 while the stream
		// moves on and is trimmed past what it has read.
		hold, release := make(chan struct{}), make(chan struct{})
		got, _ := subscribe(t, b, func(n notice) {
			if n.version == 1 {
				close(hold)
				<-release
			}
		})
		invalidate(t, a, 1, "k")
		<-hold
		for v := uint64(2); v <= 4; v++ {
			invalidate(t, a, v, "k")
		}
		do(t, cb, "XTRIM", b.streamKey, "MAXLEN", "1")
		invalidate(t, a, 5, "k")
		close(release)
		var seq []string
		for range 4 {
			seq = append(seq, next(t, got).String())
		}
		if want := []string{`v1["k"]`, "lost", `v4["k"]`, `v5["k"]`}; !slices.Equal(seq, want) {
			t.Errorf("got %v, want %v", seq, want)
		}
	})

	t.Run("StreamDeleted", func(t *testing.T) {
		a, b, cb := pair(t)
		hold, release := make(chan struct{}), make(chan struct{})
		got, _ := subscribe(t, b, func(n notice) {
			if n.version == 1 {
				close(hold)
				<-release
			}
		})
		invalidate(t, a, 1, "k")
		<-hold
		invalidate(t, a, 2, "k")
		do(t, cb, "DEL", b.streamKey)
		invalidate(t, a, 3, "k")
		close(release)
		if n := next(t, got); n.String() != `v1["k"]` {
			t.Fatalf("got %v, want v1", n)
		}
		if n := next(t, got); !n.lost {
			t.Fatalf("got %v, want lost", n)
		}
		// v3 is applied if the new stream gave it an ID above v1's; in
		// the same millisecond it could not, and lost covers it.
		invalidate(t, a, 4, "k")
		n := next(t, got)
		if n.String() == `v3["k"]` {
			n = next(t, got)
		}
		if n.String() != `v4["k"]` {
			t.Fatalf("got %v, want v4", n)
		}
	})

	t.Run("ConnectionKilled", func(t *testing.T) {
		a, b, cb := pair(t)
		got, _ := subscribe(t, b, nil)
		invalidate(t, a, 1, "k")
		if n := next(t, got); n.String() != `v1["k"]` {
			t.Fatalf("got %v", n)
		}
		// Kill every normal connection of every node: the subscriber's
		// blocked read fails.
		for _, n := range cb.Nodes() {
			if err := n.Do(context.Background(), n.B().ClientKill().TypeNormal().Build()).Error(); err != nil {
				t.Fatal(err)
			}
		}
		if n := next(t, got); !n.lost {
			t.Fatalf("got %v, want lost", n)
		}
		// It reads on from where it was once the connection is back.
		retry(t, func() error { return a.Invalidate(context.Background(), 2, "k") })
		if n, _ := nextApply(t, got); n.String() != `v2["k"]` {
			t.Fatalf("got %v", n)
		}
	})

	t.Run("EndsWithContextAndClose", func(t *testing.T) {
		_, b, _ := pair(t)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			b.Subscribe(ctx, func(uint64, []string) {}, func() {})
			close(done)
		}()
		cancel()
		select {
		case <-done:
		case <-time.After(waitTimeout):
			t.Fatal("Subscribe did not return when ctx ended")
		}
		done = make(chan struct{})
		go func() {
			b.Subscribe(context.Background(), func(uint64, []string) {}, func() {})
			close(done)
		}()
		b.Close()
		select {
		case <-done:
		case <-time.After(waitTimeout):
			t.Fatal("Subscribe did not return at Close")
		}
	})
}

// A restart without persistence loses the stream: the subscriber calls
// lost, and applies the events published after the restart.
func TestNotifyAcrossRestart(t *testing.T) {
	srv := testenv.StartRedis(t)
	ns := newNamespace()
	a := newTier[string](t, newClient(t, srv.Addr()), Options{Namespace: ns})
	b := newTier[string](t, newClient(t, srv.Addr()), Options{Namespace: ns})
	got, connected := subscribe(t, b, nil)
	invalidate(t, a, 1, "k")
	if n := next(t, got); n.String() != `v1["k"]` {
		t.Fatalf("got %v", n)
	}
	srv.Kill()
	if n := next(t, got); !n.lost {
		t.Fatalf("got %v, want lost", n)
	}
	srv.Restart(t)
	select {
	case <-connected:
	case <-time.After(waitTimeout):
		t.Fatal("Subscribe did not reconnect")
	}
	retry(t, func() error { return a.Invalidate(context.Background(), 2, "k") })
	if n, _ := nextApply(t, got); n.String() != `v2["k"]` {
		t.Fatalf("got %v", n)
	}
}

// retry calls f until it succeeds, for the first calls after a restart or
// a killed connection, which may fail on a connection not yet replaced.
func retry(t *testing.T, f func() error) {
	t.Helper()
	for tries := 1; ; tries++ {
		err := f()
		if err == nil {
			return
		}
		if tries == 20 {
			t.Fatalf("still failing after %d tries: %v", tries, err)
		}
		t.Logf("try %d: %v", tries, err)
	}
}
