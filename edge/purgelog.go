package edge

import (
	"strings"
	"sync"

	"github.com/strata-cache/strata/edge/store"
)

// The purge log: no purge–fill race (consistency rule 5).
//
// Every fetch records the purge epoch when it starts; every purge takes the
// next epoch. Before a fetch stores its response, it asks the log whether a
// purge after its epoch matches the response: if a hard one does, the
// response is not stored; if only a soft one does, it is stored already
// stale (see storeUnlessPurged).
//
// The log keeps, per selector (URL, path, prefix, tag, and everything), the
// epoch of the latest hard and soft purge by it, in maps. Checking a
// response is then a handful of map probes — its URL, its path, each of its
// tags, and its path's prefixes (or the prefix selectors, whichever are
// fewer) — however many purges ran and however many objects they removed.
//
// Purges that come from database changes carry the data version they are
// about (Purge.Version), and the log keeps, per selector, the highest one.
// A response that says which data version it was read at (the
// VersionHeader, X-Cache-Version from Strata's API) and that a purge with a
// higher version matches is not stored either, whenever its fetch started:
// it was read from a tier that had not applied the change yet (an API
// instance's L1 a moment behind this edge), and storing it would keep it
// here after the invalidation completes everywhere.
//
// The log is bounded: past maxLogged remembered selectors, the oldest half
// is forgotten and floor rises to the newest epoch forgotten. A fetch that
// started before floor cannot be checked any more and does not store its
// response (it is treated as purged), which is safe and rare: it takes
// maxLogged/2 selectors purged while one origin request is in flight.
type purgeLog struct {
	mu    sync.Mutex
	epoch uint64 // epoch of the newest purge
	floor uint64 // purges at or before floor may have been forgotten
	all   purgeMark
	bySel [store.KindAll]map[string]purgeMark // indexed by Kind-1: url, path, prefix, tag
	order []loggedSelector                    // oldest first, for forgetting
}

// maxLogged bounds the selectors the log remembers.
const maxLogged = 1 << 16

// purgeMark is the epoch of the latest hard and soft purge by one
// selector, and the highest data version of each kind.
type purgeMark struct{ hard, soft, vhard, vsoft uint64 }

func (m *purgeMark) merge(o purgeMark) {
	m.hard = max(m.hard, o.hard)
	m.soft = max(m.soft, o.soft)
	m.vhard = max(m.vhard, o.vhard)
	m.vsoft = max(m.vsoft, o.vsoft)
}

type loggedSelector struct {
	sel   store.Selector
	epoch uint64
}

// current returns the epoch a fetch starting now records.
func (l *purgeLog) current() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.epoch
}

// add records a purge by sels, soft or hard, about data version (0: none),
// and returns its epoch.
func (l *purgeLog) add(sels []store.Selector, soft bool, version uint64) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.epoch++
	set := func(m *purgeMark) {
		if soft {
			m.soft = l.epoch
			m.vsoft = max(m.vsoft, version)
		} else {
			m.hard = l.epoch
			m.vhard = max(m.vhard, version)
		}
	}
	for _, s := range sels {
		if s.Kind == store.KindAll {
			set(&l.all)
			continue
		}
		mp := &l.bySel[s.Kind-1]
		if *mp == nil {
			*mp = map[string]purgeMark{}
		}
		m := (*mp)[s.Value]
		set(&m)
		(*mp)[s.Value] = m
		l.order = append(l.order, loggedSelector{s, l.epoch})
	}
	if len(l.order) > maxLogged {
		l.forget(len(l.order) - maxLogged/2)
	}
	return l.epoch
}

// forget drops the oldest n selectors and raises floor past them.
func (l *purgeLog) forget(n int) {
	for _, ls := range l.order[:n] {
		l.floor = max(l.floor, ls.epoch)
	}
	for _, ls := range l.order[:n] {
		mp := l.bySel[ls.sel.Kind-1]
		if m, ok := mp[ls.sel.Value]; ok && m.hard <= l.floor && m.soft <= l.floor {
			delete(mp, ls.sel.Value) // no fetch that can still be checked cares
		}
	}
	l.order = append(l.order[:0:0], l.order[n:]...)
}

// check reports whether a purge after epoch since, or one about a data
// version above version (the one en was read at; 0: unknown), matches en:
// hard (a purge removed what en would replace: do not store it) or soft
// (store it stale).
func (l *purgeLog) check(since uint64, en *store.Entry, version uint64) (hard, soft bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if since == l.epoch && version == 0 {
		return false, false
	}
	if since < l.floor {
		return true, false
	}
	m := l.all
	urls, paths, prefixes, tags := l.bySel[store.KindURL-1], l.bySel[store.KindPath-1], l.bySel[store.KindPrefix-1], l.bySel[store.KindTag-1]
	if len(urls) > 0 {
		m.merge(urls[en.URL()])
	}
	if len(paths) > 0 {
		m.merge(paths[en.Path])
	}
	if len(tags) > 0 {
		for _, t := range en.Tags {
			m.merge(tags[t])
		}
	}
	switch p := en.Path; {
	case len(prefixes) == 0:
	case len(prefixes) < len(p):
		for prefix, pm := range prefixes {
			if (pm.hard > since || pm.soft > since || pm.vhard > version || pm.vsoft > version) && strings.HasPrefix(p, prefix) {
				m.merge(pm)
			}
		}
	default:
		for i := 1; i <= len(p); i++ {
			m.merge(prefixes[p[:i]])
		}
	}
	newer := func(v uint64) bool { return version > 0 && v > version }
	return m.hard > since || newer(m.vhard), m.soft > since || newer(m.vsoft)
}
