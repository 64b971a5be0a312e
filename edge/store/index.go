package store

import (
	"sort"
	"strings"
	"sync"
)

// The purge indexes.
//
// index maps each purge selector to the stored entries it matches, so that a
// purge visits only those: tag → entries, URL (primary key) → its Vary
// variants, and path → entries in a radix tree, which also answers prefixes.
//
// Keeping them exact. Every change of the store reaches the indexes under
// the lock of the key's hash-table bucket, the lock that orders the changes
// of one key:
//
//   - a Set adds the new entry inside the Compute that writes it, before the
//     entry is visible;
//   - every removal — replacement, Delete, purge, eviction for size,
//     expiration, InvalidateAll — reaches OnAtomicDeletion, which otter calls
//     under the same bucket lock with the value that leaves, and which
//     removes exactly that value: a slot is cleared only if it still holds
//     that *Entry.
//
// Removal by identity makes the order of the two steps of a replacement
// irrelevant (the new entry's slots are already written over the old one's
// when the old one's removal arrives; the old one's other slots are
// cleared), and so an eviction that races a Set of the same key can neither
// leave a dangling slot nor clear the new entry's. Set never stores one
// *Entry twice (it copies an entry that was stored before), so identities
// are unique.
//
// Lock order: bucket lock, then index.mu. The store never calls the cache
// while holding index.mu: a purge collects its targets under index.mu,
// releases it, and then removes them one by one.

// index holds the purge indexes; its zero value is empty and ready.
type index struct {
	mu    sync.Mutex
	paths radixNode            // root: label ""
	tags  map[string]*entrySet // surrogate key → entries carrying it
	urls  map[string]*entrySet // primary key → its Vary variants
	count int                  // responses indexed (vary markers excluded)
}

// add indexes e; the caller holds e.Key's bucket lock.
func (x *index) add(e *Entry) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.paths.insert(e.Path).set.add(e)
	for _, t := range e.Tags {
		addTo(&x.tags, t, e)
	}
	if e.Primary != "" {
		addTo(&x.urls, e.Primary, e)
	}
	if !e.IsVaryMarker() {
		x.count++
	}
}

// remove unindexes e, wherever its slots still hold e; the caller holds
// e.Key's bucket lock.
func (x *index) remove(e *Entry) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.paths.remove(e.Path, e)
	for _, t := range e.Tags {
		removeFrom(x.tags, t, e)
	}
	if e.Primary != "" {
		removeFrom(x.urls, e.Primary, e)
	}
	if !e.IsVaryMarker() {
		x.count--
	}
}

func addTo(m *map[string]*entrySet, k string, e *Entry) {
	if *m == nil {
		*m = map[string]*entrySet{}
	}
	s := (*m)[k]
	if s == nil {
		s = &entrySet{}
		(*m)[k] = s
	}
	s.add(e)
}

func removeFrom(m map[string]*entrySet, k string, e *Entry) {
	if s := m[k]; s != nil {
		s.remove(e)
		if s.empty() {
			delete(m, k)
		}
	}
}

// collect calls fn for every entry sel matches (KindAll excepted), under
// the index lock: fn must not call the cache.
func (x *index) collect(sel Selector, fn func(*Entry)) {
	x.mu.Lock()
	defer x.mu.Unlock()
	switch sel.Kind {
	case KindURL:
		if s := x.urls[sel.Value]; s != nil {
			s.each(fn)
		}
	case KindPath:
		if n := x.paths.find(sel.Value); n != nil {
			n.set.each(fn)
		}
	case KindPrefix:
		x.paths.walkPrefix(sel.Value, func(n *radixNode) { n.set.each(fn) })
	case KindTag:
		if s := x.tags[sel.Value]; s != nil {
			s.each(fn)
		}
	}
}

// entrySet is a set of entries by key. Most paths and tags name one entry,
// so one is held inline and a map is made only for a second.
type entrySet struct {
	one  *Entry
	many map[string]*Entry
}

func (s *entrySet) add(e *Entry) {
	switch {
	case s.many != nil:
		s.many[e.Key] = e
	case s.one == nil || s.one.Key == e.Key:
		s.one = e
	default:
		s.many = map[string]*Entry{s.one.Key: s.one, e.Key: e}
		s.one = nil
	}
}

// remove removes e if its key's slot holds e.
func (s *entrySet) remove(e *Entry) {
	if s.many != nil {
		if s.many[e.Key] == e {
			delete(s.many, e.Key)
			if len(s.many) == 0 {
				s.many = nil // a map never shrinks: drop it
			}
		}
		return
	}
	if s.one == e {
		s.one = nil
	}
}

func (s *entrySet) empty() bool { return s.one == nil && s.many == nil }

func (s *entrySet) each(fn func(*Entry)) {
	if s.one != nil {
		fn(s.one)
	}
	for _, e := range s.many {
		fn(e)
	}
}

// radixNode is a node of a radix tree of paths: the path of a node is the
// concatenation of the labels from the root. Children are sorted by the
// first byte of their labels, which differ; every node other than the root
// holds entries or has at least two children (nodes are merged on removal).
//
// Costs, for a path of length L: insert and remove O(L) (plus a child
// slice insertion, at most 256 pointers); an exact lookup O(L); a prefix
// walk O(L + the size of the matching subtree), which is at most twice the
// number of distinct paths it matches. No operation visits paths that do not
// match.
type radixNode struct {
	label    string
	children []*radixNode
	set      entrySet
}

// child returns the index of the child whose label starts with c, or where
// it would be inserted.
func (n *radixNode) child(c byte) (int, bool) {
	i := sort.Search(len(n.children), func(i int) bool { return n.children[i].label[0] >= c })
	return i, i < len(n.children) && n.children[i].label[0] == c
}

func (n *radixNode) insertChild(i int, c *radixNode) {
	n.children = append(n.children, nil)
	copy(n.children[i+1:], n.children[i:])
	n.children[i] = c
}

// insert returns the node for path s, creating it.
func (n *radixNode) insert(s string) *radixNode {
	for s != "" {
		i, ok := n.child(s[0])
		if !ok {
			leaf := &radixNode{label: strings.Clone(s)}
			n.insertChild(i, leaf)
			return leaf
		}
		c := n.children[i]
		l := commonPrefix(c.label, s)
		if l == len(c.label) {
			n, s = c, s[l:]
			continue
		}
		// Split c's edge at l.
		mid := &radixNode{label: c.label[:l], children: []*radixNode{c}}
		c.label = c.label[l:]
		n.children[i] = mid
		if l == len(s) {
			return mid
		}
		leaf := &radixNode{label: strings.Clone(s[l:])}
		j, _ := mid.child(leaf.label[0])
		mid.insertChild(j, leaf)
		return leaf
	}
	return n
}

// find returns the node for path s, or nil.
func (n *radixNode) find(s string) *radixNode {
	for s != "" {
		i, ok := n.child(s[0])
		if !ok || !strings.HasPrefix(s, n.children[i].label) {
			return nil
		}
		n, s = n.children[i], s[len(n.children[i].label):]
	}
	return n
}

// remove removes e from the node for path s and prunes the tree: a child
// left without entries is deleted (no children) or merged with its only
// child.
func (n *radixNode) remove(s string, e *Entry) {
	if s == "" {
		n.set.remove(e)
		return
	}
	i, ok := n.child(s[0])
	if !ok {
		return
	}
	c := n.children[i]
	if !strings.HasPrefix(s, c.label) {
		return
	}
	c.remove(s[len(c.label):], e)
	if !c.set.empty() {
		return
	}
	switch len(c.children) {
	case 0:
		copy(n.children[i:], n.children[i+1:])
		n.children[len(n.children)-1] = nil
		n.children = n.children[:len(n.children)-1]
		if len(n.children) == 0 {
			n.children = nil
		}
	case 1:
		gc := c.children[0]
		gc.label = c.label + gc.label
		n.children[i] = gc
	}
}

// walkPrefix calls fn for every node whose path starts with prefix.
func (n *radixNode) walkPrefix(prefix string, fn func(*radixNode)) {
	s := prefix
	for s != "" {
		i, ok := n.child(s[0])
		if !ok {
			return
		}
		c := n.children[i]
		if len(s) <= len(c.label) {
			if strings.HasPrefix(c.label, s) {
				c.walk(fn)
			}
			return
		}
		if !strings.HasPrefix(s, c.label) {
			return
		}
		n, s = c, s[len(c.label):]
	}
	n.walk(fn)
}

func (n *radixNode) walk(fn func(*radixNode)) {
	fn(n)
	for _, c := range n.children {
		c.walk(fn)
	}
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}
