package store

import (
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
//     removes exactly that value (the index holds *Entry, and a slot is
//     only ever cleared of the entry it holds).
//
// Removal by identity makes the order of the two steps of a replacement
// irrelevant (the new entry is added before the old one's removal arrives,
// and they are different entries), and so an eviction that races a Set of
// the same key can neither leave a dangling entry nor remove the new one.
// Set stores a fresh copy of what it is given, so identities are unique.
//
// Sharding. The indexes are split into shards by a hash of the path, each
// with its own lock, so that Sets on different paths do not contend. A
// path or its URL's variants live in one shard; a tag or a prefix is
// looked up in every shard.
//
// Lock order: bucket lock, then a shard's lock; and the reaper's lock
// (Memory.reapMu) before either (PurgeLater records a purge in the shards
// with it held, a purge of everything empties the cache with it held),
// never after. The store never calls the cache while holding a shard's
// lock: a purge collects its targets under the locks, releases them, and
// then removes the targets one by one.

// shardCount is the number of index shards: enough to spread the cores of
// a large machine, few enough that a tag purge's visit of each is nothing.
const shardCount = 32

// index holds the purge indexes; init it before use.
type index struct {
	seed   maphash.Seed
	shards [shardCount]shard
	// flush, while a purge of everything runs, counts the responses it
	// removes that no other purge had (see remove).
	flush atomic.Pointer[atomic.Int64]
}

// shard is one part of the indexes, for the paths that hash to it.
type shard struct {
	mu    sync.Mutex
	paths radixNode            // root: label ""
	tags  map[string]*entrySet // surrogate key → entries carrying it
	urls  map[string]*entrySet // primary key → its Vary variants
	count int                  // responses indexed (vary markers excluded)
	// seq numbers the shard's additions; a tag purge left to the reaper
	// covers the entries added before it (see PurgeLater).
	seq uint64
	// pending maps each tag with purges left to the reaper to their claims
	// in this shard, oldest first; nil when there is none. Copied on
	// write, under mu, and read without it (Get).
	pending atomic.Pointer[map[string][]*claim]
}

func (x *index) init() { x.seed = maphash.MakeSeed() }

func (x *index) shardOf(path string) *shard {
	return &x.shards[maphash.String(x.seed, path)%shardCount]
}

// add indexes e; the caller holds e.Key's bucket lock.
func (x *index) add(e *Entry) {
	s := x.shardOf(e.Path)
	e.meta.shard = s
	s.mu.Lock()
	defer s.mu.Unlock()
	e.meta.seq = s.seq
	s.seq++
	node := s.paths.insert(e.Path)
	node.set.add(e)
	e.meta.node = node
	for _, t := range e.Tags {
		addTo(&s.tags, t, e)
	}
	if e.Primary != "" {
		addTo(&s.urls, e.Primary, e)
	}
	if !e.IsVaryMarker() {
		s.count++
	}
}

// remove unindexes e, and reports whether a purge counted it as it left
// and marked it purged: a tag purge left to the reaper that covered it
// (see credit), or a purge of everything under way (x.flush); the caller
// holds e.Key's bucket lock.
func (x *index) remove(e *Entry) (credited bool) {
	s := e.meta.shard
	s.mu.Lock()
	defer s.mu.Unlock()
	credited = s.credit(e)
	if f := x.flush.Load(); f != nil && !credited && !e.meta.purged.Load() {
		e.meta.purged.Store(true)
		if !e.IsVaryMarker() {
			f.Add(1)
		}
		credited = true
	}
	e.meta.node.removeEntry(e)
	for _, t := range e.Tags {
		removeFrom(s.tags, t, e)
	}
	if e.Primary != "" {
		removeFrom(s.urls, e.Primary, e)
	}
	if !e.IsVaryMarker() {
		s.count--
	}
	return credited
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

// collect calls fn for every entry sel matches (KindAll excepted), shard by
// shard (a shard's entries in one run), under the shard's lock: fn must not
// call the cache. A soft purge marks entries from fn; a hard one collects
// them to remove after.
func (x *index) collect(sel Selector, fn func(*Entry)) {
	if sel.Kind == KindPath {
		x.shardOf(sel.Value).collect(sel, fn)
		return
	}
	for i := range x.shards {
		x.shards[i].collect(sel, fn)
	}
}

func (s *shard) collect(sel Selector, fn func(*Entry)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch sel.Kind {
	case KindURL:
		if es := s.urls[sel.Value]; es != nil {
			es.each(fn)
		}
	case KindPath:
		if n := s.paths.find(sel.Value); n != nil {
			n.set.each(fn)
		}
	case KindPrefix:
		s.paths.walkPrefix(sel.Value, func(n *radixNode) { n.set.each(fn) })
	case KindTag:
		if es := s.tags[sel.Value]; es != nil {
			es.each(fn)
		}
	}
}

// count returns the number of responses indexed.
func (x *index) count() int {
	n := 0
	for i := range x.shards {
		s := &x.shards[i]
		s.mu.Lock()
		n += s.count
		s.mu.Unlock()
	}
	return n
}

// entrySet is a set of stored entries. Most paths and tags name one entry,
// so one is held inline and a map is made only for a second. Entries are
// distinct per Set (see Memory.Set), so a replacement adds the new entry
// and removes the old one like any other two entries.
type entrySet struct {
	one  *Entry
	many map[*Entry]struct{}
}

func (s *entrySet) add(e *Entry) {
	switch {
	case s.many != nil:
		s.many[e] = struct{}{}
	case s.one == nil:
		s.one = e
	default:
		s.many = map[*Entry]struct{}{s.one: {}, e: {}}
		s.one = nil
	}
}

func (s *entrySet) remove(e *Entry) {
	if s.many != nil {
		delete(s.many, e)
		if len(s.many) == 0 {
			s.many = nil // a map never shrinks: drop it
		}
		return
	}
	if s.one == e {
		s.one = nil
	}
}

func (s *entrySet) empty() bool { return s.one == nil && s.many == nil }

func (s *entrySet) len() int {
	if s.many != nil {
		return len(s.many)
	}
	if s.one != nil {
		return 1
	}
	return 0
}

func (s *entrySet) each(fn func(*Entry)) {
	if s.one != nil {
		fn(s.one)
	}
	for e := range s.many {
		fn(e)
	}
}

// radixNode is a node of a radix tree of paths: the path of a node is the
// concatenation of the labels from the root. Children are sorted by the
// first byte of their labels, which differ, and firsts holds those bytes in
// one small array, so choosing a child reads no child. Every node other
// than the root holds entries or has at least two children: nodes are
// pruned and merged as entries leave.
//
// An entry's node is recorded in its meta when it is added, so removing it
// does not walk down from the root: a node that holds entries is never
// replaced (a split adds a node above it, a merge removes an empty node).
//
// Costs, for a path of length L: insert O(L) (plus a child insertion,
// at most 256 pointers); remove O(1) (plus the pruning of at most the
// nodes it empties); an exact lookup O(L); a prefix walk O(L + the size of
// the matching subtree), which is at most twice the number of distinct
// paths it matches. No operation visits paths that do not match.
type radixNode struct {
	label    string
	parent   *radixNode // nil for the root
	firsts   []byte     // firsts[i] == children[i].label[0]
	children []*radixNode
	set      entrySet
}

// child returns the index of the child whose label starts with c, or where
// it would be inserted.
func (n *radixNode) child(c byte) (int, bool) {
	lo, hi := 0, len(n.firsts)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if n.firsts[m] < c {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(n.firsts) && n.firsts[lo] == c
}

func (n *radixNode) insertChild(c *radixNode) {
	i, _ := n.child(c.label[0])
	n.children = slices.Insert(n.children, i, c)
	n.firsts = slices.Insert(n.firsts, i, c.label[0])
	c.parent = n
}

func (n *radixNode) deleteChild(i int) {
	n.children = slices.Delete(n.children, i, i+1)
	n.firsts = slices.Delete(n.firsts, i, i+1)
	if len(n.children) == 0 {
		n.children, n.firsts = nil, nil
	}
}

// insert returns the node for path s, creating it.
func (n *radixNode) insert(s string) *radixNode {
	for s != "" {
		i, ok := n.child(s[0])
		if !ok {
			leaf := &radixNode{label: strings.Clone(s)}
			n.insertChild(leaf)
			return leaf
		}
		c := n.children[i]
		l := commonPrefix(c.label, s)
		if l == len(c.label) {
			n, s = c, s[l:]
			continue
		}
		// Split c's edge at l: mid takes c's place, c goes below it.
		mid := &radixNode{label: c.label[:l], parent: n}
		n.children[i] = mid
		c.label = c.label[l:]
		mid.insertChild(c)
		if l == len(s) {
			return mid
		}
		leaf := &radixNode{label: strings.Clone(s[l:])}
		mid.insertChild(leaf)
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

// removeEntry removes e from node n and prunes: an empty node without
// children leaves its parent, one with a single child is merged into it,
// and so on up while that empties its parent.
func (n *radixNode) removeEntry(e *Entry) {
	n.set.remove(e)
	for n.parent != nil && n.set.empty() {
		p := n.parent
		i, _ := p.child(n.label[0])
		switch len(n.children) {
		case 0:
			p.deleteChild(i)
			n.parent = nil
			n = p // p may now be empty with one child or none
		case 1:
			c := n.children[0]
			c.label = n.label + c.label
			c.parent = p
			p.children[i] = c
			n.parent, n.children, n.firsts = nil, nil, nil
			return
		default:
			return
		}
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
