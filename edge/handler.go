package edge

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/strata-cache/strata/edge/store"
	"github.com/strata-cache/strata/httpcache"
)

// ServeFresh answers r only when ServeHTTP would answer it as a fresh hit:
// admitted by the behavior's access checks, and needing nothing but the
// stored response (no origin request or revalidation; ranges and the
// client's own preconditions are answered from the stored response, as
// ServeHTTP does). It reports whether it answered; when it did not, it has
// written nothing and ServeHTTP must answer r (and refuses what admit
// refused). It never waits for an origin, keeps neither r nor w after it
// returns, and never changes a slice it passed to w.Write (see
// edge/fastpath).
func (e *Edge) ServeFresh(w http.ResponseWriter, r *http.Request) bool {
	if uncleanPath(r.URL.Path) {
		return false
	}
	b := e.behavior(r.URL)
	if b == nil {
		return false
	}
	if b.guarded() {
		var refused *refusal
		if r, refused = e.admit(b, r); refused != nil {
			return false
		}
	}
	if !b.cachedMethod(r.Method) || b.cachingDisabled() {
		return false
	}
	key := e.requestKey(b, r)
	reqCC := httpcache.ParseRequest(r.Header)
	now := e.cfg.Now()
	en, _, _ := e.lookup(key, r.Header)
	if en == nil || !e.usable(en, reqCC, httpcache.CurrentAge(en.Timing, now)) {
		return false
	}
	if b.ResponseHeaders != nil {
		w = &headerWriter{ResponseWriter: w, h: b.ResponseHeaders}
	}
	if needsServeContent(r) {
		// http.ServeContent writes ranges through a buffer it reuses.
		w = copyingWriter{w}
	}
	e.sampleCardinality(b, r)
	e.cfg.Recorder.Request(b.Name, ResultHit)
	e.serveEntry(w, r, en, true, now, httpcache.CacheStatus{Hit: true}, e.xHit, encodingFor(b, r))
	return true
}

// copyingWriter passes w a copy of every slice written to it.
type copyingWriter struct{ http.ResponseWriter }

func (c copyingWriter) Write(p []byte) (int, error) {
	return c.ResponseWriter.Write(bytes.Clone(p))
}

// sampleCardinality records r's key parts for the behavior's key
// cardinality report, for one request in CardinalitySample.
func (e *Edge) sampleCardinality(b *Behavior, r *http.Request) {
	if e.cfg.CardinalitySample == 1 || rand.Uint32()%uint32(e.cfg.CardinalitySample) == 0 {
		b.state.card.record(b, r)
	}
}

// ServeHTTP answers r from the store or its behavior's origin.
func (e *Edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if uncleanPath(r.URL.Path) {
		// Behaviors are chosen on the path as sent, but origins (the static
		// site, most servers) resolve dot segments and repeated slashes: a
		// path such as /public/../private/x would select /public/* and be
		// served /private/x, past that behavior's signature check.
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		http.Error(w, "path with dot segments or empty segments", http.StatusBadRequest)
		return
	}
	b := e.behavior(r.URL)
	if b == nil {
		http.Error(w, "no behavior matches this path", http.StatusNotFound)
		return
	}
	if b.ResponseHeaders != nil {
		w = &headerWriter{ResponseWriter: w, h: b.ResponseHeaders}
	}
	if b.guarded() {
		var refused *refusal
		if r, refused = e.admit(b, r); refused != nil {
			e.refuse(w, b, refused)
			return
		}
	}
	if !b.cachedMethod(r.Method) {
		r, stop := forwardEarlyHints(w, r)
		e.pass(w, r, b, stop, httpcache.FwdMethod, "")
		return
	}
	if b.cachingDisabled() {
		r, stop := forwardEarlyHints(w, r)
		e.pass(w, r, b, stop, httpcache.FwdBypass, "caching-disabled")
		return
	}
	key := e.requestKey(b, r)
	e.sampleCardinality(b, r)
	enc := encodingFor(b, r)
	reqCC := httpcache.ParseRequest(r.Header)
	now := e.cfg.Now()
	stale, flightKey, fwd := e.lookup(key, r.Header)
	ok := stale != nil
	var age time.Duration
	if ok {
		age = httpcache.CurrentAge(stale.Timing, now)
		if e.usable(stale, reqCC, age) {
			e.cfg.Recorder.Request(b.Name, ResultHit)
			e.serveEntry(w, r, stale, true, now, httpcache.CacheStatus{Hit: true}, e.xHit, enc)
			return
		}
		if staleWhileRevalidate(stale, reqCC, age) {
			e.revalidateInBackground(b, r, key, stale)
			e.cfg.Recorder.Request(b.Name, ResultStale)
			e.serveEntry(w, r, stale, true, now, httpcache.CacheStatus{Hit: true, Detail: "stale-while-revalidate"}, e.xStale, enc)
			return
		}
		fwd = httpcache.FwdStale
		if reqCC.NoCache || tooOld(reqCC, age) || reqCC.HasMinFresh {
			fwd = httpcache.FwdRequest
		}
	}
	if reqCC.OnlyIfCached {
		e.cfg.Recorder.Request(b.Name, ResultMiss)
		e.setStatus(w.Header(), httpcache.CacheStatus{Fwd: fwd, Detail: "only-if-cached"}, e.xMiss)
		http.Error(w, "not in cache", http.StatusGatewayTimeout)
		return
	}

	// Requests that must not share a response fetch alone.
	alone := reqCC.NoStore || r.Header.Get("Authorization") != ""
	var res *fetched
	var err error
	collapsed := false
	r, stopHints := forwardEarlyHints(w, r) // only now: hits do not pay for it
	switch {
	case e.originDown(b):
		err = errOriginDown
	case alone:
		res, err = e.fetch(b, r, key, stale, !reqCC.NoStore, nil, "")
	default:
		res, collapsed, err = e.collapsedFetch(b, r, key, flightKey, stale)
	}
	stopHints()
	if err != nil {
		e.noteOriginError(b, err)
		if ok && staleOnError(stale, reqCC, age, true) {
			e.cfg.Recorder.Request(b.Name, ResultStale)
			e.serveEntry(w, r, stale, true, now, httpcache.CacheStatus{Fwd: fwd, Detail: "stale-if-error"}, e.xStale, enc)
			return
		}
		e.cfg.Recorder.Request(b.Name, ResultError)
		if !errors.Is(err, errOriginDown) && r.Context().Err() == nil {
			e.cfg.Logger.Warn("edge: origin fetch failed", "behavior", b.Name, "key", key, "err", err)
		}
		e.setStatus(w.Header(), httpcache.CacheStatus{Fwd: fwd, Detail: "origin-error"}, e.xMiss)
		http.Error(w, "origin unavailable", errorStatus(err))
		return
	}
	if ok && res.refreshed == nil && serverError(res.status) && staleOnError(stale, reqCC, age, false) {
		if res.rest != nil {
			res.rest.Close()
		}
		e.cfg.Recorder.Request(b.Name, ResultStale)
		e.serveEntry(w, r, stale, true, now, httpcache.CacheStatus{Fwd: fwd, FwdStatus: res.status, Detail: "stale-if-error"}, e.xStale, enc)
		return
	}
	if res.refreshed != nil {
		e.cfg.Recorder.Request(b.Name, ResultRefreshHit)
		e.serveEntry(w, r, res.refreshed, false, now, httpcache.CacheStatus{Fwd: fwd, FwdStatus: http.StatusNotModified, Stored: res.stored, Collapsed: collapsed, Detail: res.reason}, e.xRHit, enc)
		return
	}
	result, xcache := ResultMiss, e.xMiss
	switch {
	case collapsed:
		// The origin was not asked on this request's behalf.
		result, xcache = ResultCollapsed, e.xHit
	case res.shared == nil && !res.stored:
		result = ResultPass
	}
	e.cfg.Recorder.Request(b.Name, result)
	e.serveFetched(w, r, res, httpcache.CacheStatus{Fwd: fwd, FwdStatus: res.status, Stored: res.stored, Collapsed: collapsed, Detail: res.reason}, xcache, enc)
}

// forwardEarlyHints makes the origin's 103 Early Hints, on a request this
// client makes to the origin, reach this client. Other 1xx responses concern
// only the hop they were sent on. Hints are never stored or replayed.
func forwardEarlyHints(w http.ResponseWriter, r *http.Request) (*http.Request, func()) {
	if !r.ProtoAtLeast(1, 1) {
		return r, func() {}
	}
	var mu sync.Mutex
	done := false
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, hints textproto.MIMEHeader) error {
		if code != http.StatusEarlyHints {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		if done {
			return nil
		}
		h := w.Header()
		for k, vs := range hints {
			h[k] = vs
		}
		w.WriteHeader(code)
		for k := range hints {
			delete(h, k)
		}
		return nil
	}}
	return r.WithContext(httptrace.WithClientTrace(r.Context(), trace)), func() { mu.Lock(); done = true; mu.Unlock() }
}

// usable reports whether stored entry en, aged age, may answer a request
// with directives req without contacting the origin (RFC 9111 section 4.2).
func (e *Edge) usable(en *store.Entry, req httpcache.Request, age time.Duration) bool {
	cc := en.Directives
	if cc.NoCache || req.NoCache {
		return false
	}
	if tooOld(req, age) {
		return false
	}
	left := lifetime(en) - age
	if req.HasMinFresh && left < req.MinFresh {
		return false
	}
	if left > 0 {
		return true
	}
	// Stale: only a request's max-stale allows it, and never past
	// must-revalidate or proxy-revalidate.
	// s-maxage implies proxy-revalidate for a shared cache (RFC 9111
	// section 5.2.2.10).
	if !req.HasMaxStale || cc.MustRevalidate || cc.ProxyRevalidate || cc.HasSMaxAge {
		return false
	}
	return req.MaxStaleUnbounded || -left <= req.MaxStale
}

// tooOld reports whether the request's max-age rules out a response aged
// age. max-age=0 always does: clients send it to ask for validation, and
// ages are counted in whole seconds on the wire.
func tooOld(req httpcache.Request, age time.Duration) bool {
	return req.HasMaxAge && (age > req.MaxAge || req.MaxAge == 0)
}

// safeMethod reports whether a method is known to be safe (RFC 9110 section
// 9.2.1 and WebDAV's read methods). Any other method, known or not, may change
// the resource, so its success invalidates (RFC 9111 section 4.4).
func safeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, "PROPFIND", "REPORT", "SEARCH":
		return true
	}
	return false
}

// pass forwards a request the cache does not handle (unsafe methods and
// others, and everything when caching is disabled) and invalidates as RFC
// 9111 section 4.4 requires. fwd and detail go in Cache-Status.
func (e *Edge) pass(w http.ResponseWriter, r *http.Request, b *Behavior, stopHints func(), fwd, detail string) {
	out := toOrigin(b, r.Clone(r.Context()))
	resp, err := b.Origin.RoundTrip(out)
	stopHints()
	if err != nil {
		e.cfg.Recorder.OriginFetch(b.Name, 0)
		e.cfg.Recorder.Request(b.Name, ResultError)
		e.setStatus(w.Header(), httpcache.CacheStatus{Fwd: fwd, Detail: "origin-error"}, e.xMiss)
		http.Error(w, "origin unavailable", errorStatus(err))
		return
	}
	defer resp.Body.Close()
	e.cfg.Recorder.OriginFetch(b.Name, resp.StatusCode)
	e.cfg.Recorder.Request(b.Name, ResultPass)
	if !safeMethod(r.Method) && resp.StatusCode >= 200 && resp.StatusCode < 400 {
		e.invalidateURIs(r, resp.Header)
	}
	h := w.Header()
	copyHeader(h, resp.Header)
	e.setStatus(h, httpcache.CacheStatus{Fwd: fwd, FwdStatus: resp.StatusCode, Detail: detail}, e.xMiss)
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// urlKeyFor is the URL part of the cache key of a request for u at
// scheme://host, under the behavior u's path selects.
func (e *Edge) urlKeyFor(scheme, host string, u *url.URL) string {
	if b := e.behavior(u); b != nil && b.CachePolicy != nil {
		return policyURL(b.CachePolicy, scheme, host, u.EscapedPath(), u.RawQuery)
	}
	return keyFor(scheme, host, u.RequestURI())
}

// invalidateURIs purges the target URI of r and the same-origin URIs in the
// response's Location and Content-Location fields.
func (e *Edge) invalidateURIs(r *http.Request, h http.Header) {
	scheme := requestScheme(r)
	keys := []string{e.urlKeyFor(scheme, r.Host, r.URL)}
	for _, f := range []string{"Location", "Content-Location"} {
		v := h.Get(f)
		if v == "" {
			continue
		}
		u, err := r.URL.Parse(v)
		if err != nil || (u.Host != "" && !strings.EqualFold(u.Host, r.Host)) {
			continue
		}
		keys = append(keys, e.urlKeyFor(scheme, r.Host, u))
	}
	sels := make([]store.Selector, len(keys))
	for i, k := range keys {
		sels[i] = store.Selector{Kind: store.KindURL, Value: k}
	}
	// Like a purge by URL: fetches in flight do not store the old response,
	// and every Vary variant goes with its URL.
	e.recordPurge(sels, false, 0)
	for _, s := range sels {
		e.cfg.Store.Purge(s)
	}
}

// uncleanPath reports whether p, a decoded request path, has a "." or ".."
// segment or an empty segment other than a trailing one (//): a path an
// origin may resolve to another path than the one behaviors were matched
// against.
func uncleanPath(p string) bool {
	if p == "" || p == "*" {
		return false
	}
	p = strings.TrimPrefix(p, "/")
	for p != "" {
		var seg string
		seg, p, _ = strings.Cut(p, "/")
		if seg == "." || seg == ".." {
			return true
		}
		if seg == "" {
			return true // "//": the trailing slash was cut with its segment
		}
	}
	return false
}
