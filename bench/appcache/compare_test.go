package appcache

// The comparisons that are counts, not timings: loader calls under a
// herd, stale reads after an invalidation, and the stale-set race. They
// log a table (go test -run Compare -v) and assert only Strata's own
// guarantees; go-redis/cache's figures are reported, not judged.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gocache "github.com/go-redis/cache/v9"
	"github.com/strata-cache/strata/cache"
	"github.com/vmihailenco/msgpack/v5"
)

// trials returns n, or fewer with -short.
func trials(n int) int {
	if testing.Short() {
		return min(n, 3)
	}
	return n
}

// herd starts callers goroutines, then releases them at once into get(i)
// (get spreads them over the instances). It returns the failed calls and
// the time from the release to the last return.
func herd(callers int, get func(i int) error) (failed int64, took time.Duration) {
	gate := make(chan struct{})
	var wg sync.WaitGroup
	var bad atomic.Int64
	for i := range callers {
		wg.Go(func() {
			<-gate
			if err := get(i); err != nil {
				bad.Add(1)
			}
		})
	}
	start := time.Now()
	close(gate)
	wg.Wait()
	return bad.Load(), time.Since(start)
}

// TestCompareLoaderCalls: 1,000 concurrent Gets of one uncached key,
// spread over 3 instances (3 Redis clients and caches) of each library;
// how many times does the loader run? Repeated for a fresh key per round,
// with three loaders: one that returns as soon as every caller has called
// Get (about instant), one that takes 1ms and one 10ms (queries).
func TestCompareLoaderCalls(t *testing.T) {
	needRedis(t)
	const callers, instances = 1000, 3
	rounds := trials(20)

	type loadMode struct {
		name string
		// wait is the loader's body after it counted the call: entered is
		// closed once every caller has called Get.
		wait func(ctx context.Context, entered <-chan struct{}) error
	}
	sleep := func(d time.Duration) func(context.Context, <-chan struct{}) error {
		return func(context.Context, <-chan struct{}) error { time.Sleep(d); return nil }
	}
	modes := []loadMode{
		// The loader of cache.TestRedisOneLoadAcrossInstances: it returns
		// once every caller has called Get, which in practice is before
		// the first load starts: a load of about zero time.
		{"instant (held until all callers called Get)", func(ctx context.Context, entered <-chan struct{}) error {
			select {
			case <-entered:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}},
		{"1ms load", sleep(time.Millisecond)},
		{"10ms load", sleep(10 * time.Millisecond)},
	}

	ns := unique("strata-herd")
	var strata []*strataInstance
	var grc []*grcInstance
	for range instances {
		strata = append(strata, mustStrata(t, ns, cache.Options[Product]{}))
		grc = append(grc, mustGRC(t, true))
	}

	rows := [][]string{{"library", "loader", "loads per round (min / median / max)", "rounds with loads != 1", "failed Gets", "round time (min / median / max)"}}
	for _, m := range modes {
		for _, lib := range []string{"strata", "go-redis/cache"} {
			var loads []int64
			var times []time.Duration
			var failed int64
			notOne := 0
			for r := range rounds {
				k := unique(fmt.Sprintf("herd:%s:", lib))
				d := newDB()
				var inGet atomic.Int64
				entered := make(chan struct{})
				enter := func() {
					if inGet.Add(1) == callers {
						close(entered)
					}
				}
				var get func(i int) error
				if lib == "strata" {
					load := func(ctx context.Context, k string) (cache.Item[Product], error) {
						p := d.read(k)
						if err := m.wait(ctx, entered); err != nil {
							return cache.Item[Product]{}, err
						}
						return cache.Item[Product]{Value: p, Version: p.Version}, nil
					}
					get = func(i int) error {
						enter()
						res, err := strata[i%instances].c.Get(context.Background(), k, load)
						if err == nil && res.Value.Version != 1 {
							err = fmt.Errorf("got version %d", res.Value.Version)
						}
						return err
					}
				} else {
					get = func(i int) error {
						enter()
						var p Product
						err := grc[i%instances].c.Once(&gocache.Item{Key: k, Value: &p, TTL: time.Hour,
							Do: func(*gocache.Item) (any, error) {
								p := d.read(k)
								if err := m.wait(context.Background(), entered); err != nil {
									return nil, err
								}
								return &p, nil
							}})
						if err == nil && p.Version != 1 {
							err = fmt.Errorf("got version %d", p.Version)
						}
						return err
					}
				}
				f, took := herd(callers, get)
				n := d.loads.Load()
				loads = append(loads, n)
				times = append(times, round(took))
				failed += f
				if n != 1 {
					notOne++
				}
				if lib == "strata" && n != 1 {
					t.Errorf("strata, %s, round %d: %d loader calls, want 1", m.name, r, n)
				}
			}
			if lib == "strata" && failed > 0 {
				t.Errorf("strata, %s: %d Gets failed", m.name, failed)
			}
			rows = append(rows, []string{lib, m.name, spread(loads), fmt.Sprintf("%d of %d", notOne, rounds), fmt.Sprint(failed), spread(times)})
		}
	}
	table(t, fmt.Sprintf("Loader calls: %d concurrent Gets of one uncached key over %d instances, %d rounds", callers, instances, rounds), rows)
}

// pair is one library's set-up in the staleness tests: two instances, A
// (the writer) and B (the reader), sharing one Redis and one database.
type pair struct {
	name string
	// read is a read-through Get on B.
	read func(ctx context.Context, k string) (Product, error)
	// write commits version 2 of k in the database and then does what the
	// library documents to make caches drop the old value, on A.
	write func(ctx context.Context, k string) error
	// notices, when set, receives the keys of B's applied invalidation
	// notices with the time they were applied (Strata only).
	notices <-chan notice
}

type notice struct {
	key string
	at  time.Time
}

// pairs returns the library set-ups of the staleness tests, on database d.
func pairs(t *testing.T, d *db) []pair {
	ns := unique("strata-stale")
	notices := make(chan notice, 1024)
	sa := mustStrata(t, ns, cache.Options[Product]{})
	sb := mustStrata(t, ns, cache.Options[Product]{OnNotice: func(_ uint64, names []string) {
		now := time.Now()
		for _, n := range names {
			select {
			case notices <- notice{n, now}:
			default:
			}
		}
	}})
	strata := pair{
		name: "strata (Invalidate)",
		read: func(ctx context.Context, k string) (Product, error) {
			r, err := sb.c.Get(ctx, k, d.strataLoader())
			return r.Value, err
		},
		write: func(ctx context.Context, k string) error {
			p := d.row(k)
			p.Version = 2
			d.put(k, p)
			return sa.c.Invalidate(ctx, 2, k)
		},
		notices: notices,
	}
	grcPair := func(name string, local bool, set bool) pair {
		a, b := mustGRC(t, local), mustGRC(t, local)
		return pair{
			name: name,
			read: func(ctx context.Context, k string) (Product, error) { return b.once(ctx, k, d) },
			write: func(ctx context.Context, k string) error {
				p := d.row(k)
				p.Version = 2
				d.put(k, p)
				if set {
					return a.c.Set(&gocache.Item{Ctx: ctx, Key: k, Value: &p, TTL: time.Hour})
				}
				return a.c.Delete(ctx, k)
			},
		}
	}
	return []pair{
		strata,
		grcPair("go-redis/cache, local cache (Delete)", true, false),
		grcPair("go-redis/cache, local cache (Set new value)", true, true),
		grcPair("go-redis/cache, no local cache (Delete)", false, false),
	}
}

// TestCompareStaleReads: B has k cached; A commits version 2 and
// invalidates (Strata Invalidate; go-redis/cache Delete or Set); right
// after A's call returned, B reads k at fixed offsets. Reads that return
// version 1 are stale. B's L1 in Strata learns of the invalidation through
// a notice on a Redis stream, asynchronously, so the first reads may be
// stale: that window is measured, and only its end (by 1s) is asserted.
func TestCompareStaleReads(t *testing.T) {
	needRedis(t)
	ctx := context.Background()
	d := newDB()
	offsets := []time.Duration{0, time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond, time.Second}
	n := trials(20)

	header := []string{"library (writer's call)"}
	for _, o := range offsets {
		header = append(header, fmt.Sprintf("stale at +%v", o))
	}
	rows := [][]string{header}
	ps := pairs(t, d)
	for _, p := range ps {
		stale := make([]int, len(offsets))
		for range n {
			k := unique("stale:")
			d.put(k, makeProduct(7, 1))
			if got, err := p.read(ctx, k); err != nil || got.Version != 1 {
				t.Fatalf("%s: first read: %d, %v", p.name, got.Version, err)
			}
			if err := p.write(ctx, k); err != nil {
				t.Fatalf("%s: write: %v", p.name, err)
			}
			t0 := time.Now()
			for i, o := range offsets {
				time.Sleep(time.Until(t0.Add(o)))
				got, err := p.read(ctx, k)
				if err != nil {
					t.Fatalf("%s: read: %v", p.name, err)
				}
				if got.Version != 2 {
					stale[i]++
				}
			}
		}
		row := []string{p.name}
		for _, s := range stale {
			row = append(row, fmt.Sprintf("%d/%d", s, n))
		}
		rows = append(rows, row)
		if p.notices != nil && stale[len(stale)-1] != 0 {
			t.Errorf("%s: %d of %d reads 1s after Invalidate returned were stale", p.name, stale[len(stale)-1], n)
		}
	}
	table(t, fmt.Sprintf("Stale reads on B after A's invalidation returned (%d trials; go-redis/cache local TTL %v)", n, localTTL), rows)

	// The window itself, for Strata: from Invalidate's return on A to the
	// notice applied to B's L1 (0 when applied before the call returned),
	// with one read on B right after the return, as at +0 above.
	strata := ps[0]
	var windows []time.Duration
	before, staleNow := 0, 0
	m := trials(200)
	for range m {
		k := unique("window:")
		d.put(k, makeProduct(7, 1))
		if _, err := strata.read(ctx, k); err != nil {
			t.Fatal(err)
		}
		if err := strata.write(ctx, k); err != nil {
			t.Fatal(err)
		}
		returned := time.Now()
		got, err := strata.read(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if got.Version != 2 {
			staleNow++
		}
		timeout := time.After(10 * time.Second)
	wait:
		for {
			select {
			case nt := <-strata.notices:
				if nt.key != k {
					continue
				}
				if got.Version != 2 && nt.at.Before(returned) {
					t.Errorf("B served version %d of %s after its L1 applied the invalidation", got.Version, k)
				}
				w := nt.at.Sub(returned)
				if w <= 0 {
					before++
					w = 0
				}
				windows = append(windows, w)
				break wait
			case <-timeout:
				t.Fatalf("no notice for %s on B after 10s", k)
			}
		}
	}
	table(t, fmt.Sprintf("Strata: time from Invalidate returning on A to B's L1 dropping the key (%d trials)", m), [][]string{
		{"p50", "p90", "p99", "max", "applied before Invalidate returned", "B's read right after the return stale"},
		{round(quantile(windows, .5)).String(), round(quantile(windows, .9)).String(), round(quantile(windows, .99)).String(),
			round(slices.Max(windows)).String(), fmt.Sprintf("%d/%d", before, m), fmt.Sprintf("%d/%d", staleNow, m)},
	})
}

// TestCompareStaleSet: the classic race. B's loader reads version 1; A
// commits version 2 and invalidates; then B's fill lands. Does version 1
// end up stored in Redis and served?
func TestCompareStaleSet(t *testing.T) {
	needRedis(t)
	ctx := context.Background()
	d := newDB()
	n := trials(10)
	rows := [][]string{{"library (writer's call)", "the racing Get returned old", "old value stored in Redis", "a new instance reads old", "the reader instance reads old later"}}

	// Strata: A writes, B reads (with the late fill), C is a new instance.
	{
		ns := unique("strata-race")
		notices := make(chan string, 64)
		a := mustStrata(t, ns, cache.Options[Product]{})
		b := mustStrata(t, ns, cache.Options[Product]{OnNotice: func(_ uint64, names []string) {
			for _, n := range names {
				notices <- n
			}
		}})
		var own, stored, fresh, later int
		for range n {
			k := unique("race:")
			d.put(k, makeProduct(9, 1))
			inLoad, committed, done := make(chan struct{}), make(chan struct{}), make(chan error)
			var first sync.Once
			var racing uint64
			go func() {
				// Strata runs the loader again when the Get's load read
				// data older than an invalidation this instance has heard
				// of by then: only the first call waits.
				r, err := b.c.Get(ctx, k, func(_ context.Context, k string) (cache.Item[Product], error) {
					p := d.read(k) // version 1 on the first call
					first.Do(func() {
						close(inLoad)
						<-committed
					})
					return cache.Item[Product]{Value: p, Version: p.Version}, nil
				})
				racing = r.Value.Version
				done <- err
			}()
			<-inLoad
			p := d.row(k)
			p.Version = 2
			d.put(k, p)
			if err := a.c.Invalidate(ctx, 2, k); err != nil {
				t.Fatal(err)
			}
			close(committed)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if racing < 2 {
				own++
			}
			// What Redis holds for k, read by a tier of a new instance.
			c := mustStrata(t, ns, cache.Options[Product]{})
			if e, ok, err := c.tier.Get(ctx, k); err != nil {
				t.Fatal(err)
			} else if ok && e.Version < 2 {
				stored++
			}
			if r, err := c.c.Get(ctx, k, d.strataLoader()); err != nil {
				t.Fatal(err)
			} else if r.Value.Version < 2 {
				fresh++
			}
			// B, once its L1 has applied the notice for k.
			for nk := ""; nk != k; {
				select {
				case nk = <-notices:
				case <-time.After(10 * time.Second):
					t.Fatalf("no notice for %s on B", k)
				}
			}
			if r, err := b.c.Get(ctx, k, d.strataLoader()); err != nil {
				t.Fatal(err)
			} else if r.Value.Version < 2 {
				later++
			}
		}
		if stored+fresh+later != 0 {
			t.Errorf("strata: the stale fill was stored in %d, read by a new instance in %d, by the reader in %d of %d trials; want 0",
				stored, fresh, later, n)
		}
		rows = append(rows, []string{"strata (Invalidate)", fmt.Sprintf("%d/%d", own, n), fmt.Sprintf("%d/%d", stored, n), fmt.Sprintf("%d/%d", fresh, n), fmt.Sprintf("%d/%d", later, n)})
	}

	// go-redis/cache: the same interleaving, with Delete or with Set.
	for _, set := range []bool{false, true} {
		a, b := mustGRC(t, true), mustGRC(t, true)
		var own, stored, fresh, later int
		for range n {
			k := unique("race:")
			d.put(k, makeProduct(9, 1))
			inLoad, committed, done := make(chan struct{}), make(chan struct{}), make(chan error)
			var racing Product
			go func() {
				done <- b.c.Once(&gocache.Item{Ctx: ctx, Key: k, Value: &racing, TTL: time.Hour,
					Do: func(*gocache.Item) (any, error) {
						p := d.read(k) // version 1
						close(inLoad)
						<-committed
						return &p, nil
					}})
			}()
			<-inLoad
			p := d.row(k)
			p.Version = 2
			d.put(k, p)
			var err error
			if set {
				err = a.c.Set(&gocache.Item{Ctx: ctx, Key: k, Value: &p, TTL: time.Hour})
			} else {
				err = a.c.Delete(ctx, k)
			}
			if err != nil {
				t.Fatal(err)
			}
			close(committed)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if racing.Version < 2 {
				own++
			}
			c := mustGRC(t, false)
			var inRedis Product
			switch err := c.c.Get(ctx, k, &inRedis); {
			case errors.Is(err, gocache.ErrCacheMiss):
			case err != nil:
				t.Fatal(err)
			case inRedis.Version < 2:
				stored++
			}
			cl := mustGRC(t, true)
			if got, err := cl.once(ctx, k, d); err != nil {
				t.Fatal(err)
			} else if got.Version < 2 {
				fresh++
			}
			if got, err := b.once(ctx, k, d); err != nil {
				t.Fatal(err)
			} else if got.Version < 2 {
				later++
			}
		}
		name := "go-redis/cache (Delete)"
		if set {
			name = "go-redis/cache (Set new value)"
		}
		rows = append(rows, []string{name, fmt.Sprintf("%d/%d", own, n), fmt.Sprintf("%d/%d", stored, n), fmt.Sprintf("%d/%d", fresh, n), fmt.Sprintf("%d/%d", later, n)})
	}
	table(t, fmt.Sprintf("Stale-set race: B's loader read version 1, A committed 2 and invalidated, then B's fill landed (%d trials)", n), rows)
}

// TestCompareValueSize logs what one Product takes in Redis with each
// library: both msgpack, go-redis/cache S2-compressed from 64 bytes,
// Strata from 1 KiB, with its entry header (version, lifetimes, tags).
func TestCompareValueSize(t *testing.T) {
	needRedis(t)
	ctx := context.Background()
	d := newDB()
	const k = "size:1"
	p := makeProduct(1, 1)
	d.put(k, p)
	raw, err := msgpack.Marshal(&p)
	if err != nil {
		t.Fatal(err)
	}
	s := mustStrata(t, unique("strata-size"), cache.Options[Product]{})
	if _, err := s.c.Get(ctx, k, d.strataLoader()); err != nil {
		t.Fatal(err)
	}
	g := mustGRC(t, false)
	const gk = "grc-size:1" // product 1 too
	if _, err := g.once(ctx, gk, d); err != nil {
		t.Fatal(err)
	}
	strataLen, err := g.rdb.StrLen(ctx, s.ns+":{"+k+"}").Result() // the tier's key layout
	if err != nil {
		t.Fatal(err)
	}
	grcLen, err := g.rdb.StrLen(ctx, gk).Result()
	if err != nil {
		t.Fatal(err)
	}
	table(t, "Bytes per Product", [][]string{
		{"msgpack", "go-redis/cache in Redis", "strata in Redis"},
		{fmt.Sprint(len(raw)), fmt.Sprint(grcLen), fmt.Sprint(strataLen)},
	})
}
