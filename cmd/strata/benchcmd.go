package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/strata-cache/strata/admin"
	"github.com/strata-cache/strata/bench/load"
)

// runBench drives load against a running Strata and prints a report, then
// one summary line of key=value pairs (see docs/bench.md).
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var cfg load.Config
	var metrics listFlag
	fs.StringVar(&cfg.EdgeURL, "edge", envOr("STRATA_EDGE_URL", "http://127.0.0.1:8080"), "edge URL: reads go to GET EDGE/api/products/{id} (default $STRATA_EDGE_URL)")
	fs.StringVar(&cfg.APIURL, "api", envOr("STRATA_API_URL", "http://127.0.0.1:8081"), "catalog API URL: updates go to PUT API/api/products/{id} (default $STRATA_API_URL)")
	fs.StringVar(&cfg.AdminURL, "admin", envOr("STRATA_ADMIN_URL", "http://127.0.0.1:9090"), "admin API URL, for invalidation records and database-load metrics; empty: neither (default $STRATA_ADMIN_URL)")
	token := fs.String("admin-token", "", "admin bearer token, for updates and the admin API (default $STRATA_ADMIN_TOKEN, else the token in -data-dir)")
	dataDir := fs.String("data-dir", "./strata-data", "data dir holding a generated admin token")
	fs.Var(&metrics, "metrics", "Prometheus URLs whose strata_app_cache_loads_total are summed for offload, comma-separated: every API node's (default ADMIN/metrics)")
	fs.DurationVar(&cfg.Duration, "duration", time.Minute, "how long to run")
	fs.IntVar(&cfg.Products, "products", 10000, "read and update product ids 1..N (fewer if the catalog holds fewer)")
	fs.Float64Var(&cfg.Zipf, "zipf", 1.1, "Zipf exponent s of the product popularity, greater than 1 (larger: more skew)")
	fs.Float64Var(&cfg.UpdateRate, "update-rate", 1, "price updates per second, may be fractional; 0: none")
	fs.IntVar(&cfg.Concurrency, "concurrency", 8, "concurrent readers, each reading in a loop")
	fs.BoolVar(&cfg.Warmup, "warmup", false, "read every product once through the edge before the run (not counted), to measure a warm cache")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed of the product and price choices")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if cfg.Duration <= 0 || cfg.Products <= 0 || cfg.Concurrency <= 0 {
		return fmt.Errorf("%w: bench: -duration, -products and -concurrency must be positive", errUsage)
	}
	cfg.MetricsURLs = metrics
	cfg.AdminToken = *token
	if cfg.AdminToken == "" {
		cfg.AdminToken = os.Getenv("STRATA_ADMIN_TOKEN")
	}
	if cfg.AdminToken == "" && (cfg.UpdateRate > 0 || cfg.AdminURL != "") {
		b, err := os.ReadFile(filepath.Join(*dataDir, admin.TokenFile))
		if err != nil {
			return fmt.Errorf("%w: bench: no admin token: give -admin-token or STRATA_ADMIN_TOKEN, or -update-rate 0 -admin '' (%v)", errUsage, err)
		}
		cfg.AdminToken = strings.TrimSpace(string(b))
	}
	cfg.Notef = func(format string, args ...any) { fmt.Fprintf(stderr, "strata bench: "+format+"\n", args...) }

	fmt.Fprintf(stderr, "strata bench: %d readers on %s, %g updates/s on %s, for %v\n",
		cfg.Concurrency, cfg.EdgeURL, cfg.UpdateRate, cfg.APIURL, cfg.Duration)
	res, err := load.Run(ctx, cfg)
	if err != nil {
		if errors.Is(err, load.ErrConfig) {
			return fmt.Errorf("%w: bench: %v", errUsage, err)
		}
		return fmt.Errorf("bench: %w", err)
	}
	if err := res.WriteReport(stdout); err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, res.SummaryLine())
	return err
}
