package httpcache

import (
	"strconv"
	"strings"
)

// Forward reasons of RFC 9211 section 2.2.
const (
	FwdBypass  = "bypass"   // the cache was configured not to handle the request
	FwdMethod  = "method"   // the request method's semantics require forwarding
	FwdURIMiss = "uri-miss" // nothing was stored for the URI
	FwdVary    = "vary-miss"
	FwdMiss    = "miss"    // stored responses could not be used (e.g. purged)
	FwdRequest = "request" // the request's directives required forwarding
	FwdStale   = "stale"   // the stored response was stale and needed validation
)

// CacheStatus is one cache's entry in an RFC 9211 Cache-Status field.
type CacheStatus struct {
	Cache     string // the cache's name, e.g. "strata"
	Hit       bool
	Fwd       string // one of the Fwd constants; empty on a hit
	FwdStatus int    // status of the forwarded response, 0 when not forwarded
	Stored    bool
	Collapsed bool
	TTL       int64 // seconds of freshness left; negative when stale. Set HasTTL.
	HasTTL    bool
	Key       string // the cache key, when exposing it is wanted
	Detail    string // implementation-specific detail, a token
}

// String formats the entry as a Cache-Status list member.
func (s CacheStatus) String() string {
	var b strings.Builder
	b.WriteString(s.Cache)
	if s.Hit {
		b.WriteString("; hit")
	}
	if s.Fwd != "" {
		b.WriteString("; fwd=")
		b.WriteString(s.Fwd)
	}
	if s.FwdStatus != 0 {
		b.WriteString("; fwd-status=")
		b.WriteString(strconv.Itoa(s.FwdStatus))
	}
	if s.Stored {
		b.WriteString("; stored")
	}
	if s.Collapsed {
		b.WriteString("; collapsed")
	}
	if s.HasTTL {
		b.WriteString("; ttl=")
		b.WriteString(strconv.FormatInt(s.TTL, 10))
	}
	if s.Key != "" {
		b.WriteString("; key=")
		b.WriteString(strconv.Quote(s.Key))
	}
	if s.Detail != "" {
		b.WriteString("; detail=")
		b.WriteString(s.Detail)
	}
	return b.String()
}
