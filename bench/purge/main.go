// Command purge measures Strata's purges across several `strata edge`
// processes on one Redis: how long a tag purge touching 100 000 objects and
// a single-URL purge take from the admin call to completion on every node,
// and what purges do to cache-hit latency on the nodes meanwhile.
//
//	bash bench/purge/run.sh            # builds strata, starts a private redis-server
//	go run ./bench/purge -strata ./strata -redis redis://127.0.0.1:6379 [-objects 1000000 -nodes 3]
//
// Each node is a `strata edge -redis URL` process of its own, with its own
// listener, admin API and node name, as in a deployment; the origin and the
// clients are this process. Objects are stored by requests to the node that
// owns them (object i lives on node i mod nodes), purges go through node
// 1's admin API (`POST /purge?wait`): single-URL purges first, then rounds
// of tag purges; hits are timed on objects no purge touches, without
// purges, during each kind, and after each round of tag purges while the
// nodes remove what it purged (until their strata_edge_purge_backlog is
// empty). A node counts a tag purge after acknowledging it, so the tag
// phase lasts until the nodes' counts are complete. Use a private Redis:
// the nodes register in it. The last line is a machine-readable summary.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/strata-cache/strata/admin"
	"github.com/strata-cache/strata/inval"
)

const (
	host     = "bench.test"
	tags     = 10 // object i carries tag t<i%tags>: each tag covers objects/tags objects
	token    = "bench-token"
	hitPause = 200 * time.Microsecond // between a hit client's requests
)

type options struct {
	strata, redis       string
	objects, nodes      int
	tagRounds           int
	urlPurges           int
	hitClients          int
	fillClients         int
	fastHits            bool
	nodeBytes           uint64
	baseline, settleFor time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.strata, "strata", "", "path of the strata binary the nodes run (required)")
	flag.StringVar(&o.redis, "redis", "", "Redis URL the nodes share (required; a private one: the nodes register in it)")
	flag.IntVar(&o.objects, "objects", 1_000_000, "objects stored across all nodes")
	flag.IntVar(&o.nodes, "nodes", 3, "edge nodes (strata edge processes)")
	flag.IntVar(&o.tagRounds, "tag-rounds", 2, "rounds of purging every tag but t0 (the purged objects are stored again between rounds)")
	flag.IntVar(&o.urlPurges, "url-purges", 200, "single-URL purges")
	flag.IntVar(&o.hitClients, "hit-clients", 4, "concurrent clients timing hits during each phase")
	flag.IntVar(&o.fillClients, "fill-clients", 4, "concurrent clients storing objects, per node")
	flag.BoolVar(&o.fastHits, "fast-hits", true, "the nodes' -fast-hits flag")
	flag.Uint64Var(&o.nodeBytes, "node-bytes", 1536<<20, "each node's -edge-max-bytes: enough for its share of the objects")
	flag.DurationVar(&o.baseline, "baseline", 5*time.Second, "how long hits are timed without purges")
	flag.DurationVar(&o.settleFor, "settle", 5*time.Second, "after each fill, hits are untimed until every node has finished two garbage collections, or none for this long (the fill's collections are the fill's)")
	flag.Parse()
	if o.strata == "" || o.redis == "" {
		fmt.Fprintln(os.Stderr, "purge: -strata and -redis are required")
		os.Exit(2)
	}
	if err := o.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "purge:", err)
		os.Exit(2)
	}
	// This process is the clients that time hits: its own collector's
	// stop-the-world pauses would be timed as the nodes' latency. Its live
	// heap is a few megabytes, so it collects only past a generous limit,
	// and before each timed phase (quiet).
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(4 << 30)
	// On SIGINT or SIGTERM, stop the nodes before exiting (Pdeathsig covers
	// the rest).
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		stopAll()
		os.Exit(1)
	}()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "purge:", err)
		os.Exit(1)
	}
}

// validate rejects settings under which the run would not measure what it
// reports.
func (o options) validate() error {
	switch {
	case o.nodes < 1 || o.hitClients < 1 || o.fillClients < 1:
		return errors.New("-nodes, -hit-clients and -fill-clients must be at least 1")
	case o.objects < tags*o.nodes || o.objects%tags != 0:
		return fmt.Errorf("-objects must be a multiple of %d, and at least %d per node", tags, tags)
	case gcd(o.nodes, tags) != 1:
		// Object i lives on node i mod nodes and the timed hits are on
		// multiples of tags: they would reach only some of the nodes.
		return fmt.Errorf("-nodes must have no factor in common with %d (timed hits would miss some nodes)", tags)
	case o.urlPurges > o.objects-o.objects/tags:
		return errors.New("-url-purges is more than the objects outside tag t0")
	}
	return nil
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// node is one strata edge process.
type node struct {
	name       string
	cmd        *exec.Cmd
	url, admin string // http://ADDR
}

func run(o options) error {
	body := bytes.Repeat([]byte("x"), 64)
	origin := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/obj/"))
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Surrogate-Key", fmt.Sprintf("t%d obj", i%tags))
		w.Write(body)
	})}
	oln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go origin.Serve(oln)
	defer origin.Close()

	dataDir, err := os.MkdirTemp("", "strata-purge-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dataDir)
	var ns []*node
	defer stopAll()
	for i := range o.nodes {
		n, err := startNode(o, fmt.Sprint("bench-node", i+1), "http://"+oln.Addr().String(), dataDir)
		if err != nil {
			return err
		}
		ns = append(ns, n)
		started.Lock()
		started.nodes = append(started.nodes, n)
		started.Unlock()
	}
	owner := func(i int) *node { return ns[i%len(ns)] }

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	get := func(n *node, i int) (*http.Response, error) {
		r, _ := http.NewRequest("GET", n.url+"/obj/"+strconv.Itoa(i), nil)
		r.Host = host
		return client.Do(r)
	}
	// fill stores the objects pred selects on their nodes, over HTTP, and
	// returns how many the nodes reported stored (Cache-Status).
	fill := func(pred func(i int) bool) (int, error) {
		var stored atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, len(ns)*o.fillClients)
		for ni := range ns {
			for c := range o.fillClients {
				wg.Go(func() {
					// Client c of node ni takes every fillClients-th of its objects.
					for i := ni + c*len(ns); i < o.objects; i += len(ns) * o.fillClients {
						if !pred(i) {
							continue
						}
						resp, err := get(ns[ni], i)
						if err != nil {
							errs <- err
							return
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if strings.Contains(resp.Header.Get("Cache-Status"), "stored") {
							stored.Add(1)
						}
					}
				})
			}
		}
		wg.Wait()
		close(errs)
		return int(stored.Load()), <-errs
	}
	start := time.Now()
	stored, err := fill(func(int) bool { return true })
	if err != nil {
		return fmt.Errorf("fill: %w", err)
	}
	fmt.Fprintf(os.Stderr, "filled %d objects over %d nodes in %v\n", stored, len(ns), time.Since(start).Round(time.Millisecond))
	if stored != o.objects {
		return fmt.Errorf("fill: the nodes stored %d of %d objects (raise -node-bytes?)", stored, o.objects)
	}

	ac := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	purge := func(req admin.CreateRequest) (time.Duration, error) {
		b, _ := json.Marshal(req)
		r, _ := http.NewRequest("POST", ns[0].admin+"/purge?wait=30s", bytes.NewReader(b))
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
		var inv inval.Invalidation
		if err := json.Unmarshal(out, &inv); err != nil || inv.Status != inval.StatusCompleted {
			return 0, fmt.Errorf("purge %s: not completed: %s", b, out)
		}
		return d, nil
	}
	// Hits are timed on objects no purge touches: tag t0 is never purged.
	// Each is counted in its phase (the baseline, tag purges or URL
	// purges), and dropped if the phase changed while it was in flight.
	// Hit clients pause while the purged objects are stored
	// again (phase none), so the refill's load does not count as the
	// purges'.
	const (
		none = iota
		warm // warm-up: connections, the fill's aftermath; not reported
		base
		tagPhase
		reapPhase
		urlPhase
		phases
	)
	var phase atomic.Int32
	var hitErr atomic.Value
	lat := make([][]time.Duration, phases)
	var latMu sync.Mutex
	hits := func(during func()) {
		var stop atomic.Bool
		var wg sync.WaitGroup
		for c := range o.hitClients {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(c), 7))
				mine := make([][]time.Duration, phases)
				for !stop.Load() {
					ph := phase.Load()
					if ph == none {
						time.Sleep(time.Millisecond)
						continue
					}
					i := rng.IntN(o.objects/tags) * tags // a multiple of tags: tag t0
					t0 := time.Now()
					resp, err := get(owner(i), i)
					if err != nil {
						hitErr.CompareAndSwap(nil, err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					d := time.Since(t0)
					if !strings.Contains(resp.Header.Get("Cache-Status"), "; hit") {
						hitErr.CompareAndSwap(nil, fmt.Errorf("object %d was not a hit: %s", i, resp.Header.Get("Cache-Status")))
						return
					}
					if phase.Load() != ph {
						continue // it straddled a change of phase: neither's
					}
					mine[ph] = append(mine[ph], d)
					time.Sleep(hitPause)
				}
				latMu.Lock()
				for ph := range mine {
					lat[ph] = append(lat[ph], mine[ph]...)
				}
				latMu.Unlock()
			})
		}
		during()
		stop.Store(true)
		wg.Wait()
	}

	// quiet collects this process's garbage before a timed phase, so that
	// its collector does not run during one (see main).
	quiet := func() { runtime.GC() }
	hitsOK := func() error {
		if err, _ := hitErr.Load().(error); err != nil {
			return fmt.Errorf("hits: %w", err)
		}
		return nil
	}

	phase.Store(warm)
	var quietErr error
	hits(func() { quietErr = settle(ns, o.settleFor) })
	if quietErr != nil {
		return quietErr
	}
	// Baseline: hits with no purges.
	quiet()
	phase.Store(base)
	hits(func() { time.Sleep(o.baseline) })
	phase.Store(none)
	if err := hitsOK(); err != nil {
		return err
	}

	// Bus overhead: purges that match nothing, completed on every node.
	var emptyLat []time.Duration
	for k := range 50 {
		d, err := purge(admin.CreateRequest{Tags: []string{"nothing"}, CallerReference: fmt.Sprintf("empty-%d-%d", k, time.Now().UnixNano())})
		if err != nil {
			return err
		}
		emptyLat = append(emptyLat, d)
	}

	// Single-URL purges first, while every object is stored: each removes
	// one object outside tag t0, none twice. Then the tag purges, the
	// purged objects stored again between rounds.
	targets := map[int]bool{}
	for len(targets) < o.urlPurges {
		if i := rand.IntN(o.objects); i%tags != 0 {
			targets[i] = true
		}
	}
	var tagLat, urlLat []time.Duration
	var purgeErr error
	quiet()
	hits(func() {
		phase.Store(urlPhase)
		k := 0
		for i := range targets {
			k++
			d, err := purge(admin.CreateRequest{URLs: []string{"http://" + host + "/obj/" + strconv.Itoa(i)}, CallerReference: fmt.Sprintf("url-%d-%d", k, time.Now().UnixNano())})
			if err != nil {
				purgeErr = err
				return
			}
			urlLat = append(urlLat, d)
		}
		for round := range o.tagRounds {
			phase.Store(tagPhase)
			for tag := 1; tag < tags; tag++ {
				d, err := purge(admin.CreateRequest{Tags: []string{"t" + strconv.Itoa(tag)}, CallerReference: fmt.Sprintf("tag-%d-%d-%d", round, tag, time.Now().UnixNano())})
				if err != nil {
					purgeErr = err
					return
				}
				tagLat = append(tagLat, d)
			}
			// A node counts a tag purge's objects after it acknowledged
			// it, as it claims them (edge.PurgeLater): that work is the
			// purges', so hits are timed in this phase until it is done.
			// (The first round found the URL purges' objects gone.)
			want := (round+1)*(tags-1)*(o.objects/tags) - o.urlPurges
			if err := waitPurged(ns, "tag", want); err != nil {
				purgeErr = err
				return
			}
			// Then the nodes' reapers remove what the purges marked, in
			// the background at about a quarter of a core each: timed
			// apart, until they are done.
			phase.Store(reapPhase)
			if err := waitReaped(ns); err != nil {
				purgeErr = err
				return
			}
			if round+1 < o.tagRounds {
				phase.Store(none)
				want := o.objects - o.objects/tags
				if n, err := fill(func(i int) bool { return i%tags != 0 }); err != nil || n != want {
					purgeErr = fmt.Errorf("refill: stored %d of %d objects (%v)", n, want, err)
					return
				}
				// As after the first fill: the collections the refill set
				// off in the nodes are the refill's, not the purges'.
				phase.Store(warm)
				if err := settle(ns, o.settleFor); err != nil {
					purgeErr = err
					return
				}
				quiet()
			}
		}
	})
	if purgeErr != nil {
		return purgeErr
	}
	if err := hitsOK(); err != nil {
		return err
	}
	// Every node's own count of what the URL purges removed (the tag
	// purges' were checked round by round).
	if err := waitPurged(ns, "url", o.urlPurges); err != nil {
		return err
	}

	removedPerTag := o.objects / tags
	fmt.Printf("tag purge (%d objects over %d nodes, all acknowledged): n=%d p50=%v p99=%v max=%v\n",
		removedPerTag, len(ns), len(tagLat), pct(tagLat, 50), pct(tagLat, 99), pct(tagLat, 100))
	fmt.Printf("purge matching nothing (bus round trip, all acknowledged): n=%d p50=%v p99=%v\n", len(emptyLat), pct(emptyLat, 50), pct(emptyLat, 99))
	fmt.Printf("single-URL purge (all acknowledged): n=%d p50=%v p99=%v max=%v\n", len(urlLat), pct(urlLat, 50), pct(urlLat, 99), pct(urlLat, 100))
	b, tl, rl, ul := lat[base], lat[tagPhase], lat[reapPhase], lat[urlPhase]
	fmt.Printf("hit latency without purges:       n=%d p50=%v p99=%v\n", len(b), pct(b, 50), pct(b, 99))
	fmt.Printf("hit latency during tag purges:    n=%d p50=%v p99=%v (until the nodes counted them)\n", len(tl), pct(tl, 50), pct(tl, 99))
	fmt.Printf("hit latency while nodes reap:     n=%d p50=%v p99=%v (after, until they removed them)\n", len(rl), pct(rl, 50), pct(rl, 99))
	fmt.Printf("hit latency during URL purges:    n=%d p50=%v p99=%v\n", len(ul), pct(ul, 50), pct(ul, 99))
	ratio := func(d []time.Duration) float64 { return float64(pct(d, 99)) / float64(pct(b, 99)) }
	fmt.Printf("objects=%d nodes=%d fast_hits=%v tag_purge_p99_ms=%.1f url_purge_p99_ms=%.1f hit_p99_us=%.0f hit_p99_during_tag_purges_us=%.0f hit_p99_while_reaping_us=%.0f hit_p99_during_url_purges_us=%.0f tag_hit_p99_ratio=%.2f reap_hit_p99_ratio=%.2f url_hit_p99_ratio=%.2f\n",
		o.objects, len(ns), o.fastHits, ms(pct(tagLat, 99)), ms(pct(urlLat, 99)), us(pct(b, 99)), us(pct(tl, 99)), us(pct(rl, 99)), us(pct(ul, 99)), ratio(tl), ratio(rl), ratio(ul))
	return nil
}

// startNode starts a strata edge process and waits until it prints its
// listeners' addresses, which it does once they accept connections.
func startNode(o options, name, origin, dataDir string) (*node, error) {
	dir := dataDir + "/" + name
	cmd := exec.Command(o.strata, "edge", "-origin", origin, "-listen", "127.0.0.1:0", "-admin-addr", "127.0.0.1:0",
		"-redis", o.redis, "-node", name, "-data-dir", dir, "-admin-token", token, "-admin-rate-limit", "-1",
		"-edge-max-bytes", strconv.FormatUint(o.nodeBytes, 10), "-fast-hits="+strconv.FormatBool(o.fastHits),
		"-log-level", "warn")
	cmd.Stderr = os.Stderr
	// A node must not outlive the driver, however the driver ends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	n := &node{name: name, cmd: cmd}
	// A node that hangs before it prints its addresses is killed, which
	// ends the scan below.
	hung := time.AfterFunc(time.Minute, func() { cmd.Process.Kill() })
	defer hung.Stop()
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "edge":
			n.url = strings.TrimSuffix(f[1], "/")
		case "admin":
			n.admin = strings.TrimSuffix(f[1], "/metrics")
		}
		if n.url != "" && n.admin != "" {
			go io.Copy(io.Discard, stdout)
			return n, nil
		}
	}
	n.stop()
	return nil, errors.Join(sc.Err(), fmt.Errorf("%s ended (or was killed after a minute) before it printed its addresses", name))
}

// started holds the nodes running, for stopAll.
var started struct {
	sync.Mutex
	nodes []*node
}

// stopAll stops every node started, once.
func stopAll() {
	started.Lock()
	defer started.Unlock()
	for _, n := range started.nodes {
		n.stop()
	}
	started.nodes = nil
}

// stop ends the node and waits for it.
func (n *node) stop() {
	n.cmd.Process.Signal(syscall.SIGTERM)
	n.cmd.Wait()
}

// settle returns once the garbage collections a fill set off in the
// nodes are over, which are the fill's cost, not the next phase's: when
// every node has finished two collections since it was called (the one
// under way, and one more that began after the fill), or when none has
// finished one for quiet (a full node's collection takes seconds, and one
// under way ends within quiet when quiet is longer).
func settle(ns []*node, quiet time.Duration) error {
	const limit = 3 * time.Minute
	first := make([]float64, len(ns))
	last := make([]float64, len(ns))
	changed := make([]time.Time, len(ns))
	for began, round := time.Now(), 0; ; round++ {
		done := true
		for i, n := range ns {
			v, err := n.metric("go_gc_duration_seconds_count", "")
			if err != nil {
				return err
			}
			if round == 0 {
				first[i], last[i], changed[i] = v, v, time.Now()
			}
			if v != last[i] {
				last[i], changed[i] = v, time.Now()
			}
			done = done && (v-first[i] >= 2 || time.Since(changed[i]) >= quiet)
		}
		if done {
			return nil
		}
		if time.Since(began) > limit {
			return fmt.Errorf("the nodes' collectors did not settle within %v", limit)
		}
		time.Sleep(250 * time.Millisecond) // polling another process's metrics
	}
}

// waitPurged waits until the nodes together report want objects removed
// by purges with the selector, and fails if they report more, or have not
// reported them within a minute.
func waitPurged(ns []*node, selector string, want int) error {
	const limit = time.Minute
	for began := time.Now(); ; {
		got := 0
		for _, n := range ns {
			v, err := n.purged(selector)
			if err != nil {
				return err
			}
			got += v
		}
		switch {
		case got == want:
			return nil
		case got > want:
			return fmt.Errorf("the nodes report %d objects removed by %s purges, want %d", got, selector, want)
		case time.Since(began) > limit:
			return fmt.Errorf("the nodes report %d objects removed by %s purges after %v, want %d", got, selector, limit, want)
		}
		time.Sleep(100 * time.Millisecond) // polling another process's metrics (each read costs the node a little)
	}
}

// waitReaped waits until no node has purge work left in the background
// (strata_edge_purge_backlog), for at most ten minutes.
func waitReaped(ns []*node) error {
	const limit = 10 * time.Minute
	for began := time.Now(); ; {
		left := 0.0
		for _, n := range ns {
			for _, unit := range []string{"claims", "objects"} {
				v, err := n.metric("strata_edge_purge_backlog", `unit="`+unit+`"`)
				if err != nil {
					return err
				}
				left += v
			}
		}
		if left == 0 {
			return nil
		}
		if time.Since(began) > limit {
			return fmt.Errorf("the nodes still had purge work after %v", limit)
		}
		time.Sleep(100 * time.Millisecond) // polling another process's metrics
	}
}

// purged returns the node's count of objects removed by purges with the
// selector; a node that removed none has no such series.
func (n *node) purged(selector string) (int, error) {
	v, err := n.metric("strata_edge_purged_objects_total", `action="removed",selector="`+selector+`"`)
	if errors.Is(err, errNoSeries) {
		return 0, nil
	}
	return int(v), err
}

// errNoSeries: the node's metrics have no such series.
var errNoSeries = errors.New("no such series")

var metricsClient = &http.Client{Timeout: 10 * time.Second}

// metric reads one sample from the node's metrics: the series name with
// exactly the labels given (as Prometheus writes them, sorted; "" for none).
func (n *node) metric(name, labels string) (float64, error) {
	r, _ := http.NewRequest("GET", n.admin+"/metrics", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	resp, err := metricsClient.Do(r)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: metrics: %s", n.name, resp.Status)
	}
	series := name
	if labels != "" {
		series += "{" + labels + "}"
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s: %s: %w", n.name, series, errNoSeries)
}

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
