package compress

import "strings"

// Content codings this package encodes, and the name of no encoding.
const (
	Gzip     = "gzip"
	Brotli   = "br"
	Zstd     = "zstd"
	Identity = "identity"
)

// Negotiate returns the content coding to send to a client whose
// Accept-Encoding field value is acceptEncoding (several field lines
// joined with ","), choosing among offered, which lists the codings the
// server can send in its order of preference.
//
// The coding with the highest q-value wins; ties go to the one listed
// first in offered. A coding not named takes the q-value of "*" if there
// is one, and is not acceptable otherwise; q=0 means not acceptable.
// "x-gzip" counts as "gzip". Names are compared case-insensitively.
//
// When no offered coding is acceptable, or identity is named with a
// q-value higher than every acceptable offered coding, Negotiate returns
// Identity, unless identity itself is excluded ("identity;q=0", or "*;q=0"
// with no entry for identity): then it returns "", and the caller decides
// between sending identity anyway (RFC 9110 section 12.5.3 allows it) and
// 406. An empty or absent field means identity.
//
// Elements that cannot be parsed (a malformed q-value) are ignored.
// Negotiate does not allocate.
func Negotiate(acceptEncoding string, offered []string) string {
	best, bestQ := "", 0
	for _, c := range offered {
		q, ok := qFor(acceptEncoding, c)
		if !ok {
			q, ok = qFor(acceptEncoding, "*")
		}
		if ok && q > bestQ {
			best, bestQ = c, q
		}
	}
	idQ, named := qFor(acceptEncoding, Identity)
	if !named {
		if starQ, ok := qFor(acceptEncoding, "*"); ok && starQ == 0 {
			idQ = 0
		} else {
			idQ = -1 // acceptable, but the least preferred
		}
	}
	switch {
	case best != "" && bestQ >= idQ:
		return best
	case idQ != 0:
		return Identity
	}
	return ""
}

// qFor returns the q-value (0 to 1000) the field gives coding, and whether
// it names it at all. The first element naming it counts.
func qFor(field, coding string) (int, bool) {
	for field != "" {
		var elem string
		if i := strings.IndexByte(field, ','); i >= 0 {
			elem, field = field[:i], field[i+1:]
		} else {
			elem, field = field, ""
		}
		name, params := elem, ""
		if i := strings.IndexByte(elem, ';'); i >= 0 {
			name, params = elem[:i], elem[i+1:]
		}
		name = strings.TrimSpace(name)
		if !strings.EqualFold(name, coding) && !(coding == Gzip && strings.EqualFold(name, "x-gzip")) {
			continue
		}
		q, ok := qParam(params)
		if !ok {
			continue
		}
		return q, true
	}
	return 0, false
}

// qParam finds the q parameter among ";"-separated parameters (1000 when
// there is none) and parses it as RFC 9110 section 12.4.2's qvalue.
func qParam(params string) (int, bool) {
	for params != "" {
		var p string
		if i := strings.IndexByte(params, ';'); i >= 0 {
			p, params = params[:i], params[i+1:]
		} else {
			p, params = params, ""
		}
		p = strings.TrimSpace(p)
		if len(p) < 2 || (p[0] != 'q' && p[0] != 'Q') {
			continue
		}
		v := strings.TrimLeft(p[1:], " \t")
		if len(v) == 0 || v[0] != '=' {
			continue
		}
		return parseQ(strings.TrimLeft(v[1:], " \t"))
	}
	return 1000, true
}

// parseQ parses "0", "0.5", "1.000" and the like into thousandths.
func parseQ(s string) (int, bool) {
	if s == "" || len(s) > 5 || (s[0] != '0' && s[0] != '1') {
		return 0, false
	}
	q := int(s[0]-'0') * 1000
	if len(s) == 1 {
		return q, true
	}
	if s[1] != '.' {
		return 0, false
	}
	scale := 100
	for i := 2; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		q += int(c-'0') * scale
		scale /= 10
	}
	if q > 1000 {
		return 0, false
	}
	return q, true
}
