package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/strata-cache/strata/cache"
	credis "github.com/strata-cache/strata/cache/redis"
	"github.com/strata-cache/strata/httpcache"
	"github.com/strata-cache/strata/internal/httpapi"
)

// Config configures a Service. Zero values take the defaults named.
type Config struct {
	// Repo is where products live. Required.
	Repo Repository
	// AdminToken authorises writes. Empty means writes are always refused.
	AdminToken string
	// MaxAge is the max-age of cacheable responses. Default 60s; a negative
	// value sends "no-cache" instead.
	MaxAge time.Duration
	// CacheTTL is how long values stay in the application cache. Default 5m.
	CacheTTL time.Duration
	// CacheRecorder receives application-cache metrics.
	CacheRecorder cache.Recorder
	// Redis, when set, is the shared L2 of the application caches (one
	// namespace per cache under "strata:catalog:"); nil means L1 only.
	// The caller owns and closes the client.
	Redis rueidis.Client
	// AfterWrite runs after a write commits, before the response is sent;
	// `strata serve` relays the outbox there and waits for acknowledgements.
	// It returns a data version that covers the write (X-Data-Version:
	// the invalidation with that version covers it). Its error is logged
	// and reported in the X-Invalidation header; the write itself stands.
	AfterWrite func(ctx context.Context) (version uint64, err error)
	// Logger receives errors. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock for timestamps. Default time.Now.
	Now func() time.Time
}

// maxBody bounds request bodies.
const maxBody = 1 << 20

// Service is the catalog API; it is an http.Handler.
type Service struct {
	cfg      Config
	products *cache.Cache[Product]
	pages    *cache.Cache[Page]
	summary  *cache.Cache[Summary]
	closers  []func()
	mux      *http.ServeMux
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Repo == nil {
		return nil, errors.New("catalog: Config.Repo is required")
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = time.Minute
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = 5 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{cfg: cfg, mux: http.NewServeMux()}
	var err error
	if s.products, err = newCache[Product](s, "products"); err != nil {
		return nil, err
	}
	if s.pages, err = newCache[Page](s, "pages"); err != nil {
		s.Close()
		return nil, err
	}
	if s.summary, err = newCache[Summary](s, "summary"); err != nil {
		s.Close()
		return nil, err
	}
	s.mux.Handle("GET /api/data", s.handle(s.getData))
	s.mux.Handle("GET /api/products", s.handle(s.listProducts))
	s.mux.Handle("GET /api/products/{id}", s.handle(s.getProduct))
	s.mux.Handle("PUT /api/products/{id}", s.handle(s.putProduct))
	s.mux.Handle("/", s.handle(func(w http.ResponseWriter, r *http.Request) error {
		return fmt.Errorf("%w: no route for %s %s", ErrNotFound, r.Method, r.URL.Path)
	}))
	return s, nil
}

// newCache makes one of the service's caches, with its L2 when Redis is
// configured. Values stay fresh for CacheTTL and may be served a minute
// past it while one request refreshes them (never past an invalidation:
// invalidated values are gone).
func newCache[V any](s *Service, name string) (*cache.Cache[V], error) {
	cfg := s.cfg
	logger := cfg.Logger.With("cache", name)
	opts := cache.Options[V]{
		TTL:      cfg.CacheTTL,
		StaleFor: time.Minute,
		Recorder: cfg.CacheRecorder,
		Logger:   logger,
	}
	if cfg.Redis != nil {
		l2, err := credis.New[V](cfg.Redis, credis.Options{
			Namespace: "strata:catalog:" + name,
			MaxTTL:    cfg.CacheTTL + time.Minute,
			Logger:    logger,
		})
		if err != nil {
			return nil, err
		}
		s.closers = append(s.closers, l2.Close)
		opts.L2 = l2
	}
	c, err := cache.New(opts)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, c.Close)
	return c, nil
}

// ServeHTTP implements http.Handler.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Invalidate applies an invalidation of cache keys and tags at version to
// every cache tier. L1 is always invalidated; an error means L2 could not
// be reached (the caches replay the invalidation on it when it returns).
func (s *Service) Invalidate(ctx context.Context, version uint64, names ...string) error {
	// The three caches' L2 writes go out together: one round trip's wait,
	// not three, on the invalidation's path.
	var wg sync.WaitGroup
	var errs [3]error
	wg.Go(func() { errs[0] = s.products.Invalidate(ctx, version, names...) })
	wg.Go(func() { errs[1] = s.pages.Invalidate(ctx, version, names...) })
	errs[2] = s.summary.Invalidate(ctx, version, names...)
	wg.Wait()
	return errors.Join(errs[:]...)
}

// InvalidateLocal is Invalidate for this instance's L1 caches only, for an
// instance applying an event whose L2 tombstones the relay wrote before
// publishing it; flush empties them (everything read before version).
func (s *Service) InvalidateLocal(ctx context.Context, version uint64, flush bool, names ...string) {
	if flush {
		s.products.FlushL1(ctx, version)
		s.pages.FlushL1(ctx, version)
		s.summary.FlushL1(ctx, version)
		return
	}
	s.products.InvalidateL1(ctx, version, names...)
	s.pages.InvalidateL1(ctx, version, names...)
	s.summary.InvalidateL1(ctx, version, names...)
}

// InvalidateAll empties every cache of the service, in every tier, and
// refuses fills read before version: for a change that does not say what
// it changed.
func (s *Service) InvalidateAll(ctx context.Context, version uint64) error {
	return errors.Join(
		s.products.InvalidateAll(ctx, version),
		s.pages.InvalidateAll(ctx, version),
		s.summary.InvalidateAll(ctx, version))
}

// DropLocal forgets what this instance's L1 caches hold (see
// cache.Cache.DropL1), for an instance that missed invalidations.
func (s *Service) DropLocal() {
	s.products.DropL1()
	s.pages.DropL1()
	s.summary.DropL1()
}

// Close stops the caches' background work.
func (s *Service) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// handle adapts a handler that returns an error.
func (s *Service) handle(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// writeError maps an error to a status and a JSON body; it is the only place
// that does.
func (s *Service) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	msg := "internal error"
	var maxErr *http.MaxBytesError
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, cache.ErrNotFound):
		status, msg = http.StatusNotFound, err.Error()
	case errors.Is(err, ErrInvalid):
		status, msg = http.StatusBadRequest, err.Error()
	case errors.Is(err, ErrUnauthorized):
		status, msg = http.StatusUnauthorized, err.Error()
		w.Header().Set("WWW-Authenticate", `Bearer realm="strata"`)
	case errors.Is(err, ErrPrecondition):
		status, msg = http.StatusPreconditionFailed, err.Error()
	case errors.As(err, &maxErr):
		status, msg = http.StatusRequestEntityTooLarge, fmt.Sprintf("catalog: body larger than %d bytes", maxBody)
	default:
		s.cfg.Logger.Error("catalog: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, map[string]string{"error": strings.TrimPrefix(msg, "catalog: ")})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// cacheable sets the caching fields of a response and reports whether the
// request's own validators match, in which case a 304 was written.
func (s *Service) cacheable(w http.ResponseWriter, r *http.Request, etag string, version uint64, keys ...string) bool {
	h := w.Header()
	if s.cfg.MaxAge > 0 {
		h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(s.cfg.MaxAge/time.Second)))
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	h.Set("Etag", etag)
	h.Set("X-Cache-Version", strconv.FormatUint(version, 10))
	h.Set("Surrogate-Key", strings.Join(keys, " "))
	if httpcache.NotModified(r, h) {
		w.WriteHeader(http.StatusNotModified)
		return true
	}
	return false
}

// source names where a cache result came from, in the API's terms.
func source(src string) string {
	if src == cache.SourceLoader {
		return "database"
	}
	return src
}

// DataResponse is the body of GET /api/data.
type DataResponse struct {
	Timestamp time.Time `json:"timestamp"`
	Message   string    `json:"message"`
	CacheHit  bool      `json:"cache_hit"`
	Source    string    `json:"source"`
	QueryTime string    `json:"query_time"`
	Version   uint64    `json:"version"`
	Data      Summary   `json:"data"`
}

func (s *Service) getData(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	res, err := s.summary.Get(r.Context(), "summary", func(ctx context.Context, _ string) (cache.Item[Summary], error) {
		sum, v, err := s.cfg.Repo.Summary(ctx)
		return cache.Item[Summary]{Value: sum, Version: v, Tags: []string{"products"}}, err
	})
	if err != nil {
		return err
	}
	took := time.Since(start)
	if s.cacheable(w, r, fmt.Sprintf(`"d%d"`, res.Version), res.Version, "products") {
		return nil
	}
	writeJSON(w, http.StatusOK, DataResponse{
		Timestamp: s.cfg.Now().UTC(),
		Message:   "Hello from the Strata catalog API",
		CacheHit:  res.Source != cache.SourceLoader,
		Source:    source(res.Source),
		QueryTime: took.String(),
		Version:   res.Version,
		Data:      res.Value,
	})
	return nil
}

// intParam parses an optional non-negative integer query parameter.
func intParam(r *http.Request, name string, def, maxV int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > maxV {
		return 0, fmt.Errorf("%w: %s must be an integer from 0 to %d", ErrInvalid, name, maxV)
	}
	return n, nil
}

func (s *Service) listProducts(w http.ResponseWriter, r *http.Request) error {
	offset, err := intParam(r, "offset", 0, 1_000_000)
	if err != nil {
		return err
	}
	limit, err := intParam(r, "limit", 20, 100)
	if err != nil {
		return err
	}
	if limit == 0 {
		return fmt.Errorf("%w: limit must be at least 1", ErrInvalid)
	}
	key := fmt.Sprintf("products:%d:%d", offset, limit)
	res, err := s.pages.Get(r.Context(), key, func(ctx context.Context, _ string) (cache.Item[Page], error) {
		p, v, err := s.cfg.Repo.Products(ctx, offset, limit)
		return cache.Item[Page]{Value: p, Version: v, Tags: []string{"products"}}, err
	})
	if err != nil {
		return err
	}
	if s.cacheable(w, r, fmt.Sprintf(`"l%d"`, res.Version), res.Version, "products") {
		return nil
	}
	writeJSON(w, http.StatusOK, res.Value)
	return nil
}

func productID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: product id must be a positive integer", ErrInvalid)
	}
	return id, nil
}

func productETag(p Product) string { return fmt.Sprintf(`"p%d-v%d"`, p.ID, p.Version) }

func (s *Service) getProduct(w http.ResponseWriter, r *http.Request) error {
	id, err := productID(r)
	if err != nil {
		return err
	}
	key := "product:" + strconv.FormatInt(id, 10)
	res, err := s.products.Get(r.Context(), key, func(ctx context.Context, _ string) (cache.Item[Product], error) {
		p, v, err := s.cfg.Repo.Product(ctx, id)
		if errors.Is(err, ErrNotFound) {
			err = fmt.Errorf("%w: %w", cache.ErrNotFound, err) // cached as a negative entry
		}
		return cache.Item[Product]{Value: p, Version: v}, err
	})
	if err != nil {
		return err
	}
	// A product is tagged with itself only: "products" tags the lists
	// and the summary, which every product change purges, while a change
	// to one product leaves the others cached.
	if s.cacheable(w, r, productETag(res.Value), res.Version, key) {
		return nil
	}
	writeJSON(w, http.StatusOK, res.Value)
	return nil
}

// authorized checks the admin bearer token in constant time.
func (s *Service) authorized(r *http.Request) bool { return httpapi.Bearer(r, s.cfg.AdminToken) }

// ifMatchVersion extracts the version from an If-Match of the product's own
// ETag form; 0 means no precondition.
func ifMatchVersion(r *http.Request, id int64) (int64, error) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "" || v == "*" {
		return 0, nil
	}
	var gotID, version int64
	if _, err := fmt.Sscanf(v, `"p%d-v%d"`, &gotID, &version); err != nil || gotID != id || version <= 0 {
		return 0, fmt.Errorf("%w: If-Match %s is not this product's ETag", ErrPrecondition, v)
	}
	return version, nil
}

func (s *Service) putProduct(w http.ResponseWriter, r *http.Request) error {
	if !s.authorized(r) {
		return ErrUnauthorized
	}
	id, err := productID(r)
	if err != nil {
		return err
	}
	ifVersion, err := ifMatchVersion(r, id)
	if err != nil {
		return err
	}
	var u Update
	if err := httpapi.DecodeJSON(w, r, maxBody, &u); err != nil {
		if errors.Is(err, httpapi.ErrBadJSON) {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		return err
	}
	if err := u.Validate(); err != nil {
		return err
	}
	p, err := s.cfg.Repo.UpdateProduct(r.Context(), id, u, ifVersion)
	if err != nil {
		return err
	}
	if s.cfg.AfterWrite != nil {
		v, err := s.cfg.AfterWrite(r.Context())
		if v > 0 {
			w.Header().Set("X-Data-Version", strconv.FormatUint(v, 10))
		}
		if err != nil {
			s.cfg.Logger.Warn("catalog: invalidation after write incomplete", "product", id, "err", err)
			w.Header().Set("X-Invalidation", "pending")
		} else {
			w.Header().Set("X-Invalidation", "completed")
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Etag", productETag(p))
	writeJSON(w, http.StatusOK, p)
	return nil
}
