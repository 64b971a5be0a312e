package cache_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/strata-cache/strata/cache"
	credis "github.com/strata-cache/strata/cache/redis"
	"github.com/strata-cache/strata/internal/testenv"
)

// instance is one application process: its own Redis client, L2 tier and
// cache.
type instance struct {
	client rueidis.Client
	cache  *cache.Cache[string]
}

func newInstance(t testing.TB, addrs []string, ns string, opts cache.Options[string]) *instance {
	t.Helper()
	client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: addrs})
	if err != nil {
		t.Fatal(err)
	}
	l2, err := credis.New[string](client, credis.Options{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	opts.L2 = l2
	c, err := cache.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		l2.Close()
		client.Close()
	})
	return &instance{client: client, cache: c}
}

// 1,000 concurrent misses for one key across 3 instances on a real Redis
// make exactly one loader call.
func TestRedisOneLoadAcrossInstances(t *testing.T) {
	addr := testenv.Redis(t)
	const callers = 1000
	var insts []*instance
	for range 3 {
		insts = append(insts, newInstance(t, []string{addr}, "one-load", cache.Options[string]{}))
	}
	var started atomic.Int64
	all := make(chan struct{})
	var loads atomic.Int64
	load := func(ctx context.Context, key string) (cache.Item[string], error) {
		loads.Add(1)
		select { // hold the load until every caller has asked
		case <-all:
		case <-ctx.Done():
			return cache.Item[string]{}, ctx.Err()
		}
		return cache.Item[string]{Value: "v", Version: 1}, nil
	}
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range callers {
		wg.Go(func() {
			if started.Add(1) == callers {
				close(all)
			}
			r, err := insts[i%3].cache.Get(context.Background(), "hot", load)
			if err != nil || r.Value != "v" {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if n := loads.Load(); n != 1 {
		t.Errorf("loader calls = %d, want 1", n)
	}
	if failed.Load() != 0 {
		t.Errorf("%d Gets failed", failed.Load())
	}
}

// The stale-set race on a real Redis: the reader's loader blocks until the
// writer has committed version 42 and invalidated; the reader's late fill
// of 41 is refused, and no instance ever serves 41 afterwards.
func TestRedisStaleSetRace(t *testing.T) {
	addr := testenv.Redis(t)
	reader := newInstance(t, []string{addr}, "race", cache.Options[string]{})
	writer := newInstance(t, []string{addr}, "race", cache.Options[string]{})
	third := newInstance(t, []string{addr}, "race", cache.Options[string]{})
	ctx := context.Background()

	inLoad := make(chan struct{})
	committed := make(chan struct{})
	done := make(chan cache.Result[string])
	go func() {
		r, _ := reader.cache.Get(ctx, "product:1", func(context.Context, string) (cache.Item[string], error) {
			close(inLoad)
			<-committed
			return cache.Item[string]{Value: "price 41", Version: 41}, nil
		})
		done <- r
	}()
	<-inLoad
	if err := writer.cache.Invalidate(ctx, 42, "product:1"); err != nil {
		t.Fatal(err)
	}
	close(committed)
	<-done // the reader's own caller may get 41: it asked before the write

	var loads atomic.Int64
	fresh := func(context.Context, string) (cache.Item[string], error) {
		loads.Add(1)
		return cache.Item[string]{Value: "price 42", Version: 42}, nil
	}
	for _, in := range []*instance{third, writer, reader} {
		r, err := in.cache.Get(ctx, "product:1", fresh)
		if err != nil || r.Version != 42 {
			t.Errorf("after the race: %+v, %v; want version 42", r, err)
		}
	}
	if loads.Load() != 1 {
		t.Errorf("loads after the race = %d, want 1 (the stale fill was not stored, the fresh one was)", loads.Load())
	}
}

// breakerEvents reports the breaker's transitions on a channel.
type breakerEvents struct {
	cache.NopRecorder
	ch     chan bool
	l2Hits atomic.Int64
}

func (b *breakerEvents) Breaker(open bool) { b.ch <- open }
func (b *breakerEvents) Hit(tier string) {
	if tier == cache.TierL2 {
		b.l2Hits.Add(1)
	}
}

// Killing redis-server during a load test fails no Get, keeps the loads in
// flight under the cap, and the cache returns to L2 by itself once Redis is
// back.
func TestRedisKilledDuringLoad(t *testing.T) {
	srv := testenv.StartRedis(t)
	const capPerInstance = 4
	recs := []*breakerEvents{{ch: make(chan bool, 16)}, {ch: make(chan bool, 16)}}
	var insts []*instance
	for _, rec := range recs {
		insts = append(insts, newInstance(t, []string{srv.Addr()}, "outage", cache.Options[string]{
			MaxConcurrentLoads: capPerInstance,
			TTL:                time.Minute,
			L2Timeout:          100 * time.Millisecond,
			BreakerFailures:    3,
			BreakerCooldown:    20 * time.Millisecond,
			Recorder:           rec,
		}))
	}
	var inFlight, peak, dbLoads atomic.Int64
	db := func(ctx context.Context, key string) (cache.Item[string], error) {
		dbLoads.Add(1)
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		return cache.Item[string]{Value: "v:" + key, Version: 1}, nil
	}
	var failed atomic.Int64
	run := func(rounds, base int) {
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Go(func() {
				for i := range rounds {
					key := fmt.Sprint("k", base+(w*rounds+i)%300)
					r, err := insts[w%2].cache.Get(context.Background(), key, db)
					if err != nil || r.Value != "v:"+key {
						failed.Add(1)
						t.Logf("Get(%s) = %+v, %v", key, r, err)
					}
				}
			})
		}
		wg.Wait()
	}
	run(200, 0)
	srv.Kill()
	run(400, 1000) // Redis is dead: every L1 miss (new keys) goes to the loader
	for i, rec := range recs {
		select {
		case open := <-rec.ch:
			if !open {
				t.Fatalf("instance %d: breaker reported closed first", i)
			}
		default:
			t.Fatalf("instance %d: breaker did not open while Redis was dead", i)
		}
	}
	if failed.Load() != 0 {
		t.Fatalf("%d Gets failed while Redis was dead", failed.Load())
	}
	if p := peak.Load(); p > 2*capPerInstance {
		t.Errorf("peak concurrent loads = %d, over the cap of %d per instance", p, capPerInstance)
	}
	srv.Restart(t)
	for i, rec := range recs {
		if open := <-rec.ch; open { // the probe closes the breaker
			t.Fatalf("instance %d: breaker opened again after Redis returned", i)
		}
	}
	// Back on L2: what one instance loads, the other reads from Redis.
	ctx := context.Background()
	if _, err := insts[0].cache.Get(ctx, "after", db); err != nil {
		t.Fatal(err)
	}
	before := recs[1].l2Hits.Load()
	if r, err := insts[1].cache.Get(ctx, "after", db); err != nil || r.Source != cache.SourceL2 {
		t.Errorf("after recovery: %+v, %v; want an L2 hit", r, err)
	}
	if recs[1].l2Hits.Load() != before+1 {
		t.Error("L2 hit not recorded after recovery")
	}
}

// Through a real 3-master Redis Cluster: fills, leases across instances,
// key and tag invalidation, and coherence of the other instance's L1.
func TestRedisClusterCache(t *testing.T) {
	addrs := testenv.RedisCluster(t)
	a := newInstance(t, addrs, "cluster", cache.Options[string]{})
	notices := make(chan uint64, 16)
	b := newInstance(t, addrs, "cluster", cache.Options[string]{OnNotice: func(v uint64, _ []string) { notices <- v }})
	ctx := context.Background()
	var loads atomic.Int64
	load := func(_ context.Context, key string) (cache.Item[string], error) {
		loads.Add(1)
		return cache.Item[string]{Value: "v:" + key, Version: 1, Tags: []string{"all"}}, nil
	}
	keys := make([]string, 50) // spread over the three masters' slots
	for i := range keys {
		keys[i] = fmt.Sprint("key-", i)
		if _, err := a.cache.Get(ctx, keys[i], load); err != nil {
			t.Fatal(err)
		}
	}
	res, errs := b.cache.GetMany(ctx, keys, load)
	for i := range keys {
		if errs[i] != nil || res[i].Source != cache.SourceL2 {
			t.Fatalf("GetMany[%d] = %+v, %v; want from L2", i, res[i], errs[i])
		}
	}
	if loads.Load() != int64(len(keys)) {
		t.Errorf("loads = %d, want %d", loads.Load(), len(keys))
	}
	// b holds every key in L1 now; a's tag invalidation must reach it.
	if err := a.cache.InvalidateTag(ctx, "all", 2); err != nil {
		t.Fatal(err)
	}
	if v := <-notices; v != 2 {
		t.Fatalf("notice for version %d, want 2", v)
	}
	if r, err := b.cache.Get(ctx, keys[7], load); err != nil || r.Source == cache.SourceL1 || r.Source == cache.SourceL2 {
		t.Errorf("after the tag invalidation: %+v, %v; want a reload", r, err)
	}
	if _, err := a.cache.Get(ctx, "", load); !errors.Is(err, cache.ErrBadKey) {
		t.Errorf("empty key: %v", err)
	}
}

// A value L2 cannot encode is still returned (from the loader, then L1),
// is logged, and does not open the breaker: the value is at fault, not Redis.
func TestRedisUnencodableValue(t *testing.T) {
	addr := testenv.Redis(t)
	client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	l2, err := credis.New[any](client, credis.Options{Namespace: "bad-values"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l2.Close)
	rec := &breakerEvents{ch: make(chan bool, 4)}
	c, err := cache.New(cache.Options[any]{L2: l2, BreakerFailures: 2, Recorder: rec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ch := make(chan int)
	for i := range 5 {
		r, err := c.Get(context.Background(), fmt.Sprint("k", i), func(context.Context, string) (cache.Item[any], error) {
			return cache.Item[any]{Value: ch, Version: 1}, nil
		})
		if err != nil || r.Value != any(ch) {
			t.Fatalf("Get %d = %+v, %v", i, r, err)
		}
	}
	select {
	case <-rec.ch:
		t.Error("values that do not encode opened the breaker")
	default:
	}
	big := make([]byte, 17<<20) // over the codec's 16 MiB default
	if _, err := l2.Fill(context.Background(), "big", cache.Entry[any]{Value: big, Version: 1, Expires: time.Now().Add(time.Minute), Fresh: time.Now().Add(time.Minute)}); !errors.Is(err, cache.ErrValue) {
		t.Errorf("oversized value: %v, want ErrValue", err)
	}
}
