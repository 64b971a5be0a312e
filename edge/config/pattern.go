package config

import (
	"fmt"
	"strings"
)

// MaxPatternLen is the longest path pattern accepted, as in CloudFront.
const MaxPatternLen = 255

// Pattern is a compiled CloudFront path pattern. In a pattern, `*` matches
// any run of bytes, `/` included, and `?` matches exactly one byte; every
// other byte matches itself, case-sensitively. A pattern that does not start
// with `/` is given one, as CloudFront treats `images/*.jpg` and
// `/images/*.jpg` alike.
//
// Match compares bytes, so it should be given the request path as sent
// (r.URL.EscapedPath()), where every byte is ASCII. The zero Pattern matches
// only the empty path. Patterns are immutable and safe for concurrent use.
type Pattern struct {
	src    string // normalized: starts with "/"
	kind   patternKind
	prefix string // literal bytes before the first wildcard
	suffix string // literal bytes after the last wildcard (kindGlob, kindPrefixSuffix)
	middle string // the pattern between prefix and suffix (kindGlob)
	minLen int    // bytes a matching path has at least
}

type patternKind uint8

const (
	kindExact        patternKind = iota // no wildcard: path == src
	kindPrefix                          // "lit*"
	kindPrefixSuffix                    // "lit*lit"
	kindGlob                            // anything else
)

// CompilePattern checks and compiles a path pattern. A pattern is 1 to 255
// bytes of the characters CloudFront accepts, A-Z a-z 0-9 _ - . * $ / ~ " '
// @ : + ? &, and also %, for percent-encoded bytes.
func CompilePattern(s string) (Pattern, error) {
	if s == "" {
		return Pattern{}, fmt.Errorf("empty path pattern")
	}
	if len(s) > MaxPatternLen {
		return Pattern{}, fmt.Errorf("path pattern is %d bytes long; the limit is %d", len(s), MaxPatternLen)
	}
	for i := 0; i < len(s); i++ {
		if !patternByte(s[i]) {
			return Pattern{}, fmt.Errorf("path pattern %q: character %q is not allowed (use A-Z a-z 0-9 _ - . * $ / ~ \" ' @ : + ? & %%)", s, s[i])
		}
	}
	return compilePattern(s), nil
}

// MustCompilePattern is CompilePattern for patterns known to be valid; it
// panics on an invalid one.
func MustCompilePattern(s string) Pattern {
	p, err := CompilePattern(s)
	if err != nil {
		panic(err)
	}
	return p
}

func patternByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte(`_-.*$/~"'@:+?&%`, c) >= 0
}

// compilePattern compiles s without checking its characters.
func compilePattern(s string) Pattern {
	if !strings.HasPrefix(s, "/") {
		s = "/" + s
	}
	p := Pattern{src: s}
	first := strings.IndexAny(s, "*?")
	if first < 0 {
		p.kind, p.prefix, p.minLen = kindExact, s, len(s)
		return p
	}
	last := strings.LastIndexAny(s, "*?")
	p.prefix, p.suffix = s[:first], s[last+1:]
	p.middle = s[first : last+1]
	p.minLen = len(s) - strings.Count(s, "*")
	switch {
	case p.middle == "*" && p.suffix == "":
		p.kind = kindPrefix
	case p.middle == "*":
		p.kind = kindPrefixSuffix
	default:
		p.kind = kindGlob
	}
	return p
}

// String returns the normalized pattern (with its leading `/`).
func (p Pattern) String() string { return p.src }

// Match reports whether path matches p. It does not allocate.
func (p *Pattern) Match(path string) bool {
	switch p.kind {
	case kindExact:
		return path == p.src
	case kindPrefix:
		return strings.HasPrefix(path, p.prefix)
	}
	if len(path) < p.minLen || !strings.HasPrefix(path, p.prefix) || !strings.HasSuffix(path, p.suffix) {
		return false
	}
	if p.kind == kindPrefixSuffix {
		return true
	}
	return glob(p.middle, path[len(p.prefix):len(path)-len(p.suffix)])
}

// glob matches name against pattern, where `*` is any run of bytes and `?`
// one byte. It backtracks only to the last star, so it runs in
// O(len(pattern)*len(name)) at worst and usually in linear time.
func glob(pattern, name string) bool {
	px, nx := 0, 0
	nextPx, nextNx := 0, 0
	for px < len(pattern) || nx < len(name) {
		if px < len(pattern) {
			switch c := pattern[px]; c {
			case '*':
				nextPx, nextNx = px, nx+1
				px++
				continue
			case '?':
				if nx < len(name) {
					px++
					nx++
					continue
				}
			default:
				if nx < len(name) && name[nx] == c {
					px++
					nx++
					continue
				}
			}
		}
		if 0 < nextNx && nextNx <= len(name) {
			px, nx = nextPx, nextNx
			continue
		}
		return false
	}
	return true
}

// covers reports whether every path that b matches is also matched by p, so
// that b, placed after p, can never be selected. It is exact for identical
// patterns and for a p with a single `*` and no `?` (such as `/*`,
// `/api/*` or `/*.jpg`); for other patterns it reports false.
func (p *Pattern) covers(b *Pattern) bool {
	if p.src == b.src {
		return true
	}
	var l, s string
	switch p.kind {
	case kindPrefix:
		l = p.prefix
	case kindPrefixSuffix:
		l, s = p.prefix, p.suffix
	default:
		return false
	}
	bPrefix, bSuffix := b.prefix, b.suffix
	if b.kind == kindExact {
		bSuffix = b.src
	}
	return strings.HasPrefix(bPrefix, l) && strings.HasSuffix(bSuffix, s) && b.minLen >= len(l)+len(s)
}
