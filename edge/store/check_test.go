package store

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// checkIndex applies pending maintenance and reports any difference between
// the indexes and the entries stored.
func (m *Memory) checkIndex() error {
	m.CleanUp()
	wantPaths := map[string]map[string]*Entry{}
	wantTags := map[string]map[string]*Entry{}
	wantURLs := map[string]map[string]*Entry{}
	add := func(idx map[string]map[string]*Entry, k string, e *Entry) {
		if idx[k] == nil {
			idx[k] = map[string]*Entry{}
		}
		idx[k][e.Key] = e
	}
	count := 0
	for k, e := range m.c.All() {
		if k != e.Key {
			return fmt.Errorf("entry %q stored under %q", e.Key, k)
		}
		add(wantPaths, e.Path, e)
		for _, t := range e.Tags {
			add(wantTags, t, e)
		}
		if e.Primary != "" {
			add(wantURLs, e.Primary, e)
		}
		if !e.IsVaryMarker() {
			count++
		}
	}
	gotPaths := map[string]map[string]*Entry{}
	gotTags := map[string]*entrySet{}
	gotURLs := map[string]*entrySet{}
	merge := func(dst, src map[string]*entrySet) error {
		for k, es := range src {
			if dst[k] != nil {
				return fmt.Errorf("%q is indexed in two shards", k)
			}
			dst[k] = es
		}
		return nil
	}
	indexed := 0
	for i := range m.idx.shards {
		s := &m.idx.shards[i]
		s.mu.Lock()
		defer s.mu.Unlock()
		if err := s.paths.check(true); err != nil {
			return err
		}
		var bad error
		var walk func(n *radixNode, path string)
		walk = func(n *radixNode, path string) {
			path += n.label
			n.set.each(func(e *Entry) {
				switch {
				case gotPaths[path][e.Key] != nil:
					bad = fmt.Errorf("path index: two entries for %q under %q", e.Key, path)
				case e.meta.node != n || e.meta.shard != s || m.idx.shardOf(path) != s:
					bad = fmt.Errorf("path index: %q under %q records another node or shard", e.Key, path)
				}
				add(gotPaths, path, e)
			})
			for _, c := range n.children {
				walk(c, path)
			}
		}
		walk(&s.paths, "")
		if bad != nil {
			return bad
		}
		// A tag may be in several shards (its entries' paths differ): keep
		// them apart by shard in the names.
		tags := map[string]*entrySet{}
		for k, es := range s.tags {
			tags[fmt.Sprint(i, "\x00", k)] = es
		}
		if err := merge(gotTags, tags); err != nil {
			return err
		}
		// So may a URL: its variants' paths are normally one, but the
		// index does not rely on it.
		urls := map[string]*entrySet{}
		for k, es := range s.urls {
			urls[fmt.Sprint(i, "\x00", k)] = es
		}
		if err := merge(gotURLs, urls); err != nil {
			return err
		}
		indexed += s.count
	}
	byTag, err := unshard("tag", gotTags)
	if err != nil {
		return err
	}
	byURL, err := unshard("url", gotURLs)
	if err != nil {
		return err
	}
	if err := sameIndex("path", gotPaths, wantPaths); err != nil {
		return err
	}
	if err := sameIndex("tag", byTag, wantTags); err != nil {
		return err
	}
	if err := sameIndex("url", byURL, wantURLs); err != nil {
		return err
	}
	if indexed != count {
		return fmt.Errorf("index counts %d responses, store holds %d", indexed, count)
	}
	return nil
}

// unshard merges the sets of one index kept under "shard\x00name" keys.
func unshard(name string, sets map[string]*entrySet) (map[string]map[string]*Entry, error) {
	maps, err := setsToMaps(name, sets)
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]*Entry{}
	for k, es := range maps {
		_, v, _ := strings.Cut(k, "\x00")
		if es == nil {
			return nil, fmt.Errorf("%s index: empty set left for %q", name, v)
		}
		if out[v] == nil {
			out[v] = map[string]*Entry{}
		}
		for key, e := range es {
			if out[v][key] != nil {
				return nil, fmt.Errorf("%s index: %q → %q twice", name, v, key)
			}
			out[v][key] = e
		}
	}
	return out, nil
}

func setsToMaps(name string, sets map[string]*entrySet) (map[string]map[string]*Entry, error) {
	out := map[string]map[string]*Entry{}
	var err error
	for k, s := range sets {
		out[k] = map[string]*Entry{}
		if s.empty() {
			out[k] = nil // an empty set must not stay in the map
		}
		s.each(func(e *Entry) {
			if out[k][e.Key] != nil {
				err = fmt.Errorf("%s index: two entries for %q under %q", name, e.Key, k)
			}
			out[k][e.Key] = e
		})
	}
	return out, err
}

func sameIndex(name string, got, want map[string]map[string]*Entry) error {
	for _, k := range slices.Sorted(maps.Keys(want)) {
		for key, e := range want[k] {
			if got[k][key] != e {
				return fmt.Errorf("%s index: %q → %q missing (has %p, stored %p)", name, k, key, got[k][key], e)
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if got[k] == nil {
			return fmt.Errorf("%s index: empty set left for %q", name, k)
		}
		for key, e := range got[k] {
			if want[k][key] != e {
				return fmt.Errorf("%s index: %q → %q (%p) dangling", name, k, key, e)
			}
		}
	}
	return nil
}

// check verifies the radix tree's shape: non-empty labels, children sorted
// by distinct first bytes, and no node (but the root) that is empty with
// fewer than two children.
func (n *radixNode) check(root bool) error {
	if !root && n.label == "" {
		return fmt.Errorf("radix: empty label below the root")
	}
	if !root && n.set.empty() && len(n.children) < 2 {
		return fmt.Errorf("radix: node %q is empty with %d children", n.label, len(n.children))
	}
	if n.set.many != nil && len(n.set.many) == 0 {
		return fmt.Errorf("radix: node %q keeps an empty map", n.label)
	}
	if len(n.firsts) != len(n.children) {
		return fmt.Errorf("radix: node %q has %d firsts for %d children", n.label, len(n.firsts), len(n.children))
	}
	for i, c := range n.children {
		if c.label == "" {
			return fmt.Errorf("radix: empty child label under %q", n.label)
		}
		if c.parent != n || n.firsts[i] != c.label[0] {
			return fmt.Errorf("radix: child %q of %q has a wrong parent or first byte", c.label, n.label)
		}
		if i > 0 && n.children[i-1].label[0] >= c.label[0] {
			return fmt.Errorf("radix: children of %q out of order", n.label)
		}
		if err := c.check(false); err != nil {
			return err
		}
	}
	return nil
}
