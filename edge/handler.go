package edge

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/strata-cache/strata/edge/store"
	"github.com/strata-cache/strata/httpcache"
)

// ServeHTTP answers r from the store or its behavior's origin.
func (e *Edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b := e.behavior(r.URL.Path)
	if b == nil {
		http.Error(w, "no behavior matches this path", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		e.pass(w, r, b)
		return
	}
	key := cacheKey(r)
	reqCC := httpcache.ParseRequest(r.Header)
	now := e.cfg.Now()
	fwd := httpcache.FwdURIMiss
	stale, ok := e.cfg.Store.Get(key)
	if ok && !varyMatches(stale.Vary, r.Header) {
		stale, ok, fwd = nil, false, httpcache.FwdVary
	}
	if ok {
		age := httpcache.Age(stale.Header, stale.Timing, now)
		if e.usable(stale, reqCC, age) {
			e.cfg.Recorder.Request(b.Name, ResultHit)
			e.serveEntry(w, r, stale, now, httpcache.CacheStatus{Hit: true}, e.xHit)
			return
		}
		fwd = httpcache.FwdStale
		if reqCC.NoCache || (reqCC.HasMaxAge && age > reqCC.MaxAge) || reqCC.HasMinFresh {
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
	if alone {
		res, err = e.fetch(b, r, key, stale, !reqCC.NoStore)
	} else {
		res, collapsed, err = e.collapsedFetch(b, r, key, stale)
	}
	if err != nil {
		e.cfg.Recorder.Request(b.Name, ResultError)
		e.cfg.Logger.Warn("edge: origin fetch failed", "behavior", b.Name, "key", key, "err", err)
		e.setStatus(w.Header(), httpcache.CacheStatus{Fwd: fwd, Detail: "origin-error"}, e.xMiss)
		http.Error(w, "origin unavailable", http.StatusBadGateway)
		return
	}
	if res.refreshed != nil {
		e.cfg.Recorder.Request(b.Name, ResultRefreshHit)
		e.serveEntry(w, r, res.refreshed, now, httpcache.CacheStatus{Fwd: fwd, FwdStatus: http.StatusNotModified, Stored: res.stored, Collapsed: collapsed}, e.xRHit)
		return
	}
	result := ResultMiss
	if !res.storable {
		result = ResultPass
	}
	e.cfg.Recorder.Request(b.Name, result)
	e.serveFetched(w, r, res, httpcache.CacheStatus{Fwd: fwd, FwdStatus: res.status, Stored: res.stored, Collapsed: collapsed, Detail: res.reason})
}

// usable reports whether stored entry en, aged age, may answer a request
// with directives req without contacting the origin (RFC 9111 section 4.2).
func (e *Edge) usable(en *store.Entry, req httpcache.Request, age time.Duration) bool {
	cc := en.Directives
	if cc.NoCache || req.NoCache {
		return false
	}
	if req.HasMaxAge && age > req.MaxAge {
		return false
	}
	left := en.Lifetime - age
	if req.HasMinFresh && left < req.MinFresh {
		return false
	}
	if left > 0 {
		return true
	}
	// Stale: only a request's max-stale allows it, and never past
	// must-revalidate or proxy-revalidate.
	if !req.HasMaxStale || cc.MustRevalidate || cc.ProxyRevalidate {
		return false
	}
	return req.MaxStaleUnbounded || -left <= req.MaxStale
}

// fetched is the outcome of one origin request.
type fetched struct {
	status    int
	header    http.Header
	body      []byte
	rest      io.ReadCloser // set for the fetching request only: body beyond MaxObjectSize
	storable  bool          // the response may be stored and shared
	stored    bool
	reason    string // why it was not stored, a Cache-Status detail token
	vary      map[string]string
	refreshed *store.Entry // a stale entry the origin confirmed with 304
}

// collapsedFetch makes at most one origin request per key at a time. A
// waiter whose collapsed response turns out not to be shareable with it
// fetches on its own.
func (e *Edge) collapsedFetch(b *Behavior, r *http.Request, key string, stale *store.Entry) (res *fetched, collapsed bool, err error) {
	leader := false
	v, err, shared := e.flight.Do(key, func() (any, error) {
		leader = true
		return e.fetch(b, r, key, stale, true)
	})
	if leader {
		if err != nil {
			return nil, false, err
		}
		return v.(*fetched), false, nil
	}
	if err == nil {
		res = v.(*fetched)
		if res.refreshed != nil || (res.storable && varyMatches(res.vary, r.Header)) {
			return res, shared, nil
		}
	}
	res, err = e.fetch(b, r, key, stale, true)
	return res, false, err
}

// conditionalFields are the request fields that make a fetch conditional or
// partial; they are removed from fetches made on the cache's behalf, so that
// a full response comes back to store. The client's own conditional request is
// then answered from that response.
var conditionalFields = []string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range", "Range"}

// fetch requests r's resource from b's origin, validating stale when given,
// and stores the response when allowed and mayStore.
func (e *Edge) fetch(b *Behavior, r *http.Request, key string, stale *store.Entry, mayStore bool) (*fetched, error) {
	// The fetch may serve collapsed waiters, so the client that started it
	// leaving does not cancel it; OriginTimeout bounds it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), e.cfg.OriginTimeout)
	out := r.Clone(ctx)
	out.Method = http.MethodGet // a HEAD miss fetches the whole response so it can be stored
	for _, f := range conditionalFields {
		out.Header.Del(f)
	}
	if stale != nil {
		httpcache.Validators(stale.Header, out.Header)
	}
	epoch := e.purges.current()
	timing := httpcache.Timing{RequestTime: e.cfg.Now()}
	resp, err := b.Origin.RoundTrip(out)
	timing.ResponseTime = e.cfg.Now()
	if err != nil {
		cancel()
		e.cfg.Recorder.OriginFetch(b.Name, 0)
		return nil, err
	}
	e.cfg.Recorder.OriginFetch(b.Name, resp.StatusCode)

	if resp.StatusCode == http.StatusNotModified && stale != nil {
		resp.Body.Close()
		cancel()
		en := *stale
		en.Header = stale.Header.Clone()
		httpcache.Freshen(en.Header, resp.Header)
		en.Timing = timing
		en.Directives = httpcache.ParseResponse(en.Header)
		en.Lifetime, _ = httpcache.Lifetime(en.Status, en.Header, en.Directives, timing.ResponseTime)
		en.Retain = en.Lifetime + e.cfg.StaleRetention
		en.Tags = surrogateKeys(en.Header)
		res := &fetched{refreshed: &en, storable: true}
		if !e.purges.purgedSince(epoch, &en) {
			e.cfg.Store.Set(&en)
			res.stored = true
		}
		return res, nil
	}

	// Read up to MaxObjectSize+1 bytes: more than that is not stored.
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, e.cfg.MaxObjectSize+1))
	res := &fetched{status: resp.StatusCode, header: resp.Header, body: body}
	switch {
	case readErr != nil:
		resp.Body.Close()
		cancel()
		return nil, readErr
	case int64(len(body)) > e.cfg.MaxObjectSize:
		res.rest = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
		res.reason = "too-big"
		return res, nil
	default:
		resp.Body.Close()
		cancel()
	}

	cc := httpcache.ParseResponse(resp.Header)
	ok, reason := httpcache.Storable(out, resp.StatusCode, resp.Header, cc)
	lifetime, _ := httpcache.Lifetime(resp.StatusCode, resp.Header, cc, timing.ResponseTime)
	switch {
	case !ok:
	case len(resp.Header.Values("Set-Cookie")) > 0 && !hasField(cc.PrivateFields, "Set-Cookie") && !hasField(cc.NoCacheFields, "Set-Cookie"):
		ok, reason = false, "set-cookie"
	case lifetime <= 0 && resp.Header.Get("Etag") == "" && resp.Header.Get("Last-Modified") == "":
		ok, reason = false, "stale-on-arrival"
	}
	res.storable = ok && lifetime > 0 && !cc.NoCache
	res.reason = reason
	if !ok {
		return res, nil
	}
	res.vary = varyValues(resp.Header, r.Header)
	if !mayStore {
		res.reason = "request-no-store"
		return res, nil
	}
	h := resp.Header.Clone()
	httpcache.StripUnshared(h, cc)
	en := &store.Entry{
		Key: key, Path: r.URL.Path, Status: resp.StatusCode, Header: h, Body: body,
		Timing: timing, Lifetime: lifetime, Directives: cc, Vary: res.vary,
		Tags: surrogateKeys(h), Retain: lifetime + e.cfg.StaleRetention,
	}
	if e.purges.purgedSince(epoch, en) {
		res.reason = "purged-during-fetch"
		return res, nil
	}
	e.cfg.Store.Set(en)
	res.stored = true
	return res, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// pass forwards a request the cache does not handle (unsafe methods and
// others) and invalidates as RFC 9111 section 4.4 requires.
func (e *Edge) pass(w http.ResponseWriter, r *http.Request, b *Behavior) {
	out := r.Clone(r.Context())
	resp, err := b.Origin.RoundTrip(out)
	if err != nil {
		e.cfg.Recorder.OriginFetch(b.Name, 0)
		e.cfg.Recorder.Request(b.Name, ResultError)
		e.setStatus(w.Header(), httpcache.CacheStatus{Fwd: httpcache.FwdMethod, Detail: "origin-error"}, e.xMiss)
		http.Error(w, "origin unavailable", http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	e.cfg.Recorder.OriginFetch(b.Name, resp.StatusCode)
	e.cfg.Recorder.Request(b.Name, ResultPass)
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch:
		if resp.StatusCode >= 200 && resp.StatusCode < 400 {
			e.invalidateURIs(r, resp.Header)
		}
	}
	h := w.Header()
	copyHeader(h, resp.Header)
	e.setStatus(h, httpcache.CacheStatus{Fwd: httpcache.FwdMethod, FwdStatus: resp.StatusCode}, e.xMiss)
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// invalidateURIs purges the target URI of r and the same-origin URIs in the
// response's Location and Content-Location fields.
func (e *Edge) invalidateURIs(r *http.Request, h http.Header) {
	keys := []string{cacheKey(r)}
	for _, f := range []string{"Location", "Content-Location"} {
		v := h.Get(f)
		if v == "" {
			continue
		}
		u, err := r.URL.Parse(v)
		if err != nil || (u.Host != "" && !strings.EqualFold(u.Host, r.Host)) {
			continue
		}
		keys = append(keys, strings.ToLower(r.Host)+u.RequestURI())
	}
	match := func(en *store.Entry) bool {
		for _, k := range keys {
			if en.Key == k {
				return true
			}
		}
		return false
	}
	e.purges.add(match)
	for _, k := range keys {
		e.cfg.Store.Delete(k)
	}
}

// serveEntry writes a stored response.
func (e *Edge) serveEntry(w http.ResponseWriter, r *http.Request, en *store.Entry, now time.Time, cs httpcache.CacheStatus, xcache string) {
	h := w.Header()
	copyHeader(h, en.Header)
	age := httpcache.Age(en.Header, en.Timing, now)
	h.Set("Age", strconv.FormatInt(int64(age/time.Second), 10))
	cs.TTL, cs.HasTTL = int64((en.Lifetime-age)/time.Second), true
	e.setStatus(h, cs, xcache)
	e.writeBody(w, r, en.Status, en.Body, nil)
}

// serveFetched writes a response just fetched.
func (e *Edge) serveFetched(w http.ResponseWriter, r *http.Request, res *fetched, cs httpcache.CacheStatus) {
	h := w.Header()
	copyHeader(h, res.header)
	h.Del("Surrogate-Control")
	e.setStatus(h, cs, e.xMiss)
	e.writeBody(w, r, res.status, res.body, res.rest)
}

// writeBody writes status and body, answering the client's own conditional
// request with 304 and HEAD without a body.
func (e *Edge) writeBody(w http.ResponseWriter, r *http.Request, status int, body []byte, rest io.ReadCloser) {
	if rest != nil {
		defer rest.Close()
	}
	h := w.Header()
	if status == http.StatusOK && httpcache.NotModified(r, h) {
		for _, f := range []string{"Content-Length", "Content-Type", "Content-Encoding"} {
			h.Del(f)
		}
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if rest == nil {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	if _, err := w.Write(body); err != nil || rest == nil {
		return
	}
	if _, err := io.Copy(w, rest); err != nil && !errors.Is(err, context.Canceled) {
		e.cfg.Logger.Debug("edge: streaming body", "err", err)
	}
}

// setStatus appends this cache's Cache-Status member and sets X-Cache.
func (e *Edge) setStatus(h http.Header, cs httpcache.CacheStatus, xcache string) {
	cs.Cache = e.cfg.Name
	if prev := h.Get("Cache-Status"); prev != "" {
		h.Set("Cache-Status", prev+", "+cs.String())
	} else {
		h.Set("Cache-Status", cs.String())
	}
	h.Set("X-Cache", xcache)
}

func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		dst[k] = append([]string(nil), vs...)
	}
}

func hasField(fields []string, f string) bool {
	for _, x := range fields {
		if x == f {
			return true
		}
	}
	return false
}

// surrogateKeys returns the space-separated keys of the Surrogate-Key field.
func surrogateKeys(h http.Header) []string {
	var keys []string
	for _, v := range h.Values("Surrogate-Key") {
		keys = append(keys, strings.Fields(v)...)
	}
	return keys
}

// varyValues records, for each field the response varies on, the request's
// value, normalised by trimming and folding repeated whitespace.
func varyValues(resp, req http.Header) map[string]string {
	var m map[string]string
	for _, v := range resp.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f == "" || f == "*" {
				continue
			}
			if m == nil {
				m = map[string]string{}
			}
			f = http.CanonicalHeaderKey(f)
			m[f] = normaliseField(req.Values(f))
		}
	}
	return m
}

func normaliseField(vs []string) string {
	return strings.Join(strings.Fields(strings.Join(vs, ",")), " ")
}

// varyMatches reports whether req has the values a stored response was
// selected with.
func varyMatches(vary map[string]string, req http.Header) bool {
	for f, v := range vary {
		if normaliseField(req.Values(f)) != v {
			return false
		}
	}
	return true
}

var _ http.Handler = (*Edge)(nil)
