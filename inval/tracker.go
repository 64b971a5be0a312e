package inval

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Invalidation statuses, as CloudFront names them.
const (
	StatusInProgress = "InProgress"
	StatusCompleted  = "Completed"
)

// Invalidation is one admin invalidation request and its status.
type Invalidation struct {
	ID              string    `json:"id"`
	Status          string    `json:"status"`
	CallerReference string    `json:"callerReference,omitempty"`
	Paths           []string  `json:"paths,omitempty"`
	Tags            []string  `json:"tags,omitempty"`
	CreateTime      time.Time `json:"createTime"`
	Seq             uint64    `json:"seq"`
}

// Limits on one invalidation request.
const (
	MaxPaths     = 3000
	maxKept      = 1000 // invalidations remembered for status queries
	maxPathBytes = 4096
)

// Errors callers branch on.
var (
	ErrInvalid  = errors.New("inval: invalid invalidation")
	ErrConflict = errors.New("inval: caller reference already used for a different batch")
	ErrNotFound = errors.New("inval: no such invalidation")
)

// Tracker creates admin invalidations on a bus and reports their status.
type Tracker struct {
	bus Bus
	now func() time.Time

	createMu sync.Mutex // serialises Create, so a caller reference is used once
	mu       sync.Mutex
	byID     map[string]*Invalidation
	byRef    map[string]*Invalidation
	order    []string
}

// NewTracker returns a Tracker publishing on bus.
func NewTracker(bus Bus) *Tracker {
	return &Tracker{bus: bus, now: time.Now, byID: map[string]*Invalidation{}, byRef: map[string]*Invalidation{}}
}

// ValidatePath checks one invalidation path: it starts with "/", has no
// control characters, and "*" only as its last character.
func ValidatePath(p string) error {
	switch {
	case !strings.HasPrefix(p, "/"):
		return fmt.Errorf("%w: path %q must start with /", ErrInvalid, p)
	case len(p) > maxPathBytes:
		return fmt.Errorf("%w: path longer than %d bytes", ErrInvalid, maxPathBytes)
	case strings.IndexFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
		return fmt.Errorf("%w: path %q has control characters", ErrInvalid, p)
	case strings.Contains(strings.TrimSuffix(p, "*"), "*"):
		return fmt.Errorf("%w: path %q: * is allowed only at the end", ErrInvalid, p)
	}
	return nil
}

// Create publishes an invalidation of paths and surrogate-key tags. A repeated
// callerRef with the same batch returns the existing invalidation; with a
// different batch it fails with ErrConflict.
func (t *Tracker) Create(ctx context.Context, paths, tags []string, callerRef string) (Invalidation, error) {
	if len(paths)+len(tags) == 0 {
		return Invalidation{}, fmt.Errorf("%w: no paths or tags", ErrInvalid)
	}
	if len(paths)+len(tags) > MaxPaths {
		return Invalidation{}, fmt.Errorf("%w: more than %d paths and tags", ErrInvalid, MaxPaths)
	}
	for _, p := range paths {
		if err := ValidatePath(p); err != nil {
			return Invalidation{}, err
		}
	}
	for _, tag := range tags {
		if tag == "" || strings.ContainsAny(tag, " \t\r\n") {
			return Invalidation{}, fmt.Errorf("%w: tag %q must be one non-empty token", ErrInvalid, tag)
		}
	}
	t.createMu.Lock()
	defer t.createMu.Unlock()
	t.mu.Lock()
	if prev, ok := t.byRef[callerRef]; ok && callerRef != "" {
		t.mu.Unlock()
		if !slices.Equal(prev.Paths, paths) || !slices.Equal(prev.Tags, tags) {
			return Invalidation{}, fmt.Errorf("%w: %q", ErrConflict, callerRef)
		}
		return t.Get(prev.ID)
	}
	t.mu.Unlock()

	seq, err := t.bus.Publish(ctx, Event{Paths: paths, Tags: tags, Time: t.now()})
	if err != nil {
		return Invalidation{}, err
	}
	inv := &Invalidation{ID: newID(), CallerReference: callerRef, Paths: paths, Tags: tags, CreateTime: t.now().UTC(), Seq: seq}
	t.mu.Lock()
	t.byID[inv.ID] = inv
	if callerRef != "" {
		t.byRef[callerRef] = inv
	}
	t.order = append(t.order, inv.ID)
	if len(t.order) > maxKept {
		old := t.byID[t.order[0]]
		delete(t.byID, old.ID)
		if t.byRef[old.CallerReference] == old {
			delete(t.byRef, old.CallerReference)
		}
		t.order = t.order[1:]
	}
	t.mu.Unlock()
	return t.Get(inv.ID)
}

// Get returns the invalidation with id and its current status.
func (t *Tracker) Get(id string) (Invalidation, error) {
	t.mu.Lock()
	inv, ok := t.byID[id]
	t.mu.Unlock()
	if !ok {
		return Invalidation{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	out := *inv
	out.Status = StatusInProgress
	if t.bus.Acked(inv.Seq) {
		out.Status = StatusCompleted
	}
	return out, nil
}

// Wait blocks until the invalidation with id is Completed or ctx ends.
func (t *Tracker) Wait(ctx context.Context, id string) (Invalidation, error) {
	inv, err := t.Get(id)
	if err != nil {
		return inv, err
	}
	if err := t.bus.WaitAcked(ctx, inv.Seq); err != nil {
		return inv, err
	}
	return t.Get(id)
}

// newID returns a CloudFront-like invalidation id: I plus 13 upper-case hex.
func newID() string {
	var b [7]byte
	rand.Read(b[:])
	return "I" + strings.ToUpper(hex.EncodeToString(b[:]))[:13]
}
