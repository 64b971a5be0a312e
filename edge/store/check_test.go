package store

import (
	"fmt"
	"maps"
	"slices"
)

// checkIndex applies pending maintenance and reports any difference between
// the indexes and the entries stored.
func (m *Memory) checkIndex() error {
	m.c.CleanUp()
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
	m.idx.mu.Lock()
	defer m.idx.mu.Unlock()
	if err := m.idx.paths.check(true); err != nil {
		return err
	}
	gotPaths := map[string]map[string]*Entry{}
	var walk func(n *radixNode, path string)
	walk = func(n *radixNode, path string) {
		path += n.label
		n.set.each(func(e *Entry) { add(gotPaths, path, e) })
		for _, c := range n.children {
			walk(c, path)
		}
	}
	walk(&m.idx.paths, "")
	if err := sameIndex("path", gotPaths, wantPaths); err != nil {
		return err
	}
	if err := sameIndex("tag", setsToMaps(m.idx.tags), wantTags); err != nil {
		return err
	}
	if err := sameIndex("url", setsToMaps(m.idx.urls), wantURLs); err != nil {
		return err
	}
	if m.idx.count != count {
		return fmt.Errorf("index counts %d responses, store holds %d", m.idx.count, count)
	}
	return nil
}

func setsToMaps(sets map[string]*entrySet) map[string]map[string]*Entry {
	out := map[string]map[string]*Entry{}
	for k, s := range sets {
		out[k] = map[string]*Entry{}
		if s.empty() {
			out[k] = nil // an empty set must not stay in the map
		}
		s.each(func(e *Entry) { out[k][e.Key] = e })
	}
	return out
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
	for i, c := range n.children {
		if c.label == "" {
			return fmt.Errorf("radix: empty child label under %q", n.label)
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
