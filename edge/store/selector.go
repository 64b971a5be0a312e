package store

import (
	"net/url"
	"strings"
)

// Kind is what a purge Selector matches entries by.
type Kind uint8

// Selector kinds, with the cost of a purge by each (n: the entries it
// matches; L: the length of the value). No kind scans the store.
const (
	// KindURL matches the entry under the primary key Value and, when the
	// URL's responses vary, every variant (index: primary key → variants):
	// O(1 + n).
	KindURL Kind = iota + 1
	// KindPath matches every entry whose URL path is Value, whatever its
	// host and query string (radix tree of paths): O(L + n).
	KindPath
	// KindPrefix matches every entry whose URL path starts with Value
	// (the same radix tree, walking the subtree under Value): O(L + n).
	KindPrefix
	// KindTag matches every entry carrying the surrogate key Value
	// (index: tag → entries): O(1 + n).
	KindTag
	// KindAll matches everything: O(entries).
	KindAll
)

// String returns the kind's name as metrics label it: url, path, prefix,
// tag or all.
func (k Kind) String() string {
	switch k {
	case KindURL:
		return "url"
	case KindPath:
		return "path"
	case KindPrefix:
		return "prefix"
	case KindTag:
		return "tag"
	case KindAll:
		return "all"
	}
	return "unknown"
}

// Selector says which entries a purge applies to.
type Selector struct {
	Kind  Kind
	Value string // a primary key, a path, a path prefix or a tag; unused for KindAll
}

// PathSelector returns the selector for an invalidation path: a trailing
// "*" makes it a prefix ("/api/*"), "*" alone selects everything, anything
// else is an exact path. Paths are compared as the edge records them,
// percent-decoded, so "/a%20b" and "/a b" are the same path.
func PathSelector(p string) Selector {
	prefix, wild := strings.CutSuffix(p, "*")
	if u, err := url.PathUnescape(prefix); err == nil {
		prefix = u
	}
	switch {
	case !wild:
		return Selector{Kind: KindPath, Value: prefix}
	case prefix == "":
		return Selector{Kind: KindAll}
	}
	return Selector{Kind: KindPrefix, Value: prefix}
}

// Matches reports whether sel matches e. It is what a purge by sel
// removes, evaluated on one entry (the purge itself uses the indexes).
func (sel Selector) Matches(e *Entry) bool {
	switch sel.Kind {
	case KindURL:
		return e.URL() == sel.Value
	case KindPath:
		return e.Path == sel.Value
	case KindPrefix:
		return strings.HasPrefix(e.Path, sel.Value)
	case KindTag:
		for _, t := range e.Tags {
			if t == sel.Value {
				return true
			}
		}
		return false
	case KindAll:
		return true
	}
	return false
}
