// Command purge measures Strata's purges across several edge nodes on one
// Redis: how long a tag purge touching 100 000 objects and a single-URL
// purge take from the admin call to completion on every node, and what
// purges do to cache-hit latency meanwhile.
//
//	bash bench/purge/run.sh            # starts a private redis-server
//	go run ./bench/purge -redis redis://127.0.0.1:6379 [-objects 1000000 -nodes 3]
//
// The nodes run in this process, each with its own store, Redis client,
// bus subscription and loopback HTTP listener, as separate `strata edge`
// processes would; the admin API is node 1's. Objects are stored by
// requests made in process (through the edge handler, from an in-process
// origin) to keep the fill short; purges and the hits that are timed go
// over loopback HTTP. The last line is a machine-readable summary.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/strata-cache/strata/admin"
	credis "github.com/strata-cache/strata/cache/redis"
	"github.com/strata-cache/strata/edge"
	"github.com/strata-cache/strata/edge/fastpath"
	"github.com/strata-cache/strata/edge/store"
	"github.com/strata-cache/strata/inval"
	"github.com/strata-cache/strata/inval/redisbus"
)

const (
	host     = "bench.test"
	tags     = 10 // object i carries tag t<i%tags>: each tag covers objects/tags objects
	token    = "bench-token"
	hitPause = 200 * time.Microsecond // between a hit client's requests
)

// Profiles of the purge phase, from the flags of the same names.
var (
	profile, blockProfile, mutexProfile, traceFile string
)

type node struct {
	name   string
	edge   *edge.Edge
	store  *store.Memory
	bus    *redisbus.Bus
	client rueidis.Client
	srv    interface{ Close() error }
	url    string
}

// fastHits serves nodes' fresh hits through edge/fastpath, as strata edge
// does by default.
var fastHits = true

func main() {
	redisURL := flag.String("redis", "", "Redis URL (required)")
	objects := flag.Int("objects", 1_000_000, "objects stored across all nodes")
	nodes := flag.Int("nodes", 3, "edge nodes")
	tagRounds := flag.Int("tag-rounds", 2, "rounds of purging every tag (each round refills the purged objects)")
	urlPurges := flag.Int("url-purges", 200, "single-URL purges")
	hitClients := flag.Int("hit-clients", 4, "concurrent clients timing hits during each phase")
	flag.BoolVar(&fastHits, "fast-hits", true, "serve fresh hits through edge/fastpath (fasthttp), as strata edge does; false: net/http only")
	flag.StringVar(&profile, "cpuprofile", "", "write a CPU profile of the purge phase to this file")
	flag.StringVar(&blockProfile, "blockprofile", "", "write a block profile (every blocking event) of the purge phase to this file")
	flag.StringVar(&mutexProfile, "mutexprofile", "", "write a mutex contention profile (every event) of the purge phase to this file")
	flag.StringVar(&traceFile, "trace", "", "write an execution trace of the purge phase to this file (go tool trace)")
	flag.Parse()
	if *redisURL == "" {
		fmt.Fprintln(os.Stderr, "purge: -redis is required")
		os.Exit(2)
	}
	if err := run(*redisURL, *objects, *nodes, *tagRounds, *urlPurges, *hitClients); err != nil {
		fmt.Fprintln(os.Stderr, "purge:", err)
		os.Exit(1)
	}
}

func run(redisURL string, objects, nodeCount, tagRounds, urlPurges, hitClients int) error {
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	body := bytes.Repeat([]byte("x"), 64)
	origin := edge.HandlerOrigin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, _ := strconv.Atoi(r.URL.Path[len("/obj/"):])
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Surrogate-Key", fmt.Sprintf("t%d obj", i%tags))
		w.Write(body)
	}))
	prefix := fmt.Sprintf("strata:bench:%d", time.Now().UnixNano())
	var ns []*node
	defer func() {
		for _, n := range ns {
			n.srv.Close()
			n.edge.Close()
			n.bus.Close()
			n.store.Close()
			n.client.Close()
		}
	}()
	for i := range nodeCount {
		n, err := startNode(fmt.Sprint("bench-node", i+1), redisURL, prefix, origin, objects/nodeCount, logger)
		if err != nil {
			return err
		}
		ns = append(ns, n)
	}
	adminH, adminClose, err := newAdmin(ns[0], redisURL, prefix, logger)
	if err != nil {
		return err
	}
	defer adminClose()
	adminSrv := httptest.NewServer(adminH)
	defer adminSrv.Close()

	owner := func(i int) *node { return ns[i%nodeCount] }
	fill := func(pred func(i int) bool) {
		var wg sync.WaitGroup
		for _, n := range ns {
			wg.Go(func() {
				for i := range objects {
					if owner(i) != n || !pred(i) {
						continue
					}
					req := httptest.NewRequest("GET", "http://"+host+"/obj/"+strconv.Itoa(i), nil)
					n.edge.ServeHTTP(discard{}, req)
				}
			})
		}
		wg.Wait()
	}
	start := time.Now()
	fill(func(int) bool { return true })
	stored := 0
	for _, n := range ns {
		stored += n.store.Len()
	}
	fmt.Fprintf(os.Stderr, "filled %d objects over %d nodes in %v\n", stored, nodeCount, time.Since(start).Round(time.Millisecond))
	// The fill's garbage is collected, and the memory it held returned to
	// the OS, before anything is timed: otherwise the collection the fill
	// triggers, and then the runtime's scavenger returning a gigabyte
	// (madvise, which stalls the process's page faults), land in the
	// baseline.
	debug.FreeOSMemory()

	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	ac := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	purge := func(req admin.CreateRequest) (time.Duration, error) {
		b, _ := json.Marshal(req)
		r, _ := http.NewRequest("POST", adminSrv.URL+"/purge?wait=30s", bytes.NewReader(b))
		r.Header.Set("Authorization", "Bearer "+token)
		t0 := time.Now()
		resp, err := ac.Do(r)
		if err != nil {
			return 0, err
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		d := time.Since(t0)
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("purge %s: %s %s", b, resp.Status, out)
		}
		return d, nil
	}
	// Hits are timed on objects no purge touches: tag t0 is never purged.
	// Hit clients pause while the purged objects are stored again, and
	// while the refill's garbage is collected, so the refill's load does
	// not count as the purges'. The purges' own garbage (the entries they
	// remove) is collected while hits are timed.
	var paused atomic.Bool
	hitPhase := func(during func()) []time.Duration {
		var mu sync.Mutex
		var lat []time.Duration
		var stop atomic.Bool
		var wg sync.WaitGroup
		for c := range hitClients {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(c), 7))
				var mine []time.Duration
				for !stop.Load() {
					if paused.Load() {
						time.Sleep(time.Millisecond)
						continue
					}
					i := rng.IntN(objects/tags) * tags // a multiple of tags: tag t0
					n := owner(i)
					r, _ := http.NewRequest("GET", n.url+"/obj/"+strconv.Itoa(i), nil)
					r.Host = host
					t0 := time.Now()
					region := trace.StartRegion(ctx, "hit") // for -trace
					resp, err := hc.Do(r)
					if err != nil {
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					region.End()
					mine = append(mine, time.Since(t0))
					time.Sleep(hitPause)
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
		}
		during()
		stop.Store(true)
		wg.Wait()
		return lat
	}

	// Baseline: hits with no purges, for as long as the purges will take
	// (one tag round's worth of time, estimated by a fixed 5 s).
	base := hitPhase(func() { time.Sleep(5 * time.Second) })

	// Bus overhead: purges that match nothing, completed on every node.
	var emptyLat []time.Duration
	for k := range 50 {
		d, err := purge(admin.CreateRequest{Tags: []string{"nothing"}, CallerReference: fmt.Sprintf("empty-%d-%d", k, time.Now().UnixNano())})
		if err != nil {
			return err
		}
		emptyLat = append(emptyLat, d)
	}

	var tagLat, urlLat []time.Duration
	var purgeErr error
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if blockProfile != "" {
		runtime.SetBlockProfileRate(1)
		defer writeProfile("block", blockProfile)
	}
	if mutexProfile != "" {
		runtime.SetMutexProfileFraction(1)
		defer writeProfile("mutex", mutexProfile)
	}
	if traceFile != "" {
		f, err := os.Create(traceFile)
		if err != nil {
			return err
		}
		if err := trace.Start(f); err != nil {
			return err
		}
		defer func() { trace.Stop(); f.Close() }()
	}
	during := hitPhase(func() {
		for round := range tagRounds {
			for tag := 1; tag < tags; tag++ {
				d, err := purge(admin.CreateRequest{Tags: []string{"t" + strconv.Itoa(tag)}, CallerReference: fmt.Sprintf("tag-%d-%d-%d", round, tag, time.Now().UnixNano())})
				if err != nil {
					purgeErr = err
					return
				}
				tagLat = append(tagLat, d)
			}
			if round+1 < tagRounds {
				paused.Store(true)
				fill(func(i int) bool { return i%tags != 0 })
				debug.FreeOSMemory() // the refill's collection is the refill's, too
				paused.Store(false)
			}
		}
		for k := range urlPurges {
			i := rand.IntN(objects)
			d, err := purge(admin.CreateRequest{URLs: []string{"http://" + host + "/obj/" + strconv.Itoa(i)}, CallerReference: fmt.Sprintf("url-%d-%d", k, time.Now().UnixNano())})
			if err != nil {
				purgeErr = err
				return
			}
			urlLat = append(urlLat, d)
		}
	})
	if purgeErr != nil {
		return purgeErr
	}
	removedPerTag := objects / tags
	fmt.Printf("tag purge (%d objects over %d nodes, all acknowledged): n=%d p50=%v p99=%v max=%v\n",
		removedPerTag, nodeCount, len(tagLat), pct(tagLat, 50), pct(tagLat, 99), pct(tagLat, 100))
	fmt.Printf("purge matching nothing (bus round trip, all acknowledged): n=%d p50=%v p99=%v\n", len(emptyLat), pct(emptyLat, 50), pct(emptyLat, 99))
	fmt.Printf("single-URL purge (all acknowledged): n=%d p50=%v p99=%v max=%v\n", len(urlLat), pct(urlLat, 50), pct(urlLat, 99), pct(urlLat, 100))
	fmt.Printf("hit latency without purges: n=%d p50=%v p99=%v\n", len(base), pct(base, 50), pct(base, 99))
	fmt.Printf("hit latency during purges:  n=%d p50=%v p99=%v\n", len(during), pct(during, 50), pct(during, 99))
	ratio := float64(pct(during, 99)) / float64(pct(base, 99))
	fmt.Printf("objects=%d nodes=%d tag_purge_p99_ms=%.1f url_purge_p99_ms=%.1f hit_p99_us=%.0f hit_p99_during_purges_us=%.0f hit_p99_ratio=%.2f\n",
		objects, nodeCount, ms(pct(tagLat, 99)), ms(pct(urlLat, 99)), us(pct(base, 99)), us(pct(during, 99)), ratio)
	_ = ctx
	return nil
}

func startNode(name, redisURL, prefix string, origin http.RoundTripper, expect int, logger *slog.Logger) (*node, error) {
	st, err := store.NewMemory(store.Options{MaxBytes: uint64(expect) * 4096})
	if err != nil {
		return nil, err
	}
	e, err := edge.New(edge.Config{
		Behaviors: []edge.Behavior{{Pattern: "*", Origin: origin, Name: "bench"}},
		Store:     st,
		Logger:    logger,
	})
	if err != nil {
		return nil, err
	}
	client, err := credis.NewClient(redisURL)
	if err != nil {
		return nil, err
	}
	bus, err := redisbus.New(client, redisbus.Options{Prefix: prefix, Logger: logger})
	if err != nil {
		return nil, err
	}
	apply := func(_ context.Context, ev inval.Event) error {
		e.Purge(edge.Purge{Paths: ev.Paths, URLs: ev.URLs, Tags: ev.Tags, All: ev.All, Soft: ev.Soft})
		return nil
	}
	if err := inval.SubscribeWithLost(bus, name, apply, func(error) { e.Purge(edge.Purge{All: true}) }); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	var srv interface{ Close() error }
	if fastHits {
		fs := fastpath.New(fastpath.Config{Hit: e.ServeFresh, Fallback: &http.Server{Handler: e}})
		go fs.Serve(ln)
		srv = closer(func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			return fs.Shutdown(ctx)
		})
	} else {
		hs := &http.Server{Handler: e}
		go hs.Serve(ln)
		srv = hs
	}
	return &node{name: name, edge: e, store: st, bus: bus, client: client, srv: srv, url: "http://" + ln.Addr().String()}, nil
}

type closer func() error

func (c closer) Close() error { return c() }

// newAdmin is node n's admin API on the shared invalidation store.
func newAdmin(n *node, redisURL, prefix string, logger *slog.Logger) (http.Handler, func(), error) {
	client, err := credis.NewClient(redisURL)
	if err != nil {
		return nil, nil, err
	}
	st, err := redisbus.NewStore(client, redisbus.StoreOptions{Prefix: prefix})
	if err != nil {
		return nil, nil, err
	}
	tracker := inval.NewTrackerWith(n.bus, inval.TrackerOptions{Store: st, Logger: logger})
	h, err := admin.New(admin.Config{Token: token, Tracker: tracker, Logger: logger, RateLimit: -1})
	if err != nil {
		return nil, nil, err
	}
	return h, func() { tracker.Close(); client.Close() }, nil
}

// writeProfile writes the named runtime profile to file.
func writeProfile(name, file string) {
	f, err := os.Create(file)
	if err == nil {
		err = pprof.Lookup(name).WriteTo(f, 0)
		f.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "purge:", name, "profile:", err)
	}
}

// discard is a ResponseWriter that keeps nothing.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(0, min(i, len(s))-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
