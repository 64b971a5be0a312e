package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/redis/rueidis"

	"github.com/strata-cache/strata/admin"
	credis "github.com/strata-cache/strata/cache/redis"
	"github.com/strata-cache/strata/catalog"
	"github.com/strata-cache/strata/db"
	"github.com/strata-cache/strata/inval"
	"github.com/strata-cache/strata/inval/redisbus"
	"github.com/strata-cache/strata/obs"
)

// relayLock names the leadership the API instances' relays contend for.
const relayLock = "strata-outbox-relay"

// apiFlags are the catalog API settings shared by serve and api.
type apiFlags struct {
	maxAge, cacheTTL time.Duration
	relayPoll        time.Duration
	retention        time.Duration
	seedProducts     int
}

func (f *apiFlags) register(fs *flag.FlagSet) {
	fs.DurationVar(&f.maxAge, "api-max-age", time.Minute, "max-age the API gives cacheable responses")
	fs.DurationVar(&f.cacheTTL, "cache-ttl", 5*time.Minute, "how long the API's application cache keeps values")
	fs.DurationVar(&f.relayPoll, "relay-poll", time.Second, "how often the outbox relay looks for changes it was not notified of (writes by other database clients)")
	fs.DurationVar(&f.retention, "outbox-retention", time.Hour, "how long relayed outbox rows are kept")
	fs.IntVar(&f.seedProducts, "seed-products", 0, "products to create in an empty catalog: the sample products, then generated ones up to this number (0: the samples only)")
}

// catalogConfig is the catalog's configuration from the flags, with its
// database, L2 client (nil: L1 only) and write hook.
func (f *apiFlags) catalogConfig(database *db.DB, client rueidis.Client, token string, metrics *obs.Metrics, logger *slog.Logger,
	afterWrite func(context.Context) (uint64, error)) catalog.Config {
	return catalog.Config{
		Redis:         client,
		Repo:          catalog.SQLRepo{DB: database},
		AdminToken:    token,
		MaxAge:        f.maxAge,
		CacheTTL:      f.cacheTTL,
		CacheRecorder: metrics.Cache(),
		Logger:        logger,
		AfterWrite:    afterWrite,
	}
}

func (f *apiFlags) check(cmd string) error {
	if f.maxAge < 0 || f.cacheTTL < 0 || f.relayPoll <= 0 || f.retention <= 0 || f.seedProducts < 0 {
		return fmt.Errorf("%w: %s: durations must be positive (api-max-age and cache-ttl may be 0) and -seed-products not negative", errUsage, cmd)
	}
	return nil
}

// runAPI runs one scale-out API instance: the catalog on a shared database
// with its L1 and a shared Redis L2, a subscriber to the Redis invalidation
// bus, and an outbox relay that leads only while it holds the database's
// relay lock.
func runAPI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("api", flag.ContinueOnError)
	listenAddr := fs.String("listen", "127.0.0.1:8081", "catalog API address (the edge's origin for /api/*)")
	dsn := fs.String("db", "", "database: postgres://user@host/db (shared by every API instance) or a SQLite file path (required)")
	redisURL := fs.String("redis", "", "Redis URL for the shared L2 and the invalidation bus (required)")
	nodeName := fs.String("node", "", "this instance's name on the bus; keep it stable across restarts (default api-HOSTNAME:PORT)")
	var apf apiFlags
	apf.register(fs)
	var af adminFlags
	af.register(fs)
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	logger, err := newLogger(af.logLevel, stderr)
	if err != nil {
		return err
	}
	if *dsn == "" || *redisURL == "" {
		return fmt.Errorf("%w: api: -db and -redis are required", errUsage)
	}
	if err := apf.check("api"); err != nil {
		return err
	}
	token, created, err := af.loadToken()
	if err != nil {
		return err
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
	client, err := credis.NewClient(*redisURL)
	if err != nil {
		return fmt.Errorf("api: -redis: %w", err)
	}
	defer client.Close()

	apiL, err := listen("api", *listenAddr)
	if err != nil {
		return err
	}
	adminL, err := listen("admin", af.addr)
	if err != nil {
		closeAll([]*listener{apiL})
		return err
	}
	ls := []*listener{apiL, adminL}
	node := *nodeName
	if node == "" {
		host, _ := os.Hostname()
		node = "api-" + host + ":" + apiL.port()
	}

	metrics := obs.NewMetrics()
	p, err := newAPIPipeline(ctx, database, client, metrics, logger, apf, token, node)
	if err != nil {
		closeAll(ls)
		return err
	}
	defer p.close()
	adminH, err := admin.New(admin.Config{Token: token, Metrics: metrics.Handler(), Tracker: p.tracker, Inventory: p.svc.InventoryHandler(), Logger: logger,
		RateLimit: af.rateLimit, RateBurst: af.rateBurst})
	if err != nil {
		closeAll(ls)
		return err
	}
	apiL.srv = newServer(p.svc, logger)
	adminL.srv = newServer(adminH, logger)

	fmt.Fprintf(stdout, "strata api %s\n", versionString())
	fmt.Fprintf(stdout, "  api    %s/api/data   (database %s)\n", apiL.url(), database.Dialect)
	fmt.Fprintf(stdout, "  admin  %s/metrics   (Authorization: Bearer <token>)\n", adminL.url())
	fmt.Fprintf(stdout, "  node   %s   (invalidations through Redis)\n", node)
	if seeded {
		fmt.Fprintln(stdout, "  (new catalog seeded with sample products)")
	}
	printToken(stdout, token, created, af.dataDir)
	return serveAll(ctx, logger, 10*time.Second, ls)
}

// apiPipeline is the catalog of one API instance with its place in the
// invalidation pipeline: bus subscriber, tracker, relay.
type apiPipeline struct {
	svc     *catalog.Service
	bus     *redisbus.Bus
	tracker *inval.Tracker
	relay   *inval.Relay
	closers []func()
}

func (p *apiPipeline) close() {
	for i := len(p.closers) - 1; i >= 0; i-- {
		p.closers[i]()
	}
}

// newAPIPipeline wires the catalog to the shared bus: a write waits until
// its change has reached this instance and every other subscriber; the
// relay runs while this instance holds the relay lock.
func newAPIPipeline(ctx context.Context, database *db.DB, client rueidis.Client, metrics *obs.Metrics, logger *slog.Logger,
	apf apiFlags, token, node string) (_ *apiPipeline, err error) {
	p := &apiPipeline{}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	outbox := db.Outbox{DB: database, Logger: logger}
	var progress inval.Progress
	if p.bus, err = redisbus.New(client, redisbus.Options{Logger: logger}); err != nil {
		return nil, fmt.Errorf("api: -redis: %w", err)
	}
	p.closers = append(p.closers, func() { p.bus.Close() })
	store, err := redisbus.NewStore(client, redisbus.StoreOptions{})
	if err != nil {
		return nil, fmt.Errorf("api: -redis: %w", err)
	}
	cursor, err := redisbus.NewCursor(client, "")
	if err != nil {
		return nil, fmt.Errorf("api: -redis: %w", err)
	}
	p.tracker = inval.NewTrackerWith(p.bus, inval.TrackerOptions{Store: store, Logger: logger, OnComplete: metrics.InvalidationCompleted})
	p.closers = append(p.closers, func() { p.tracker.Close() })
	metrics.WatchNodes(p.bus)

	// The relay may run in another instance: a write waits until its
	// change (and whatever committed before it) has reached this instance,
	// then until every other subscriber has applied it too.
	p.svc, err = catalog.New(apf.catalogConfig(database, client, token, metrics, logger,
		func(ctx context.Context) (uint64, error) {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			v, err := outbox.Last(ctx)
			if err != nil {
				return 0, err
			}
			seq, err := progress.Wait(ctx, v)
			if err != nil {
				return v, fmt.Errorf("invalidation of data version %d not seen yet: %w", v, err)
			}
			return v, p.bus.WaitAcked(ctx, seq)
		}))
	if err != nil {
		return nil, err
	}
	p.closers = append(p.closers, p.svc.Close)

	apply := func(ctx context.Context, ev inval.Event) error {
		// The relay wrote the L2 tombstones before publishing: this
		// instance's L1 is all that is left (no Redis round trips before
		// the acknowledgement). Events without a data version (admin
		// purges) name no application-cache keys.
		p.svc.InvalidateLocal(ctx, ev.Version, ev.Flush, ev.Keys...)
		progress.Applied(ev)
		return nil
	}
	lost := func(reason error) {
		p.svc.DropLocal()
		// A new instance's L1 is empty: it lost nothing.
		level := slog.LevelWarn
		if errors.Is(reason, redisbus.ErrNewNode) {
			level = slog.LevelInfo
		}
		logger.Log(context.Background(), level, "invalidations were missed; L1 emptied", "node", node, "reason", reason)
	}
	if err := inval.SubscribeWithLost(p.bus, node, apply, lost); err != nil {
		return nil, err
	}

	p.relay, err = inval.NewRelay(ctx, inval.RelayConfig{
		Outbox:    outbox,
		Publisher: p.tracker,
		Cursor:    cursor,
		Retention: apf.retention,
		Logger:    logger,
		// L2 tombstones before the event is out, so no subscriber can
		// refill L2 from a read older than the change after seeing it.
		Apply: func(ctx context.Context, ev inval.Event) error {
			return applyToCatalog(ctx, p.svc, ev)
		},
	})
	if err != nil {
		return nil, err
	}
	metrics.WatchRelay(p.relay)
	wake, err := database.Notifications(ctx)
	if err != nil {
		return nil, err
	}
	relayCtx, stopRelay := context.WithCancel(ctx)
	relayDone := make(chan struct{})
	go func() {
		defer close(relayDone)
		p.relay.RunLeader(relayCtx, func(ctx context.Context) (inval.Leadership, error) {
			l, err := database.Leader(ctx, relayLock)
			if err != nil {
				return nil, err
			}
			return l, nil
		}, wake, apf.relayPoll)
	}()
	p.closers = append(p.closers, func() { stopRelay(); <-relayDone })
	return p, nil
}

// applyToCatalog applies an invalidation event to the catalog's caches:
// its keys, or everything for a flush.
func applyToCatalog(ctx context.Context, svc *catalog.Service, ev inval.Event) error {
	if ev.Flush && ev.Version > 0 {
		return svc.InvalidateAll(ctx, ev.Version)
	}
	return svc.Invalidate(ctx, ev.Version, ev.Keys...)
}
