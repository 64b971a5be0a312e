package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/strata-cache/strata/internal/httpapi"
	"github.com/strata-cache/strata/inval"
)

// Config configures the admin handler.
type Config struct {
	// Token authorises calls. Required: an empty token is refused by New.
	Token string
	// Metrics serves /metrics; nil answers 404.
	Metrics http.Handler
	// Tracker creates and reports invalidations. Required.
	Tracker *inval.Tracker
	// Inventory serves GET /cache/inventory (the application cache's hot
	// keys and the triggers that invalidate them); nil answers 404.
	Inventory http.Handler
	// Reload re-reads the process's configuration file, for POST
	// /config/reload; nil answers 404 (the process has no file to reload).
	// The context carries the caller (see Caller). An *InvalidConfigError
	// answers 400 with every problem; the hook must then leave the running
	// configuration as it was.
	Reload func(ctx context.Context) (ReloadSummary, error)
	// Explain says how the edge would handle a request, for GET /explain:
	// the handler builds the request from the query and answers the result
	// as JSON; nil answers 404.
	Explain func(r *http.Request) any
	// KeyCardinality reports how many cache keys the edge holds and what
	// makes them many, for GET /cache/key-cardinality, answered as JSON;
	// nil answers 404.
	KeyCardinality func() any
	// Logger receives the call log and internal errors. Default
	// slog.Default().
	Logger *slog.Logger
	// MaxWait caps ?wait on status and purge requests. Default 5 minutes.
	MaxWait time.Duration
	// PurgeWait is how long POST /purge waits for completion when the
	// request gives no ?wait. Default 30 seconds.
	PurgeWait time.Duration
	// RateLimit is how many invalidation items (paths, URLs and tags; all
	// counts as one) this handler accepts per second, across callers, in
	// POST /invalidations and POST /purge. Default 1000; negative means no
	// limit.
	RateLimit float64
	// RateBurst is how many items may be asked for at once after a quiet
	// spell. Default 10000 (inval.MaxPaths). A request larger than the
	// burst is accepted when the bucket is full, and the bucket then
	// refills from below zero.
	RateBurst int
}

// Errors mapped to statuses by writeError.
var (
	errUnauthorized = errors.New("admin: missing or wrong bearer token")
	errBadRequest   = errors.New("admin: bad request")
	errNotFound     = errors.New("admin: not found")
)

// rateLimitedError answers 429 with Retry-After.
type rateLimitedError struct{ retryAfter time.Duration }

func (e *rateLimitedError) Error() string {
	return fmt.Sprintf("admin: too many invalidation items; retry after %v", e.retryAfter.Round(time.Millisecond))
}

// notCompletedError answers 504 to a purge that did not complete in time,
// with the invalidation, which goes on.
type notCompletedError struct {
	inv  inval.Invalidation
	wait time.Duration
}

func (e *notCompletedError) Error() string {
	return fmt.Sprintf("admin: purge %s not completed within %v; it goes on: GET /invalidations/%s", e.inv.ID, e.wait, e.inv.ID)
}

// maxBody caps a request body: inval.MaxPaths items of a few hundred bytes.
const maxBody = 4 << 20

// List limits for GET /invalidations.
const (
	defaultListLimit = 100
	maxListLimit     = 1000
)

// Call log attribute keys.
const (
	logBy     = "by"
	logMethod = "method"
	logPath   = "path"
	logStatus = "status"
	logErr    = "err"
)

type handler struct {
	cfg    Config
	mux    *http.ServeMux
	bucket *bucket // nil: no rate limit
}

// New returns the admin http.Handler.
func New(cfg Config) (http.Handler, error) {
	if cfg.Token == "" {
		return nil, errors.New("admin: a token is required")
	}
	if cfg.Tracker == nil {
		return nil, errors.New("admin: Config.Tracker is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 5 * time.Minute
	}
	if cfg.PurgeWait <= 0 {
		cfg.PurgeWait = 30 * time.Second
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = 1000
	}
	if cfg.RateBurst <= 0 {
		cfg.RateBurst = inval.MaxPaths
	}
	h := &handler{cfg: cfg, mux: http.NewServeMux()}
	if cfg.RateLimit > 0 {
		h.bucket = newBucket(cfg.RateLimit, cfg.RateBurst, time.Now)
	}
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	h.mux.Handle("GET /metrics", h.auth(slog.LevelDebug, func(w http.ResponseWriter, r *http.Request, _ *callLog) error {
		if cfg.Metrics == nil {
			http.NotFound(w, r)
			return nil
		}
		cfg.Metrics.ServeHTTP(w, r)
		return nil
	}))
	h.mux.Handle("GET /cache/inventory", h.auth(slog.LevelDebug, func(w http.ResponseWriter, r *http.Request, _ *callLog) error {
		if cfg.Inventory == nil {
			http.NotFound(w, r)
			return nil
		}
		cfg.Inventory.ServeHTTP(w, r)
		return nil
	}))
	h.mux.Handle("POST /config/reload", h.auth(slog.LevelInfo, h.reload))
	h.mux.Handle("GET /explain", h.auth(slog.LevelDebug, h.explain))
	h.mux.Handle("GET /cache/key-cardinality", h.auth(slog.LevelDebug, func(w http.ResponseWriter, r *http.Request, _ *callLog) error {
		if cfg.KeyCardinality == nil {
			return fmt.Errorf("%w: this process reports no key cardinality", errNotFound)
		}
		writeJSON(w, http.StatusOK, cfg.KeyCardinality())
		return nil
	}))
	h.mux.Handle("POST /invalidations", h.auth(slog.LevelInfo, h.createInvalidation))
	h.mux.Handle("POST /purge", h.auth(slog.LevelInfo, h.purge))
	h.mux.Handle("GET /invalidations", h.auth(slog.LevelDebug, h.listInvalidations))
	h.mux.Handle("GET /invalidations/{id}", h.auth(slog.LevelDebug, h.getInvalidation))
	return h.mux, nil
}

// callLog collects what a call did, for its log line.
type callLog struct {
	attrs []slog.Attr
}

func (l *callLog) add(attrs ...slog.Attr) { l.attrs = append(l.attrs, attrs...) }

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// who names the caller: the token is shared, so the caller is "admin" at
// the connection's remote address.
func who(r *http.Request) string { return "admin@" + r.RemoteAddr }

// auth wraps an error-returning handler with the token check and the call
// log: every call is logged with who asked, what and the result, at level
// (successful reads at Debug, changes at Info), and at Warn when refused
// or failed.
func (h *handler) auth(level slog.Level, fn func(http.ResponseWriter, *http.Request, *callLog) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		lg := &callLog{}
		err := errUnauthorized
		if httpapi.Bearer(r, h.cfg.Token) {
			err = fn(sw, r, lg)
		}
		if err != nil {
			h.writeError(sw, r, err)
			lg.add(slog.String(logErr, err.Error()))
		}
		status := sw.status
		if status == 0 {
			status = 499 // the client left before an answer
		}
		if status >= 400 {
			level = max(level, slog.LevelWarn)
		}
		attrs := append([]slog.Attr{slog.String(logBy, who(r)), slog.String(logMethod, r.Method),
			slog.String(logPath, r.URL.RequestURI()), slog.Int(logStatus, status)}, lg.attrs...)
		h.cfg.Logger.LogAttrs(r.Context(), level, "admin: call", attrs...)
	})
}

func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client left; there is no one to answer
	}
	status := http.StatusInternalServerError
	msg := err.Error()
	var (
		maxErr  *http.MaxBytesError
		rateErr *rateLimitedError
		waitErr *notCompletedError
		cfgErr  *InvalidConfigError
	)
	switch {
	case errors.As(err, &cfgErr):
		writeJSON(w, http.StatusBadRequest, struct {
			Reloaded bool            `json:"reloaded"`
			Error    string          `json:"error"`
			Source   string          `json:"source,omitempty"`
			Errors   []ConfigProblem `json:"errors"`
		}{false, cfgErr.Error(), cfgErr.Source, cfgErr.Problems})
		return
	case errors.Is(err, errNotFound):
		status = http.StatusNotFound
	case errors.Is(err, errUnauthorized):
		status = http.StatusUnauthorized
		w.Header().Set("WWW-Authenticate", `Bearer realm="strata-admin"`)
	case errors.Is(err, errBadRequest), errors.Is(err, inval.ErrInvalid), errors.Is(err, httpapi.ErrBadJSON):
		status = http.StatusBadRequest
	case errors.As(err, &maxErr):
		status, msg = http.StatusRequestEntityTooLarge, fmt.Sprintf("admin: body larger than %d bytes", maxBody)
	case errors.As(err, &rateErr):
		status = http.StatusTooManyRequests
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(rateErr.retryAfter.Seconds()))))
	case errors.As(err, &waitErr):
		w.Header().Set("Location", "/invalidations/"+waitErr.inv.ID)
		writeJSON(w, http.StatusGatewayTimeout, struct {
			Error        string             `json:"error"`
			Invalidation inval.Invalidation `json:"invalidation"`
		}{msg, waitErr.inv})
		return
	case errors.Is(err, inval.ErrConflict):
		status = http.StatusConflict
	case errors.Is(err, inval.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, inval.ErrPublish):
		h.cfg.Logger.Error("admin: request failed", logPath, r.URL.Path, logErr, err)
		status, msg = http.StatusServiceUnavailable, "admin: the invalidation could not be stored or published (is Redis down?); try again"
	case errors.Is(err, context.DeadlineExceeded):
		status = http.StatusGatewayTimeout
	default:
		h.cfg.Logger.Error("admin: request failed", logPath, r.URL.Path, logErr, err)
		msg = "internal error"
	}
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// CreateRequest is the body of POST /invalidations and POST /purge.
type CreateRequest struct {
	// Paths are URL paths starting with "/"; a trailing "*" is a prefix.
	Paths []string `json:"paths,omitempty"`
	// URLs are exact absolute http(s) URLs.
	URLs []string `json:"urls,omitempty"`
	// Tags are surrogate keys.
	Tags []string `json:"tags,omitempty"`
	// All invalidates everything, alone.
	All bool `json:"all,omitempty"`
	// Soft marks entries stale instead of removing them.
	Soft bool `json:"soft,omitempty"`
	// CallerReference makes the request idempotent.
	CallerReference string `json:"callerReference,omitempty"`
}

// sample is how many of each kind of item the call log names.
const sample = 5

func firstFew(s []string) []string { return s[:min(len(s), sample)] }

// create decodes, validates and rate-limits a creation request, then
// creates the invalidation. Nothing is published unless all three pass.
func (h *handler) create(w http.ResponseWriter, r *http.Request, lg *callLog) (inval.Invalidation, error) {
	var body CreateRequest
	if err := httpapi.DecodeJSON(w, r, maxBody, &body); err != nil {
		return inval.Invalidation{}, err
	}
	req := inval.Request{Paths: body.Paths, URLs: body.URLs, Tags: body.Tags, All: body.All, Soft: body.Soft,
		CallerReference: body.CallerReference, By: who(r)}
	lg.add(slog.Int("paths", len(req.Paths)), slog.Int("urls", len(req.URLs)), slog.Int("tags", len(req.Tags)),
		slog.Bool("all", req.All), slog.Bool("soft", req.Soft), slog.Any("sample",
			map[string][]string{"paths": firstFew(req.Paths), "urls": firstFew(req.URLs), "tags": firstFew(req.Tags)}))
	if req.CallerReference != "" {
		lg.add(slog.String("callerReference", req.CallerReference))
	}
	if err := req.Validate(); err != nil {
		return inval.Invalidation{}, err
	}
	if h.bucket != nil {
		if wait := h.bucket.take(req.Items()); wait > 0 {
			return inval.Invalidation{}, &rateLimitedError{retryAfter: wait}
		}
	}
	inv, err := h.cfg.Tracker.Create(r.Context(), req)
	if err != nil {
		return inv, err
	}
	lg.add(slog.String("invalidation", inv.ID), slog.Uint64("seq", inv.Seq))
	return inv, nil
}

func (h *handler) createInvalidation(w http.ResponseWriter, r *http.Request, lg *callLog) error {
	inv, err := h.create(w, r, lg)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/invalidations/"+inv.ID)
	writeJSON(w, http.StatusCreated, inv)
	return nil
}

// waitParam parses ?wait, a duration capped by MaxWait; def when absent.
func (h *handler) waitParam(r *http.Request, def time.Duration) (time.Duration, error) {
	v := r.URL.Query().Get("wait")
	if v == "" {
		return min(def, h.cfg.MaxWait), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%w: wait must be a duration such as 30s", errBadRequest)
	}
	return min(d, h.cfg.MaxWait), nil
}

// purge creates an invalidation and answers once it is Completed, or 504
// when ?wait (default PurgeWait) ends first.
func (h *handler) purge(w http.ResponseWriter, r *http.Request, lg *callLog) error {
	wait, err := h.waitParam(r, h.cfg.PurgeWait)
	if err != nil {
		return err
	}
	inv, err := h.create(w, r, lg)
	if err != nil {
		return err
	}
	if inv.Status != inval.StatusCompleted {
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		defer cancel()
		done, err := h.cfg.Tracker.Wait(ctx, inv.ID)
		if errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil {
			if now, gerr := h.cfg.Tracker.Get(r.Context(), inv.ID); gerr == nil {
				inv = now
			}
			return &notCompletedError{inv: inv, wait: wait}
		}
		if err != nil {
			return err
		}
		inv = done
	}
	lg.add(slog.Duration("took", inv.CompleteTime.Sub(inv.CreateTime)))
	w.Header().Set("Location", "/invalidations/"+inv.ID)
	writeJSON(w, http.StatusOK, inv)
	return nil
}

func (h *handler) listInvalidations(w http.ResponseWriter, r *http.Request, _ *callLog) error {
	limit := defaultListLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("%w: limit must be a positive integer", errBadRequest)
		}
		limit = min(n, maxListLimit)
	}
	invs, err := h.cfg.Tracker.List(r.Context(), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Invalidations []inval.Invalidation `json:"invalidations"`
	}{invs})
	return nil
}

func (h *handler) getInvalidation(w http.ResponseWriter, r *http.Request, lg *callLog) error {
	id := r.PathValue("id")
	wait, err := h.waitParam(r, 0)
	if err != nil {
		return err
	}
	inv, err := h.cfg.Tracker.Get(r.Context(), id)
	if err != nil {
		return err
	}
	if wait > 0 && inv.Status != inval.StatusCompleted {
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		defer cancel()
		done, err := h.cfg.Tracker.Wait(ctx, id)
		switch {
		case err == nil:
			inv = done
		case errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil:
			// On timeout, report the current (InProgress) status.
			if inv, err = h.cfg.Tracker.Get(r.Context(), id); err != nil {
				return err
			}
		default:
			return err
		}
	}
	lg.add(slog.String("result", inv.Status))
	writeJSON(w, http.StatusOK, inv)
	return nil
}
