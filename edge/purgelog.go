package edge

import (
	"sync"

	"github.com/strata-cache/strata/edge/store"
)

// purgeLogSize bounds the purges remembered for in-flight fetches. A fetch
// older than the oldest remembered purge does not store its response.
const purgeLogSize = 4096

// purgeLog remembers recent purges by epoch so that a fetch that started
// before a purge matching its response does not store it (consistency rule 5).
type purgeLog struct {
	mu      sync.Mutex
	epoch   uint64 // epoch of the newest purge
	entries []loggedPurge
}

type loggedPurge struct {
	epoch uint64
	match func(*store.Entry) bool
}

// current returns the epoch a fetch starting now records.
func (l *purgeLog) current() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.epoch
}

// add records a purge.
func (l *purgeLog) add(match func(*store.Entry) bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.epoch++
	l.entries = append(l.entries, loggedPurge{l.epoch, match})
	if len(l.entries) > purgeLogSize {
		l.entries = append(l.entries[:0:0], l.entries[len(l.entries)-purgeLogSize/2:]...)
	}
}

// purgedSince reports whether a purge after epoch since matches e, or whether
// the log no longer reaches back that far.
func (l *purgeLog) purgedSince(since uint64, e *store.Entry) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if since == l.epoch {
		return false
	}
	if len(l.entries) == 0 || l.entries[0].epoch > since+1 {
		return true
	}
	for i := len(l.entries) - 1; i >= 0 && l.entries[i].epoch > since; i-- {
		if l.entries[i].match(e) {
			return true
		}
	}
	return false
}
