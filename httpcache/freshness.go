package httpcache

import (
	"net/http"
	"strings"
	"time"
)

// heuristicStatuses are the status codes RFC 9110 section 15.1 defines as
// heuristically cacheable.
var heuristicStatuses = map[int]bool{
	200: true, 203: true, 204: true, 206: true, 300: true, 301: true, 308: true,
	404: true, 405: true, 410: true, 414: true, 501: true,
}

// HeuristicallyCacheable reports whether status may be given a heuristic
// freshness lifetime.
func HeuristicallyCacheable(status int) bool { return heuristicStatuses[status] }

// HeuristicFraction is the fraction of the time since Last-Modified used as a
// heuristic freshness lifetime (RFC 9111 section 4.2.2 suggests 10%), and
// HeuristicMax caps it.
const (
	HeuristicFraction = 0.1
	HeuristicMax      = 24 * time.Hour
)

// httpDateLayouts are the three HTTP-date formats of RFC 9110 section 5.6.7.
var httpDateLayouts = []string{
	http.TimeFormat,                  // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
	"Monday, 02-Jan-06 15:04:05 GMT", // obsolete RFC 850 format
	time.ANSIC,                       // asctime: Sun Nov  6 08:49:37 1994
	"Mon Jan 02 15:04:05 2006",       // asctime, date3 with 2DIGIT day
}

// parseDate parses an HTTP-date strictly: the value must be exactly one of
// the three formats (letter case aside), so "18  Aug" or a one-digit hour,
// which time.Parse would accept, are invalid, as RFC 9111 requires of
// Expires (and an invalid Expires means already stale).
func parseDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	norm := s
	if n := len(norm); n > 3 && strings.EqualFold(norm[n-3:], "GMT") {
		norm = norm[:n-3] + "GMT"
	}
	for _, layout := range httpDateLayouts {
		t, err := time.Parse(layout, norm)
		if err == nil && strings.EqualFold(afterWeekday(t.Format(layout)), afterWeekday(norm)) {
			return t, true
		}
	}
	return time.Time{}, false
}

// afterWeekday drops the day name, which time.Parse checks is a day name but
// not that it is the right one; senders get it wrong, and nothing depends on it.
func afterWeekday(s string) string {
	_, rest, _ := strings.Cut(s, " ")
	return rest
}

// Date returns the Date of a response, or fallback (the time the response was
// received) when the field is missing or invalid, as RFC 9110 section 6.6.1
// allows a recipient to do.
func Date(h http.Header, fallback time.Time) time.Time {
	if t, ok := parseDate(h.Get("Date")); ok {
		return t
	}
	return fallback
}

// ageValue returns the Age field's value. Only the first value is used; a
// missing or invalid one (negative, non-numeric) counts as 0. Values above
// 2^31 are capped.
func ageValue(h http.Header) time.Duration {
	v := h.Get("Age")
	if i := strings.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	d, _ := parseDelta(strings.TrimSpace(v))
	return d
}

// Timing is what a cache records about when it got a response.
type Timing struct {
	RequestTime  time.Time // when the request that got the response was sent
	ResponseTime time.Time // when the response was received
	// Initial is the response's corrected initial age (RFC 9111 section
	// 4.2.3), set by Received; zero for a Timing built by hand, in which
	// case Age computes it from the header.
	Initial time.Duration
}

// Received returns the Timing of a response with header h, requested at
// requestTime and received at responseTime, with its initial age computed
// once, so that CurrentAge on every later reuse is arithmetic only.
func Received(h http.Header, requestTime, responseTime time.Time) Timing {
	t := Timing{RequestTime: requestTime, ResponseTime: responseTime}
	t.Initial = initialAge(h, t)
	return t
}

// initialAge is the corrected initial age of RFC 9111 section 4.2.3.
func initialAge(h http.Header, t Timing) time.Duration {
	date := Date(h, t.ResponseTime)
	apparent := max(0, t.ResponseTime.Sub(date))
	delay := max(0, t.ResponseTime.Sub(t.RequestTime))
	correctedAge := ageValue(h) + delay
	return max(apparent, correctedAge)
}

// CurrentAge returns the current age at now of a response whose Timing came
// from Received.
func CurrentAge(t Timing, now time.Time) time.Duration {
	resident := max(0, now.Sub(t.ResponseTime))
	return min(t.Initial+resident, maxDelta)
}

// Age returns the current age of a response with header h at now, as
// RFC 9111 section 4.2.3 computes it.
func Age(h http.Header, t Timing, now time.Time) time.Duration {
	t.Initial = initialAge(h, t)
	return CurrentAge(t, now)
}

// Lifetime returns the freshness lifetime of a response with status and header
// h for a shared cache (RFC 9111 section 4.2.1), and whether it is heuristic.
// cc must be ParseResponse(h). received is the response time, used when the
// response has no valid Date.
func Lifetime(status int, h http.Header, cc Response, received time.Time) (lifetime time.Duration, heuristic bool) {
	switch {
	case cc.HasSMaxAge:
		return cc.SMaxAge, false
	case cc.HasMaxAge:
		return cc.MaxAge, false
	}
	if vs := h.Values("Expires"); len(vs) > 0 {
		exp, ok := parseDate(vs[0])
		if !ok || len(vs) > 1 {
			return 0, false // invalid Expires means already expired
		}
		return max(0, exp.Sub(Date(h, received))), false
	}
	if !HeuristicallyCacheable(status) && !cc.Public {
		return 0, false
	}
	if lm, ok := parseDate(h.Get("Last-Modified")); ok {
		if since := Date(h, received).Sub(lm); since > 0 {
			return min(time.Duration(float64(since)*HeuristicFraction), HeuristicMax), true
		}
	}
	return 0, false
}

// hasExplicitExpiry reports whether the response states its own lifetime.
func hasExplicitExpiry(h http.Header, cc Response) bool {
	return cc.HasSMaxAge || cc.HasMaxAge || len(h.Values("Expires")) > 0
}
