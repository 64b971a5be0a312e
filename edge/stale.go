package edge

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/strata-cache/strata/edge/store"
	"github.com/strata-cache/strata/httpcache"
)

// Serving stale responses.
//
// RFC 9111 section 4.2.4 lets a cache serve a stale response only when it
// is disconnected from the origin or explicitly allowed, and never when
// must-revalidate, proxy-revalidate or no-cache forbid it. The edge serves
// stale:
//   - within the response's stale-while-revalidate window (RFC 5861), while
//     one background request per key revalidates it;
//   - within the response's or the request's stale-if-error window when the
//     origin answers 500, 502, 503 or 504 or cannot be reached;
//   - when the origin cannot be reached at all, for as long as the response
//     is retained, unless s-maxage forbids it (s-maxage implies
//     proxy-revalidate; an explicit stale-if-error still allows it).
//
// s-maxage does not cancel an explicit stale-while-revalidate or
// stale-if-error: those are the origin's own permission to this cache, and
// CDN users set them together.

// errOriginDown is returned instead of contacting an origin that failed
// to connect moments ago.
var errOriginDown = errors.New("edge: origin recently unreachable")

// staleWhileRevalidate reports whether en, aged age, may be served stale
// while it is revalidated in the background.
func staleWhileRevalidate(en *store.Entry, req httpcache.Request, age time.Duration) bool {
	cc := en.Directives
	if !cc.HasStaleWhileRevalidate || cc.NoCache || cc.MustRevalidate || cc.ProxyRevalidate ||
		req.NoCache || tooOld(req, age) || req.HasMinFresh {
		return false
	}
	return age-lifetime(en) <= cc.StaleWhileRevalidate
}

// staleOnError reports whether en, aged age, may be served in place of an
// origin failure. unreachable is true when no response came at all.
func staleOnError(en *store.Entry, req httpcache.Request, age time.Duration, unreachable bool) bool {
	cc := en.Directives
	if cc.NoCache || cc.MustRevalidate || cc.ProxyRevalidate {
		return false
	}
	staleness := age - lifetime(en)
	if cc.HasStaleIfError && staleness <= cc.StaleIfError {
		return true
	}
	// A client's own stale-if-error does not outweigh the origin's s-maxage,
	// which forbids shared caches to serve stale (RFC 9111 section 5.2.2.10).
	if req.HasStaleIfError && !cc.HasSMaxAge && staleness <= req.StaleIfError {
		return true
	}
	return unreachable && !cc.HasSMaxAge
}

// serverError reports whether status is one stale-if-error covers.
func serverError(status int) bool {
	switch status {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// revalidateInBackground starts one background fetch of key, unless one is
// already running. The fetch runs on its own context (bounded by
// OriginTimeout) and Close waits for it.
func (e *Edge) revalidateInBackground(b *Behavior, r *http.Request, key string, stale *store.Entry) {
	// One revalidation per stored response: variants of a URL each get theirs.
	if _, running := e.refreshing.LoadOrStore(stale.Key, struct{}{}); running {
		return
	}
	req := r.Clone(context.Background()) // its own header copy: r is reused after we return
	e.background.Add(1)
	go func() {
		defer e.background.Done()
		defer e.refreshing.Delete(stale.Key)
		res, err := e.fetch(b, req, key, stale, true, nil, "")
		if err != nil {
			e.cfg.Logger.Warn("edge: background revalidation failed", "behavior", b.Name, "key", key, "err", err)
			return
		}
		if res.rest != nil {
			res.rest.Close()
		}
	}()
}

// Close waits for background revalidations to finish. The Edge keeps
// serving; call Close after the HTTP server has shut down.
func (e *Edge) Close() { e.background.Wait() }

// originDown reports whether b's origin failed to connect within the last
// OriginRetryAfter.
func (e *Edge) originDown(b *Behavior) bool {
	if b.state == nil {
		return false
	}
	until := b.state.downUntil.Load()
	return until != 0 && e.cfg.Now().UnixNano() < until
}

// noteOriginError remembers that b's origin could not be connected to. Only
// a failed dial counts: one slow URL (a timeout) or one broken body says
// nothing about the origin's other URLs.
func (e *Edge) noteOriginError(b *Behavior, err error) {
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" && b.state != nil {
		b.state.downUntil.Store(e.cfg.Now().Add(e.cfg.OriginRetryAfter).UnixNano())
	}
}

// errorStatus is the status for an origin failure: 504 when it timed out,
// 502 otherwise.
func errorStatus(err error) int {
	if errors.Is(err, context.DeadlineExceeded) {
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}
