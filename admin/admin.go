package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
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
	// Logger receives internal errors. Default slog.Default().
	Logger *slog.Logger
	// MaxWait caps ?wait on status requests. Default 5 minutes.
	MaxWait time.Duration
}

// Errors mapped to statuses by writeError.
var (
	errUnauthorized = errors.New("admin: missing or wrong bearer token")
	errBadRequest   = errors.New("admin: bad request")
)

const maxBody = 1 << 20

type handler struct {
	cfg Config
	mux *http.ServeMux
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
	if cfg.MaxWait == 0 {
		cfg.MaxWait = 5 * time.Minute
	}
	h := &handler{cfg: cfg, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	h.mux.Handle("GET /metrics", h.auth(func(w http.ResponseWriter, r *http.Request) error {
		if cfg.Metrics == nil {
			http.NotFound(w, r)
			return nil
		}
		cfg.Metrics.ServeHTTP(w, r)
		return nil
	}))
	h.mux.Handle("GET /cache/inventory", h.auth(func(w http.ResponseWriter, r *http.Request) error {
		if cfg.Inventory == nil {
			http.NotFound(w, r)
			return nil
		}
		cfg.Inventory.ServeHTTP(w, r)
		return nil
	}))
	h.mux.Handle("POST /invalidations", h.auth(h.createInvalidation))
	h.mux.Handle("GET /invalidations/{id}", h.auth(h.getInvalidation))
	return h.mux, nil
}

// auth wraps an error-returning handler with the token check.
func (h *handler) auth(fn func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := errUnauthorized
		if httpapi.Bearer(r, h.cfg.Token) {
			err = fn(w, r)
		}
		if err != nil {
			h.writeError(w, r, err)
		}
	})
}

func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client left; there is no one to answer
	}
	status := http.StatusInternalServerError
	msg := err.Error()
	var maxErr *http.MaxBytesError
	switch {
	case errors.Is(err, errUnauthorized):
		status = http.StatusUnauthorized
		w.Header().Set("WWW-Authenticate", `Bearer realm="strata-admin"`)
	case errors.Is(err, errBadRequest), errors.Is(err, inval.ErrInvalid), errors.Is(err, httpapi.ErrBadJSON):
		status = http.StatusBadRequest
	case errors.As(err, &maxErr):
		status, msg = http.StatusRequestEntityTooLarge, fmt.Sprintf("admin: body larger than %d bytes", maxBody)
	case errors.Is(err, inval.ErrConflict):
		status = http.StatusConflict
	case errors.Is(err, inval.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, context.DeadlineExceeded):
		status = http.StatusGatewayTimeout
	default:
		h.cfg.Logger.Error("admin: request failed", "path", r.URL.Path, "err", err)
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

// CreateRequest is the body of POST /invalidations.
type CreateRequest struct {
	Paths           []string `json:"paths"`
	Tags            []string `json:"tags"`
	CallerReference string   `json:"callerReference"`
}

func (h *handler) createInvalidation(w http.ResponseWriter, r *http.Request) error {
	var req CreateRequest
	if err := httpapi.DecodeJSON(w, r, maxBody, &req); err != nil {
		return err
	}
	inv, err := h.cfg.Tracker.Create(r.Context(), req.Paths, req.Tags, req.CallerReference)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/invalidations/"+inv.ID)
	writeJSON(w, http.StatusCreated, inv)
	return nil
}

func (h *handler) getInvalidation(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	inv, err := h.cfg.Tracker.Get(id)
	if err != nil {
		return err
	}
	if v := r.URL.Query().Get("wait"); v != "" && inv.Status != inval.StatusCompleted {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("%w: wait must be a duration such as 30s", errBadRequest)
		}
		ctx, cancel := context.WithTimeout(r.Context(), min(d, h.cfg.MaxWait))
		defer cancel()
		inv, err = h.cfg.Tracker.Wait(ctx, id)
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		// On timeout, report the current (InProgress) status.
		if err != nil {
			if inv, err = h.cfg.Tracker.Get(id); err != nil {
				return err
			}
		}
	}
	writeJSON(w, http.StatusOK, inv)
	return nil
}
