package edge

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/strata-cache/strata/edge/store"
	"github.com/strata-cache/strata/httpcache"
)

// Vary and secondary keys.
//
// A response without Vary is stored under the request's primary key. When a
// URL's responses vary, the primary key holds a small vary marker (the field
// names and a generation number) and each variant is stored under a
// secondary key: primary key, generation, and the request's normalised
// values of those fields. A lookup is then two hash probes, however many
// variants a URL has. Invalidating the URL removes the marker, which makes
// every variant unreachable at once; they age out of the store. Purges by
// path and tag remove the variants themselves.

// generations numbers vary markers; it only grows.
var generations atomic.Uint64

// varyNames returns the canonical, sorted, distinct field names of a
// response's Vary fields ("*" is handled before storing: never stored).
func varyNames(h http.Header) []string {
	var names []string
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" && f != "*" {
				names = append(names, http.CanonicalHeaderKey(f))
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// secondaryKey is the key of the variant of primary selected by req's
// values of marker's fields.
func secondaryKey(primary string, marker *store.Entry, req http.Header) string {
	var b strings.Builder
	b.WriteString(primary)
	b.WriteString("\x00v")
	b.WriteString(strconv.FormatUint(marker.Generation, 10))
	for _, f := range marker.VaryNames {
		b.WriteByte(0)
		b.WriteString(normaliseField(f, req.Values(f)))
	}
	return b.String()
}

// lookup returns the stored response for a request with primary key key and
// header req (nil when none), the key under which concurrent misses for it
// collapse, and the forward reason to report if it cannot be used.
func (e *Edge) lookup(key string, req http.Header) (en *store.Entry, flightKey, fwd string) {
	en, ok := e.cfg.Store.Get(key)
	if !ok {
		return nil, key, httpcache.FwdURIMiss
	}
	if en.IsVaryMarker() {
		skey := secondaryKey(key, en, req)
		if v, ok := e.cfg.Store.Get(skey); ok && varyMatches(v.Vary, req) {
			return v, skey, ""
		}
		return nil, skey, httpcache.FwdVary
	}
	if !varyMatches(en.Vary, req) {
		return nil, key, httpcache.FwdVary
	}
	return en, key, ""
}

// variantKey returns the key to store a response varying on names under,
// installing a vary marker for primary when there is none or when it names
// other fields (a new generation: the old variants become unreachable). The
// marker is kept at least as long as the variant (retain), so long-lived
// variants stay reachable.
func (e *Edge) variantKey(primary, path string, names []string, epoch uint64, req http.Header, retain time.Duration) string {
	retain = max(retain, markerRetention)
	marker, ok := e.cfg.Store.Get(primary)
	switch {
	case !ok || !marker.IsVaryMarker() || !slices.Equal(marker.VaryNames, names):
		marker = &store.Entry{Key: primary, Path: path, VaryNames: names, Generation: generations.Add(1), Retain: retain}
		if u := keyURL(primary); u != primary {
			marker.Primary = u
		}
		e.storeUnlessPurged(epoch, marker)
	case marker.Retain < retain:
		longer := marker.Clone()
		longer.Retain = retain
		e.storeUnlessPurged(epoch, longer)
	}
	return secondaryKey(primary, marker, req)
}

// markerRetention is the least time a vary marker is kept; it is tiny, and
// losing it early only costs a miss.
const markerRetention = 24 * time.Hour
