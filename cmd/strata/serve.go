package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/redis/rueidis"

	"github.com/strata-cache/strata/admin"
	credis "github.com/strata-cache/strata/cache/redis"
	"github.com/strata-cache/strata/catalog"
	"github.com/strata-cache/strata/db"
	"github.com/strata-cache/strata/edge"
	"github.com/strata-cache/strata/edge/store"
	"github.com/strata-cache/strata/inval"
	"github.com/strata-cache/strata/inval/redisbus"
	"github.com/strata-cache/strata/obs"
	"github.com/strata-cache/strata/site"
)

// edgeFlags are the edge settings shared by serve and edge.
type edgeFlags struct {
	maxBytes      uint64
	maxObjectSize int64
	originTimeout time.Duration
	// originRetryAfter is how long an unreachable origin is left alone.
	originRetryAfter time.Duration
	rfcStrict        bool
	// outsideHeap is the resident memory outside Go's memory limit, set by
	// strata edge (which sets that limit); 0 for strata serve.
	outsideHeap uint64
	// fastHits serves fresh hits on plain-HTTP listeners with
	// edge/fastpath.
	fastHits bool
	// configFile is the distribution file (-config); tls the HTTPS flags.
	configFile string
	tls        tlsFlags
	// httpsPort is where redirect-to-https behaviors send viewers: the
	// HTTPS listener's port once bound; 0 means 443.
	httpsPort int
}

func (f *edgeFlags) register(fs *flag.FlagSet) {
	fs.Uint64Var(&f.maxBytes, "edge-max-bytes", 256<<20, "memory budget of the edge's cache: up to 65% holds responses, the rest is headroom for bookkeeping and garbage collection (strata edge keeps its resident memory within it; see docs/edge.md)")
	fs.Int64Var(&f.maxObjectSize, "max-object-size", 8<<20, "largest response body the edge stores; larger ones pass through")
	fs.DurationVar(&f.originTimeout, "origin-timeout", 30*time.Second, "time limit for one origin request")
	fs.BoolVar(&f.rfcStrict, "rfc-strict", false, "store exactly what RFC 9111 allows: by default responses with Set-Cookie, and responses to requests with Cookie that are not marked public or s-maxage, are not shared")
	fs.BoolVar(&f.fastHits, "fast-hits", true, "answer fresh cache hits on plain-HTTP listeners with fasthttp, handing every other request and its connection to Go's net/http server; false: net/http only")
	fs.DurationVar(&f.originRetryAfter, "origin-retry-after", 2*time.Second, "after an origin cannot be reached, answer from stale or with an error for this long before trying it again")
	fs.StringVar(&f.configFile, "config", "", "distribution file (see docs/config.md): origins, behaviors, cache policies and TLS; its tls section overrides the -tls flags; re-read on SIGHUP and POST /config/reload")
	f.tls.register(fs)
}

// adminFlags are the admin settings shared by serve and edge.
type adminFlags struct {
	addr, token, dataDir, logLevel string
	rateLimit                      float64
	rateBurst                      int
}

// parseNodeFlags registers the edge and admin flags shared by serve and
// edge on fs, parses args, and returns them with the logger they ask for.
func parseNodeFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (ef edgeFlags, af adminFlags, logger *slog.Logger, err error) {
	ef.register(fs)
	af.register(fs)
	if err = parseFlags(fs, args, stderr); err != nil {
		return ef, af, nil, err
	}
	logger, err = newLogger(af.logLevel, stderr)
	return ef, af, logger, err
}

// loadToken returns the -admin-token flag, else $STRATA_ADMIN_TOKEN, else the
// token kept in (or generated into) the data dir.
func (f *adminFlags) loadToken() (token string, created bool, err error) {
	explicit := f.token
	if explicit == "" {
		explicit = os.Getenv("STRATA_ADMIN_TOKEN")
	}
	return admin.LoadOrCreateToken(f.dataDir, explicit)
}

func (f *adminFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.addr, "admin-addr", "127.0.0.1:9090", "admin API address (metrics, invalidations); keep it on loopback unless it is firewalled")
	fs.StringVar(&f.token, "admin-token", "", "admin bearer token (default $STRATA_ADMIN_TOKEN, else generated once and kept in the data dir)")
	fs.StringVar(&f.dataDir, "data-dir", "./strata-data", "directory for the database and the generated admin token")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.Float64Var(&f.rateLimit, "admin-rate-limit", 1000, "invalidation items (paths, URLs, tags) the admin API accepts per second, against abuse; over it: 429; negative: no limit")
	fs.IntVar(&f.rateBurst, "admin-rate-burst", 10000, "invalidation items the admin API accepts at once after a quiet period")
}

// serveCursorPrefix keeps strata serve's relay cursor in Redis apart from
// the scale-out relays' (strata api publishes to the Redis bus, serve to
// its own in-memory one).
const serveCursorPrefix = "strata-serve"

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	edgeAddr := fs.String("edge-addr", ":8080", "edge address: what clients connect to")
	apiAddr := fs.String("api-addr", "127.0.0.1:8081", "catalog API origin address")
	siteDir := fs.String("site-dir", "", "serve this directory as the static origin instead of the embedded sample site")
	dsn := fs.String("db", "", "database: a SQLite file path, or postgres://user@host/db (default DATA_DIR/strata.db)")
	var apf apiFlags
	apf.register(fs)
	redisURL := fs.String("redis", "", "Redis URL for the application cache's shared L2 (redis://, rediss://, unix://, redis://host?master_set=NAME for Sentinel, comma-separated host:port list for Cluster); empty: L1 only")
	ef, af, logger, err := parseNodeFlags(fs, args, stderr)
	if err != nil {
		return err
	}
	if err := apf.check("serve"); err != nil {
		return err
	}

	siteHandler, err := site.New(site.Config{Dir: *siteDir})
	if err != nil {
		return err
	}
	if *dsn == "" {
		*dsn = filepath.Join(af.dataDir, "strata.db")
	}
	database, err := db.Open(ctx, *dsn)
	if err != nil {
		return err
	}
	defer database.Close()
	seeded, err := catalog.Seed(ctx, database, apf.seedProducts)
	if err != nil {
		return err
	}
	token, created, err := af.loadToken()
	if err != nil {
		return err
	}
	front, err := newEdgeFront("serve", ef, stderr, logger)
	if err != nil {
		return err
	}

	edgeLs, err := front.listen(*edgeAddr)
	if err != nil {
		return err
	}
	ls := append([]*listener(nil), edgeLs...)
	for _, a := range []struct{ name, addr string }{{"api", *apiAddr}, {"admin", af.addr}} {
		l, err := listen(a.name, a.addr)
		if err != nil {
			closeAll(ls)
			return err
		}
		ls = append(ls, l)
	}
	apiL, adminL := ls[len(edgeLs)], ls[len(edgeLs)+1]

	metrics := obs.NewMetrics()
	bus := inval.NewMemory(logger)
	defer bus.Close()
	// Database changes become invalidations through the tracker too, so
	// the admin API lists them with their commit-to-completion times.
	tracker := inval.NewTrackerWith(bus, inval.TrackerOptions{Logger: logger, OnComplete: metrics.InvalidationCompleted})
	defer tracker.Close()
	var redisClient rueidis.Client
	var cursor inval.Cursor // nil: in memory, right while every cache starts empty with the process
	if *redisURL != "" {
		if redisClient, err = credis.NewClient(*redisURL); err != nil {
			closeAll(ls)
			return fmt.Errorf("serve: -redis: %w", err)
		}
		defer redisClient.Close()
		// L2 outlives the process: a restarted serve must relay what was
		// committed while it was down (or before it crashed), so the
		// cursor lives beside L2 (apart from strata api's).
		if cursor, err = redisbus.NewCursor(redisClient, serveCursorPrefix); err != nil {
			closeAll(ls)
			return fmt.Errorf("serve: -redis: %w", err)
		}
	}
	relay, err := inval.NewRelay(ctx, inval.RelayConfig{Outbox: db.Outbox{DB: database, Logger: logger}, Publisher: tracker,
		Cursor: cursor, Retention: apf.retention, Logger: logger})
	if err != nil {
		closeAll(ls)
		return err
	}
	metrics.WatchRelay(relay)
	svc, err := catalog.New(apf.catalogConfig(database, redisClient, token, metrics, logger,
		func(ctx context.Context) (uint64, error) {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			inv, err := relay.Sync(ctx)
			if err != nil {
				return 0, err
			}
			return inv.Version, bus.WaitAcked(ctx, inv.Seq)
		}))
	if err != nil {
		closeAll(ls)
		return err
	}
	defer svc.Close()
	if err := bus.Subscribe("app-l1", func(ctx context.Context, ev inval.Event) error {
		// L1 is invalidated whatever happens; when L2 cannot be reached the
		// caches bypass it until they have replayed this on it.
		if err := applyToCatalog(ctx, svc, ev); err != nil {
			logger.Warn("app cache: L2 invalidation deferred", "seq", ev.Seq, "err", err)
		}
		return nil
	}); err != nil {
		closeAll(ls)
		return err
	}

	apiURL, _ := url.Parse(apiL.url())
	behaviors, err := front.behaviors([]edge.Behavior{
		{Pattern: "/api/*", Origin: edge.URLOrigin(apiURL, nil), Name: "api"},
		{Pattern: "*", Origin: edge.HandlerOrigin(siteHandler), Name: "site"},
	})
	if err != nil {
		closeAll(ls)
		return err
	}
	ef.httpsPort = httpsPort(edgeLs)
	e, st, err := newEdge(ef, metrics, logger, behaviors, bus, "edge")
	if err != nil {
		closeAll(ls)
		return err
	}
	defer st.Close()
	defer e.Close() // background revalidations finish before the store closes
	metrics.WatchNodes(bus)
	rl := newReloader(front, edgeDistribution{e}, logger)
	adminH, err := admin.New(admin.Config{Token: token, Metrics: metrics.Handler(), Tracker: tracker, Inventory: svc.InventoryHandler(), Logger: logger,
		RateLimit: af.rateLimit, RateBurst: af.rateBurst,
		Reload: rl.adminHook(), Explain: explainHook(e), KeyCardinality: keyCardinalityHook(e)})
	if err != nil {
		closeAll(ls)
		return err
	}
	serveWith(edgeLs, e, ef.fastHits, logger)
	apiL.srv = newServer(svc, logger)
	adminL.srv = newServer(adminH, logger)

	// The relay stops before the deferred closes of the bus and database run.
	relayCtx, stopRelay := context.WithCancel(ctx)
	relayDone := make(chan struct{})
	// Woken by PostgreSQL's notifications (other clients' writes); this
	// process's own writes Sync in AfterWrite.
	wake, err := database.Notifications(relayCtx)
	if err != nil {
		stopRelay()
		closeAll(ls)
		return err
	}
	go func() {
		defer close(relayDone)
		relay.Run(relayCtx, wake, apf.relayPoll)
	}()
	defer func() {
		stopRelay()
		<-relayDone
	}()

	fmt.Fprintf(stdout, "strata serve %s\n", versionString())
	what := "site; /api/* goes to the API"
	if front.cfg != nil {
		what = "the distribution in " + front.file
	}
	front.printListeners(stdout, edgeLs, what)
	fmt.Fprintf(stdout, "  api    %s/api/data\n", apiL.url())
	fmt.Fprintf(stdout, "  admin  %s/metrics   (Authorization: Bearer <token>)\n", adminL.url())
	fmt.Fprintf(stdout, "  data   %s", af.dataDir)
	if seeded {
		fmt.Fprint(stdout, "   (new catalog seeded with sample products)")
	}
	fmt.Fprintln(stdout)
	printToken(stdout, token, created, af.dataDir)
	defer reloadOnSIGHUP(ctx, rl)()
	return serveAll(ctx, logger, 10*time.Second, ls)
}

// printToken shows a generated token once, and otherwise where it is kept.
func printToken(w io.Writer, token string, created bool, dataDir string) {
	if created {
		fmt.Fprintf(w, "  admin token (shown once; kept in %s): %s\n", filepath.Join(dataDir, admin.TokenFile), token)
	}
}

// storeShare is the part of the edge's memory budget that holds responses;
// the rest covers per-entry bookkeeping the weights only approximate and
// the garbage a busy edge makes between collections.
const storeShare = 0.65

// storeBytes is the store bound for an edge memory budget. With outside
// (the resident memory Go's limit does not cover; 0 when no limit is set)
// the store also leaves the collector half its size within budget-outside
// (the store is at most two thirds of it), which is less than storeShare
// for budgets under about 1 GiB. With less headroom, a small edge under
// constant eviction spent its time collecting and outgrew its budget.
func storeBytes(budget, outside uint64) uint64 {
	share := uint64(float64(budget) * storeShare)
	if outside > 0 && budget > outside {
		share = min(share, (budget-outside)*10/15)
	}
	return share
}

// newEdge builds an edge with its store and subscribes it to bus.
func newEdge(ef edgeFlags, metrics *obs.Metrics, logger *slog.Logger, behaviors []edge.Behavior, bus inval.Bus, node string) (*edge.Edge, *store.Memory, error) {
	st, err := store.NewMemory(store.Options{MaxBytes: storeBytes(ef.maxBytes, ef.outsideHeap)})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: -edge-max-bytes: %v", errUsage, err)
	}
	e, err := edge.New(edge.Config{
		Behaviors:        behaviors,
		Store:            st,
		MaxObjectSize:    ef.maxObjectSize,
		OriginTimeout:    ef.originTimeout,
		OriginRetryAfter: ef.originRetryAfter,
		RFCStrict:        ef.rfcStrict,
		HTTPSPort:        ef.httpsPort,
		Recorder:         metrics.Edge(),
		Logger:           logger,
	})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	apply := func(_ context.Context, ev inval.Event) error {
		// In effect when PurgeLater returns, which is what the bus
		// acknowledges; a large tag purge is counted (and logged) after.
		e.PurgeLater(edge.Purge{Paths: ev.Paths, URLs: ev.URLs, Tags: ev.Tags, All: ev.All, Soft: ev.Soft, Version: ev.Version}, func(res edge.PurgeResult) {
			logger.Info("purge", "seq", ev.Seq, "by", ev.By, "paths", len(ev.Paths), "urls", len(ev.URLs),
				"tags", len(ev.Tags), "all", ev.All, "soft", ev.Soft, "objects", res)
		})
		return nil
	}
	// A node that missed purges it cannot replay (it is new, was away too
	// long, or Redis lost the stream) empties its cache before going on.
	lost := func(reason error) {
		n := e.Purge(edge.Purge{All: true})
		// A node starting with an empty cache (a new one) lost nothing.
		level := slog.LevelWarn
		if n == (edge.PurgeResult{}) {
			level = slog.LevelInfo
		}
		logger.Log(context.Background(), level, "purges were missed; cache emptied", "node", node, "reason", reason, "objects", n)
	}
	metrics.WatchStore(st)
	if err := inval.SubscribeWithLost(bus, node, apply, lost); err != nil {
		st.Close()
		return nil, nil, err
	}
	return e, st, nil
}
