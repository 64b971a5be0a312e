package cache

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// R1: a Get that starts after Invalidate returned joins a flight that began
// before it; the flight's loader fails and the flight serves the L2 copy it
// read before the invalidation as "stale". fetchShared skips its recheck
// for SourceStale, so the invalidated value is served.
func TestReviewInvalidatedValueServedStaleToLateJoiner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l2 := newMemL2(t)
		opts := Options[string]{TTL: time.Second, StaleFor: time.Hour, Jitter: -1}
		a := newTwoLevel(t, l2, opts)
		c := newTwoLevel(t, l2, opts)
		ctx := context.Background()
		if _, err := a.Get(ctx, "k", loaderOf("old", 41)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second) // the L2 copy is now stale (within StaleFor)

		entered := make(chan struct{})
		fail := make(chan struct{})
		failing := func(ctx context.Context, _ string) (Item[string], error) {
			close(entered)
			<-fail
			return Item[string]{}, errors.New("db down")
		}
		var wg sync.WaitGroup
		wg.Go(func() { c.Get(ctx, "k", failing) }) // flight: L2 stale v41, lease held, loads
		<-entered
		if err := c.Invalidate(ctx, 42, "k"); err != nil { // write 42 committed and acknowledged
			t.Fatal(err)
		}
		var got Result[string]
		var gotErr error
		wg.Go(func() { got, gotErr = c.Get(ctx, "k", failing) }) // starts after Invalidate returned
		synctest.Wait()                                          // it has joined the flight
		close(fail)
		wg.Wait()
		if gotErr == nil && got.Version < 42 {
			t.Errorf("Get started after Invalidate(42) returned got %q v%d source %s: an invalidated value served stale",
				got.Value, got.Version, got.Source)
		}
	})
}

// lossyL2 is a memL2 whose invalidation notices do not reach subscribers:
// the subscription is down; the test reports the loss itself.
type lossyL2 struct {
	*memL2
	mu   sync.Mutex
	lost []func()
}

func (m *lossyL2) Invalidate(ctx context.Context, version uint64, names ...string) error {
	if err := m.check(); err != nil {
		return err
	}
	return m.memL2.L1.Invalidate(ctx, version, names...) // tombstone in L2, notice lost
}

func (m *lossyL2) Subscribe(ctx context.Context, apply func(uint64, []string), lost func()) {
	m.mu.Lock()
	m.lost = append(m.lost, lost)
	m.mu.Unlock()
	<-ctx.Done()
}

func (m *lossyL2) reportLost() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, f := range m.lost {
		f()
	}
}

// R2: instance B loads v41; instance A commits 42 and invalidates (L2 gets
// the tombstone; B's notice is lost and B drops its L1 as the contract
// says). B's late fill is refused by L2 (which knows about 42), yet B fills
// its own L1 anyway and serves v41 for the whole TTL.
func TestReviewL2RefusedFillStillFillsL1(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l2 := &lossyL2{memL2: newMemL2(t)}
		mk := func() *Cache[string] {
			c, err := New(Options[string]{L2: l2, Clock: preciseClock{}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			return c
		}
		a, b := mk(), mk()
		synctest.Wait() // both subscribed
		ctx := context.Background()
		read := make(chan struct{})
		commit := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			b.Get(ctx, "k", func(context.Context, string) (Item[string], error) {
				close(read) // read v41 from the database
				<-commit
				return Item[string]{Value: "old", Version: 41}, nil
			})
		})
		<-read
		if err := a.Invalidate(ctx, 42, "k"); err != nil {
			t.Fatal(err)
		}
		l2.reportLost() // B learns it may have missed notices: drops L1
		close(commit)
		wg.Wait()
		if _, ok, _ := l2.memL2.L1.Get(ctx, "k"); ok {
			t.Fatal("L2 stored the stale fill (not the bug under test)")
		}
		time.Sleep(time.Minute)
		r, err := b.Get(ctx, "k", loaderOf("new", 42))
		if err == nil && r.Version < 42 {
			t.Errorf("a minute after Invalidate(42) returned, B serves %q v%d from %s (L2 had refused that fill)", r.Value, r.Version, r.Source)
		}
	})
}

// R3: with an L2, XFetch's early refresh reads L2, finds the very entry L1
// holds (same Fresh, still fresh) and copies it back: the loader never
// runs, and the hot key expires everywhere at once.
func TestReviewEarlyRefreshWithL2(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l2 := newMemL2(t)
		c := newTwoLevel(t, l2, Options[string]{TTL: time.Hour, Jitter: -1, Beta: 100})
		var calls int
		var mu sync.Mutex
		slow := func(context.Context, string) (Item[string], error) {
			mu.Lock()
			calls++
			n := calls
			mu.Unlock()
			time.Sleep(time.Second)
			return Item[string]{Value: "v", Version: uint64(n)}, nil
		}
		ctx := context.Background()
		c.Get(ctx, "k", slow)
		time.Sleep(time.Hour - 5*time.Millisecond) // just before expiry
		if r, _ := c.Get(ctx, "k", slow); r.Source != SourceL1 {
			t.Fatalf("near expiry: %+v", r)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if calls != 2 {
			t.Errorf("loader calls = %d, want 2: the early refresh did not reload", calls)
		}
	})
}

// R3b: the warmer's "about to expire" reload is the same no-op with an L2.
func TestReviewWarmerRefreshWithL2(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l2 := newMemL2(t)
		c := newTwoLevel(t, l2, Options[string]{TTL: 10 * time.Second, Jitter: -1, Beta: -1})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ld := &countingLoader{value: "v"}
		ld.version.Store(1)
		c.Get(ctx, "hot", ld.load)
		time.Sleep(8 * time.Second) // 2s left fresh
		rounds := make(chan int, 10)
		c.StartWarmer(ctx, WarmerOptions[string]{Load: ld.load, Interval: time.Second, RefreshWithin: 5 * time.Second},
			func(n int, err error) { rounds <- n })
		time.Sleep(time.Second)
		synctest.Wait()
		if n := <-rounds; n != 1 {
			t.Fatalf("round warmed %d", n)
		}
		if ld.calls.Load() != 2 {
			t.Errorf("loader calls = %d, want 2: the key about to expire was not reloaded", ld.calls.Load())
		}
		if r, _ := c.Get(ctx, "hot", ld.load); r.Source == SourceL1 {
			le := c.l1.lookup("hot", c.now())
			t.Logf("fresh for %v after warming", time.Duration(le.fresh-c.now()))
		}
	})
}

// R4: Close waits for the warmer goroutine, but the warm round's loads run
// under the warmer's ctx, not the cache's, and Warm has no LoadTimeout:
// Close hangs until the caller's ctx ends (here: never).
func TestReviewCloseDuringWarmRound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, err := New(Options[string]{Clock: preciseClock{}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, stop := context.WithCancel(context.Background()) // e.g. the server's base context
		defer stop()
		c.Get(ctx, "hot", func(context.Context, string) (Item[string], error) { return Item[string]{}, errors.New("x") })
		inLoad := make(chan struct{}, 1)
		load := func(ctx context.Context, _ string) (Item[string], error) {
			inLoad <- struct{}{}
			<-ctx.Done() // a loader that honours its ctx
			return Item[string]{}, ctx.Err()
		}
		c.StartWarmer(ctx, WarmerOptions[string]{Load: load, Interval: time.Second}, nil)
		time.Sleep(time.Second)
		<-inLoad
		closed := make(chan struct{})
		go func() { c.Close(); close(closed) }()
		timer := time.NewTimer(time.Hour)
		select {
		case <-closed:
		case <-timer.C:
			t.Error("Close still blocked an hour later: the warm round's load is not cancelled")
			stop() // only the warmer's ctx unblocks it
			<-closed
		}
	})
}

// R5: LoadTimeout does not bound what a caller waits for when the loader
// ignores its ctx: every later Get of the key joins the hung flight and
// blocks forever (the doc: "so a hung load cannot hold every caller of its key").
func TestReviewHungLoaderHoldsEveryCaller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache(t, Options[string]{LoadTimeout: time.Second})
		hang := make(chan struct{})
		defer close(hang)
		go c.Get(context.Background(), "k", func(context.Context, string) (Item[string], error) {
			<-hang // e.g. a driver call that does not watch ctx
			return Item[string]{Value: "x", Version: 1}, nil
		})
		synctest.Wait()
		done := make(chan error, 1)
		go func() {
			_, err := c.Get(context.Background(), "k", loaderOf("v", 1))
			done <- err
		}()
		timer := time.NewTimer(time.Hour)
		select {
		case <-done:
		case <-timer.C:
			t.Error("a Get of the key still blocked an hour past LoadTimeout (1s)")
		}
	})
}

// R6: NegativeTTL is documented as "at most TTL" but is not capped; tombstones
// live TTL+StaleFor+HoldOff, so a tag-invalidated negative entry outlives its
// tombstone and is served again, after the invalidation returned.
func TestReviewNegativeEntryOutlivesTombstone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache(t, Options[string]{TTL: 10 * time.Second, NegativeTTL: time.Hour, HoldOff: time.Second, Jitter: -1})
		ctx := context.Background()
		missing := func(context.Context, string) (Item[string], error) {
			return Item[string]{Version: 1, Tags: []string{"products"}}, ErrNotFound
		}
		c.Get(ctx, "product:7", missing)                         // negative, v1
		if err := c.Invalidate(ctx, 2, "products"); err != nil { // product 7 created at v2
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		r, err := c.Get(ctx, "product:7", loaderOf("p7", 2))
		if r.Version < 2 {
			t.Errorf("a minute after Invalidate(2): %+v, %v (source %s)", r, err, r.Source)
		}
	})
}

// hookL2 pauses the first L2 Get of "k" after it read, until released.
type hookL2 struct {
	*lossyL2
	once    sync.Once
	read    chan struct{}
	release chan struct{}
}

func (h *hookL2) Get(ctx context.Context, key string) (Entry[string], bool, error) {
	e, ok, err := h.lossyL2.Get(ctx, key)
	if key == "k" {
		h.once.Do(func() { close(h.read); <-h.release })
	}
	return e, ok, err
}

// R2b: the same through an L2 hit: B reads v41 from L2, A invalidates (B's
// notice lost, B drops L1), then B's flight copies v41 into its L1. drop()
// leaves no barrier against fills that started before it.
func TestReviewFillAfterDropFromL2Hit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := &lossyL2{memL2: newMemL2(t)}
		h := &hookL2{lossyL2: base, read: make(chan struct{}), release: make(chan struct{})}
		a, err := New(Options[string]{L2: base, Clock: preciseClock{}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(a.Close)
		b, err := New(Options[string]{L2: h, Clock: preciseClock{}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Close)
		synctest.Wait()
		ctx := context.Background()
		if _, err := a.Get(ctx, "k", loaderOf("old", 41)); err != nil { // L2 holds v41
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Go(func() { b.Get(ctx, "k", loaderOf("x", 0)) })
		<-h.read
		if err := a.Invalidate(ctx, 42, "k"); err != nil {
			t.Fatal(err)
		}
		base.reportLost() // B drops its L1
		close(h.release)
		wg.Wait()
		time.Sleep(time.Minute)
		if r, err := b.Get(ctx, "k", loaderOf("new", 42)); err == nil && r.Version < 42 {
			t.Errorf("a minute after Invalidate(42) and B's L1 drop, B serves %q v%d from %s", r.Value, r.Version, r.Source)
		}
	})
}
