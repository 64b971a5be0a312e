package appcache

// Hit latency of the two libraries on the same redis-server, the same
// values (~1 KiB Product, msgpack) and the same Zipf(1.1) key order over
// 10 000 keys, precomputed so the draw is not measured.
//
//	go test -run '^$' -bench . -benchmem -count 5 > bench.txt
//	go run golang.org/x/perf/cmd/benchstat@latest -col /lib bench.txt
//
// L1: a hit in the process. Strata's L1 (otter) holds decoded values; a
// hit returns the stored Product. go-redis/cache's LocalCache (TinyLFU
// behind one mutex) holds the encoded bytes; a hit decodes them (S2, then
// msgpack) into the caller's value. Both read through their loader API
// (Get with a loader, Once with Do).
//
// L2: a hit in Redis. Strata's L1 cannot be turned off, so its L2 hit is
// measured at the tier: credis Tier.Get (one GET, the floor tombstone read
// from rueidis's client-side cache, the envelope and msgpack decode). A
// Cache.Get that misses L1 and hits L2 does that plus one L1 fill.
// go-redis/cache without a LocalCache: Get (one GET, S2, msgpack).
// lib=strata-noautopipe is the same tier on a rueidis client with
// DisableAutoPipelining (the application owns that client and its options).
//
// The l2-reads/op and loads/op metrics show that the L1 benchmarks are all
// L1 hits (0) and the L2 benchmarks all Redis hits (1, 0).

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gocache "github.com/go-redis/cache/v9"
	"github.com/redis/rueidis"
	"github.com/strata-cache/strata/cache"
	credis "github.com/strata-cache/strata/cache/redis"
)

// benchTTL keeps every warmed entry fresh for the whole run, in both
// libraries, so no benchmark iteration reloads or refetches.
const benchTTL = time.Hour

var (
	keys = func() []string {
		k := make([]string, numKeys)
		for i := range k {
			k[i] = key(i)
		}
		return k
	}()
	orderKeys = func() []string {
		o := zipfOrder()
		k := make([]string, len(o))
		for i, x := range o {
			k[i] = keys[x]
		}
		return k
	}()
)

// Fixtures are built once per test binary, shared by the benchmark runs
// (-count, RunParallel's calls) and closed by TestMain.
var (
	fixMu      sync.Mutex
	fixtures   = map[string]any{}
	fixClosers []func()
)

func fixture[T any](b *testing.B, name string, build func(addr string) (T, func(), error)) T {
	b.Helper()
	addr := needRedis(b)
	fixMu.Lock()
	defer fixMu.Unlock()
	if v, ok := fixtures[name]; ok {
		return v.(T)
	}
	v, closeFn, err := build(addr)
	if err != nil {
		b.Fatalf("fixture %s: %v", name, err)
	}
	fixtures[name] = v
	fixClosers = append(fixClosers, closeFn)
	return v
}

func closeFixtures() {
	fixMu.Lock()
	defer fixMu.Unlock()
	for i := len(fixClosers) - 1; i >= 0; i-- {
		fixClosers[i]()
	}
	fixClosers, fixtures = nil, map[string]any{}
}

// counter is a cache.Recorder that counts L2 reads and loads.
type counter struct {
	cache.NopRecorder
	l2, loads atomic.Int64
}

func (c *counter) Hit(tier string) {
	if tier == cache.TierL2 {
		c.l2.Add(1)
	}
}

func (c *counter) Miss(tier string) {
	if tier == cache.TierL2 {
		c.l2.Add(1)
	}
}
func (c *counter) Load(time.Duration, error) { c.loads.Add(1) }

type strataL1 struct {
	s   *strataInstance
	rec *counter
	d   *db
}

// strataWarm is a Strata instance with every key loaded (in L1 and L2).
func strataWarm(b *testing.B) *strataL1 {
	return fixture(b, "strata-l1", func(addr string) (*strataL1, func(), error) {
		f := &strataL1{rec: &counter{}, d: newDB()}
		s, err := newStrata(addr, unique("bench-l1-"), cache.Options[Product]{TTL: benchTTL, Recorder: f.rec})
		if err != nil {
			return nil, nil, err
		}
		f.s = s
		if err := s.c.Warm(context.Background(), keys, f.d.strataLoader()); err != nil {
			s.close()
			return nil, nil, err
		}
		return f, s.close, nil
	})
}

type grcL1 struct {
	g *grcInstance
	d *db
}

// grcWarm is a go-redis/cache instance with a LocalCache and every key
// loaded (locally and in Redis database 1; the tests use database 0).
func grcWarm(b *testing.B) *grcL1 {
	return fixture(b, "grc-l1", func(addr string) (*grcL1, func(), error) {
		f := &grcL1{g: newGRC(addr, 1, benchTTL), d: newDB()}
		if err := parallelEach(keys, func(k string) error {
			_, err := f.g.once(context.Background(), k, f.d)
			return err
		}); err != nil {
			f.g.close()
			return nil, nil, err
		}
		return f, f.g.close, nil
	})
}

// parallelEach runs fn for every key, 8 at a time.
func parallelEach(ks []string, fn func(string) error) error {
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	sem := make(chan struct{}, 8)
	for _, k := range ks {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(k); err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

func BenchmarkL1Hit(b *testing.B) {
	ctx := context.Background()
	b.Run("lib=strata", func(b *testing.B) {
		f := strataWarm(b)
		load := f.d.strataLoader()
		l2, loads := f.rec.l2.Load(), f.d.loads.Load()
		i := 0
		for b.Loop() {
			r, err := f.s.c.Get(ctx, orderKeys[i&(orderLen-1)], load)
			if err != nil || r.Version != 1 {
				b.Fatal(r.Version, err)
			}
			i++
		}
		b.ReportMetric(float64(f.rec.l2.Load()-l2)/float64(b.N), "l2-reads/op")
		b.ReportMetric(float64(f.d.loads.Load()-loads)/float64(b.N), "loads/op")
	})
	b.Run("lib=go-redis-cache", func(b *testing.B) {
		f := grcWarm(b)
		st0, loads := f.g.c.Stats(), f.d.loads.Load()
		i := 0
		for b.Loop() {
			p, err := f.g.once(ctx, orderKeys[i&(orderLen-1)], f.d)
			if err != nil || p.Version != 1 {
				b.Fatal(p.Version, err)
			}
			i++
		}
		st := f.g.c.Stats()
		b.ReportMetric(float64(st.Hits+st.Misses-st0.Hits-st0.Misses)/float64(b.N), "l2-reads/op")
		b.ReportMetric(float64(f.d.loads.Load()-loads)/float64(b.N), "loads/op")
	})
}

// BenchmarkL1HitParallel is BenchmarkL1Hit from GOMAXPROCS goroutines.
func BenchmarkL1HitParallel(b *testing.B) {
	ctx := context.Background()
	var start atomic.Int64
	b.Run("lib=strata", func(b *testing.B) {
		f := strataWarm(b)
		load := f.d.strataLoader()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := int(start.Add(7919))
			for pb.Next() {
				if _, err := f.s.c.Get(ctx, orderKeys[i&(orderLen-1)], load); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
	b.Run("lib=go-redis-cache", func(b *testing.B) {
		f := grcWarm(b)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := int(start.Add(7919))
			for pb.Next() {
				if _, err := f.g.once(ctx, orderKeys[i&(orderLen-1)], f.d); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}

// strataTier is a Strata tier (on its own client) holding every key.
func strataTier(b *testing.B) *strataInstance {
	return fixture(b, "strata-l2", func(addr string) (*strataInstance, func(), error) {
		s, err := newStrata(addr, unique("bench-l2-"), cache.Options[Product]{})
		if err != nil {
			return nil, nil, err
		}
		now := time.Now()
		err = parallelEach(keys, func(k string) error {
			var i int
			fmt.Sscanf(k, "product:%d", &i)
			ok, err := s.tier.Fill(context.Background(), k, cache.Entry[Product]{
				Value: makeProduct(i, 1), Version: 1,
				Stored: now, Fresh: now.Add(benchTTL), Expires: now.Add(benchTTL),
			})
			if err == nil && !ok {
				err = fmt.Errorf("fill %s refused", k)
			}
			return err
		})
		if err != nil {
			s.close()
			return nil, nil, err
		}
		return s, s.close, nil
	})
}

// strataTierNoPipe reads strataTier's namespace through a rueidis client
// with DisableAutoPipelining: each command takes a pooled connection, as
// go-redis does, instead of being queued to the shared connection's writer
// and reader goroutines.
func strataTierNoPipe(b *testing.B) *credis.Tier[Product] {
	s := strataTier(b)
	return fixture(b, "strata-l2-nopipe", func(addr string) (*credis.Tier[Product], func(), error) {
		c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableAutoPipelining: true})
		if err != nil {
			return nil, nil, err
		}
		t, err := credis.New[Product](c, credis.Options{Namespace: s.ns, Logger: quiet})
		if err != nil {
			c.Close()
			return nil, nil, err
		}
		return t, func() { t.Close(); c.Close() }, nil
	})
}

// grcRedis is a go-redis/cache instance without LocalCache, every key in
// Redis database 2.
func grcRedis(b *testing.B) *grcInstance {
	return fixture(b, "grc-l2", func(addr string) (*grcInstance, func(), error) {
		g := newGRC(addr, 2, 0)
		err := parallelEach(keys, func(k string) error {
			var i int
			fmt.Sscanf(k, "product:%d", &i)
			p := makeProduct(i, 1)
			return g.c.Set(&gocache.Item{Key: k, Value: &p, TTL: benchTTL})
		})
		if err != nil {
			g.close()
			return nil, nil, err
		}
		return g, g.close, nil
	})
}

func BenchmarkL2Hit(b *testing.B) {
	ctx := context.Background()
	b.Run("lib=strata", func(b *testing.B) {
		s := strataTier(b)
		i := 0
		for b.Loop() {
			e, ok, err := s.tier.Get(ctx, orderKeys[i&(orderLen-1)])
			if err != nil || !ok || e.Value.Version != 1 {
				b.Fatal(ok, err)
			}
			i++
		}
	})
	b.Run("lib=strata-noautopipe", func(b *testing.B) {
		t := strataTierNoPipe(b)
		i := 0
		for b.Loop() {
			e, ok, err := t.Get(ctx, orderKeys[i&(orderLen-1)])
			if err != nil || !ok || e.Value.Version != 1 {
				b.Fatal(ok, err)
			}
			i++
		}
	})
	b.Run("lib=go-redis-cache", func(b *testing.B) {
		g := grcRedis(b)
		st0 := g.c.Stats()
		i := 0
		for b.Loop() {
			var p Product
			if err := g.c.Get(ctx, orderKeys[i&(orderLen-1)], &p); err != nil || p.Version != 1 {
				b.Fatal(p.Version, err)
			}
			i++
		}
		st := g.c.Stats()
		if st.Misses != st0.Misses {
			b.Fatalf("%d Redis misses", st.Misses-st0.Misses)
		}
	})
}

// BenchmarkL2HitParallel is BenchmarkL2Hit from 4×GOMAXPROCS goroutines,
// where rueidis pipelines concurrent commands on one connection and
// go-redis takes one pooled connection per command.
func BenchmarkL2HitParallel(b *testing.B) {
	ctx := context.Background()
	var start atomic.Int64
	b.Run("lib=strata", func(b *testing.B) {
		s := strataTier(b)
		b.SetParallelism(4)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := int(start.Add(7919))
			for pb.Next() {
				if _, ok, err := s.tier.Get(ctx, orderKeys[i&(orderLen-1)]); err != nil || !ok {
					b.Error(ok, err)
					return
				}
				i++
			}
		})
	})
	b.Run("lib=strata-noautopipe", func(b *testing.B) {
		t := strataTierNoPipe(b)
		b.SetParallelism(4)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := int(start.Add(7919))
			for pb.Next() {
				if _, ok, err := t.Get(ctx, orderKeys[i&(orderLen-1)]); err != nil || !ok {
					b.Error(ok, err)
					return
				}
				i++
			}
		})
	})
	b.Run("lib=go-redis-cache", func(b *testing.B) {
		g := grcRedis(b)
		b.SetParallelism(4)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := int(start.Add(7919))
			for pb.Next() {
				var p Product
				if err := g.c.Get(ctx, orderKeys[i&(orderLen-1)], &p); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}
