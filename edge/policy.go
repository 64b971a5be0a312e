package edge

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/strata-cache/strata/edge/config"
	"github.com/strata-cache/strata/edge/signed"
	"github.com/strata-cache/strata/httpcache"
)

// Behavior policies: what a CloudFront-style cache behavior adds to routing.
//
// The cache key of a behavior with a CachePolicy is
//
//	scheme://host/escaped-path?sorted-query [\x00 h <name> <value>]... [\x00 c <name> <value>]... [\x00 m OPTIONS]
//
// where the query holds only the parameters the policy keys on, each
// decoded and re-encoded the same way and sorted by name, keeping the order
// of a repeated name's values (so "?b=2&a=1" and "?a=1&b=2" are one entry,
// "?a=1&a=2" and "?a=2&a=1" two: origins read the first), and each header and cookie
// name and value is written with its length in front, so no two different
// requests make the same key. The part before the first NUL is the key's
// URL: entries are indexed under it (store.Entry.Primary), so a purge by
// URL, whose query Purge normalises with the policy of the behavior its
// path selects, removes every header and cookie variant.
//
// The request the origin gets holds the key's query parameters, headers
// and cookies, what the OriginRequestPolicy adds, and the fields HTTP
// needs whatever the policy (alwaysForwarded); nothing else of the
// client's.

// behaviorState is what the edge keeps about one installed behavior.
type behaviorState struct {
	downUntil      atomic.Int64 // unix nanos until which the origin is skipped
	warnedOverride atomic.Bool  // the OverridePrivateAndNoStore warning was logged
	keyHeaders     []string     // canonical, sorted, distinct header names of the key
	card           cardinality
}

func newBehaviorState(b *Behavior) *behaviorState {
	s := &behaviorState{}
	if p := b.CachePolicy; p != nil && p.Headers.Mode == config.FilterAllow {
		for _, n := range p.Headers.Names {
			if n = http.CanonicalHeaderKey(n); n != "Host" {
				s.keyHeaders = append(s.keyHeaders, n)
			}
		}
		slices.Sort(s.keyHeaders)
		s.keyHeaders = slices.Compact(s.keyHeaders)
	}
	return s
}

// cachedMethod reports whether b caches responses to method.
func (b *Behavior) cachedMethod(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead:
		return true
	case http.MethodOptions:
		return b.CachedMethods.Has(method)
	}
	return false
}

// cachingDisabled reports whether b's policy turns caching off.
func (b *Behavior) cachingDisabled() bool {
	return b.CachePolicy != nil && b.CachePolicy.CachingDisabled()
}

// refusal is why a behavior turns a request away before the cache.
type refusal struct {
	status   int
	reason   string // plain text for the body, and Explain
	allow    string // Allow, for 405
	location string // Location, for 301
}

// guarded reports whether requests to b must pass admit.
func (b *Behavior) guarded() bool {
	return b.AllowedMethods != 0 || b.ViewerProtocol != "" || b.Signed != nil
}

// admit applies b's allowed methods, viewer protocol and signature check
// to r at now. It returns the request to go on with (signing parameters
// and cookies removed) or why it is refused.
func (e *Edge) admit(b *Behavior, r *http.Request) (*http.Request, *refusal) {
	if b.AllowedMethods != 0 && !b.AllowedMethods.Has(r.Method) {
		return nil, &refusal{status: http.StatusMethodNotAllowed, reason: "method not allowed", allow: strings.Join(b.AllowedMethods.List(), ", ")}
	}
	if r.TLS == nil {
		switch b.ViewerProtocol {
		case config.HTTPSOnly:
			return nil, &refusal{status: http.StatusForbidden, reason: "this path is served over HTTPS only"}
		case config.RedirectToHTTPS:
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				// A redirect would lose the body, and most clients would
				// follow it with a GET.
				return nil, &refusal{status: http.StatusForbidden, reason: "this path is served over HTTPS only; " + r.Method + " is not redirected"}
			}
			return nil, &refusal{status: http.StatusMovedPermanently, reason: "moved to https", location: e.httpsURL(r)}
		}
	}
	if b.Signed != nil {
		if err := b.Signed.Verify(r, e.cfg.Now()); err != nil {
			return nil, &refusal{status: http.StatusForbidden, reason: err.Error()}
		}
		r = withoutSigning(r)
	}
	return r, nil
}

// httpsURL is where redirect-to-https sends r.
func (e *Edge) httpsURL(r *http.Request) string {
	host := r.Host
	if h, _, ok := strings.Cut(host, ":"); ok && !strings.HasPrefix(host, "[") {
		host = h
	} else if i := strings.LastIndex(host, "]:"); i >= 0 {
		host = host[:i+1]
	}
	if e.cfg.HTTPSPort != 443 {
		host += ":" + strconv.Itoa(e.cfg.HTTPSPort)
	}
	return "https://" + host + r.URL.RequestURI()
}

// refuse writes a refusal: plain text, never stored.
func (e *Edge) refuse(w http.ResponseWriter, b *Behavior, f *refusal) {
	e.cfg.Recorder.Request(b.Name, ResultRefused)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if f.allow != "" {
		h.Set("Allow", f.allow)
	}
	if f.location != "" {
		h.Set("Location", f.location)
	}
	e.setStatus(h, httpcache.CacheStatus{Fwd: httpcache.FwdBypass, Detail: "refused"}, e.xMiss)
	http.Error(w, f.reason, f.status)
}

// withoutSigning returns a copy of r without the signing query parameters
// and cookies.
func withoutSigning(r *http.Request) *http.Request {
	r = r.Clone(r.Context())
	signed.StripParams(r.URL)
	r.RequestURI = r.URL.RequestURI()
	signed.StripCookies(r)
	return r
}

// requestKey returns r's primary cache key under b. keyURL of it is the
// URL part.
func (e *Edge) requestKey(b *Behavior, r *http.Request) string {
	p := b.CachePolicy
	if p == nil {
		k := cacheKey(r)
		if r.Method == http.MethodOptions {
			k += "\x00mOPTIONS"
		}
		return k
	}
	var stack [256]byte
	k := appendPolicyURL(stack[:0], p, requestScheme(r), r.Host, r.URL.EscapedPath(), r.URL.RawQuery)
	for _, name := range b.state.keyHeaders {
		vs := r.Header[name]
		k = append(k, "\x00h"...)
		k = appendLP(k, name)
		if len(vs) == 0 {
			k = append(k, '-')
			continue
		}
		k = append(k, '=')
		if len(vs) == 1 {
			k = appendLP(k, vs[0])
		} else {
			k = appendLP(k, strings.Join(vs, ","))
		}
	}
	if p.Cookies.Mode != config.FilterNone && len(r.Header["Cookie"]) > 0 {
		var stack [8]queryParam
		cs := keyCookies(stack[:0], r.Header["Cookie"], &p.Cookies)
		slices.SortStableFunc(cs, func(a, b queryParam) int { return strings.Compare(a.name, b.name) })
		for _, c := range cs {
			k = append(k, "\x00c"...)
			k = appendLP(k, c.name)
			k = append(k, '=')
			k = appendLP(k, c.value)
		}
	}
	if r.Method == http.MethodOptions {
		k = append(k, "\x00mOPTIONS"...)
	}
	return string(k)
}

// keyCookies appends to dst the cookies of Cookie lines that f includes,
// as name and value (a quoted value unquoted), without allocating. Pairs
// without a name are skipped, as http.Request.Cookies skips them.
func keyCookies(dst []queryParam, lines []string, f *config.KeyFilter) []queryParam {
	for _, line := range lines {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			name, value, _ := strings.Cut(part, "=")
			if name == "" || !f.Includes(name) {
				continue
			}
			if len(value) > 1 && value[0] == '"' && value[len(value)-1] == '"' {
				value = value[1 : len(value)-1]
			}
			dst = append(dst, queryParam{name: name, value: value})
		}
	}
	return dst
}

// keyURL returns the URL part of a primary key: what purges by URL name.
func keyURL(key string) string {
	if i := strings.IndexByte(key, 0); i >= 0 {
		return key[:i]
	}
	return key
}

// appendLP appends s with its length in front.
func appendLP(dst []byte, s string) []byte {
	dst = strconv.AppendInt(dst, int64(len(s)), 10)
	dst = append(dst, ':')
	return append(dst, s...)
}

// policyURL is the URL part of the key of a request under policy p.
func policyURL(p *config.CachePolicy, scheme, host, escapedPath, rawQuery string) string {
	return string(appendPolicyURL(nil, p, scheme, host, escapedPath, rawQuery))
}

func appendPolicyURL(dst []byte, p *config.CachePolicy, scheme, host, escapedPath, rawQuery string) []byte {
	dst = append(dst, scheme...)
	dst = append(dst, "://"...)
	for i := 0; i < len(host); i++ {
		c := host[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	if escapedPath == "" {
		escapedPath = "/"
	}
	dst = append(dst, escapedPath...)
	if p.QueryStrings.Mode == config.FilterNone || rawQuery == "" {
		return dst
	}
	var stack [16]queryParam
	params := parseQuery(stack[:0], rawQuery, &p.QueryStrings)
	if len(params) == 0 {
		return dst
	}
	// By name only: the values of a repeated parameter keep their order,
	// which most frameworks read (the first one wins), so ?a=1&a=2 and
	// ?a=2&a=1 are different entries.
	slices.SortStableFunc(params, func(a, b queryParam) int { return strings.Compare(a.name, b.name) })
	for i, q := range params {
		if i == 0 {
			dst = append(dst, '?')
		} else {
			dst = append(dst, '&')
		}
		rawName, rawValue, _ := strings.Cut(q.raw, "=")
		dst = appendQueryPart(dst, rawName, q.name)
		dst = append(dst, '=')
		dst = appendQueryPart(dst, rawValue, q.value)
	}
	return dst
}

// appendQueryPart appends a parameter's name or value: decoded re-encoded,
// or as written when it does not decode ("%zz"). Written as is, it cannot
// be taken for the encoding of another value: appendQueryEscape always
// follows '%' with two hex digits, so "?a=%zz" and "?a=%25zz", which
// origins read differently, do not share a key.
func appendQueryPart(dst []byte, raw, decoded string) []byte {
	for i := 0; i < len(raw); i++ {
		if raw[i] == '%' && (i+2 >= len(raw) || !ishex(raw[i+1]) || !ishex(raw[i+2])) {
			return append(dst, raw...)
		}
	}
	return appendQueryEscape(dst, decoded)
}

// queryParam is a decoded query parameter.
type queryParam struct{ name, value, raw string }

// parseQuery appends to dst the parameters of rawQuery whose decoded name f
// includes (every one when f is nil). A parameter that does not decode is
// taken as written.
func parseQuery(dst []queryParam, rawQuery string, f *config.KeyFilter) []queryParam {
	for rawQuery != "" {
		var piece string
		piece, rawQuery, _ = strings.Cut(rawQuery, "&")
		if piece == "" {
			continue
		}
		k, v, _ := strings.Cut(piece, "=")
		name := queryUnescape(k)
		if f != nil && !f.Includes(name) {
			continue
		}
		dst = append(dst, queryParam{name: name, value: queryUnescape(v), raw: piece})
	}
	return dst
}

func queryUnescape(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// appendQueryEscape appends s escaped as url.QueryEscape does.
func appendQueryEscape(dst []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			dst = append(dst, c)
		case c == ' ':
			dst = append(dst, '+')
		default:
			dst = append(dst, '%', hex[c>>4], hex[c&15])
		}
	}
	return dst
}

// alwaysForwarded reports whether the origin gets a client's field
// whatever the policies say: what HTTP needs to carry the request and its
// body, and the fields the edge itself manages (Accept-Encoding, see
// encoding.go; Via and X-Forwarded-For, which URLOrigin extends).
// Authorization reaches the origin on methods that are not cached, as
// CloudFront forwards it.
func alwaysForwarded(name, method string) bool {
	switch name {
	case "Accept-Encoding", "Content-Type", "Content-Length", "Content-Encoding", "Content-Language",
		"Expect", "Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "If-Range",
		"Via", "X-Forwarded-For":
		return true
	case "Authorization":
		return method != http.MethodGet && method != http.MethodHead
	}
	return false
}

// toOrigin trims out, a copy of a client request, to what b's policies
// send to the origin, and returns it. Without a cache policy it leaves out
// as it is. Like CloudFront, it sends a URL origin its own host name unless
// the origin request policy forwards the viewer's Host (X-Forwarded-Host
// still names it).
func toOrigin(b *Behavior, out *http.Request) *http.Request {
	p := b.CachePolicy
	if p == nil {
		return out
	}
	orp := b.OriginRequestPolicy
	if orp == nil || !orp.Headers.Includes("Host") {
		out = out.WithContext(context.WithValue(out.Context(), originHostKey{}, true))
	}
	if out.URL.RawQuery != "" {
		var kept []string
		for q := range strings.SplitSeq(out.URL.RawQuery, "&") {
			if q == "" {
				continue
			}
			k, _, _ := strings.Cut(q, "=")
			name := queryUnescape(k)
			if p.QueryStrings.Includes(name) || orp != nil && orp.QueryStrings.Includes(name) {
				kept = append(kept, q)
			}
		}
		out.URL.RawQuery = strings.Join(kept, "&")
	}
	out.URL.ForceQuery = false
	out.RequestURI = ""
	h := make(http.Header, len(out.Header))
	for name, vs := range out.Header {
		switch {
		case name == "Cookie":
			continue
		case alwaysForwarded(name, out.Method), p.Headers.Includes(name) && name != "Host",
			orp != nil && orp.Headers.Includes(name):
			h[name] = vs
		}
	}
	if len(out.Header["Cookie"]) > 0 && (p.Cookies.Mode != config.FilterNone || orp != nil && orp.Cookies.Mode != config.FilterNone) {
		var kept []string
		for _, c := range out.Cookies() {
			if p.Cookies.Includes(c.Name) || orp != nil && orp.Cookies.Includes(c.Name) {
				kept = append(kept, c.Name+"="+c.Value)
			}
		}
		if len(kept) > 0 {
			h["Cookie"] = []string{strings.Join(kept, "; ")}
		}
	}
	out.Header = h
	return out
}

// originHostKey marks, in a request's context, that a URL origin is to be
// sent its own host name rather than the viewer's.
type originHostKey struct{}

// unkeyedCookie reports whether out, a request toOrigin trimmed for b,
// carries a cookie b's cache key does not hold: the origin may have
// personalised its response with it. Without a cache policy any cookie
// counts.
func unkeyedCookie(b *Behavior, out *http.Request) bool {
	if len(out.Header["Cookie"]) == 0 {
		return false
	}
	p := b.CachePolicy
	if p == nil {
		return true
	}
	for _, c := range out.Cookies() {
		if !p.Cookies.Includes(c.Name) {
			return true
		}
	}
	return false
}

// headerWriter sets a behavior's response headers on every response.
type headerWriter struct {
	http.ResponseWriter
	h    http.Header
	done bool
}

func (w *headerWriter) WriteHeader(code int) {
	if !w.done && code >= 200 {
		w.done = true
		dst := w.ResponseWriter.Header()
		for k, vs := range w.h {
			dst[k] = vs[:len(vs):len(vs)]
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *headerWriter) Write(p []byte) (int, error) {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *headerWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
