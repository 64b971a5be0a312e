package edge

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/strata-cache/strata/edge/compress"
	"github.com/strata-cache/strata/edge/store"
)

// Compression (Behavior.Compress).
//
// The origin is asked for identity (Accept-Encoding: identity), so a URL
// has one stored response, the source, whatever its clients accept; the
// source's own Vary is kept but Accept-Encoding is left out of its
// secondary key, since the origin never saw the clients' values. An origin
// that sends a Content-Encoding anyway is stored and served as it sent it.
//
// Each request's coding is negotiated from its Accept-Encoding (br, zstd,
// gzip, in that order of preference on ties; see compress.Negotiate). When
// the source is compressible (200, compressible Content-Type, at least
// CompressMinSize bytes, no Content-Encoding, Content-Range or
// no-transform), every response built from it carries Vary:
// Accept-Encoding, identity ones included, and a request for coding X is
// answered with the compressed variant X, which is stored beside the source
// under the key
//
//	source key \x00 ce=X \x00 source ResponseTime \x00 source length
//
// with the source's URL (as Primary), path, tags, timing and lifetime, so
// that purges by URL, path, prefix and tag and soft purges reach it exactly
// as they reach the source. Freshness is always judged on the source: a
// variant is only ever looked up from a usable source, and its key names
// the source it was built from, so a source that is replaced or refreshed
// (304) leaves its old variants unreachable (they age out) and gets new
// ones on demand. A variant is built at most once per source and coding
// (modulo concurrent first requests): on a miss that fetched, from the
// stream; on a hit of the source, from the stored body. Compressed hits do
// no compression work.
//
// A variant's ETag is the source's, weak, with "-X" added inside the
// quotes ("a" → W/"a-gzip"; see variantETag), so validators of different
// codings never match each other and If-None-Match (weak comparison) works;
// revalidation with the origin always uses the source's own.
// Requests with Range and HEAD requests are answered from the source
// (identity, with Vary: Accept-Encoding), so byte ranges always address the
// identity body. When a client accepts nothing, not even identity
// ("identity;q=0"), identity is sent (RFC 9110 section 12.5.3 allows it).

// offeredCodings are the codings the edge produces, best first.
var offeredCodings = []string{compress.Brotli, compress.Zstd, compress.Gzip}

// encodingFor returns the coding to answer r with: "" when b does not
// compress, otherwise compress.Identity or one of offeredCodings.
func encodingFor(b *Behavior, r *http.Request) string {
	if !b.Compress {
		return ""
	}
	if r.Method == http.MethodHead || len(r.Header["Range"]) > 0 {
		return compress.Identity
	}
	var ae string
	switch vs := r.Header["Accept-Encoding"]; len(vs) {
	case 0:
	case 1:
		ae = vs[0]
	default:
		ae = strings.Join(vs, ",")
	}
	if enc := compress.Negotiate(ae, offeredCodings); enc != "" {
		return enc
	}
	return compress.Identity
}

// compressible reports whether a response with status, header h and a body
// of size bytes (-1: unknown, but larger than MaxObjectSize) is worth
// compressing and allowed to be.
func (e *Edge) compressible(status int, h http.Header, size int64) bool {
	if status != http.StatusOK || size >= 0 && size < e.cfg.CompressMinSize {
		return false
	}
	if ce := h["Content-Encoding"]; len(ce) > 0 && !(len(ce) == 1 && strings.EqualFold(ce[0], compress.Identity)) {
		return false
	}
	if len(h["Content-Range"]) > 0 || compress.NoTransform(h["Cache-Control"]) {
		return false
	}
	ct := h["Content-Type"]
	return len(ct) > 0 && compress.Compressible(ct[0])
}

// varyHasAcceptEncoding reports whether h's Vary names Accept-Encoding.
func varyHasAcceptEncoding(h http.Header) bool {
	for _, v := range h["Vary"] {
		for v != "" {
			var f string
			if i := strings.IndexByte(v, ','); i >= 0 {
				f, v = v[:i], v[i+1:]
			} else {
				f, v = v, ""
			}
			if f = strings.TrimSpace(f); f == "*" || strings.EqualFold(f, "Accept-Encoding") {
				return true
			}
		}
	}
	return false
}

// addVaryAcceptEncoding makes h's Vary name Accept-Encoding, without
// writing into the slices h shares with a stored header.
func addVaryAcceptEncoding(h http.Header) {
	if varyHasAcceptEncoding(h) {
		return
	}
	if vs := h["Vary"]; len(vs) > 0 {
		h["Vary"] = []string{strings.Join(vs, ", ") + ", Accept-Encoding"}
		return
	}
	h["Vary"] = varyAcceptEncoding
}

var varyAcceptEncoding = []string{"Accept-Encoding"}

// withoutAcceptEncoding drops Accept-Encoding from a response's vary names
// and values: with compression on, the origin always got identity, so the
// clients' values did not select the response.
func withoutAcceptEncoding(names []string, values map[string]string) []string {
	delete(values, "Accept-Encoding")
	out := names[:0]
	for _, n := range names {
		if n != "Accept-Encoding" {
			out = append(out, n)
		}
	}
	return out
}

// variantETag returns the ETag of the enc variant of a response with ETag
// etag: weak, with "-enc" appended to the opaque tag ("a" and W/"a" give
// W/"a-gzip"). Weak, because the variant is a different representation
// whose bytes are not promised identical when it is built twice (a stream
// compressed as it arrived, flushed on the way, against a stored body
// compressed at once); the suffix keeps the codings' validators apart.
// A malformed ETag gives none.
func variantETag(etag, enc string) (string, bool) {
	opaque := strings.TrimPrefix(etag, "W/")
	if len(opaque) < 2 || opaque[0] != '"' || opaque[len(opaque)-1] != '"' {
		return "", false
	}
	return "W/" + opaque[:len(opaque)-1] + "-" + enc + `"`, true
}

// variantHeader returns the header of the enc variant of a response with
// header src.
func variantHeader(src http.Header, enc string) http.Header {
	h := src.Clone()
	toVariantHeader(h, enc)
	return h
}

// toVariantHeader turns h, a response's header whose value slices it may
// replace but not write into, into its enc variant's.
func toVariantHeader(h http.Header, enc string) {
	h["Content-Encoding"] = []string{enc}
	delete(h, "Content-Length")
	delete(h, "Accept-Ranges") // ranges are served from the identity body
	if etag, ok := variantETag(h.Get("Etag"), enc); ok {
		h["Etag"] = []string{etag}
	} else {
		delete(h, "Etag")
	}
	addVaryAcceptEncoding(h)
}

// compressedKey is the key of src's enc variant. It costs one allocation:
// it is built on every compressed hit.
func compressedKey(src *store.Entry, enc string) string {
	var stack [160]byte
	b := append(stack[:0], src.Key...)
	b = append(b, "\x00ce="...)
	b = append(b, enc...)
	b = append(b, 0)
	b = strconv.AppendInt(b, src.Timing.ResponseTime.UnixNano(), 36)
	b = append(b, 0)
	b = strconv.AppendInt(b, int64(len(src.Body)), 36)
	return string(b)
}

// newVariant returns the enc variant of src with the compressed body.
func newVariant(src *store.Entry, enc string, body []byte) *store.Entry {
	return &store.Entry{
		Key: compressedKey(src, enc), Primary: src.URL(), Path: src.Path,
		Status: src.Status, Header: variantHeader(src.Header, enc), Body: body,
		Timing: src.Timing, Lifetime: src.Lifetime, Directives: src.Directives,
		Vary: src.Vary, Tags: src.Tags, Retain: src.Retain,
	}
}

// variantOf returns the enc variant of src, building it (and storing it,
// when src is stored) if there is none. stored says whether src is the
// stored copy (a hit) or a response rebuilt from it (a 304 refresh, whose
// header may hold fields for this client only): then the variant is built
// from the stored copy that refresh wrote, if it is the same response, and
// this client gets src's header over the variant's body. Nil when it
// cannot be built (the caller serves src).
func (e *Edge) variantOf(src *store.Entry, enc string, stored bool) *store.Entry {
	key := compressedKey(src, enc)
	v, ok := e.cfg.Store.Get(key)
	if !ok {
		epoch := e.purges.current()
		body, err := compress.Compress(enc, src.Body)
		if err != nil {
			e.cfg.Logger.Warn("edge: compressing", "key", src.Key, "encoding", enc, "err", err)
			return nil
		}
		base := src
		if !stored {
			if cur, ok := e.cfg.Store.Get(src.Key); ok && compressedKey(cur, enc) == key {
				base, stored = cur, true
			}
		}
		v = newVariant(base, enc, body)
		if stored {
			e.storeVariant(epoch, base, v)
		}
		if base == src {
			return v
		}
	} else if stored {
		return v
	}
	return newVariant(src, enc, v.Body)
}

// storeVariant stores v, built from the stored source src, unless src was
// removed before epoch or a purge after epoch matches v; a source marked
// stale by a soft purge gives a variant marked stale too.
func (e *Edge) storeVariant(epoch uint64, src, v *store.Entry) {
	e.storeMu.RLock()
	defer e.storeMu.RUnlock()
	if cur, ok := e.cfg.Store.Get(src.Key); !ok || cur != src {
		return // purged or replaced since it was looked up
	}
	hard, soft := e.purges.check(epoch, v, e.dataVersion(v))
	since, marked := src.StaleSince()
	switch {
	case hard:
	case soft:
		e.cfg.Store.SetStale(v, v.Timing.ResponseTime)
	case marked:
		e.cfg.Store.SetStale(v, since)
	default:
		e.cfg.Store.Set(v)
	}
}

// carryVariants moves the compressed variants of stale, a stored source
// that a 304 has just refreshed, to the refreshed copy (stored under the
// same key), with its new header and timing: the body did not change, so
// it is not compressed again. Responses revalidated on every request
// (no-cache, max-age=0) are so compressed once, not once per request.
func (e *Edge) carryVariants(epoch uint64, stale *store.Entry) {
	cur, ok := e.cfg.Store.Get(stale.Key)
	if !ok || cur == stale || len(cur.Body) != len(stale.Body) || !e.compressible(cur.Status, cur.Header, int64(len(cur.Body))) {
		return
	}
	for _, enc := range offeredCodings {
		if old, ok := e.cfg.Store.Get(compressedKey(stale, enc)); ok {
			e.storeVariant(epoch, cur, newVariant(cur, enc, old.Body))
		}
	}
}

// serveCompressedFetched answers r, for which coding enc was negotiated,
// with the enc variant of a response just fetched (whose header is in h
// already), storing the variant when the response was stored.
func (e *Edge) serveCompressedFetched(w http.ResponseWriter, r *http.Request, res *fetched, enc string) {
	src := res.shared
	storeIt := res.stored && src != nil
	toVariantHeader(w.Header(), enc)

	var body []byte // the whole identity body, when there is one
	switch {
	case res.fill == nil && res.rest == nil:
		body = res.body
	case res.fill != nil && needsServeContent(r):
		b, err := res.fill.wait(r.Context())
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		body = b
	}
	if body != nil {
		c, err := compress.Compress(enc, body)
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		if storeIt {
			e.storeFetchedVariant(res, src, enc, body, c)
		}
		e.writeBody(w, r, res.status, c, nil)
		return
	}

	// Stream: compress as the body arrives.
	w.WriteHeader(res.status)
	var kept *bytes.Buffer
	var out io.Writer = w
	if storeIt && res.fill != nil {
		kept = new(bytes.Buffer)
		out = io.MultiWriter(w, kept)
	}
	enc2, err := compress.NewEncoder(out, enc)
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if res.fill != nil {
		err = res.fill.streamTo(r.Context(), enc2, func() error {
			if err := enc2.Flush(); err != nil {
				return err
			}
			http.NewResponseController(w).Flush() // a writer that cannot flush still gets every byte
			return nil
		})
	} else {
		defer res.rest.Close()
		if _, err = enc2.Write(res.body); err == nil {
			_, err = io.Copy(enc2, res.rest)
		}
	}
	if cerr := enc2.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if kept != nil {
		full, _ := res.fill.wait(r.Context())
		c := make([]byte, kept.Len()) // exactly its length: the store weighs capacity
		copy(c, kept.Bytes())
		e.storeFetchedVariant(res, src, enc, full, c)
	}
}

// storeFetchedVariant stores the enc variant (compressed body c) of src,
// the response just fetched with identity body body, unless a purge since
// the fetch began matches it.
func (e *Edge) storeFetchedVariant(res *fetched, src *store.Entry, enc string, body, c []byte) {
	full := *src
	full.Body = body // the key names the source's length
	v := newVariant(&full, enc, c)
	e.storeUnlessPurged(res.epoch, v)
}
