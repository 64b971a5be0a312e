package edge

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/strata-cache/strata/edge/compress"
	"github.com/strata-cache/strata/edge/store"
	"github.com/strata-cache/strata/httpcache"
)

// serveEntry writes a stored response, or its compressed variant for
// coding enc (see encoding.go; "" when the behavior does not compress).
// stored says whether en is the stored copy or one rebuilt from it.
func (e *Edge) serveEntry(w http.ResponseWriter, r *http.Request, en *store.Entry, stored bool, now time.Time, cs httpcache.CacheStatus, xcache, enc string) {
	src := en // freshness and age are the source's
	vary := enc != "" && e.compressible(en.Status, en.Header, int64(len(en.Body)))
	if vary && enc != compress.Identity {
		if v := e.variantOf(en, enc, stored); v != nil {
			en = v
		}
	}
	h := w.Header()
	copyHeader(h, en.Header)
	if vary {
		addVaryAcceptEncoding(h)
	}
	age := httpcache.CurrentAge(src.Timing, now)
	h.Set("Age", strconv.FormatInt(int64(age/time.Second), 10))
	cs.TTL, cs.HasTTL = int64((lifetime(src)-age)/time.Second), true
	e.setStatus(h, cs, xcache)
	e.writeBody(w, r, en.Status, en.Body, nil)
}

// serveFetched writes a response just fetched, compressed for coding enc
// when it applies (see encoding.go; "" when the behavior does not
// compress).
func (e *Edge) serveFetched(w http.ResponseWriter, r *http.Request, res *fetched, cs httpcache.CacheStatus, xcache, enc string) {
	h := w.Header()
	copyHeader(h, res.header)
	h.Del("Surrogate-Control")
	e.setStatus(h, cs, xcache)
	if enc != "" {
		size := int64(len(res.body))
		switch {
		case res.fill != nil:
			size = res.length
		case res.rest != nil:
			size = -1
		}
		if e.compressible(res.status, res.header, size) {
			addVaryAcceptEncoding(h)
			if enc != compress.Identity {
				e.serveCompressedFetched(w, r, res, enc)
				return
			}
		}
	}
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
	// A proxy adds itself to Via on every message it forwards (RFC 9110
	// section 7.6.3).
	if via := h["Via"]; len(via) > 0 {
		h["Via"] = []string{strings.Join(via, ", ") + ", " + e.via}
	} else {
		h["Via"] = e.viaOnly[:1:1]
	}
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

// surrogateKeys returns the response's surrogate keys: the space-separated
// keys of Surrogate-Key (Fastly, Varnish) and the comma-separated ones of
// Cache-Tag (Cloudflare), without duplicates, in order of appearance.
func surrogateKeys(h http.Header) []string {
	var keys []string
	var seen map[string]bool // once there are many: origins may send hundreds
	add := func(k string) {
		switch {
		case k == "":
		case seen != nil:
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		case !slices.Contains(keys, k):
			keys = append(keys, k)
			if len(keys) == 16 {
				seen = make(map[string]bool, 64)
				for _, k := range keys {
					seen[k] = true
				}
			}
		}
	}
	for _, v := range h.Values("Surrogate-Key") {
		for _, k := range strings.Fields(v) {
			add(k)
		}
	}
	for _, v := range h.Values("Cache-Tag") {
		for _, k := range strings.Split(v, ",") {
			add(strings.TrimSpace(k))
		}
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
			m[f] = normaliseField(f, req.Values(f))
		}
	}
	return m
}

// A field's lines and list elements are combined as RFC 9110 section 5.3
// allows ("a, b", "a,b" and two lines "a" and "b" are the same), whitespace
// inside elements is folded, and Accept-Language (case-insensitive
// language ranges) is lower-cased and sorted, so clients that send the same
// preferences differently share a variant.
func normaliseField(name string, vs []string) string {
	var elems []string
	for _, v := range vs {
		for _, e := range strings.Split(v, ",") {
			if e = strings.Join(strings.Fields(e), " "); e != "" {
				elems = append(elems, e)
			}
		}
	}
	if name == "Accept-Language" {
		for i, e := range elems {
			elems[i] = strings.ToLower(strings.ReplaceAll(e, " ", ""))
		}
	}
	return strings.Join(elems, ",")
}

// varyMatches reports whether req has the values a stored response was
// selected with.
func varyMatches(vary map[string]string, req http.Header) bool {
	for f, v := range vary {
		if normaliseField(f, req.Values(f)) != v {
			return false
		}
	}
	return true
}

var _ http.Handler = (*Edge)(nil)
