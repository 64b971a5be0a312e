package httpcache

import (
	"errors"
	"slices"
	"strings"
)

// Structured Field dictionaries (RFC 8941 section 3.2), as CDN-Cache-Control
// (RFC 9213) requires. A field that does not parse is ignored as a whole,
// so a malformed CDN-Cache-Control cannot override Cache-Control.

var errSF = errors.New("httpcache: invalid structured field")

// sfKind is the type of a member's value.
type sfKind int

const (
	sfBool sfKind = iota // a bare key, or ?0 / ?1
	sfInteger
	sfDecimal
	sfString
	sfToken
	sfBytes
	sfInnerList
)

// sfMember is one dictionary member; value is its text without quotes or
// colons (for strings, unescaped).
type sfMember struct {
	key   string
	kind  sfKind
	value string
	truth bool // for sfBool
}

// parseSFDictionary parses the lines of a dictionary field, joined with
// commas as RFC 8941 section 4.2 says.
func parseSFDictionary(lines []string) ([]sfMember, error) {
	s := strings.Join(lines, ",")
	p := &sfParser{s: strings.Trim(s, " ")}
	var out []sfMember
	for p.more() {
		m, err := p.member()
		if err != nil {
			return nil, err
		}
		if i := slices.IndexFunc(out, func(o sfMember) bool { return o.key == m.key }); i >= 0 {
			out[i] = m // RFC 8941 4.2.2: a repeated key overwrites
		} else {
			out = append(out, m)
		}
		p.ows()
		if !p.more() {
			break
		}
		if p.s[p.i] != ',' {
			return nil, errSF
		}
		p.i++
		p.ows()
		if !p.more() {
			return nil, errSF // trailing comma
		}
	}
	return out, nil
}

type sfParser struct {
	s string
	i int
}

func (p *sfParser) more() bool { return p.i < len(p.s) }

func (p *sfParser) ows() {
	for p.more() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func isLCAlpha(c byte) bool { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool   { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool   { return isLCAlpha(c) || (c >= 'A' && c <= 'Z') }

func isTChar(c byte) bool {
	return isAlpha(c) || isDigit(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func (p *sfParser) key() (string, error) {
	if !p.more() || !(isLCAlpha(p.s[p.i]) || p.s[p.i] == '*') {
		return "", errSF
	}
	start := p.i
	for p.more() {
		c := p.s[p.i]
		if !(isLCAlpha(c) || isDigit(c) || c == '_' || c == '-' || c == '.' || c == '*') {
			break
		}
		p.i++
	}
	return p.s[start:p.i], nil
}

func (p *sfParser) member() (sfMember, error) {
	k, err := p.key()
	if err != nil {
		return sfMember{}, err
	}
	m := sfMember{key: k, kind: sfBool, truth: true}
	if p.more() && p.s[p.i] == '=' {
		p.i++
		if p.more() && p.s[p.i] == '(' {
			if err := p.innerList(); err != nil {
				return m, err
			}
			m.kind = sfInnerList
		} else if m.kind, m.value, m.truth, err = p.bareItem(); err != nil {
			return m, err
		}
	}
	return m, p.params()
}

func (p *sfParser) params() error {
	for p.more() && p.s[p.i] == ';' {
		p.i++
		p.ows()
		if _, err := p.key(); err != nil {
			return err
		}
		if p.more() && p.s[p.i] == '=' {
			p.i++
			if _, _, _, err := p.bareItem(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *sfParser) innerList() error {
	p.i++ // (
	for {
		p.ows()
		if !p.more() {
			return errSF
		}
		if p.s[p.i] == ')' {
			p.i++
			return p.params()
		}
		if _, _, _, err := p.bareItem(); err != nil {
			return err
		}
		if err := p.params(); err != nil {
			return err
		}
		if p.more() && p.s[p.i] != ' ' && p.s[p.i] != ')' {
			return errSF
		}
	}
}

func (p *sfParser) bareItem() (kind sfKind, value string, truth bool, err error) {
	if !p.more() {
		return 0, "", false, errSF
	}
	switch c := p.s[p.i]; {
	case c == '-' || isDigit(c):
		return p.number()
	case c == '"':
		return p.str()
	case c == ':':
		end := strings.IndexByte(p.s[p.i+1:], ':')
		if end < 0 {
			return 0, "", false, errSF
		}
		value = p.s[p.i+1 : p.i+1+end]
		for j := 0; j < len(value); j++ {
			if !(isAlpha(value[j]) || isDigit(value[j]) || strings.IndexByte("+/=", value[j]) >= 0) {
				return 0, "", false, errSF
			}
		}
		p.i += end + 2
		return sfBytes, value, false, nil
	case c == '?':
		if p.i+1 < len(p.s) && (p.s[p.i+1] == '0' || p.s[p.i+1] == '1') {
			p.i += 2
			return sfBool, "", p.s[p.i-1] == '1', nil
		}
		return 0, "", false, errSF
	case isAlpha(c) || c == '*':
		start := p.i
		for p.more() && (isTChar(p.s[p.i]) || p.s[p.i] == ':' || p.s[p.i] == '/') {
			p.i++
		}
		return sfToken, p.s[start:p.i], false, nil
	}
	return 0, "", false, errSF
}

func (p *sfParser) number() (sfKind, string, bool, error) {
	start := p.i
	if p.s[p.i] == '-' {
		p.i++
	}
	digits, dot := 0, -1
	for p.more() {
		c := p.s[p.i]
		if isDigit(c) {
			digits++
		} else if c == '.' && dot < 0 {
			dot = digits
		} else {
			break
		}
		p.i++
	}
	switch {
	case digits == 0:
		return 0, "", false, errSF
	case dot < 0 && digits <= 15:
		return sfInteger, p.s[start:p.i], false, nil
	case dot > 0 && dot <= 12 && digits-dot >= 1 && digits-dot <= 3:
		return sfDecimal, p.s[start:p.i], false, nil
	}
	return 0, "", false, errSF
}

func (p *sfParser) str() (sfKind, string, bool, error) {
	var b strings.Builder
	for p.i++; p.more(); p.i++ {
		c := p.s[p.i]
		switch {
		case c == '\\':
			p.i++
			if !p.more() || (p.s[p.i] != '"' && p.s[p.i] != '\\') {
				return 0, "", false, errSF
			}
			b.WriteByte(p.s[p.i])
		case c == '"':
			p.i++
			return sfString, b.String(), false, nil
		case c < 0x20 || c > 0x7e:
			return 0, "", false, errSF
		default:
			b.WriteByte(c)
		}
	}
	return 0, "", false, errSF
}
