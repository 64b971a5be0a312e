package inval

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Store keeps a Tracker's invalidation records. With one process
// (`strata serve`) a MemoryStore is enough; with several admin APIs on one
// shared bus every one of them must use the same shared Store (the Redis
// store of package inval/redisbus), so that each node's admin API shows
// every invalidation and a caller reference names one invalidation
// across all of them.
//
// A Store keeps what Create was given plus the bus sequence (SetSeq) and
// the completion time (Complete). Status and Nodes are computed by the
// Tracker and not stored. Every method is safe for concurrent use.
type Store interface {
	// Create stores inv, unless inv.CallerReference is not empty and
	// already names a stored invalidation: then it stores nothing and
	// returns that invalidation with created false. The check and the
	// store are one atomic step, across every user of the Store.
	Create(ctx context.Context, inv Invalidation) (stored Invalidation, created bool, err error)
	// SetSeq records the bus sequence number of the invalidation's event,
	// unless one is already recorded, and returns the stored record.
	SetSeq(ctx context.Context, id string, seq uint64) (Invalidation, error)
	// Complete records when the invalidation was first seen completed,
	// unless a time is already recorded, and returns the stored record.
	Complete(ctx context.Context, id string, at time.Time) (Invalidation, error)
	// Delete removes the invalidation and frees its caller reference. The
	// Tracker uses it when publishing the invalidation failed.
	Delete(ctx context.Context, id string) error
	// Get returns the invalidation, or an error wrapping ErrNotFound.
	Get(ctx context.Context, id string) (Invalidation, error)
	// List returns up to limit invalidations, newest first.
	List(ctx context.Context, limit int) ([]Invalidation, error)
}

// DefaultKeep is how many invalidations a MemoryStore keeps by default.
const DefaultKeep = 1000

// MemoryStore is an in-process Store that keeps the most recent
// invalidations. The zero value is not usable; call NewMemoryStore.
type MemoryStore struct {
	keep int

	mu    sync.Mutex
	byID  map[string]*Invalidation
	byRef map[string]string // caller reference → id
	order []string          // ids, oldest first
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns a store that keeps the last keep invalidations
// (DefaultKeep when keep ≤ 0); an invalidation it forgets frees its caller
// reference.
func NewMemoryStore(keep int) *MemoryStore {
	if keep <= 0 {
		keep = DefaultKeep
	}
	return &MemoryStore{keep: keep, byID: map[string]*Invalidation{}, byRef: map[string]string{}}
}

// Create implements Store.
func (s *MemoryStore) Create(_ context.Context, inv Invalidation) (Invalidation, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.byRef[inv.CallerReference]; ok && inv.CallerReference != "" {
		return s.byID[id].stored(), false, nil
	}
	if _, ok := s.byID[inv.ID]; ok {
		return Invalidation{}, false, fmt.Errorf("inval: invalidation id %q already stored", inv.ID)
	}
	p := new(Invalidation)
	*p = inv.stored()
	s.byID[inv.ID] = p
	if inv.CallerReference != "" {
		s.byRef[inv.CallerReference] = inv.ID
	}
	s.order = append(s.order, inv.ID)
	for len(s.order) > s.keep {
		s.deleteLocked(s.order[0])
	}
	return p.stored(), true, nil
}

// SetSeq implements Store.
func (s *MemoryStore) SetSeq(_ context.Context, id string, seq uint64) (Invalidation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.byID[id]
	if !ok {
		return Invalidation{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if p.Seq == 0 {
		p.Seq = seq
	}
	return p.stored(), nil
}

// Complete implements Store.
func (s *MemoryStore) Complete(_ context.Context, id string, at time.Time) (Invalidation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.byID[id]
	if !ok {
		return Invalidation{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if p.CompleteTime.IsZero() {
		p.CompleteTime = at.UTC()
	}
	return p.stored(), nil
}

// Delete implements Store.
func (s *MemoryStore) Delete(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleteLocked(id)
	return nil
}

func (s *MemoryStore) deleteLocked(id string) {
	p, ok := s.byID[id]
	if !ok {
		return
	}
	delete(s.byID, id)
	if s.byRef[p.CallerReference] == id {
		delete(s.byRef, p.CallerReference)
	}
	for i, o := range s.order {
		if o == id {
			s.order = append(s.order[:i:i], s.order[i+1:]...)
			break
		}
	}
}

// Get implements Store.
func (s *MemoryStore) Get(_ context.Context, id string) (Invalidation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.byID[id]
	if !ok {
		return Invalidation{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return p.stored(), nil
}

// List implements Store.
func (s *MemoryStore) List(_ context.Context, limit int) ([]Invalidation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Invalidation, 0, min(max(limit, 0), len(s.order)))
	for i := len(s.order) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, s.byID[s.order[i]].stored())
	}
	return out, nil
}

// stored returns the part of inv a Store keeps, sharing no memory a
// caller could change with inv.
func (inv Invalidation) stored() Invalidation {
	inv.Status = ""
	inv.Nodes = nil
	inv.Paths = cloneNonEmpty(inv.Paths)
	inv.URLs = cloneNonEmpty(inv.URLs)
	inv.Tags = cloneNonEmpty(inv.Tags)
	inv.Keys = cloneNonEmpty(inv.Keys)
	return inv
}

func cloneNonEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return append([]string(nil), s...)
}
