package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/url"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/strata-cache/strata/admin"
	credis "github.com/strata-cache/strata/cache/redis"
	"github.com/strata-cache/strata/edge"
	"github.com/strata-cache/strata/inval"
	"github.com/strata-cache/strata/inval/redisbus"
	"github.com/strata-cache/strata/obs"
)

// limitMemory sets Go's soft memory limit from the edge's memory budget, so
// an edge node's resident memory stays near -edge-max-bytes instead of
// growing to about twice its live data between collections. The limit
// covers what Go maps; outside, the resident memory Go's limit does not
// see (program text and data, see residentOutsideHeap), is left out of it.
// An operator's GOMEMLIMIT wins.
func limitMemory(budget, outside uint64, logger *slog.Logger) {
	if os.Getenv("GOMEMLIMIT") != "" || budget > math.MaxInt64 {
		return
	}
	limit := int64(budget) * 3 / 4
	if budget > 4*outside {
		limit = int64(budget - outside)
	}
	// A tiny budget still gets room to work in rather than constant GC.
	limit = max(limit, 32<<20)
	debug.SetMemoryLimit(limit)
	logger.Debug("memory limit set", "bytes", limit, "outside_heap", outside)
}

// residentOutsideHeap estimates the resident memory Go's memory limit does
// not cover: the program's file-backed pages (its text and data, which grow
// with the binary; about 16 MiB for strata), read from /proc/self/status at
// start, plus 4 MiB for the code and stacks a loaded server adds; at least
// 8 MiB, and 8 MiB where /proc is not there.
func residentOutsideHeap() uint64 {
	const floor, margin = 8 << 20, 4 << 20
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return floor
	}
	return max(floor, rssFile(string(status))+margin)
}

// rssFile returns the RssFile bytes of a /proc/PID/status text, or 0.
func rssFile(status string) uint64 {
	for line := range strings.Lines(status) {
		if rest, ok := strings.CutPrefix(line, "RssFile:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				if kb, err := strconv.ParseUint(f[0], 10, 64); err == nil {
					return kb << 10
				}
			}
		}
	}
	return 0
}

func runEdge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("edge", flag.ContinueOnError)
	origin := fs.String("origin", "", "origin URL to cache, e.g. http://127.0.0.1:3000 (required without -config)")
	listenAddr := fs.String("listen", ":8080", "address clients connect to")
	redisURL := fs.String("redis", "", "Redis URL shared by all edge nodes (redis://, rediss://, unix://, Sentinel ?master_set=, or a comma-separated Cluster list): purges reach every node through a durable stream, and invalidations complete when every live node applied them; empty: this node alone")
	nodeName := fs.String("node", "", "this node's name on the shared bus; keep it stable across restarts so the node resumes where it left off (default HOSTNAME:PORT)")
	ef, af, logger, err := parseNodeFlags(fs, args, stderr)
	if err != nil {
		return err
	}
	var u *url.URL
	switch {
	case *origin != "" && ef.configFile != "":
		return fmt.Errorf("%w: edge: give -origin or -config, not both: the distribution file names its origins", errUsage)
	case *origin == "" && ef.configFile == "":
		return fmt.Errorf("%w: edge: -origin is required (or -config)", errUsage)
	case *origin != "":
		u, err = url.Parse(*origin)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%w: edge: -origin %q must be an http:// or https:// URL with a host", errUsage, *origin)
		}
	}
	token, created, err := af.loadToken()
	if err != nil {
		return err
	}
	front, err := newEdgeFront("edge", ef, stderr, logger)
	if err != nil {
		return err
	}
	ef.outsideHeap = residentOutsideHeap()
	limitMemory(ef.maxBytes, ef.outsideHeap, logger)
	edgeLs, err := front.listen(*listenAddr)
	if err != nil {
		return err
	}
	adminL, err := listen("admin", af.addr)
	if err != nil {
		closeAll(edgeLs)
		return err
	}
	ls := append([]*listener{adminL}, edgeLs...)

	metrics := obs.NewMetrics()
	node := *nodeName
	if node == "" {
		host, _ := os.Hostname()
		node = host + ":" + edgeLs[0].port()
	}
	bus, trackerStore, closeBus, err := newEdgeBus(*redisURL, logger)
	if err != nil {
		closeAll(ls)
		return err
	}
	defer closeBus()
	var def []edge.Behavior
	if u != nil {
		def = []edge.Behavior{{Pattern: "*", Origin: edge.URLOrigin(u, nil), Name: "origin"}}
	}
	behaviors, err := front.behaviors(def)
	if err != nil {
		closeAll(ls)
		return err
	}
	ef.httpsPort = httpsPort(edgeLs)
	e, st, err := newEdge(ef, metrics, logger, behaviors, bus, node)
	if err != nil {
		closeAll(ls)
		return err
	}
	defer st.Close()
	defer e.Close()
	tracker := inval.NewTrackerWith(bus, inval.TrackerOptions{Store: trackerStore, Logger: logger, OnComplete: metrics.InvalidationCompleted})
	if nr, ok := bus.(inval.NodeReporter); ok {
		metrics.WatchNodes(nr)
	}
	defer tracker.Close()
	rl := newReloader(front, edgeDistribution{e}, logger)
	adminH, err := admin.New(admin.Config{Token: token, Metrics: metrics.Handler(), Tracker: tracker, Logger: logger,
		RateLimit: af.rateLimit, RateBurst: af.rateBurst,
		Reload: rl.adminHook(), Explain: explainHook(e), KeyCardinality: keyCardinalityHook(e)})
	if err != nil {
		closeAll(ls)
		return err
	}
	serveWith(edgeLs, e, ef.fastHits, logger)
	adminL.srv = newServer(adminH, logger)

	fmt.Fprintf(stdout, "strata edge %s\n", versionString())
	what := "the distribution in " + ef.configFile
	if u != nil {
		what = "caching " + u.Redacted()
	}
	front.printListeners(stdout, edgeLs, what)
	fmt.Fprintf(stdout, "  admin  %s/metrics   (Authorization: Bearer <token>)\n", adminL.url())
	if *redisURL != "" {
		fmt.Fprintf(stdout, "  node   %s   (purges through Redis)\n", node)
	}
	printToken(stdout, token, created, af.dataDir)
	defer reloadOnSIGHUP(ctx, rl)()
	return serveAll(ctx, logger, 10*time.Second, ls)
}

// newEdgeBus returns the bus an edge node hears purges on, with the store
// its admin API keeps invalidations in: Redis shared by every node when
// redisURL is set, else in process.
func newEdgeBus(redisURL string, logger *slog.Logger) (inval.Bus, inval.Store, func(), error) {
	if redisURL == "" {
		bus := inval.NewMemory(logger)
		return bus, nil, func() { bus.Close() }, nil
	}
	client, err := credis.NewClient(redisURL)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("edge: -redis: %w", err)
	}
	bus, err := redisbus.New(client, redisbus.Options{Logger: logger})
	if err != nil {
		client.Close()
		return nil, nil, nil, fmt.Errorf("edge: -redis: %w", err)
	}
	store, err := redisbus.NewStore(client, redisbus.StoreOptions{})
	if err != nil {
		bus.Close()
		client.Close()
		return nil, nil, nil, fmt.Errorf("edge: -redis: %w", err)
	}
	return bus, store, func() { bus.Close(); client.Close() }, nil
}
