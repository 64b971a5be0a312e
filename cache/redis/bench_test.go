package redis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/strata-cache/strata/cache"
	"github.com/strata-cache/strata/internal/testenv"
)

// The L2 hit path against a raw GET of the same stored bytes, on a local
// redis-server. The target is an L2 hit costing at most 1.2 times the raw
// GET. BenchmarkHitVsRaw measures the ratio directly (the two alternate,
// so load elsewhere on the machine weighs on both alike):
//
//	STRATA_INTEGRATION=require go test -run '^$' -bench HitVsRaw -count 5 ./cache/redis/
//
// BenchmarkL2Hit and BenchmarkRawGet measure each alone, for benchstat:
//
//	STRATA_INTEGRATION=require go test -run '^$' -bench 'L2Hit$|RawGet$' -benchmem -count 10 ./cache/redis/ > bench.txt
//	benchstat bench.txt

const benchValueSize = 1024

// benchSetup fills one entry holding benchValueSize random bytes (so that
// compression does not help and the stored payload is as large) and
// returns the tier, its client and the entry's Redis key.
func benchSetup(b *testing.B, tags ...string) (*Tier[[]byte], rueidis.Client, string) {
	b.Helper()
	c := newClient(b, testenv.Redis(b))
	tier := newTier[[]byte](b, c, Options{})
	v := make([]byte, benchValueSize)
	for i := range v {
		v[i] = byte(rand.Uint32())
	}
	e := cache.Entry[[]byte]{Value: v, Version: 1, Tags: tags, Stored: time.Now(),
		Fresh: time.Now().Add(time.Hour), Expires: time.Now().Add(time.Hour)}
	if !mustFill(b, tier, "bench", e) {
		b.Fatal("fill refused")
	}
	if got, ok := mustGet(b, tier, "bench"); !ok || len(got.Value) != benchValueSize {
		b.Fatalf("Get after fill: %v", ok)
	}
	return tier, c, tier.entryKey("bench")
}

func benchGet(b *testing.B, tier *Tier[[]byte]) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, err := tier.Get(ctx, "bench"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

func benchRaw(b *testing.B, c rueidis.Client, key string) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if v, err := c.Do(ctx, c.B().Get().Key(key).Build()).AsBytes(); err != nil || len(v) < benchValueSize {
			b.Fatal(err)
		}
	}
}

func BenchmarkL2Hit(b *testing.B) {
	tier, _, _ := benchSetup(b)
	benchGet(b, tier)
}

func BenchmarkRawGet(b *testing.B) {
	_, c, key := benchSetup(b)
	benchRaw(b, c, key)
}

// An entry with two tags: their tombstones come from the client-side
// cache, so the hit still costs one round trip.
func BenchmarkL2HitTagged(b *testing.B) {
	tier, _, _ := benchSetup(b, "products", "product:42")
	benchGet(b, tier)
}

func BenchmarkL2HitParallel(b *testing.B) {
	tier, _, _ := benchSetup(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok, err := tier.Get(context.Background(), "bench"); !ok || err != nil {
				b.Error(ok, err)
				return
			}
		}
	})
}

func BenchmarkRawGetParallel(b *testing.B) {
	_, c, key := benchSetup(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Do(context.Background(), c.B().Get().Key(key).Build()).AsBytes(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkHitVsRaw alternates an L2 hit and a raw GET of the same bytes
// on one server and client, so that load from elsewhere on the machine
// weighs on both alike, and reports each one's time and their ratio; with
// tags, their tombstones come from the client-side cache.
func BenchmarkHitVsRaw(b *testing.B) {
	for _, tags := range [][]string{nil, {"products", "product:42"}} {
		b.Run(fmt.Sprintf("tags=%d", len(tags)), func(b *testing.B) {
			tier, c, key := benchSetup(b, tags...)
			ctx := context.Background()
			var l2, raw time.Duration
			b.ReportAllocs()
			for b.Loop() {
				start := time.Now()
				if _, ok, err := tier.Get(ctx, "bench"); !ok || err != nil {
					b.Fatal(ok, err)
				}
				mid := time.Now()
				if _, err := c.Do(ctx, c.B().Get().Key(key).Build()).AsBytes(); err != nil {
					b.Fatal(err)
				}
				l2 += mid.Sub(start)
				raw += time.Since(mid)
			}
			b.ReportMetric(float64(l2.Nanoseconds())/float64(b.N), "l2-ns/op")
			b.ReportMetric(float64(raw.Nanoseconds())/float64(b.N), "raw-ns/op")
			b.ReportMetric(float64(l2)/float64(raw), "l2/raw")
		})
	}
}
