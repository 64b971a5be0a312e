package httpcache

import (
	"net/http"
	"strings"
)

// Validators copies the validators of a stored response (header stored) into
// the outgoing request header out, so the origin can answer 304 Not Modified
// (RFC 9111 section 4.3.1). It reports whether there was any validator.
func Validators(stored, out http.Header) bool {
	ok := false
	if etag := stored.Get("Etag"); etag != "" {
		out.Set("If-None-Match", etag)
		ok = true
	}
	if lm := stored.Get("Last-Modified"); lm != "" {
		out.Set("If-Modified-Since", lm)
		ok = true
	}
	return ok
}

// notUpdated lists the fields a 304 must not replace in a stored response:
// they describe the stored content, which the 304 does not carry
// (RFC 9111 section 3.2).
var notUpdated = map[string]bool{
	"Content-Length":    true,
	"Content-Encoding":  true,
	"Content-Range":     true,
	"Transfer-Encoding": true,
	"Connection":        true,
	"Keep-Alive":        true,
}

// Freshen updates a stored response's header, in place, with the fields of a
// 304 Not Modified response (RFC 9111 section 4.3.4): every field the 304
// carries replaces the stored one, except those describing the content.
func Freshen(stored, notModified http.Header) {
	for k, v := range notModified {
		if notUpdated[k] {
			continue
		}
		stored[k] = append([]string(nil), v...)
	}
}

// NotModified reports whether a client's conditional GET or HEAD request can
// be answered with 304 from a stored response with header stored, evaluating
// If-None-Match (weak comparison) and, only when that is absent,
// If-Modified-Since, as RFC 9110 section 13.2.2 orders them.
func NotModified(req *http.Request, stored http.Header) bool {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return false
	}
	if inm := req.Header.Values("If-None-Match"); len(inm) > 0 {
		etag := stored.Get("Etag")
		if etag == "" {
			return false
		}
		for _, line := range inm {
			for _, tag := range splitETags(line) {
				if tag == "*" || weakMatch(tag, etag) {
					return true
				}
			}
		}
		return false
	}
	ims, ok := parseDate(req.Header.Get("If-Modified-Since"))
	if !ok {
		return false
	}
	lm, ok := parseDate(stored.Get("Last-Modified"))
	return ok && !lm.After(ims)
}

// splitETags splits an If-None-Match value into entity tags, keeping commas
// inside quotes.
func splitETags(v string) []string {
	var tags []string
	for len(v) > 0 {
		v = strings.TrimLeft(v, " \t,")
		if v == "" {
			break
		}
		start := 0
		if strings.HasPrefix(v, "W/") {
			start = 2
		}
		end := len(v)
		if start < len(v) && v[start] == '"' {
			if j := strings.IndexByte(v[start+1:], '"'); j >= 0 {
				end = start + j + 2
			}
		} else if j := strings.IndexByte(v, ','); j >= 0 {
			end = j
		}
		tags = append(tags, strings.TrimSpace(v[:end]))
		v = v[end:]
	}
	return tags
}

// weakMatch compares two entity tags with the weak comparison of RFC 9110
// section 8.8.3.2: equal opaque tags, whether or not either is weak.
func weakMatch(a, b string) bool {
	return strings.TrimPrefix(a, "W/") == strings.TrimPrefix(b, "W/")
}
