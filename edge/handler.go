package edge

import (
	"bytes"
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
	stale, flightKey, fwd := e.lookup(key, r.Header)
	ok := stale != nil
	var age time.Duration
	if ok {
		age = httpcache.Age(stale.Header, stale.Timing, now)
		if e.usable(stale, reqCC, age) {
			e.cfg.Recorder.Request(b.Name, ResultHit)
			e.serveEntry(w, r, stale, now, httpcache.CacheStatus{Hit: true}, e.xHit)
			return
		}
		if staleWhileRevalidate(stale, reqCC, age) {
			e.revalidateInBackground(b, r, key, stale)
			e.cfg.Recorder.Request(b.Name, ResultStale)
			e.serveEntry(w, r, stale, now, httpcache.CacheStatus{Hit: true, Detail: "stale-while-revalidate"}, e.xStale)
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
	switch {
	case e.originDown(b):
		err = errOriginDown
	case alone:
		res, err = e.fetch(b, r, key, stale, !reqCC.NoStore, nil, "")
	default:
		res, collapsed, err = e.collapsedFetch(b, r, key, flightKey, stale)
	}
	if err != nil {
		e.noteOriginError(b, err)
		if ok && staleOnError(stale, reqCC, age, true) {
			e.cfg.Recorder.Request(b.Name, ResultStale)
			e.serveEntry(w, r, stale, now, httpcache.CacheStatus{Fwd: fwd, Detail: "stale-if-error"}, e.xStale)
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
		e.serveEntry(w, r, stale, now, httpcache.CacheStatus{Fwd: fwd, FwdStatus: res.status, Detail: "stale-if-error"}, e.xStale)
		return
	}
	if res.refreshed != nil {
		e.cfg.Recorder.Request(b.Name, ResultRefreshHit)
		e.serveEntry(w, r, res.refreshed, now, httpcache.CacheStatus{Fwd: fwd, FwdStatus: http.StatusNotModified, Stored: res.stored, Collapsed: collapsed, Detail: res.reason}, e.xRHit)
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
	e.serveFetched(w, r, res, httpcache.CacheStatus{Fwd: fwd, FwdStatus: res.status, Stored: res.stored, Collapsed: collapsed, Detail: res.reason}, xcache)
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
	left := en.Lifetime - age
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

// fetched is the outcome of one origin request.
type fetched struct {
	status int
	header http.Header // as received: only for the request that made the fetch
	body   []byte
	rest   io.ReadCloser // set for the fetching request only: body beyond MaxObjectSize
	// shared is the response as other requests may be given it (unshared
	// fields removed), or nil when it must not be shared: not storable,
	// not fresh, or too big.
	shared *store.Entry
	stored bool
	reason string // why it was not stored, a Cache-Status detail token
	// refreshed is the stale entry the origin confirmed with 304, merged
	// with the 304's fields, for the request that made the fetch.
	refreshed *store.Entry
	// fill, when set, streams the body (of length length) instead of body.
	fill   *fill
	length int64
}

// forWaiter returns the view of f a collapsed waiter may be given.
func (f *fetched) forWaiter() *fetched {
	w := &fetched{status: f.shared.Status, header: f.shared.Header, body: f.shared.Body, shared: f.shared, stored: f.stored, fill: f.fill, length: f.length}
	if f.refreshed != nil {
		w.refreshed = f.shared
	}
	return w
}

// collapsedFetch makes at most one origin request per key at a time. A
// waiter is given the shared form of the response, as soon as its headers
// arrive, only when it may have it (shareable, and its request matches the
// response's Vary); otherwise it fetches on its own. The flight key includes
// the purge epoch, so a request that arrives after a purge never joins a
// fetch that started before it.
func (e *Edge) collapsedFetch(b *Behavior, r *http.Request, key, flightKey string, stale *store.Entry) (res *fetched, collapsed bool, err error) {
	flightKey += "\x00" + strconv.FormatUint(e.purges.current(), 10)
	e.fillMu.Lock()
	f, joined := e.fills[flightKey]
	if !joined {
		f = newFill()
		e.fills[flightKey] = f
	}
	e.fillMu.Unlock()
	if !joined {
		return e.leadFill(b, r, key, flightKey, stale, f)
	}
	select {
	case <-f.ready:
	case <-r.Context().Done():
		return nil, false, r.Context().Err()
	}
	if f.err != nil {
		// The origin failed for everyone: asking again would double its
		// load and the client's wait. The caller serves stale or an error.
		return nil, false, f.err
	}
	if f.head.shared != nil && varyMatches(f.head.shared.Vary, r.Header) {
		return f.head.forWaiter(), true, nil
	}
	res, err = e.fetch(b, r, key, stale, true, nil, "")
	return res, false, err
}

// leadFill makes the origin request for a flight and publishes its outcome
// to the waiters, even if the fetch panics (a panicking in-process origin
// must not leave waiters blocked on the key).
func (e *Edge) leadFill(b *Behavior, r *http.Request, key, flightKey string, stale *store.Entry, f *fill) (res *fetched, collapsed bool, err error) {
	published := false
	defer func() {
		if !published {
			f.err = errFetchPanicked
			close(f.ready)
			e.endFill(flightKey, f)
		}
	}()
	res, err = e.fetch(b, r, key, stale, true, f, flightKey)
	f.head, f.err = res, err
	published = true
	close(f.ready)
	if res == nil || res.fill == nil {
		e.endFill(flightKey, f) // nothing left to stream: the flight ends here
	}
	return res, false, err
}

// errFetchPanicked is what waiters get when the fetch they waited on panicked.
var errFetchPanicked = errors.New("edge: origin fetch panicked")

// conditionalFields are the request fields that make a fetch conditional or
// partial; they are removed from fetches made on the cache's behalf, so that
// a full response comes back to store. The client's own conditional request is
// then answered from that response.
var conditionalFields = []string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range", "Range"}

// identityOverrides are request fields some frameworks use to change which
// resource or method a request means. They are not part of the cache key, so
// forwarding them on a cacheable request would let one client store a
// different resource under another URL (cache poisoning); the edge drops
// them from GET and HEAD requests.
var identityOverrides = []string{
	"X-Original-Url", "X-Rewrite-Url", "X-Http-Method-Override", "X-Http-Method",
	"X-Method-Override", "Forwarded", "X-Forwarded-Server", "X-Host", "X-Forwarded-Prefix",
	// URLOrigin sets these itself; in-process origins must not see a
	// client's own values either.
	"X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Scheme", "X-Forwarded-Port",
}

// storability applies RFC 9111 and the edge's safety rules to a response
// the edge received for request out.
func (e *Edge) storability(out *http.Request, status int, h http.Header, cc httpcache.Response, lifetime time.Duration) (bool, string) {
	ok, reason := httpcache.Storable(out, status, h, cc)
	switch {
	case !ok:
	case !e.cfg.RFCStrict && out.Header.Get("Cookie") != "" && !cc.Public && !cc.HasSMaxAge && !cc.Targeted:
		// The origin saw a cookie it may have personalised the response
		// with; only an explicit statement for shared caches lets it be
		// shared (the rule RFC 9111 section 3.5 gives Authorization).
		return false, "cookie"
	case !e.cfg.RFCStrict && len(h.Values("Set-Cookie")) > 0 && !hasField(cc.PrivateFields, "Set-Cookie") && !hasField(cc.NoCacheFields, "Set-Cookie"):
		return false, "set-cookie"
	case lifetime <= 0 && h.Get("Etag") == "" && h.Get("Last-Modified") == "":
		return false, "stale-on-arrival"
	}
	return ok, reason
}

// shareable reports whether a stored response may answer other requests
// without validation: it is fresh and not no-cache.
func shareable(en *store.Entry) bool { return en.Lifetime > 0 && !en.Directives.NoCache }

// fetch requests r's resource from b's origin, validating stale when given,
// and stores the response when allowed and mayStore.
//
// With a fill (a collapsed fetch), a shareable response of announced length
// is streamed through it (see fill.go); otherwise the body is read here, up
// to MaxObjectSize+1 bytes.
func (e *Edge) fetch(b *Behavior, r *http.Request, key string, stale *store.Entry, mayStore bool, f *fill, flightKey string) (*fetched, error) {
	// The fetch may serve collapsed waiters, so the client that started it
	// leaving does not cancel it; OriginTimeout bounds it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), e.cfg.OriginTimeout)
	out := r.Clone(ctx)
	out.Method = http.MethodGet // a HEAD miss fetches the whole response so it can be stored
	for _, f := range conditionalFields {
		out.Header.Del(f)
	}
	for _, f := range identityOverrides {
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
		return e.refresh(out, key, stale, resp.Header, timing, epoch, mayStore), nil
	}

	// Everything that decides storing is in the header; only the size is not.
	cc := httpcache.ParseResponse(resp.Header)
	lifetime, _ := httpcache.Lifetime(resp.StatusCode, resp.Header, cc, timing.ResponseTime)
	ok, reason := e.storability(out, resp.StatusCode, resp.Header, cc, lifetime)
	res := &fetched{status: resp.StatusCode, header: resp.Header, reason: reason, length: resp.ContentLength}
	var en *store.Entry
	switch {
	case ok && !mayStore:
		res.reason = "request-no-store"
	case ok:
		h := resp.Header.Clone()
		httpcache.StripUnshared(h, cc)
		en = &store.Entry{
			Key: key, Path: r.URL.Path, Status: resp.StatusCode, Header: h,
			Timing: timing, Lifetime: lifetime, Directives: cc, Vary: varyValues(resp.Header, r.Header),
			Tags: surrogateKeys(h), Retain: lifetime + e.cfg.StaleRetention,
		}
		if names := varyNames(resp.Header); len(names) > 0 {
			en.Key = e.variantKey(key, r.URL.Path, names, epoch, r.Header, en.Retain)
		}
	}

	if f != nil && en != nil && shareable(en) && resp.ContentLength >= 0 && resp.ContentLength <= e.cfg.MaxObjectSize {
		res.shared, res.fill = en, f
		storeIt := !e.purges.purgedSince(epoch, en)
		if storeIt {
			res.stored = true // being stored: the body is still arriving
		} else {
			res.reason = "purged-during-fetch"
		}
		f.want, f.body = resp.ContentLength, make([]byte, 0, resp.ContentLength)
		e.background.Add(1)
		go e.pump(f, flightKey, resp.Body, cancel, en, epoch, storeIt)
		return res, nil
	}

	// Read up to MaxObjectSize+1 bytes: more than that is not stored.
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, e.cfg.MaxObjectSize+1))
	res.body = body
	switch {
	case readErr != nil:
		resp.Body.Close()
		cancel()
		return nil, readErr
	case int64(len(body)) > e.cfg.MaxObjectSize:
		res.rest = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
		res.reason = "too-large"
		return res, nil
	default:
		resp.Body.Close()
		cancel()
	}
	if en == nil {
		return res, nil
	}
	en.Body = body
	if shareable(en) {
		res.shared = en
	}
	if !e.storeUnlessPurged(epoch, en) {
		res.reason = "purged-during-fetch"
		return res, nil
	}
	res.stored = true
	return res, nil
}

// refresh merges a 304's fields into the stale entry (RFC 9111 section
// 4.3.4) and decides again whether the result may be stored and shared: the
// 304 may add Set-Cookie, private or no-store, in which case the stored copy
// is dropped and only the request that made the fetch gets the response.
func (e *Edge) refresh(out *http.Request, key string, stale *store.Entry, notModified http.Header, timing httpcache.Timing, epoch uint64, mayStore bool) *fetched {
	full := *stale
	full.Header = stale.Header.Clone()
	httpcache.Freshen(full.Header, notModified)
	full.Timing = timing
	full.Directives = httpcache.ParseResponse(full.Header)
	full.Lifetime, _ = httpcache.Lifetime(full.Status, full.Header, full.Directives, timing.ResponseTime)
	full.Retain = full.Lifetime + e.cfg.StaleRetention
	full.Tags = surrogateKeys(full.Header)
	res := &fetched{refreshed: &full}
	ok, reason := e.storability(out, full.Status, full.Header, full.Directives, full.Lifetime)
	if !ok {
		res.reason = reason
		e.cfg.Store.Delete(stale.Key)
		return res
	}
	if !mayStore {
		res.reason = "request-no-store"
		return res
	}
	sh := full
	sh.Header = full.Header.Clone()
	httpcache.StripUnshared(sh.Header, full.Directives)
	if shareable(&sh) {
		res.shared = &sh
	}
	if e.storeUnlessPurged(epoch, &sh) {
		res.stored = true
	} else {
		res.reason = "purged-during-fetch"
	}
	return res
}

// storeUnlessPurged stores en unless a purge after epoch matches it. The
// check and the write happen under storeMu's read lock, and a purge records
// itself under the write lock before it scans the store, so either the purge
// sees the entry and removes it, or the check sees the purge.
func (e *Edge) storeUnlessPurged(epoch uint64, en *store.Entry) bool {
	e.storeMu.RLock()
	defer e.storeMu.RUnlock()
	if e.purges.purgedSince(epoch, en) {
		return false
	}
	e.cfg.Store.Set(en)
	return true
}

// recordPurge logs a purge so that fetches in flight do not store what it
// removes; the caller then removes the matching entries from the store.
func (e *Edge) recordPurge(match func(*store.Entry) bool) {
	e.storeMu.Lock()
	defer e.storeMu.Unlock()
	e.purges.add(match)
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
		http.Error(w, "origin unavailable", errorStatus(err))
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
	scheme := requestScheme(r)
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
		keys = append(keys, keyFor(scheme, r.Host, u.RequestURI()))
	}
	// Variants live under secondary keys that start with the primary key.
	match := func(en *store.Entry) bool {
		primary, _, _ := strings.Cut(en.Key, "\x00")
		for _, k := range keys {
			if primary == k {
				return true
			}
		}
		return false
	}
	e.recordPurge(match)
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
func (e *Edge) serveFetched(w http.ResponseWriter, r *http.Request, res *fetched, cs httpcache.CacheStatus, xcache string) {
	h := w.Header()
	copyHeader(h, res.header)
	h.Del("Surrogate-Control")
	e.setStatus(h, cs, xcache)
	if res.fill == nil {
		e.writeBody(w, r, res.status, res.body, res.rest)
		return
	}
	if needsServeContent(r) {
		// Ranges and preconditions are answered from the whole body.
		body, err := res.fill.wait(r.Context())
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		e.writeBody(w, r, res.status, body, nil)
		return
	}
	h["Content-Length"] = []string{strconv.FormatInt(res.length, 10)}
	w.WriteHeader(res.status)
	if r.Method == http.MethodHead {
		return
	}
	if err := res.fill.stream(r.Context(), w); err != nil {
		// The origin's body broke off (or the client left): abort, so the
		// client cannot take a short body for the whole response.
		panic(http.ErrAbortHandler)
	}
}

// writeBody writes status and body. A complete 200 goes through
// http.ServeContent, which answers the client's own conditional request
// (304, 412) and Range requests (206, 416; multiple ranges as
// multipart/byteranges) from the full body; HEAD gets no body.
func (e *Edge) writeBody(w http.ResponseWriter, r *http.Request, status int, body []byte, rest io.ReadCloser) {
	if rest != nil {
		defer rest.Close()
	}
	h := w.Header()
	if rest == nil {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	if status == http.StatusOK && rest == nil && needsServeContent(r) {
		var modified time.Time
		if lm := h.Get("Last-Modified"); lm != "" {
			modified, _ = http.ParseTime(lm)
		}
		if _, ok := h["Content-Type"]; !ok {
			h["Content-Type"] = nil // never sniff: send what the origin sent
		}
		http.ServeContent(w, r, "", modified, bytes.NewReader(body))
		return
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
		h["Cache-Status"] = []string{prev + ", " + cs.String()}
	} else {
		h["Cache-Status"] = []string{cs.String()}
	}
	h["X-Cache"] = []string{xcache}
}

// copyHeader gives dst the fields of src without copying their values: the
// slices are capped, so an Add on dst reallocates instead of writing into
// src's (stored, shared) backing arrays, and Set and Del replace entries.
func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		dst[k] = vs[:len(vs):len(vs)]
	}
}

// needsServeContent reports whether a request asks for more than the whole
// body: a range or a precondition, which http.ServeContent evaluates.
func needsServeContent(r *http.Request) bool {
	h := r.Header
	return len(h["Range"]) > 0 || len(h["If-None-Match"]) > 0 || len(h["If-Modified-Since"]) > 0 ||
		len(h["If-Match"]) > 0 || len(h["If-Unmodified-Since"]) > 0
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
