package cache

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/maypok86/otter/v2"
)

var ctx0 = context.Background()

// preciseClock reads the time on every call and never ticks: tests that
// move fake time by hours would otherwise wake the coarse clock millions of
// times.
type preciseClock struct{}

func (preciseClock) NowNano() int64                      { return time.Now().UnixNano() }
func (preciseClock) Tick(time.Duration) <-chan time.Time { return nil }

func newCache(t *testing.T, opts Options[string]) *Cache[string] {
	t.Helper()
	if opts.Clock == nil {
		opts.Clock = preciseClock{}
	}
	c, err := New[string](opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func loaderOf(v string, version uint64, tags ...string) LoaderFunc[string] {
	return func(context.Context, string) (Item[string], error) {
		return Item[string]{Value: v, Version: version, Tags: tags}, nil
	}
}

func TestGetLoadsOnceThenHits(t *testing.T) {
	c := newCache(t, Options[string]{})
	ctx := context.Background()
	r, err := c.Get(ctx, "k", loaderOf("a", 1))
	if err != nil || r.Value != "a" || r.Source != SourceLoader {
		t.Fatalf("first Get = %+v, %v", r, err)
	}
	r, err = c.Get(ctx, "k", loaderOf("b", 2))
	if err != nil || r.Value != "a" || r.Source != SourceL1 || r.Version != 1 {
		t.Fatalf("second Get = %+v, %v", r, err)
	}
}

func TestLoaderErrorNotCached(t *testing.T) {
	c := newCache(t, Options[string]{})
	boom := errors.New("boom")
	_, err := c.Get(context.Background(), "k", func(context.Context, string) (Item[string], error) { return Item[string]{}, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if r, _ := c.Get(context.Background(), "k", loaderOf("ok", 1)); r.Value != "ok" {
		t.Errorf("after error got %+v", r)
	}
}

func TestInvalidateByKeyAndTag(t *testing.T) {
	c := newCache(t, Options[string]{})
	ctx := context.Background()
	c.Get(ctx, "product:1", loaderOf("p1", 5, "products"))
	c.Get(ctx, "list", loaderOf("l", 5, "products"))
	c.Invalidate(ctx0, 6, "product:1")
	if r, _ := c.Get(ctx, "product:1", loaderOf("p1b", 6)); r.Value != "p1b" {
		t.Errorf("key invalidation: got %+v", r)
	}
	if r, _ := c.Get(ctx, "list", loaderOf("x", 6)); r.Source != SourceL1 {
		t.Errorf("untouched tag was invalidated: %+v", r)
	}
	c.Invalidate(ctx0, 7, "products")
	if r, _ := c.Get(ctx, "list", loaderOf("l2", 7, "products")); r.Value != "l2" {
		t.Errorf("tag invalidation: got %+v", r)
	}
}

// A reader loads version 41, a writer commits 42 and invalidates, the
// reader's late fill of 41 must be refused.
func TestNoStaleFill(t *testing.T) {
	c := newCache(t, Options[string]{})
	c.Invalidate(ctx0, 42, "k")
	if c.Fill(ctx0, "k", Item[string]{Value: "old", Version: 41}) {
		t.Fatal("a fill read before the invalidation was stored")
	}
	if !c.Fill(ctx0, "k", Item[string]{Value: "new", Version: 42}) {
		t.Fatal("a fill at the invalidation's version was refused")
	}
	if c.Fill(ctx0, "k", Item[string]{Value: "older", Version: 40}) {
		t.Fatal("a fill older than the stored entry was stored")
	}
	// Tags count too.
	c.Invalidate(ctx0, 50, "group")
	if c.Fill(ctx0, "other", Item[string]{Value: "x", Version: 49, Tags: []string{"group"}}) {
		t.Fatal("a fill older than its tag's tombstone was stored")
	}
}

func TestInvalidateAllRaisesFloor(t *testing.T) {
	c := newCache(t, Options[string]{})
	c.Fill(ctx0, "k", Item[string]{Value: "v", Version: 3})
	c.InvalidateAll(ctx0, 10)
	if c.Fill(ctx0, "k", Item[string]{Value: "v", Version: 9}) {
		t.Error("fill below the floor stored")
	}
	if r, _ := c.Get(context.Background(), "k", loaderOf("fresh", 10)); r.Value != "fresh" {
		t.Errorf("got %+v", r)
	}
}

func TestTombstoneOverflowRaisesFloor(t *testing.T) {
	c := newCache(t, Options[string]{MaxTombstones: 10})
	for i := range 1000 {
		c.Invalidate(ctx0, uint64(i+1), string(rune('a'+i%26))+string(rune(i)))
	}
	c.l1.tombs.CleanUp()
	if c.l1.floor.Load() == 0 {
		t.Fatal("evicting tombstones for space did not raise the floor")
	}
}

func TestConcurrentGetsShareOneLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, err := New[string](Options[string]{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var loads atomic.Int64
		release := make(chan struct{})
		load := func(context.Context, string) (Item[string], error) {
			loads.Add(1)
			<-release
			return Item[string]{Value: "v", Version: 1}, nil
		}
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				if r, err := c.Get(context.Background(), "k", load); err != nil || r.Value != "v" {
					t.Errorf("Get = %+v, %v", r, err)
				}
			})
		}
		synctest.Wait()
		close(release)
		wg.Wait()
		if n := loads.Load(); n != 1 {
			t.Errorf("loads = %d, want 1", n)
		}
	})
}

func TestWaiterContextCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := New[string](Options[string]{})
		defer c.Close()
		release := make(chan struct{})
		go c.Get(context.Background(), "k", func(context.Context, string) (Item[string], error) {
			<-release
			return Item[string]{Value: "v"}, nil
		})
		synctest.Wait()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := c.Get(ctx, "k", loaderOf("x", 1)); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v", err)
		}
		close(release)
		synctest.Wait()
	})
}

func TestTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := New[string](Options[string]{TTL: time.Minute})
		defer c.Close()
		c.Get(context.Background(), "k", loaderOf("a", 1))
		time.Sleep(2 * time.Minute) // fake time inside the bubble
		if r, _ := c.Get(context.Background(), "k", loaderOf("b", 1)); r.Value != "b" {
			t.Errorf("entry outlived its TTL: %+v", r)
		}
	})
}

func TestNewRejectsNegative(t *testing.T) {
	if _, err := New[string](Options[string]{TTL: -1}); !errors.Is(err, ErrOptions) {
		t.Errorf("err = %v", err)
	}
}

// BenchmarkGetL1Hit reads 10 000 resident keys (every one tagged, as the
// catalog's are) in a precomputed Zipf order (s=1.1): the L1 hit path alone,
// without the cost of drawing the keys.
//
//	go test -run='^$' -bench=GetL1Hit -benchmem -count=10 ./cache | benchstat -
func BenchmarkGetL1Hit(b *testing.B) {
	c, _ := New[string](Options[string]{})
	defer c.Close()
	const n = 10_000
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "product:" + strconv.Itoa(i)
		c.Fill(ctx0, keys[i], Item[string]{Value: "v", Version: 1, Tags: []string{"products"}})
	}
	z := rand.NewZipf(rand.New(rand.NewPCG(1, 2)), 1.1, 1, n-1)
	order := make([]string, 1<<16)
	for i := range order {
		order[i] = keys[z.Uint64()]
	}
	load := loaderOf("v", 1)
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := c.Get(ctx, order[i&(len(order)-1)], load); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := rand.IntN(len(order))
			for pb.Next() {
				c.Get(ctx, order[i&(len(order)-1)], load)
				i++
			}
		})
	})
}

// BenchmarkOtterBaseline is BenchmarkGetL1Hit's floor: a bare otter lookup
// of the same keys in the same order, with the same clock, doing nothing
// with the value. Compare the two from one run on a noisy machine.
func BenchmarkOtterBaseline(b *testing.B) {
	const n = 10_000
	clk := otter.NewCoarseClock(time.Millisecond)
	defer clk.Stop()
	o := otter.Must(&otter.Options[string, *l1Entry[string]]{
		MaximumSize: 100_000, Clock: clk,
		ExpiryCalculator: otter.ExpiryWriting[string, *l1Entry[string]](time.Hour),
	})
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "product:" + strconv.Itoa(i)
		o.Set(keys[i], &l1Entry[string]{})
	}
	z := rand.NewZipf(rand.New(rand.NewPCG(1, 2)), 1.1, 1, n-1)
	order := make([]string, 1<<16)
	for i := range order {
		order[i] = keys[z.Uint64()]
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		o.GetIfPresent(order[i&(len(order)-1)])
		i++
	}
}

// BenchmarkGetZipf reads 100 000 keys with Zipf-distributed popularity
// through an L1 bounded to 10 000 entries: hits, misses, loads and evictions.
//
//	go test -run='^$' -bench=GetZipf -benchmem -count=10 ./cache | benchstat -
func BenchmarkGetZipf(b *testing.B) {
	c, _ := New[string](Options[string]{MaxEntries: 10_000})
	defer c.Close()
	keys := make([]string, 100_000)
	for i := range keys {
		keys[i] = "product:" + strconv.Itoa(i)
	}
	load := loaderOf("v", 1)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		z := rand.NewZipf(rand.New(rand.NewPCG(rand.Uint64(), 2)), 1.1, 1, uint64(len(keys)-1))
		for pb.Next() {
			c.Get(ctx, keys[z.Uint64()], load)
		}
	})
}
