package load

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// maxErrorSamples bounds the distinct error messages a Result keeps.
const maxErrorSamples = 5

// errorLog counts errors and keeps the first few distinct messages.
type errorLog struct {
	n       atomic.Int64
	mu      sync.Mutex
	samples []string
}

func (e *errorLog) add(what string, err error) {
	e.n.Add(1)
	msg := what + ": " + err.Error()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.samples) >= maxErrorSamples {
		return
	}
	for _, s := range e.samples {
		if s == msg {
			return
		}
	}
	e.samples = append(e.samples, msg)
}

// reader is one read loop's tallies; each reader owns its own.
type reader struct {
	reads, hits int64
	latency     histogram
}

// picker chooses product ids: Zipf-distributed ranks mapped to ids through
// a fixed permutation, so the hottest products are not simply 1, 2, 3...
type picker struct {
	zipf *rand.Zipf
	perm []int
}

func newPicker(r *rand.Rand, s float64, perm []int) picker {
	p := picker{perm: perm}
	if len(perm) > 1 {
		p.zipf = rand.NewZipf(r, s, 1, uint64(len(perm)-1))
	}
	return p
}

// newRand is the generator of one stream of choices of a run.
func newRand(seed, stream uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, stream)) }

// newPermutation maps Zipf ranks to product indexes 0..n-1.
func newPermutation(seed uint64, n int) []int { return newRand(seed, 0x5eed).Perm(n) }

func (p picker) next() int64 {
	if p.zipf == nil {
		return int64(p.perm[0]) + 1
	}
	return int64(p.perm[p.zipf.Uint64()]) + 1
}

// run is one Run's state.
type run struct {
	cfg     Config
	c       *client
	k       *checker
	errs    errorLog
	perm    []int
	updates atomic.Int64
	skipped atomic.Int64
	pending atomic.Int64 // PUTs answered X-Invalidation: pending
	noDV    atomic.Int64 // PUTs answered without a data version
	// versioned: some invalidation record said which data versions it
	// covers, so waiting for records is worth it.
	versioned atomic.Bool
}

// Run reads and updates the catalog for cfg.Duration, or until ctx ends
// (the Result then says Interrupted), and returns what it measured. It
// returns an error only when the run could not start: cfg is invalid
// (ErrConfig), or the catalog could not be reached or holds no products.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.setDefaults(); err != nil {
		return Result{}, err
	}
	hc := cfg.HTTPClient
	if hc == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = cfg.Concurrency + cfg.MaxUpdatesInFlight + 2
		hc = &http.Client{Transport: t}
		defer t.CloseIdleConnections()
	}
	limit := 100
	if cfg.UpdateRate*cfg.PollInterval.Seconds() > 50 {
		limit = 1000 // the most the admin API lists
	}
	r := &run{cfg: cfg, k: newChecker(time.Now), c: &client{http: hc, edge: cfg.EdgeURL, api: cfg.APIURL,
		admin: cfg.AdminURL, token: cfg.AdminToken, invalidationLimit: limit}}

	setup, cancel := context.WithTimeout(ctx, cfg.RequestTimeout)
	total, err := r.c.productCount(setup)
	cancel()
	if err != nil {
		return Result{}, fmt.Errorf("load: counting the catalog's products: %w", err)
	}
	if total <= 0 {
		return Result{}, errors.New("load: the catalog holds no products")
	}
	res := Result{Products: cfg.Products}
	if total < cfg.Products {
		res.Products = total
		res.Notes = append(res.Notes, fmt.Sprintf("the catalog holds %d products, fewer than the %d asked for: reading and updating ids 1..%d", total, cfg.Products, total))
		cfg.Notef("%s", res.Notes[len(res.Notes)-1])
	}
	r.perm = newPermutation(cfg.Seed, res.Products)

	if cfg.Warmup {
		if err := r.warmup(ctx, res.Products); err != nil {
			return Result{}, fmt.Errorf("load: warming up: %w", err)
		}
		res.Notes = append(res.Notes, fmt.Sprintf("warmed up: read products 1..%d once before the run", res.Products))
	}

	loadsBefore := -1.0
	if len(cfg.MetricsURLs) > 0 {
		setup, cancel := context.WithTimeout(ctx, cfg.RequestTimeout)
		if loadsBefore, err = r.c.databaseLoads(setup, cfg.MetricsURLs); err != nil {
			r.errs.add("metrics", err)
			loadsBefore = -1
		}
		cancel()
	}

	runCtx, stop := context.WithTimeout(ctx, cfg.Duration)
	defer stop()
	began := time.Now()
	readers := make([]*reader, cfg.Concurrency)
	var wg sync.WaitGroup
	for i := range readers {
		readers[i] = &reader{}
		wg.Go(func() { r.readLoop(runCtx, readers[i], uint64(i)+1) })
	}
	var updWG sync.WaitGroup
	if cfg.UpdateRate > 0 {
		wg.Go(func() { r.updateLoop(ctx, runCtx, &updWG) })
	}
	pollCtx, stopPoll := context.WithCancel(context.WithoutCancel(ctx))
	defer stopPoll()
	var pollWG sync.WaitGroup
	if cfg.AdminURL != "" && cfg.UpdateRate > 0 {
		pollWG.Go(func() { r.pollLoop(pollCtx) })
	}
	wg.Wait()
	res.Duration = time.Since(began)
	updWG.Wait()
	res.Interrupted = ctx.Err() != nil

	// After the run, on a context an interrupt does not end: the last
	// measurements are quick.
	after := context.WithoutCancel(ctx)
	if loadsBefore >= 0 {
		c, cancel := context.WithTimeout(after, cfg.RequestTimeout)
		loadsAfter, err := r.c.databaseLoads(c, cfg.MetricsURLs)
		cancel()
		if err != nil {
			r.errs.add("metrics", err)
		} else {
			res.DatabaseLoads = loadsAfter - loadsBefore
			res.OffloadSource = "metrics"
		}
	}
	// Give the last updates' invalidation records time to show.
	if !res.Interrupted && cfg.AdminURL != "" {
		deadline := time.Now().Add(cfg.Drain)
		for r.versioned.Load() && r.k.pendingCount() > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(cfg.PollInterval)
		}
	}
	stopPoll()
	pollWG.Wait()

	var lat histogram
	for _, rd := range readers {
		res.Reads += rd.reads
		res.EdgeHits += rd.hits
		lat.merge(&rd.latency)
	}
	res.ReadP50, res.ReadP99, res.ReadMax = lat.quantile(0.5), lat.quantile(0.99), time.Duration(lat.max)
	if lat.n == 0 {
		res.ReadMax = -1
	}
	res.Updates, res.UpdatesSkipped, res.InvalidationsPending = r.updates.Load(), r.skipped.Load(), r.pending.Load()
	res.UpdatesWithoutDataVersion = r.noDV.Load()
	res.StaleAfterComplete, res.StaleBeforeComplete, res.StaleUnclassified, res.StaleExamples = r.k.finish()
	inv, fromRecords, fromPuts, unknown := r.k.invalidationLatencies()
	res.InvalidationP50, res.InvalidationP99 = inv.quantile(0.5), inv.quantile(0.99)
	res.InvalidationsFromRecords, res.InvalidationsFromPuts, res.InvalidationsUnknown = fromRecords, fromPuts, unknown
	switch {
	case fromRecords > 0 && fromPuts > 0:
		res.InvalidationSource = "mixed"
	case fromRecords > 0:
		res.InvalidationSource = "records"
	case fromPuts > 0:
		res.InvalidationSource = "put"
	default:
		res.InvalidationSource = "none"
	}
	if res.OffloadSource == "" {
		res.OffloadSource = "edge"
	}
	res.Offload = res.offload()
	res.Errors = r.errs.n.Load()
	r.errs.mu.Lock()
	res.ErrorSamples = append([]string(nil), r.errs.samples...)
	r.errs.mu.Unlock()
	return res, nil
}

// readLoop reads products through the edge until ctx ends.
func (r *run) readLoop(ctx context.Context, rd *reader, stream uint64) {
	p := newPicker(newRand(r.cfg.Seed, stream), r.cfg.Zipf, r.perm)
	for ctx.Err() == nil {
		id := p.next()
		rctx, cancel := context.WithTimeout(ctx, r.cfg.RequestTimeout)
		start := time.Now()
		version, hit, via, err := r.c.readProduct(rctx, id)
		end := time.Now()
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return // the run ended during the read: not counted
			}
			r.errs.add("read", err)
			continue
		}
		rd.reads++
		if hit {
			rd.hits++
		}
		rd.latency.record(end.Sub(start))
		r.k.readVia(id, start, version, via)
	}
}

// updateLoop starts price updates at cfg.UpdateRate until runCtx ends;
// each PUT runs to its end on ctx (an interrupt ends it, the run's end
// does not), so every update made is recorded. wg counts running PUTs.
func (r *run) updateLoop(ctx, runCtx context.Context, wg *sync.WaitGroup) {
	rng := newRand(r.cfg.Seed, 0)
	p := newPicker(rng, r.cfg.Zipf, r.perm)
	sem := make(chan struct{}, r.cfg.MaxUpdatesInFlight)
	period := min(time.Duration(float64(time.Second)/r.cfg.UpdateRate), 10*time.Millisecond)
	tick := time.NewTicker(max(period, time.Millisecond))
	defer tick.Stop()
	began := time.Now()
	var issued int64
	for {
		select {
		case <-runCtx.Done():
			return
		case now := <-tick.C:
			due := int64(now.Sub(began).Seconds() * r.cfg.UpdateRate)
			for ; issued < due; issued++ {
				id, cents := p.next(), 100+rng.Int64N(100_000)
				select {
				case sem <- struct{}{}:
				default:
					r.skipped.Add(1)
					continue
				}
				wg.Go(func() {
					defer func() { <-sem }()
					r.update(ctx, id, cents)
				})
			}
		}
	}
}

func (r *run) update(ctx context.Context, id, cents int64) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.RequestTimeout)
	defer cancel()
	sent := time.Now()
	u, err := r.c.updatePrice(ctx, id, cents)
	if err != nil {
		if ctx.Err() == nil || !errors.Is(ctx.Err(), context.Canceled) {
			r.errs.add("update", err)
		}
		return
	}
	r.k.commitAcked(id, u.version, sent, u.dataVersion, u.completed)
	r.updates.Add(1)
	if u.pending {
		r.pending.Add(1)
	}
	if u.dataVersion == 0 {
		r.noDV.Add(1)
	}
}

// pollLoop polls the admin API's invalidation records while some update
// waits for its own, until ctx ends.
func (r *run) pollLoop(ctx context.Context) {
	tick := time.NewTicker(r.cfg.PollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if r.k.pendingCount() == 0 {
			continue
		}
		c, cancel := context.WithTimeout(ctx, r.cfg.RequestTimeout)
		recs, err := r.c.invalidations(c)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				r.errs.add("invalidations", err)
			}
			continue
		}
		if len(recs) > 0 {
			r.versioned.Store(true)
		}
		r.k.recordsSeen(recs)
	}
}

// warmup reads products 1..n once each through the edge, Concurrency at a
// time, and returns the first error.
func (r *run) warmup(ctx context.Context, n int) error {
	ids := make(chan int64)
	var wg sync.WaitGroup
	var first atomic.Pointer[error]
	for range r.cfg.Concurrency {
		wg.Go(func() {
			for id := range ids {
				rctx, cancel := context.WithTimeout(ctx, r.cfg.RequestTimeout)
				_, _, _, err := r.c.readProduct(rctx, id)
				cancel()
				if err != nil {
					first.CompareAndSwap(nil, &err)
				}
			}
		})
	}
	for id := int64(1); id <= int64(n) && first.Load() == nil && ctx.Err() == nil; id++ {
		ids <- id
	}
	close(ids)
	wg.Wait()
	if err := first.Load(); err != nil {
		return *err
	}
	return ctx.Err()
}
