package httpcache

import (
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// maxDelta is the largest delta-seconds value kept: RFC 9111 section 1.2.2
// says a larger value is to be taken as 2147483648 (2^31).
const maxDelta = 2147483648 * time.Second

// Response holds the directives of a response's Cache-Control field (and of
// CDN-Cache-Control or Surrogate-Control, which take precedence for this cache:
// see ParseResponse). Durations are valid only when the matching Has* field is
// true. Unknown directives are ignored, as RFC 9111 section 5.2.3 requires.
type Response struct {
	NoStore         bool
	NoCache         bool     // no-cache without field names: revalidate before every reuse
	NoCacheFields   []string // no-cache="a, b": those fields need revalidation (canonical names)
	Private         bool     // private without field names: a shared cache must not store
	PrivateFields   []string // private="a, b": a shared cache must not store those fields
	Public          bool
	MustRevalidate  bool
	ProxyRevalidate bool
	MustUnderstand  bool
	Immutable       bool

	MaxAge, SMaxAge                    time.Duration
	HasMaxAge, HasSMaxAge              bool
	StaleWhileRevalidate, StaleIfError time.Duration
	HasStaleWhileRevalidate            bool
	HasStaleIfError                    bool

	// Targeted is true when the directives came from a CDN-Cache-Control or
	// Surrogate-Control field rather than Cache-Control.
	Targeted bool
}

// Request holds the directives of a request's Cache-Control field
// (RFC 9111 section 5.2.1), with Pragma: no-cache taken as no-cache when the
// request has no Cache-Control field (section 5.4).
type Request struct {
	NoStore      bool
	NoCache      bool
	OnlyIfCached bool

	MaxAge, MaxStale, MinFresh time.Duration
	HasMaxAge, HasMinFresh     bool
	HasMaxStale                bool // max-stale without a value means any staleness
	MaxStaleUnbounded          bool
	// StaleIfError (RFC 5861) lets the cache answer with a response stale
	// by at most this much when the origin fails.
	StaleIfError    time.Duration
	HasStaleIfError bool
}

// directive is one parsed name[=value] pair; name is lower case.
type directive struct {
	name, value string
	hasValue    bool
	// notDelta marks a structured-field value that is not an integer: a
	// delta-seconds directive with it is ignored (RFC 9213 section 2.1).
	notDelta bool
}

// parseDirectives splits every line of a Cache-Control style field into
// directives. It accepts token and quoted-string arguments (with quoted-pair
// escapes), optional whitespace, empty list elements, and never fails: a
// malformed element is skipped up to the next comma outside quotes.
func parseDirectives(lines []string) []directive {
	var out []directive
	for _, line := range lines {
		s := line
		for len(s) > 0 {
			s = strings.TrimLeft(s, " \t,")
			if s == "" {
				break
			}
			i := strings.IndexAny(s, "=,")
			if i < 0 {
				out = appendDirective(out, s, "", false)
				break
			}
			name := s[:i]
			if s[i] == ',' {
				out = appendDirective(out, name, "", false)
				s = s[i+1:]
				continue
			}
			s = strings.TrimLeft(s[i+1:], " \t")
			var value string
			if strings.HasPrefix(s, `"`) {
				value, s = unquote(s)
			} else {
				j := strings.IndexByte(s, ',')
				if j < 0 {
					j = len(s)
				}
				value, s = strings.TrimSpace(s[:j]), s[j:]
			}
			out = appendDirective(out, name, value, true)
			// Skip anything between the value and the next comma.
			if j := strings.IndexByte(s, ','); j >= 0 {
				s = s[j+1:]
			} else {
				s = ""
			}
		}
	}
	return out
}

func appendDirective(out []directive, name, value string, hasValue bool) []directive {
	name = strings.ToLower(strings.TrimSpace(name))
	if name == "" || strings.ContainsAny(name, " \t\"") {
		return out
	}
	return append(out, directive{name: name, value: value, hasValue: hasValue})
}

// unquote reads a quoted-string at the start of s and returns its unescaped
// content and the rest of s. An unterminated string runs to the end of s.
func unquote(s string) (value, rest string) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), s[i+1:]
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), ""
}

// parseDelta parses delta-seconds (RFC 9111 section 1.2.2): digits only,
// values above 2^31 capped. ok is false for anything else.
func parseDelta(s string) (time.Duration, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > uint64(maxDelta/time.Second) {
		return maxDelta, true // too many digits: the value is large, not invalid
	}
	return time.Duration(n) * time.Second, true
}

// deltaDirective applies a delta-seconds directive. An invalid or missing
// argument, or a second occurrence with a different value, yields 0: RFC 9111
// section 4.2.1 encourages treating such responses as stale.
func deltaDirective(d directive, dst *time.Duration, has *bool) {
	if d.notDelta {
		return
	}
	v, ok := parseDelta(d.value)
	if !d.hasValue || !ok {
		v = 0
	}
	if *has && *dst != v {
		v = 0
	}
	*dst, *has = v, true
}

// fieldNames splits a directive's field-name list into canonical names.
func fieldNames(v string) []string {
	var names []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			names = append(names, textproto.CanonicalMIMEHeaderKey(f))
		}
	}
	return names
}

// ParseResponse returns the directives a shared cache obeys for a response
// with header h; see ParseResponseFor.
func ParseResponse(h http.Header) Response { return ParseResponseFor(h, "") }

// ParseResponseFor returns the directives the shared cache whose
// Surrogate-Capability device token is device obeys for a response with
// header h. A valid CDN-Cache-Control (RFC 9213: a Structured Fields
// dictionary; an invalid one is ignored as a whole) replaces Cache-Control;
// otherwise Surrogate-Control does, keeping only directives that are
// untargeted or targeted at device ("max-age=60;device"). The caller removes
// Surrogate-Control before forwarding the response (see StripUnshared).
func ParseResponseFor(h http.Header, device string) Response {
	var r Response
	var ds []directive
	if v := h.Values("Cdn-Cache-Control"); len(v) > 0 {
		if members, err := parseSFDictionary(v); err == nil && len(members) > 0 {
			ds, r.Targeted = sfDirectives(members), true
		}
	}
	if !r.Targeted {
		if v := h.Values("Surrogate-Control"); len(v) > 0 {
			if ds = forDevice(parseDirectives(v), device); len(ds) > 0 {
				r.Targeted = true
			}
		}
	}
	if !r.Targeted {
		ds = parseDirectives(h.Values("Cache-Control"))
	}
	r.apply(ds)
	return r
}

// sfDirectives turns dictionary members into directives: a bare key (or
// ?1) is a directive without value, ?0 is absent, integers and tokens are
// values, and any other value cannot be a delta-seconds.
func sfDirectives(members []sfMember) []directive {
	ds := make([]directive, 0, len(members))
	for _, m := range members {
		d := directive{name: m.key}
		switch m.kind {
		case sfBool:
			if !m.truth {
				continue
			}
		case sfInteger, sfToken:
			d.value, d.hasValue = m.value, true
		default:
			d.value, d.hasValue, d.notDelta = m.value, true, true
		}
		ds = append(ds, d)
	}
	return ds
}

// forDevice keeps the Surrogate-Control directives that apply to device:
// untargeted ones, and those ending in ";device" (with the target removed).
func forDevice(ds []directive, device string) []directive {
	out := ds[:0:0]
	for _, d := range ds {
		text := &d.name
		if d.hasValue {
			text = &d.value
		}
		if base, target, ok := strings.Cut(*text, ";"); ok {
			if device == "" || !strings.EqualFold(strings.TrimSpace(target), device) {
				continue
			}
			*text = strings.TrimSpace(base)
		}
		out = append(out, d)
	}
	return out
}

// apply sets r's fields from directives.
func (r *Response) apply(ds []directive) {
	for _, d := range ds {
		switch d.name {
		case "no-store":
			r.NoStore = true
		case "no-cache":
			if d.hasValue && strings.TrimSpace(d.value) != "" {
				r.NoCacheFields = append(r.NoCacheFields, fieldNames(d.value)...)
			} else {
				r.NoCache = true
			}
		case "private":
			if d.hasValue && strings.TrimSpace(d.value) != "" {
				r.PrivateFields = append(r.PrivateFields, fieldNames(d.value)...)
			} else {
				r.Private = true
			}
		case "public":
			r.Public = true
		case "must-revalidate":
			r.MustRevalidate = true
		case "proxy-revalidate":
			r.ProxyRevalidate = true
		case "must-understand":
			r.MustUnderstand = true
		case "immutable":
			r.Immutable = true
		case "max-age":
			deltaDirective(d, &r.MaxAge, &r.HasMaxAge)
		case "s-maxage":
			deltaDirective(d, &r.SMaxAge, &r.HasSMaxAge)
		case "stale-while-revalidate":
			deltaDirective(d, &r.StaleWhileRevalidate, &r.HasStaleWhileRevalidate)
		case "stale-if-error":
			deltaDirective(d, &r.StaleIfError, &r.HasStaleIfError)
		}
	}
}

// ParseRequest returns the directives of a request with header h.
func ParseRequest(h http.Header) Request {
	var r Request
	lines := h.Values("Cache-Control")
	if len(lines) == 0 {
		for _, d := range parseDirectives(h.Values("Pragma")) {
			if d.name == "no-cache" {
				r.NoCache = true
			}
		}
		return r
	}
	for _, d := range parseDirectives(lines) {
		switch d.name {
		case "no-store":
			r.NoStore = true
		case "no-cache":
			r.NoCache = true
		case "only-if-cached":
			r.OnlyIfCached = true
		case "max-age":
			deltaDirective(d, &r.MaxAge, &r.HasMaxAge)
		case "min-fresh":
			deltaDirective(d, &r.MinFresh, &r.HasMinFresh)
		case "stale-if-error":
			deltaDirective(d, &r.StaleIfError, &r.HasStaleIfError)
		case "max-stale":
			if !d.hasValue {
				r.HasMaxStale, r.MaxStaleUnbounded = true, true
				continue
			}
			if v, ok := parseDelta(d.value); ok {
				r.HasMaxStale, r.MaxStale = true, v
			}
		}
	}
	return r
}
