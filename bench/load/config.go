package load

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"
)

// ErrConfig is wrapped by Run's errors about its Config.
var ErrConfig = errors.New("load: invalid config")

// Config configures a run. Zero values take the defaults named.
type Config struct {
	// EdgeURL is where reads go: GET {EdgeURL}/api/products/{id}. Required.
	EdgeURL string
	// APIURL is where updates go: PUT {APIURL}/api/products/{id} with
	// Authorization: Bearer AdminToken. Required when UpdateRate > 0; it
	// is also asked how many products the catalog holds (else EdgeURL).
	APIURL string
	// AdminURL is the admin API, polled for invalidation records
	// (GET /invalidations) and scraped for database loads (GET /metrics).
	// Empty: neither; offload is then measured at the edge only.
	AdminURL string
	// AdminToken authorises updates and admin calls.
	AdminToken string
	// MetricsURLs are the Prometheus endpoints whose database loads
	// (strata_app_cache_loads_total) are summed to measure offload: every
	// API instance's. Default AdminURL + "/metrics".
	MetricsURLs []string

	// Duration is how long reads and updates run. Default 60s.
	Duration time.Duration
	// Products is how many products, ids 1..Products, are read and
	// updated; fewer when the catalog holds fewer. Default 10000.
	Products int
	// Zipf is the exponent s of the Zipf distribution over products; it
	// must be greater than 1. Default 1.1.
	Zipf float64
	// UpdateRate is the price updates per second, possibly fractional.
	// Zero: no updates.
	UpdateRate float64
	// Concurrency is the number of concurrent readers, each reading in a
	// loop. Default 8.
	Concurrency int
	// Warmup reads every product once through the edge before the run
	// (neither counted nor timed), so offload and latency describe a warm
	// cache rather than the first read of each product.
	Warmup bool
	// Seed seeds the choice of products and prices; equal seeds give
	// equal sequences of choices.
	Seed uint64

	// HTTPClient makes the requests. Default: a client whose transport
	// keeps Concurrency+MaxUpdatesInFlight connections per host open.
	HTTPClient *http.Client
	// RequestTimeout bounds one request. Default 10s.
	RequestTimeout time.Duration
	// PollInterval is how often invalidation records are polled while
	// updates wait for theirs. Default 250ms.
	PollInterval time.Duration
	// Drain is how long, after the run, the bench keeps polling for the
	// invalidation records of its last updates. Default 2s.
	Drain time.Duration
	// MaxUpdatesInFlight caps concurrent PUTs; an update due while all
	// are busy is skipped (and counted). Default 16.
	MaxUpdatesInFlight int
	// Notef, when set, receives notes on the run as it starts (e.g. the
	// catalog holds fewer products than asked).
	Notef func(format string, args ...any)
}

func (c *Config) setDefaults() error {
	var err error
	if c.EdgeURL == "" {
		return fmt.Errorf("%w: an edge URL is required", ErrConfig)
	}
	if c.EdgeURL, err = trimBase("edge URL", c.EdgeURL); err != nil {
		return err
	}
	if c.APIURL, err = trimBase("API URL", c.APIURL); err != nil {
		return err
	}
	if c.AdminURL, err = trimBase("admin URL", c.AdminURL); err != nil {
		return err
	}
	switch {
	case c.Duration < 0, c.Products < 0, c.Concurrency < 0, c.RequestTimeout < 0, c.PollInterval < 0, c.Drain < 0, c.MaxUpdatesInFlight < 0:
		return fmt.Errorf("%w: durations and counts must not be negative", ErrConfig)
	case c.UpdateRate < 0 || math.IsNaN(c.UpdateRate) || math.IsInf(c.UpdateRate, 0):
		return fmt.Errorf("%w: update rate %v must be a number of at least 0", ErrConfig, c.UpdateRate)
	case c.Zipf != 0 && !(c.Zipf > 1) || math.IsInf(c.Zipf, 0):
		return fmt.Errorf("%w: zipf exponent %v must be greater than 1", ErrConfig, c.Zipf)
	case c.UpdateRate > 0 && c.APIURL == "":
		return fmt.Errorf("%w: updates need an API URL", ErrConfig)
	case c.UpdateRate > 0 && c.AdminToken == "":
		return fmt.Errorf("%w: updates need an admin token", ErrConfig)
	}
	if c.Duration == 0 {
		c.Duration = time.Minute
	}
	if c.Products == 0 {
		c.Products = 10000
	}
	if c.Zipf == 0 {
		c.Zipf = 1.1
	}
	if c.Concurrency == 0 {
		c.Concurrency = 8
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 10 * time.Second
	}
	if c.PollInterval == 0 {
		c.PollInterval = 250 * time.Millisecond
	}
	if c.Drain == 0 {
		c.Drain = 2 * time.Second
	}
	if c.MaxUpdatesInFlight == 0 {
		c.MaxUpdatesInFlight = 16
	}
	if c.MetricsURLs == nil && c.AdminURL != "" {
		c.MetricsURLs = []string{c.AdminURL + "/metrics"}
	}
	if c.Notef == nil {
		c.Notef = func(string, ...any) {}
	}
	return nil
}
