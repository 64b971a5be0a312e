package appcache

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gocache "github.com/go-redis/cache/v9"
	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
	"github.com/strata-cache/strata/cache"
	credis "github.com/strata-cache/strata/cache/redis"
)

// The workload: a product catalog of numKeys products of about 1 KiB
// each (msgpack), read with Zipf-distributed keys.
const (
	numKeys  = 10_000
	zipfS    = 1.1 // as in the cache package's BenchmarkGetZipf
	orderLen = 1 << 16
)

// Product is the cached value: both libraries store it with msgpack (S2
// compressed: go-redis/cache from 64 bytes, Strata from 1 KiB).
type Product struct {
	ID          int64
	SKU         string
	Name        string
	Description string
	Category    string
	Tags        []string
	PriceCents  int64
	Currency    string
	Stock       int32
	Rating      float64
	Images      []string
	Version     uint64
	UpdatedAt   int64 // Unix ms
}

var words = strings.Fields(`ergonomic steel wooden cotton granite rubber frozen
fresh handmade refined recycled tasty sleek practical licensed generic
intelligent gorgeous incredible fantastic awesome rustic small large chair
table shoes keyboard mouse bike ball gloves pants shirt hat towels soap tuna
chicken fish cheese bacon pizza salad sausages chips computer car lamp`)

// makeProduct returns product i at version; its text is pseudo-random
// words, deterministic in i, so it compresses like prose, not like a
// repeated byte.
func makeProduct(i int, version uint64) Product {
	r := rand.New(rand.NewPCG(uint64(i), 42))
	text := func(n int) string {
		var b strings.Builder
		for b.Len() < n {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(words[r.IntN(len(words))])
		}
		return b.String()
	}
	return Product{
		ID:          int64(i),
		SKU:         fmt.Sprintf("SKU-%08d", i),
		Name:        text(40),
		Description: text(720),
		Category:    words[r.IntN(len(words))],
		Tags:        []string{words[r.IntN(len(words))], words[r.IntN(len(words))], "catalog"},
		PriceCents:  r.Int64N(100_000),
		Currency:    "EUR",
		Stock:       r.Int32N(1000),
		Rating:      r.Float64() * 5,
		Images: []string{
			fmt.Sprintf("https://img.example.com/p/%d/1.jpg", i),
			fmt.Sprintf("https://img.example.com/p/%d/2.jpg", i),
		},
		Version:   version,
		UpdatedAt: 1_790_000_000_000 + int64(version),
	}
}

func key(i int) string { return fmt.Sprintf("product:%05d", i) }

// zipfOrder returns orderLen key indexes drawn from Zipf(zipfS) over
// numKeys keys, computed before the benchmark so the draw is not measured.
func zipfOrder() []int {
	z := rand.NewZipf(rand.New(rand.NewPCG(1, 2)), zipfS, 1, numKeys-1)
	order := make([]int, orderLen)
	for i := range order {
		order[i] = int(z.Uint64())
	}
	return order
}

// db is the source of truth both libraries load from: a row per key, and
// a count of the loader calls.
type db struct {
	mu    sync.Mutex
	rows  map[string]Product
	loads atomic.Int64
}

func newDB() *db { return &db{rows: make(map[string]Product)} }

func (d *db) put(k string, p Product) {
	d.mu.Lock()
	d.rows[k] = p
	d.mu.Unlock()
}

// read is a loader call: the current row (counted).
func (d *db) read(k string) Product {
	d.loads.Add(1)
	return d.row(k)
}

// row returns the current row for k: the one put, or product N at
// version 1 for a key ending in :N.
func (d *db) row(k string) Product {
	d.mu.Lock()
	defer d.mu.Unlock()
	if p, ok := d.rows[k]; ok {
		return p
	}
	var i int
	fmt.Sscanf(k[strings.LastIndexByte(k, ':')+1:], "%d", &i)
	return makeProduct(i, 1)
}

// strataLoader loads from d.
func (d *db) strataLoader() cache.LoaderFunc[Product] {
	return func(_ context.Context, k string) (cache.Item[Product], error) {
		p := d.read(k)
		return cache.Item[Product]{Value: p, Version: p.Version}, nil
	}
}

// grcDo is go-redis/cache's loader for key k: Item.Do.
func (d *db) grcDo(k string) func(*gocache.Item) (any, error) {
	return func(*gocache.Item) (any, error) { p := d.read(k); return &p, nil }
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// grcInstance is one application process using go-redis/cache: its own
// Redis client, and its own local cache when local is set.
type grcInstance struct {
	rdb *redis.Client
	c   *gocache.Cache
}

// localTTL is go-redis/cache's local cache lifetime in these tests (its
// TinyLFU adds up to 10% of it at random).
const localTTL = time.Minute

// newGRC returns an instance on Redis database db, with a local cache of
// lifetime local, or none when local is 0.
func newGRC(addr string, db int, local time.Duration) *grcInstance {
	rdb := redis.NewClient(&redis.Options{Addr: addr, DB: db})
	opts := &gocache.Options{Redis: rdb, StatsEnabled: true}
	if local > 0 {
		// Twice the key count, so the admission policy keeps every key.
		opts.LocalCache = gocache.NewTinyLFU(2*numKeys, local)
	}
	return &grcInstance{rdb: rdb, c: gocache.New(opts)}
}

func (g *grcInstance) close() { g.rdb.Close() }

// once is go-redis/cache's read-through: Once with the loader.
func (g *grcInstance) once(ctx context.Context, k string, d *db) (Product, error) {
	var p Product
	err := g.c.Once(&gocache.Item{Ctx: ctx, Key: k, Value: &p, Do: d.grcDo(k), TTL: time.Hour})
	return p, err
}

// strataInstance is one application process using Strata: its own
// rueidis client (client-side caching on, as in production), Redis tier
// and cache.
type strataInstance struct {
	ns     string
	client rueidis.Client
	tier   *credis.Tier[Product]
	c      *cache.Cache[Product]
}

func newStrata(addr, ns string, opts cache.Options[Product]) (*strataInstance, error) {
	client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}})
	if err != nil {
		return nil, err
	}
	tier, err := credis.New[Product](client, credis.Options{Namespace: ns, Logger: quiet})
	if err != nil {
		client.Close()
		return nil, err
	}
	opts.L2 = tier
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	c, err := cache.New(opts)
	if err != nil {
		tier.Close()
		client.Close()
		return nil, err
	}
	return &strataInstance{ns: ns, client: client, tier: tier, c: c}, nil
}

func (s *strataInstance) close() {
	s.c.Close()
	s.tier.Close()
	s.client.Close()
}

// mustStrata is newStrata for tests: the instance closes when tb ends.
func mustStrata(tb testing.TB, ns string, opts cache.Options[Product]) *strataInstance {
	tb.Helper()
	s, err := newStrata(needRedis(tb), ns, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.close)
	return s
}

// mustGRC is newGRC for tests, with a local cache of localTTL when local
// is set: the instance closes when tb ends.
func mustGRC(tb testing.TB, local bool) *grcInstance {
	tb.Helper()
	var ttl time.Duration
	if local {
		ttl = localTTL
	}
	g := newGRC(needRedis(tb), 0, ttl)
	tb.Cleanup(g.close)
	return g
}

var nsSeq atomic.Int64

// unique returns a name no other test or benchmark of this binary uses,
// for Strata namespaces and go-redis/cache key prefixes.
func unique(prefix string) string { return fmt.Sprintf("%s%d", prefix, nsSeq.Add(1)) }
