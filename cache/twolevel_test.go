package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// memL2 is a shared tier for unit tests: an L1 standing in for Redis, with
// leases, wake-ups, a notifier hub and a switch that makes it fail. The real
// L2 (cache/redis) passes the same conformance suite as L1.
type memL2 struct {
	*L1[string]
	down    atomic.Bool
	calls   atomic.Int64
	gets    atomic.Int64
	batches atomic.Int64

	mu      sync.Mutex
	leases  map[string]string
	waiters map[string][]chan struct{}
	subs    map[int]*memSub
	nextID  int
	tokens  int
}

type memSub struct {
	apply func(uint64, []string)
	lost  func()
}

var errDown = errors.New("memL2: down")

func newMemL2(t *testing.T) *memL2 {
	l1, err := NewL1(L1Options[string]{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l1.Close)
	return &memL2{L1: l1, leases: map[string]string{}, waiters: map[string][]chan struct{}{}, subs: map[int]*memSub{}}
}

func (m *memL2) check() error {
	m.calls.Add(1)
	if m.down.Load() {
		return errDown
	}
	return nil
}

func (m *memL2) Get(ctx context.Context, key string) (Entry[string], bool, error) {
	m.gets.Add(1)
	if err := m.check(); err != nil {
		return Entry[string]{}, false, err
	}
	return m.L1.Get(ctx, key)
}

func (m *memL2) GetMany(ctx context.Context, keys []string) ([]Entry[string], []bool, error) {
	if err := m.check(); err != nil {
		return nil, nil, err
	}
	m.batches.Add(1)
	return m.L1.GetMany(ctx, keys)
}

func (m *memL2) Fill(ctx context.Context, key string, e Entry[string]) (bool, error) {
	if err := m.check(); err != nil {
		return false, err
	}
	ok, _ := m.L1.Fill(ctx, key, e)
	m.wake(key)
	return ok, nil
}

func (m *memL2) Invalidate(ctx context.Context, version uint64, names ...string) error {
	if err := m.check(); err != nil {
		return err
	}
	_ = m.L1.Invalidate(ctx, version, names...)
	m.mu.Lock()
	subs := make([]*memSub, 0, len(m.subs))
	for _, s := range m.subs {
		subs = append(subs, s)
	}
	m.mu.Unlock()
	for _, s := range subs {
		s.apply(version, names)
	}
	return nil
}

func (m *memL2) Flush(ctx context.Context, version uint64) error {
	if err := m.check(); err != nil {
		return err
	}
	return m.L1.Flush(ctx, version)
}

func (m *memL2) Ping(context.Context) error { return m.check() }

func (m *memL2) wake(key string) {
	m.mu.Lock()
	ws := m.waiters[key]
	delete(m.waiters, key)
	m.mu.Unlock()
	for _, w := range ws {
		close(w)
	}
}

func (m *memL2) Lease(_ context.Context, key string, _ time.Duration) (*Lease, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, taken := m.leases[key]; taken {
		ch := make(chan struct{})
		m.waiters[key] = append(m.waiters[key], ch)
		return &Lease{Wait: func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ch:
			case <-t.C:
			case <-ctx.Done():
				return ctx.Err()
			}
			return nil
		}}, nil
	}
	m.tokens++
	token := fmt.Sprint(m.tokens)
	m.leases[key] = token
	return &Lease{Held: true, Release: func(ctx context.Context) error {
		if err := ctx.Err(); err != nil {
			return err // as a network call would
		}
		m.mu.Lock()
		if m.leases[key] == token {
			delete(m.leases, key)
		}
		m.mu.Unlock()
		m.wake(key)
		return nil
	}}, nil
}

func (m *memL2) heldLeases() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.leases)
}

func (m *memL2) Subscribe(ctx context.Context, apply func(uint64, []string), lost func()) {
	m.mu.Lock()
	id := m.nextID
	m.nextID++
	m.subs[id] = &memSub{apply, lost}
	m.mu.Unlock()
	<-ctx.Done()
	m.mu.Lock()
	delete(m.subs, id)
	m.mu.Unlock()
}

func (m *memL2) loseAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.subs {
		s.lost()
	}
}

// recorder counts what the cache reports.
type recorder struct {
	NopRecorder
	mu       sync.Mutex
	stale    int
	refused  map[string]int
	breakers []bool
}

func (r *recorder) StaleServed(string) { r.mu.Lock(); r.stale++; r.mu.Unlock() }
func (r *recorder) FillRefused(tier string) {
	r.mu.Lock()
	if r.refused == nil {
		r.refused = map[string]int{}
	}
	r.refused[tier]++
	r.mu.Unlock()
}
func (r *recorder) Breaker(open bool) {
	r.mu.Lock()
	r.breakers = append(r.breakers, open)
	r.mu.Unlock()
}

type countingLoader struct {
	calls   atomic.Int64
	value   string
	version atomic.Uint64
	gate    chan struct{} // when set, each call waits for it
}

func (l *countingLoader) load(ctx context.Context, key string) (Item[string], error) {
	l.calls.Add(1)
	if l.gate != nil {
		select {
		case <-l.gate:
		case <-ctx.Done():
			return Item[string]{}, ctx.Err()
		}
	}
	return Item[string]{Value: l.value, Version: l.version.Load()}, nil
}

func newTwoLevel(t *testing.T, l2 *memL2, opts Options[string]) *Cache[string] {
	t.Helper()
	opts.L2 = l2
	if opts.Clock == nil {
		opts.Clock = preciseClock{}
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// 1,000 concurrent misses for one key across three instances make exactly
// one loader call: one instance wins the lease, the others wait for its fill.
func TestOneLoadAcrossInstances(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l2 := newMemL2(t)
		cs := []*Cache[string]{newTwoLevel(t, l2, Options[string]{}), newTwoLevel(t, l2, Options[string]{}), newTwoLevel(t, l2, Options[string]{})}
		ld := &countingLoader{value: "v", gate: make(chan struct{})}
		ld.version.Store(1)
		var wg sync.WaitGroup
		var bad atomic.Int64
		for i := range 1000 {
			wg.Go(func() {
				r, err := cs[i%3].Get(context.Background(), "k", ld.load)
				if err != nil || r.Value != "v" {
					bad.Add(1)
				}
			})
		}
		synctest.Wait()
		close(ld.gate)
		wg.Wait()
		if n := ld.calls.Load(); n != 1 {
			t.Errorf("loader calls = %d, want 1", n)
		}
		if bad.Load() != 0 {
			t.Errorf("%d Gets failed", bad.Load())
		}
		if l2.heldLeases() != 0 {
			t.Errorf("%d leases left held", l2.heldLeases())
		}
	})
}

// The stale-set race, through both tiers: a reader loads version 41, a
// writer commits 42 and invalidates, and the reader's late fill is refused
// by L2 and L1 alike.
func TestStaleSetRefusedByBothTiers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l2 := newMemL2(t)
		rec := &recorder{}
		reader := newTwoLevel(t, l2, Options[string]{Recorder: rec})
		writer := newTwoLevel(t, l2, Options[string]{})
		loaded := make(chan struct{})
		committed := make(chan struct{})
		go func() {
			reader.Get(context.Background(), "k", func(context.Context, string) (Item[string], error) {
				close(loaded)
				<-committed // the write commits and is invalidated meanwhile
				return Item[string]{Value: "old", Version: 41}, nil
			})
		}()
		<-loaded
		if err := writer.Invalidate(context.Background(), 42, "k"); err != nil {
			t.Fatal(err)
		}
		close(committed)
		synctest.Wait()
		if _, ok, _ := l2.L1.Get(context.Background(), "k"); ok {
			t.Error("L2 stored the stale fill")
		}
		if _, ok, _ := reader.l1.Get(context.Background(), "k"); ok {
			t.Error("L1 stored the stale fill")
		}
		rec.mu.Lock()
		if rec.refused[TierL2] != 1 {
			t.Errorf("refused fills = %v, want L2's (L1 is not tried after L2 refused)", rec.refused)
		}
		rec.mu.Unlock()
		r, err := writer.Get(context.Background(), "k", loaderOf("new", 42))
		if err != nil || r.Value != "new" {
			t.Errorf("Get after the race = %+v, %v", r, err)
		}
	})
}

func TestL2HitFillsL1(t *testing.T) {
	l2 := newMemL2(t)
	a := newTwoLevel(t, l2, Options[string]{})
	b := newTwoLevel(t, l2, Options[string]{})
	ctx := context.Background()
	if r, _ := a.Get(ctx, "k", loaderOf("v", 1)); r.Source != SourceLoader {
		t.Fatalf("first Get source %q", r.Source)
	}
	if r, _ := b.Get(ctx, "k", loaderOf("x", 9)); r.Source != SourceL2 || r.Value != "v" {
		t.Fatalf("other instance: %+v, want the L2 copy", r)
	}
	if r, _ := b.Get(ctx, "k", loaderOf("x", 9)); r.Source != SourceL1 {
		t.Fatalf("third Get source %q, want l1", r.Source)
	}
}

func TestStaleWhileRevalidate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		c := newCache(t, Options[string]{TTL: 10 * time.Second, StaleFor: time.Minute, Jitter: -1, Recorder: rec})
		ld := &countingLoader{value: "v1"}
		ld.version.Store(1)
		ctx := context.Background()
		c.Get(ctx, "k", ld.load)
		time.Sleep(11 * time.Second) // fake time: the value is now stale
		ld.value = "v2"
		ld.version.Store(2)
		r, err := c.Get(ctx, "k", ld.load)
		if err != nil || r.Source != SourceStale || r.Value != "v1" {
			t.Fatalf("Get past TTL = %+v, %v; want the stale v1", r, err)
		}
		synctest.Wait() // the background refresh
		if r, _ := c.Get(ctx, "k", ld.load); r.Value != "v2" || r.Source != SourceL1 {
			t.Errorf("after the refresh: %+v", r)
		}
		if ld.calls.Load() != 2 {
			t.Errorf("loader calls = %d, want 2", ld.calls.Load())
		}
		time.Sleep(2 * time.Minute) // past TTL and the stale window
		ld.value = "v3"
		if r, _ := c.Get(ctx, "k", ld.load); r.Value != "v3" || r.Source != SourceLoader {
			t.Errorf("past the stale window: %+v, want a synchronous load", r)
		}
	})
}

// An invalidated value is never served stale, whatever StaleFor says.
func TestInvalidatedValueNeverServedStale(t *testing.T) {
	c := newCache(t, Options[string]{StaleFor: time.Hour})
	ctx := context.Background()
	c.Get(ctx, "k", loaderOf("old", 1))
	c.Invalidate(ctx, 2, "k")
	if r, _ := c.Get(ctx, "k", loaderOf("new", 2)); r.Value != "new" || r.Source != SourceLoader {
		t.Errorf("got %+v", r)
	}
}

func TestStaleIfError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache(t, Options[string]{TTL: time.Second, StaleFor: time.Hour, Jitter: -1})
		ctx := context.Background()
		c.Get(ctx, "k", loaderOf("v", 1))
		time.Sleep(2 * time.Second)
		failing := func(context.Context, string) (Item[string], error) { return Item[string]{}, errors.New("db down") }
		for range 3 {
			r, err := c.Get(ctx, "k", failing)
			if err != nil || r.Value != "v" || r.Source != SourceStale {
				t.Fatalf("Get with a failing loader = %+v, %v; want the stale value", r, err)
			}
			synctest.Wait()
		}
	})
}

func TestNegativeCaching(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache(t, Options[string]{NegativeTTL: 10 * time.Second})
		var calls atomic.Int64
		missing := func(context.Context, string) (Item[string], error) {
			calls.Add(1)
			return Item[string]{}, fmt.Errorf("row 7: %w", ErrNotFound)
		}
		ctx := context.Background()
		for range 3 {
			if _, err := c.Get(ctx, "product:7", missing); !errors.Is(err, ErrNotFound) {
				t.Fatalf("err = %v, want ErrNotFound", err)
			}
		}
		if calls.Load() != 1 {
			t.Errorf("loader calls = %d, want 1 (not found is cached)", calls.Load())
		}
		time.Sleep(11 * time.Second)
		c.Get(ctx, "product:7", missing)
		if calls.Load() != 2 {
			t.Errorf("loader calls after NegativeTTL = %d, want 2", calls.Load())
		}
	})
}

// XFetch: a hit shortly before expiry refreshes the value in the background
// while the caller gets the current one.
func TestEarlyRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache(t, Options[string]{TTL: time.Hour, Jitter: -1, Beta: 100})
		var calls atomic.Int64
		slow := func(context.Context, string) (Item[string], error) {
			n := calls.Add(1)
			time.Sleep(time.Second) // a load that takes time: Delta
			return Item[string]{Value: fmt.Sprint("v", n), Version: uint64(n)}, nil
		}
		ctx := context.Background()
		c.Get(ctx, "k", slow)
		if r, _ := c.Get(ctx, "k", slow); r.Value != "v1" {
			t.Fatalf("got %+v", r)
		}
		time.Sleep(time.Hour - 5*time.Millisecond) // just before expiry
		if r, _ := c.Get(ctx, "k", slow); r.Value != "v1" || r.Source != SourceL1 {
			t.Fatalf("near expiry: %+v, want the current value from L1", r)
		}
		time.Sleep(2 * time.Second) // the refresh's load takes a second
		synctest.Wait()
		if calls.Load() != 2 {
			t.Fatalf("loader calls = %d, want an early refresh", calls.Load())
		}
		if r, _ := c.Get(ctx, "k", slow); r.Value != "v2" {
			t.Errorf("after the early refresh: %+v", r)
		}
	})
}

func TestEarlyRefreshDisabled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache(t, Options[string]{TTL: 10 * time.Second, Jitter: -1, Beta: -1})
		var calls atomic.Int64
		slow := func(context.Context, string) (Item[string], error) {
			calls.Add(1)
			time.Sleep(time.Second)
			return Item[string]{Value: "v", Version: 1}, nil
		}
		c.Get(context.Background(), "k", slow)
		time.Sleep(9*time.Second + 900*time.Millisecond)
		c.Get(context.Background(), "k", slow)
		synctest.Wait()
		if calls.Load() != 1 {
			t.Errorf("loader calls = %d with early refresh off", calls.Load())
		}
	})
}

func TestLoaderPanicReleasesEverything(t *testing.T) {
	l2 := newMemL2(t)
	c := newTwoLevel(t, l2, Options[string]{MaxConcurrentLoads: 1})
	ctx := context.Background()
	_, err := c.Get(ctx, "k", func(context.Context, string) (Item[string], error) { panic("bad loader") })
	if err == nil {
		t.Fatal("a panicking loader returned no error")
	}
	if l2.heldLeases() != 0 {
		t.Error("the lease of a panicking loader was not released")
	}
	// The load slot was returned too: with a cap of 1, this would block.
	if r, err := c.Get(ctx, "k", loaderOf("ok", 1)); err != nil || r.Value != "ok" {
		t.Errorf("after the panic: %+v, %v", r, err)
	}
}

func TestLoaderTimeoutReleasesLease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l2 := newMemL2(t)
		c := newTwoLevel(t, l2, Options[string]{LoadTimeout: time.Second})
		_, err := c.Get(context.Background(), "k", func(ctx context.Context, _ string) (Item[string], error) {
			<-ctx.Done()
			return Item[string]{}, ctx.Err()
		})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want DeadlineExceeded", err)
		}
		if l2.heldLeases() != 0 {
			t.Error("the lease of a timed-out load was not released")
		}
	})
}

func TestLoadCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache(t, Options[string]{MaxConcurrentLoads: 2})
		var running, peak atomic.Int64
		gate := make(chan struct{})
		load := func(context.Context, string) (Item[string], error) {
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			<-gate
			running.Add(-1)
			return Item[string]{Value: "v", Version: 1}, nil
		}
		var wg sync.WaitGroup
		for i := range 10 {
			wg.Go(func() { c.Get(context.Background(), fmt.Sprint("k", i), load) })
		}
		synctest.Wait()
		if running.Load() != 2 {
			t.Errorf("%d loads running, want the cap of 2", running.Load())
		}
		close(gate)
		wg.Wait()
		if peak.Load() != 2 {
			t.Errorf("peak concurrent loads = %d, want 2", peak.Load())
		}
	})
}

// A failing L2 never fails a Get; the breaker opens, L2 is left alone, the
// invalidations it missed are replayed before it is trusted again.
func TestBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l2 := newMemL2(t)
		rec := &recorder{}
		c := newTwoLevel(t, l2, Options[string]{BreakerFailures: 3, BreakerCooldown: time.Second, Recorder: rec})
		ctx := context.Background()
		c.Get(ctx, "a", loaderOf("a1", 1))
		l2.down.Store(true)
		for i := range 10 {
			r, err := c.Get(ctx, fmt.Sprint("k", i), loaderOf("v", 1))
			if err != nil || r.Value != "v" {
				t.Fatalf("Get %d with L2 down = %+v, %v", i, r, err)
			}
		}
		if !c.brk.isOpen() {
			t.Fatal("breaker still closed after repeated L2 failures")
		}
		calls := l2.calls.Load()
		c.Get(ctx, "other", loaderOf("v", 1))
		if l2.calls.Load() != calls {
			t.Error("L2 called while the breaker is open")
		}
		if err := c.Invalidate(ctx, 5, "a"); err == nil {
			t.Error("Invalidate with L2 down reported success")
		}
		l2.down.Store(false)
		time.Sleep(time.Second) // the cooldown; the probe then pings
		synctest.Wait()
		if c.brk.isOpen() {
			t.Fatal("breaker did not close after L2 came back")
		}
		if _, ok, _ := l2.L1.Get(ctx, "a"); ok {
			t.Error("the invalidation made while L2 was down was not replayed on it")
		}
		if r, _ := c.Get(ctx, "a", loaderOf("a5", 5)); r.Value != "a5" {
			t.Errorf("after recovery: %+v", r)
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if len(rec.breakers) != 2 || !rec.breakers[0] || rec.breakers[1] {
			t.Errorf("breaker reports = %v, want [true false]", rec.breakers)
		}
	})
}

// While L2 is down, invalidations from other instances may be missed, so L1
// entries older than DegradedTTL are refreshed (served stale meanwhile).
func TestDegradedL1Lifetime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l2 := newMemL2(t)
		c := newTwoLevel(t, l2, Options[string]{BreakerFailures: 1, BreakerCooldown: time.Hour, DegradedTTL: 5 * time.Second})
		ctx := context.Background()
		ld := &countingLoader{value: "v1"}
		ld.version.Store(1)
		c.Get(ctx, "k", ld.load)
		l2.down.Store(true)
		c.Get(ctx, "trip", ld.load) // L2 fails: breaker opens
		if !c.brk.isOpen() {
			t.Fatal("breaker closed")
		}
		time.Sleep(6 * time.Second)
		ld.value = "v2"
		ld.version.Store(2)
		r, err := c.Get(ctx, "k", ld.load)
		if err != nil || r.Value != "v1" || r.Source != SourceStale {
			t.Fatalf("degraded Get = %+v, %v; want v1 served stale", r, err)
		}
		synctest.Wait()
		if r, _ := c.Get(ctx, "k", ld.load); r.Value != "v2" {
			t.Errorf("after the degraded refresh: %+v", r)
		}
	})
}

func TestCrossInstanceCoherence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l2 := newMemL2(t)
		a := newTwoLevel(t, l2, Options[string]{})
		b := newTwoLevel(t, l2, Options[string]{})
		synctest.Wait() // both subscribed
		ctx := context.Background()
		b.Get(ctx, "k", loaderOf("old", 1))
		b.Get(ctx, "t", loaderOf("old", 1, "tag"))
		if err := a.Invalidate(ctx, 2, "k", "tag"); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := b.l1.Get(ctx, "k"); ok {
			t.Error("b's L1 still holds k after a's invalidation")
		}
		if _, ok, _ := b.l1.Get(ctx, "t"); ok {
			t.Error("b's L1 still holds the tagged entry after a's tag invalidation")
		}
		b.Get(ctx, "x", loaderOf("x", 3))
		l2.loseAll() // b's subscription dropped: it may have missed events
		if _, ok, _ := b.l1.Get(ctx, "x"); ok {
			t.Error("L1 not flushed after the subscription was lost")
		}
	})
}

func TestGetManyBatchesL2(t *testing.T) {
	l2 := newMemL2(t)
	a := newTwoLevel(t, l2, Options[string]{})
	b := newTwoLevel(t, l2, Options[string]{})
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c"} {
		a.Get(ctx, k, loaderOf("v"+k, 1))
	}
	missing := func(context.Context, string) (Item[string], error) { return Item[string]{}, ErrNotFound }
	gets := l2.gets.Load()
	res, errs := b.GetMany(ctx, []string{"a", "b", "c", "d", ""}, missing)
	if l2.batches.Load() != 1 {
		t.Errorf("L2 batches = %d, want 1", l2.batches.Load())
	}
	// d is loaded under its lease; the leaseholder's one re-read is the only
	// single-key L2 read (the batch already looked d up).
	if n := l2.gets.Load() - gets; n != 1 {
		t.Errorf("single-key L2 reads = %d, want 1", n)
	}
	for i, k := range []string{"a", "b", "c"} {
		if errs[i] != nil || res[i].Value != "v"+k || res[i].Source != SourceL2 {
			t.Errorf("GetMany[%d] = %+v, %v", i, res[i], errs[i])
		}
	}
	if !errors.Is(errs[3], ErrNotFound) {
		t.Errorf("missing key: err = %v", errs[3])
	}
	if !errors.Is(errs[4], ErrBadKey) {
		t.Errorf("empty key: err = %v", errs[4])
	}
}

func TestSetWriteThrough(t *testing.T) {
	l2 := newMemL2(t)
	c := newTwoLevel(t, l2, Options[string]{})
	ctx := context.Background()
	v, err := c.Set(ctx, "k", "written", []string{"tag"}, func(context.Context) (uint64, error) { return 7, nil })
	if err != nil || v != 7 {
		t.Fatalf("Set = %d, %v", v, err)
	}
	if e, ok, _ := l2.L1.Get(ctx, "k"); !ok || e.Value != "written" || e.Version != 7 {
		t.Errorf("L2 after Set: %+v %v", e, ok)
	}
	if r, _ := c.Get(ctx, "k", loaderOf("x", 1)); r.Value != "written" || r.Source != SourceL1 {
		t.Errorf("Get after Set: %+v", r)
	}
	// A write whose version is older than what is cached does not win.
	c.Set(ctx, "k", "older", nil, func(context.Context) (uint64, error) { return 6, nil })
	if r, _ := c.Get(ctx, "k", loaderOf("x", 1)); r.Value != "written" {
		t.Errorf("an older write replaced a newer one: %+v", r)
	}
	boom := errors.New("db refused")
	if _, err := c.Set(ctx, "k2", "v", nil, func(context.Context) (uint64, error) { return 0, boom }); !errors.Is(err, boom) {
		t.Errorf("Set with a failing store: %v", err)
	}
	if _, ok, _ := c.l1.Get(ctx, "k2"); ok {
		t.Error("a failed write was cached")
	}
}

func TestWarmAndInventory(t *testing.T) {
	c := newCache(t, Options[string]{})
	ctx := context.Background()
	ld := &countingLoader{value: "v"}
	ld.version.Store(1)
	if err := c.Warm(ctx, []string{"a", "b", "c"}, ld.load); err != nil {
		t.Fatal(err)
	}
	if ld.calls.Load() != 3 || c.Len() != 3 {
		t.Fatalf("Warm: %d loads, %d entries", ld.calls.Load(), c.Len())
	}
	for range 20000 {
		c.Get(ctx, "a", ld.load)
	}
	for range 4000 {
		c.Get(ctx, "b", ld.load)
	}
	inv := c.Inventory(10)
	if len(inv) < 2 || inv[0].Key != "a" || inv[1].Key != "b" {
		t.Fatalf("inventory = %+v, want a then b first", inv)
	}
	if !inv[0].Cached || inv[0].Version != 1 || inv[0].FreshFor <= 0 || inv[0].Requests == 0 {
		t.Errorf("inventory line = %+v", inv[0])
	}
	if err := c.Warm(ctx, []string{""}, ld.load); !errors.Is(err, ErrBadKey) {
		t.Errorf("Warm of a bad key: %v", err)
	}
}

func TestScheduledWarmer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache(t, Options[string]{TTL: 10 * time.Second, Jitter: -1, Beta: -1})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ld := &countingLoader{value: "v"}
		ld.version.Store(1)
		for range 2000 {
			c.Get(ctx, "hot", ld.load)
		}
		rounds := make(chan int, 10)
		err := c.StartWarmer(ctx, WarmerOptions[string]{Load: ld.load, Interval: time.Minute, QuietBelow: 1000, RefreshWithin: 5 * time.Second},
			func(n int, err error) { rounds <- n })
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute) // fake time: one quiet round; "hot" has expired
		synctest.Wait()
		select {
		case n := <-rounds:
			if n != 1 {
				t.Errorf("warmed %d keys, want 1", n)
			}
		default:
			t.Fatal("no warming round ran")
		}
		if ld.calls.Load() != 2 {
			t.Errorf("loader calls = %d, want the warm load", ld.calls.Load())
		}
		if err := c.StartWarmer(ctx, WarmerOptions[string]{}, nil); !errors.Is(err, ErrOptions) {
			t.Errorf("warmer without a loader: %v", err)
		}
	})
}

func TestBadKeys(t *testing.T) {
	c := newCache(t, Options[string]{})
	ctx := context.Background()
	for _, k := range []string{"", string(make([]byte, MaxKeyLen+1))} {
		if _, err := c.Get(ctx, k, loaderOf("v", 1)); !errors.Is(err, ErrBadKey) {
			t.Errorf("Get(%d-byte key): %v", len(k), err)
		}
	}
}

// InvalidateL1 and FlushL1 apply the tombstone and floor rules to this
// instance's L1 and make no L2 call: the relay wrote L2's already.
func TestInvalidateL1LeavesL2Alone(t *testing.T) {
	l2 := newMemL2(t)
	c := newTwoLevel(t, l2, Options[string]{})
	c.Fill(ctx0, "k", Item[string]{Value: "old", Version: 1})
	calls := l2.calls.Load()
	c.InvalidateL1(ctx0, 2, "k")
	c.FlushL1(ctx0, 5)
	if n := l2.calls.Load() - calls; n != 0 {
		t.Errorf("%d L2 calls from InvalidateL1 and FlushL1, want 0", n)
	}
	if ok, _ := c.l1.Fill(ctx0, "k", Entry[string]{Value: "old", Version: 1}); ok {
		t.Error("L1 took a fill older than its tombstone")
	}
	if ok, _ := c.l1.Fill(ctx0, "other", Entry[string]{Value: "x", Version: 4}); ok {
		t.Error("L1 took a fill below the flush's floor")
	}
	if _, ok, _ := l2.Get(ctx0, "k"); !ok {
		t.Error("InvalidateL1 removed the L2 entry")
	}
}
