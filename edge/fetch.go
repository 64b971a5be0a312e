package edge

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/strata-cache/strata/edge/compress"
	"github.com/strata-cache/strata/edge/store"
	"github.com/strata-cache/strata/httpcache"
)

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
	// epoch is the purge epoch the fetch started at: what is derived from
	// the response (compressed variants) is stored only if no purge since
	// matches it.
	epoch uint64
}

// forWaiter returns the view of f a collapsed waiter may be given.
func (f *fetched) forWaiter() *fetched {
	w := &fetched{status: f.shared.Status, header: f.shared.Header, body: f.shared.Body, shared: f.shared, stored: f.stored, fill: f.fill, length: f.length, epoch: f.epoch}
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
	if f.head.shared != nil && varyMatches(f.head.shared.Vary, r.Header) && !e.overtaken(f.head) {
		return f.head.forWaiter(), true, nil
	}
	res, err = e.fetch(b, r, key, stale, true, nil, "")
	return res, false, err
}

// overtaken reports whether a purge has overtaken the flight's response
// since it started, or it was read at a data version older than a purge
// that matches it (see purgeLog): a waiter that joins then must not be
// given it. The flight's own requester, and waiters that joined before the
// purge, asked before it and may have it.
func (e *Edge) overtaken(f *fetched) bool {
	hard, _ := e.purges.check(f.epoch, f.shared, e.dataVersion(f.shared))
	return hard
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

// storability applies RFC 9111, the edge's safety rules and b's cache
// policy to a response the edge received for request out.
//
// A policy's OverridePrivateAndNoStore lets no-store, private and
// Authorization responses be stored (CloudFront's min_ttl behavior); the
// edge's cookie rules still hold. The first response stored that way per
// behavior is logged as a warning.
func (e *Edge) storability(b *Behavior, out *http.Request, status int, h http.Header, cc httpcache.Response, lifetime time.Duration) (bool, string) {
	sreq := out
	if out.Method == http.MethodOptions { // cached only when the behavior says so
		get := *out
		get.Method = http.MethodGet
		sreq = &get
	}
	override := b.CachePolicy != nil && b.CachePolicy.OverridePrivateAndNoStore
	scc := cc
	if override {
		scc.NoStore, scc.Private, scc.Public = false, false, true
	}
	ok, reason := httpcache.Storable(sreq, status, h, scc)
	switch {
	case !ok:
	case !e.cfg.RFCStrict && unkeyedCookie(b, out) && !cc.Public && !cc.HasSMaxAge && !cc.Targeted:
		// The origin saw a cookie it may have personalised the response
		// with; only an explicit statement for shared caches lets it be
		// shared (the rule RFC 9111 section 3.5 gives Authorization).
		return false, "cookie"
	case !e.cfg.RFCStrict && len(h.Values("Set-Cookie")) > 0 && !hasField(cc.PrivateFields, "Set-Cookie") && !hasField(cc.NoCacheFields, "Set-Cookie"):
		return false, "set-cookie"
	case lifetime <= 0 && h.Get("Etag") == "" && h.Get("Last-Modified") == "":
		return false, "stale-on-arrival"
	case override:
		if plain, why := httpcache.Storable(sreq, status, h, cc); !plain && b.state != nil && b.state.warnedOverride.CompareAndSwap(false, true) {
			e.cfg.Logger.Warn("edge: storing a response RFC 9111 forbids a shared cache to store, as the cache policy's override_private_and_no_store says",
				"behavior", b.Name, "policy", b.CachePolicy.Name, "reason", why, "url", out.URL.String())
		}
	}
	return ok, reason
}

// lifetime is the freshness lifetime b gives a response: the origin's
// (RFC 9111 section 4.2.1), clamped by b's cache policy to its TTLs, or
// the policy's DefaultTTL when the origin states none.
func (b *Behavior) lifetime(status int, h http.Header, cc httpcache.Response, received time.Time) time.Duration {
	lt, _ := httpcache.Lifetime(status, h, cc, received)
	if p := b.CachePolicy; p != nil {
		explicit := cc.HasSMaxAge || cc.HasMaxAge || len(h["Expires"]) > 0
		lt = p.TTL(lt, explicit)
	}
	return lt
}

// shareable reports whether a stored response may answer other requests
// without validation: it is fresh and not no-cache.
func shareable(en *store.Entry) bool { return lifetime(en) > 0 && !en.Directives.NoCache }

// lifetime is en's freshness lifetime: the one it was stored with, cut
// short by a soft purge, after which it is stale (its age when it was
// marked).
func lifetime(en *store.Entry) time.Duration {
	if since, ok := en.StaleSince(); ok {
		return min(en.Lifetime, max(0, httpcache.CurrentAge(en.Timing, since)))
	}
	return en.Lifetime
}

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
	out := toOrigin(b, r.Clone(ctx))
	if r.Method != http.MethodOptions {
		out.Method = http.MethodGet // a HEAD miss fetches the whole response so it can be stored
	}
	for _, f := range conditionalFields {
		out.Header.Del(f)
	}
	for _, f := range identityOverrides {
		out.Header.Del(f)
	}
	if stale != nil {
		httpcache.Validators(stale.Header, out.Header)
	}
	if b.Compress {
		// The edge compresses: one identity response serves every client
		// (see encoding.go).
		out.Header["Accept-Encoding"] = []string{compress.Identity}
	}
	// Tell the origin it may target Surrogate-Control directives at us.
	out.Header.Set("Surrogate-Capability", e.cfg.Name+`="Surrogate/1.0"`)
	epoch := e.purges.current()
	requested := e.cfg.Now()
	resp, err := b.Origin.RoundTrip(out)
	timing := httpcache.Timing{RequestTime: requested, ResponseTime: e.cfg.Now()}
	if err != nil {
		cancel()
		e.cfg.Recorder.OriginFetch(b.Name, 0)
		return nil, err
	}
	e.cfg.Recorder.OriginFetch(b.Name, resp.StatusCode)
	timing = httpcache.Received(resp.Header, timing.RequestTime, timing.ResponseTime)

	if resp.StatusCode == http.StatusNotModified && stale != nil {
		resp.Body.Close()
		cancel()
		res := e.refresh(b, out, key, stale, resp.Header, timing, epoch, mayStore)
		res.epoch = epoch
		if b.Compress && res.stored {
			e.carryVariants(epoch, stale)
		}
		return res, nil
	}

	// Everything that decides storing is in the header; only the size is not.
	cc := httpcache.ParseResponseFor(resp.Header, e.cfg.Name)
	lifetime := b.lifetime(resp.StatusCode, resp.Header, cc, timing.ResponseTime)
	ok, reason := e.storability(b, out, resp.StatusCode, resp.Header, cc, lifetime)
	res := &fetched{status: resp.StatusCode, header: resp.Header, reason: reason, length: resp.ContentLength, epoch: epoch}
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
		if u := keyURL(key); u != key {
			en.Primary = u // the key holds headers or cookies: purged with its URL
		}
		names := varyNames(resp.Header)
		if b.Compress {
			names = withoutAcceptEncoding(names, en.Vary)
		}
		if len(names) > 0 {
			en.Key = e.variantKey(key, r.URL.Path, names, epoch, r.Header, en.Retain)
			en.Primary = keyURL(key) // the variant is purged with its URL
		}
	}

	if f != nil && en != nil && shareable(en) && resp.ContentLength >= 0 && resp.ContentLength <= e.cfg.MaxObjectSize {
		if b.Compress && e.compressible(en.Status, en.Header, resp.ContentLength) {
			addVaryAcceptEncoding(en.Header)
		}
		res.shared, res.fill = en, f
		hard, _ := e.purges.check(epoch, en, e.dataVersion(en))
		storeIt := !hard // pump checks again once the body is complete
		if storeIt {
			res.stored = true // being stored: the body is still arriving
		} else {
			res.reason = "purged-during-fetch" // or read before a purge's data version
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
	if b.Compress && e.compressible(en.Status, en.Header, int64(len(body))) {
		addVaryAcceptEncoding(en.Header)
	}
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
func (e *Edge) refresh(b *Behavior, out *http.Request, key string, stale *store.Entry, notModified http.Header, timing httpcache.Timing, epoch uint64, mayStore bool) *fetched {
	full := *stale.Clone() // without the stored copy's marks: a soft purge's is answered
	full.Header = stale.Header.Clone()
	httpcache.Freshen(full.Header, notModified)
	if varyHasAcceptEncoding(stale.Header) {
		addVaryAcceptEncoding(full.Header) // the 304's Vary is the origin's, without the edge's own
	}
	// The stored response's Date and Age now come from the 304.
	full.Timing = httpcache.Received(full.Header, timing.RequestTime, timing.ResponseTime)
	full.Directives = httpcache.ParseResponseFor(full.Header, e.cfg.Name)
	full.Lifetime = b.lifetime(full.Status, full.Header, full.Directives, timing.ResponseTime)
	full.Retain = full.Lifetime + e.cfg.StaleRetention
	full.Tags = surrogateKeys(full.Header)
	res := &fetched{refreshed: &full}
	ok, reason := e.storability(b, out, full.Status, full.Header, full.Directives, full.Lifetime)
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

// storeUnlessPurged stores en unless a hard purge after epoch matches it,
// and stores it already stale when only a soft one does: a fetch that a
// soft purge overtook may have fetched the content the purge was about, so
// its response is kept for revalidation (its validators make the next
// request a conditional one) but not served as fresh. It is stale since it
// arrived, so stale-while-revalidate and stale-if-error count from then.
//
// The check and the write happen under storeMu's read lock, and a purge
// records itself under the write lock before it touches the store, so
// either the purge finds the entry (the indexes are updated with the write)
// or the check sees the purge.
func (e *Edge) storeUnlessPurged(epoch uint64, en *store.Entry) bool {
	e.storeMu.RLock()
	defer e.storeMu.RUnlock()
	hard, soft := e.purges.check(epoch, en, e.dataVersion(en))
	switch {
	case hard:
		return false
	case soft:
		e.cfg.Store.SetStale(en, en.Timing.ResponseTime)
	default:
		e.cfg.Store.Set(en)
	}
	return true
}

// recordPurge logs a purge so that fetches in flight do not store what it
// removes; the caller then removes (or marks) the matching entries.
func (e *Edge) recordPurge(sels []store.Selector, soft bool, version uint64) {
	e.storeMu.Lock()
	defer e.storeMu.Unlock()
	e.purges.add(sels, soft, version)
}

// dataVersion is the data version en says it was read at
// (Config.VersionHeader), 0 when it says none.
func (e *Edge) dataVersion(en *store.Entry) uint64 {
	if e.cfg.VersionHeader == "" || en.Header == nil {
		return 0
	}
	v, err := strconv.ParseUint(en.Header.Get(e.cfg.VersionHeader), 10, 64)
	if err != nil {
		return 0
	}
	return v
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
