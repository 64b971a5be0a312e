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

// purgeMark is the epoch of the latest hard and soft purge by one selector.
type purgeMark struct{ hard, soft uint64 }

func (m *purgeMark) merge(o purgeMark) {
	m.hard = max(m.hard, o.hard)
	m.soft = max(m.soft, o.soft)
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

// add records a purge by sels, soft or hard, and returns its epoch.
func (l *purgeLog) add(sels []store.Selector, soft bool) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.epoch++
	set := func(m *purgeMark) {
		if soft {
			m.soft = l.epoch
		} else {
			m.hard = l.epoch
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

// check reports whether a purge after epoch since matches en: hard (a
// purge removed what en would replace: do not store it) or soft (store it
// stale).
func (l *purgeLog) check(since uint64, en *store.Entry) (hard, soft bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if since == l.epoch {
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
			if (pm.hard > since || pm.soft > since) && strings.HasPrefix(p, prefix) {
				m.merge(pm)
			}
		}
	default:
		for i := 1; i <= len(p); i++ {
			m.merge(prefixes[p[:i]])
		}
	}
	return m.hard > since, m.soft > since
}
