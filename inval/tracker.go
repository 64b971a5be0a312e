package inval

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
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

// Invalidation is one admin invalidation and its status.
type Invalidation struct {
	ID              string   `json:"id"`
	Status          string   `json:"status"`
	CallerReference string   `json:"callerReference,omitempty"`
	Paths           []string `json:"paths,omitempty"`
	URLs            []string `json:"urls,omitempty"`
	Tags            []string `json:"tags,omitempty"`
	All             bool     `json:"all,omitempty"`
	Flush           bool     `json:"flush,omitempty"`
	Soft            bool     `json:"soft,omitempty"`
	// Keys are application-cache keys and tags (database changes).
	Keys []string `json:"keys,omitempty"`
	// FromVersion and Version are the data versions (outbox sequences)
	// a database change invalidation covers, both included; zero for
	// admin invalidations.
	FromVersion uint64 `json:"fromVersion,omitempty"`
	Version     uint64 `json:"version,omitempty"`
	// By says who asked, e.g. "admin@127.0.0.1:5123".
	By         string    `json:"by,omitempty"`
	CreateTime time.Time `json:"createTime"`
	// CompleteTime is when the invalidation was first seen Completed; zero
	// while it is in progress.
	CompleteTime time.Time `json:"completeTime,omitzero"`
	// Seq is the bus sequence number of the invalidation's event; 0 for
	// the moment between the record's creation and the event's publication.
	Seq uint64 `json:"seq"`
	// Nodes is every subscriber's progress on this invalidation, when the
	// bus reports it (NodeReporter) and the invalidation was read alone
	// (Get, Wait, Create), not in a List.
	Nodes []NodeProgress `json:"nodes,omitempty"`
}

// NodeProgress is one subscriber's progress on one invalidation.
type NodeProgress struct {
	Node    string `json:"node"`
	Applied uint64 `json:"applied"`
	Live    bool   `json:"live"`
	// Done reports whether the node applied the invalidation (Applied ≥
	// the invalidation's Seq). A node that is not Live does not hold the
	// invalidation open, done or not.
	Done bool `json:"done"`
}

// Request asks for an invalidation.
type Request struct {
	// Paths are edge URL paths, each starting with "/"; a trailing "*" is
	// a prefix wildcard.
	Paths []string
	// URLs are exact absolute http or https URLs.
	URLs []string
	// Tags are surrogate keys.
	Tags []string
	// All invalidates everything; it takes no Paths, URLs or Tags.
	All bool
	// Soft marks matching entries stale instead of removing them.
	Soft bool
	// CallerReference makes the request idempotent: a request repeating a
	// reference returns the invalidation it named, on every Tracker that
	// shares the Store.
	CallerReference string
	// By says who asked, for the record and the purge log.
	By string

	// Set by the outbox relay for database changes, not by the admin API:

	// Keys are application-cache keys and tags to invalidate.
	Keys []string
	// Flush empties the application caches (see Event.Flush).
	Flush bool
	// FromVersion and Version are the data versions (outbox sequences)
	// the request covers; caches refuse fills read before Version.
	FromVersion, Version uint64
	// Time is when the change was made (the commit); zero means now. It
	// is the invalidation's CreateTime, so that completion latency runs
	// from the commit.
	Time time.Time
}

// Limits on one invalidation request. They are generous: a request holding
// MaxPaths items is about one Redis stream entry of a megabyte or less, and
// the admin API rate-limits the items asked for per second.
const (
	// MaxPaths caps the paths, URLs and tags of one request, together.
	MaxPaths = 10000
	// MaxItemBytes caps one path, URL or tag.
	MaxItemBytes = 8192
	// MaxCallerReferenceBytes caps a caller reference.
	MaxCallerReferenceBytes = 1024
)

// Errors callers branch on.
var (
	ErrInvalid  = errors.New("inval: invalid invalidation")
	ErrConflict = errors.New("inval: caller reference already used for a different batch")
	ErrNotFound = errors.New("inval: no such invalidation")
	// ErrPublish is wrapped by Create's error when the invalidation could
	// not be stored or its event published (Redis unreachable, bus
	// closed). The request can be repeated; with its caller reference it
	// is safe to repeat even if the failure hid a success.
	ErrPublish = errors.New("inval: publishing the invalidation failed")
)

// Items returns how many selectors r names: its paths, URLs and tags, and
// one for All. Rate limits count these.
func (r Request) Items() int {
	n := len(r.Paths) + len(r.URLs) + len(r.Tags) + len(r.Keys)
	if r.All {
		n++
	}
	return n
}

// Validate checks r: at least one selector, All alone, at most MaxPaths
// items, and each path, URL and tag well formed.
func (r Request) Validate() error {
	n := len(r.Paths) + len(r.URLs) + len(r.Tags)
	switch {
	case r.Flush && r.Version == 0:
		return fmt.Errorf("%w: flush needs a data version", ErrInvalid)
	case r.All && n > 0:
		return fmt.Errorf("%w: all invalidates everything; give it no paths, urls or tags", ErrInvalid)
	case !r.All && !r.Flush && n == 0 && len(r.Keys) == 0:
		return fmt.Errorf("%w: no paths, urls or tags (or all)", ErrInvalid)
	case n+len(r.Keys) > MaxPaths:
		return fmt.Errorf("%w: %d paths, urls and tags; at most %d in one invalidation", ErrInvalid, n, MaxPaths)
	case len(r.CallerReference) > MaxCallerReferenceBytes:
		return fmt.Errorf("%w: callerReference longer than %d bytes", ErrInvalid, MaxCallerReferenceBytes)
	}
	for _, p := range r.Paths {
		if err := ValidatePath(p); err != nil {
			return err
		}
	}
	for _, u := range r.URLs {
		if err := ValidateURL(u); err != nil {
			return err
		}
	}
	for _, tag := range r.Tags {
		if err := ValidateTag(tag); err != nil {
			return err
		}
	}
	for _, k := range r.Keys {
		if k == "" || len(k) > MaxItemBytes {
			return fmt.Errorf("%w: key must be 1 to %d bytes", ErrInvalid, MaxItemBytes)
		}
	}
	if r.FromVersion > r.Version {
		return fmt.Errorf("%w: fromVersion %d is after version %d", ErrInvalid, r.FromVersion, r.Version)
	}
	return nil
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0
}

// ValidatePath checks one invalidation path: it starts with "/", has no
// control characters, and "*" only as its last character.
func ValidatePath(p string) error {
	switch {
	case !strings.HasPrefix(p, "/"):
		return fmt.Errorf("%w: path %q must start with /", ErrInvalid, p)
	case len(p) > MaxItemBytes:
		return fmt.Errorf("%w: path longer than %d bytes", ErrInvalid, MaxItemBytes)
	case hasControl(p):
		return fmt.Errorf("%w: path %q has control characters", ErrInvalid, p)
	case strings.Contains(strings.TrimSuffix(p, "*"), "*"):
		return fmt.Errorf("%w: path %q: * is allowed only at the end", ErrInvalid, p)
	}
	return nil
}

// ValidateURL checks one exact URL: absolute, http or https, with a host,
// without user information, fragment or control characters.
func ValidateURL(s string) error {
	if len(s) > MaxItemBytes {
		return fmt.Errorf("%w: url longer than %d bytes", ErrInvalid, MaxItemBytes)
	}
	if hasControl(s) {
		return fmt.Errorf("%w: url %q has control characters", ErrInvalid, s)
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("%w: url %q: %v", ErrInvalid, s, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%w: url %q must be an absolute http or https URL", ErrInvalid, s)
	case u.Host == "":
		return fmt.Errorf("%w: url %q has no host", ErrInvalid, s)
	case u.User != nil:
		return fmt.Errorf("%w: url %q must not hold user information", ErrInvalid, s)
	case u.Fragment != "" || strings.Contains(s, "#"):
		return fmt.Errorf("%w: url %q must not have a fragment", ErrInvalid, s)
	}
	return nil
}

// ValidateTag checks one surrogate key: one non-empty token without
// whitespace or control characters.
func ValidateTag(tag string) error {
	switch {
	case tag == "" || strings.ContainsAny(tag, " \t\r\n") || hasControl(tag):
		return fmt.Errorf("%w: tag %q must be one non-empty token", ErrInvalid, tag)
	case len(tag) > MaxItemBytes:
		return fmt.Errorf("%w: tag longer than %d bytes", ErrInvalid, MaxItemBytes)
	}
	return nil
}

// TrackerOptions configures a Tracker. The zero value is usable.
type TrackerOptions struct {
	// OnComplete, when set, is called once for each invalidation this
	// Tracker created, when it sees it complete within Watch (for the
	// created-to-completed latency metric).
	OnComplete func(Invalidation)

	// Store keeps the invalidations. Nil means NewMemoryStore(DefaultKeep),
	// seen only through this Tracker: with several admin APIs on one shared
	// bus, give them one shared Store.
	Store Store
	// Watch is how long the Tracker that created an invalidation watches
	// the bus for its completion, so that its CompleteTime is when it
	// completed. Past it, and for invalidations created elsewhere, a
	// status request that finds the invalidation complete records the
	// time. Default 1 hour.
	Watch time.Duration
	// MaxWatching caps the invalidations watched at once, one goroutine
	// each. Default 10000.
	MaxWatching int
	// Logger receives errors met while watching. Default slog.Default().
	Logger *slog.Logger
}

// Tracker creates admin invalidations on a bus and reports their status:
// Completed once every live subscriber has applied the invalidation's
// event (see Bus.Acked), and from then on.
type Tracker struct {
	bus    Bus
	store  Store
	opts   TrackerOptions
	now    func() time.Time
	ctx    context.Context // cancelled by Close; ends watchers
	cancel context.CancelFunc
	wg     sync.WaitGroup
	sem    chan struct{} // one token per running watcher
}

// How a Tracker waits for a record another caller with the same caller
// reference is publishing: polling the store, up to pendingTimeout after
// the record's creation, after which it publishes the event itself
// (a duplicate publication is harmless: applying an invalidation twice
// is).
const (
	pendingPollMin = time.Millisecond
	pendingPollMax = 50 * time.Millisecond
	pendingTimeout = 10 * time.Second
)

// NewTracker returns a Tracker publishing on bus with default options.
func NewTracker(bus Bus) *Tracker {
	return NewTrackerWith(bus, TrackerOptions{})
}

// NewTrackerWith returns a Tracker publishing on bus. Close it to stop the
// goroutines that watch invalidations for completion; closing the bus
// stops them too.
func NewTrackerWith(bus Bus, opts TrackerOptions) *Tracker {
	if opts.Store == nil {
		opts.Store = NewMemoryStore(DefaultKeep)
	}
	if opts.Watch <= 0 {
		opts.Watch = time.Hour
	}
	if opts.MaxWatching <= 0 {
		opts.MaxWatching = 10000
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Tracker{bus: bus, store: opts.Store, opts: opts, now: time.Now, ctx: ctx, cancel: cancel,
		sem: make(chan struct{}, opts.MaxWatching)}
}

// Close stops watching invalidations and waits for the watchers to return.
func (t *Tracker) Close() error {
	t.cancel()
	t.wg.Wait()
	return nil
}

// Create validates req and publishes it as an invalidation. A request
// repeating a caller reference with the same batch (paths, URLs, tags, all
// and soft) returns the invalidation it named, without publishing again;
// with a different batch it fails with ErrConflict.
func (t *Tracker) Create(ctx context.Context, req Request) (Invalidation, error) {
	if err := req.Validate(); err != nil {
		return Invalidation{}, err
	}
	created := req.Time
	if created.IsZero() {
		created = t.now()
	}
	inv := Invalidation{ID: newID(), CallerReference: req.CallerReference,
		Paths: req.Paths, URLs: req.URLs, Tags: req.Tags, All: req.All, Soft: req.Soft, By: req.By,
		Keys: req.Keys, Flush: req.Flush, FromVersion: req.FromVersion, Version: req.Version,
		CreateTime: created.UTC()}
	for {
		stored, created, err := t.store.Create(ctx, inv)
		if err != nil {
			return Invalidation{}, fmt.Errorf("%w: storing it: %w", ErrPublish, err)
		}
		if created {
			return t.publish(ctx, stored)
		}
		if !sameBatch(stored, inv) {
			return Invalidation{}, fmt.Errorf("%w: %q", ErrConflict, req.CallerReference)
		}
		stored, err = t.published(ctx, stored)
		if errors.Is(err, ErrNotFound) {
			continue // its creator failed to publish and deleted it: try again
		}
		if err != nil {
			return Invalidation{}, err
		}
		return t.status(ctx, stored), nil
	}
}

// publish publishes the event of the stored invalidation inv.
func (t *Tracker) publish(ctx context.Context, inv Invalidation) (Invalidation, error) {
	seq, err := t.bus.Publish(ctx, inv.event())
	if err != nil {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if derr := t.store.Delete(dctx, inv.ID); derr != nil {
			t.opts.Logger.Warn("inval: deleting an invalidation that was not published", "id", inv.ID, "err", derr)
		}
		return Invalidation{}, fmt.Errorf("%w: %w", ErrPublish, err)
	}
	// The event is out: record its number even if the caller has gone,
	// retrying a failed write, or the invalidation stays InProgress.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var stored Invalidation
	for wait := 50 * time.Millisecond; ; wait *= 2 {
		if stored, err = t.store.SetSeq(sctx, inv.ID, seq); err == nil {
			break
		}
		timer := time.NewTimer(wait)
		select {
		case <-sctx.Done():
			timer.Stop()
			return Invalidation{}, fmt.Errorf("%w: invalidation %s published as event %d, but recording that failed: %w", ErrPublish, inv.ID, seq, err)
		case <-timer.C:
		}
	}
	t.watch(stored.ID, stored.Seq)
	return t.status(ctx, stored), nil
}

// published waits until inv, created by another caller with the same
// caller reference, has its event published. If that takes more than
// pendingTimeout from inv's creation, its creator is taken to have died
// and the event is published here.
func (t *Tracker) published(ctx context.Context, inv Invalidation) (Invalidation, error) {
	wait := pendingPollMin
	for inv.Seq == 0 {
		if t.now().Sub(inv.CreateTime) > pendingTimeout {
			seq, err := t.bus.Publish(ctx, inv.event())
			if err != nil {
				return Invalidation{}, fmt.Errorf("%w: %w", ErrPublish, err)
			}
			return t.store.SetSeq(ctx, inv.ID, seq)
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return Invalidation{}, ctx.Err()
		case <-timer.C:
		}
		wait = min(2*wait, pendingPollMax)
		var err error
		if inv, err = t.store.Get(ctx, inv.ID); err != nil {
			return Invalidation{}, err
		}
	}
	return inv, nil
}

// watch records id's completion time as soon as its event is acknowledged,
// unless MaxWatching invalidations are already watched.
func (t *Tracker) watch(id string, seq uint64) {
	select {
	case t.sem <- struct{}{}:
	default:
		return
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		defer func() { <-t.sem }()
		ctx, cancel := context.WithTimeout(t.ctx, t.opts.Watch)
		defer cancel()
		if err := t.bus.WaitAcked(ctx, seq); err != nil {
			return
		}
		inv, err := t.store.Complete(ctx, id, t.now())
		if err != nil {
			if ctx.Err() == nil {
				t.opts.Logger.Warn("inval: recording an invalidation's completion", "id", id, "err", err)
			}
			return
		}
		if t.opts.OnComplete != nil {
			t.opts.OnComplete(inv)
		}
	}()
}

// event is the bus event of inv.
func (inv Invalidation) event() Event {
	return Event{Paths: inv.Paths, URLs: inv.URLs, Tags: inv.Tags, Keys: inv.Keys, Flush: inv.Flush, Version: inv.Version,
		All: inv.All, Soft: inv.Soft, By: inv.By, Time: inv.CreateTime}
}

func sameBatch(a, b Invalidation) bool {
	return slices.Equal(a.Paths, b.Paths) && slices.Equal(a.URLs, b.URLs) && slices.Equal(a.Tags, b.Tags) &&
		slices.Equal(a.Keys, b.Keys) && a.All == b.All && a.Flush == b.Flush && a.Soft == b.Soft &&
		a.FromVersion == b.FromVersion && a.Version == b.Version
}

// Get returns the invalidation with id, its status and every node's
// progress.
func (t *Tracker) Get(ctx context.Context, id string) (Invalidation, error) {
	inv, err := t.store.Get(ctx, id)
	if err != nil {
		return Invalidation{}, err
	}
	return t.status(ctx, inv), nil
}

// List returns up to limit invalidations, newest first, with their status
// (without per-node progress).
func (t *Tracker) List(ctx context.Context, limit int) ([]Invalidation, error) {
	invs, err := t.store.List(ctx, limit)
	if err != nil {
		return nil, err
	}
	// One read of the nodes' progress serves the whole list.
	var nodes []NodeStatus
	nr, reports := t.bus.(NodeReporter)
	if reports {
		nodes, err = nr.Nodes(ctx)
		reports = err == nil
	}
	for i, inv := range invs {
		if inv.CompleteTime.IsZero() && inv.Seq != 0 {
			acked := false
			if reports {
				acked = ackedBy(nodes, inv.Seq)
			} else {
				acked = t.bus.Acked(inv.Seq)
			}
			if acked {
				if done, err := t.store.Complete(ctx, inv.ID, t.now()); err == nil {
					inv = done
				}
			}
		}
		inv.Status = statusOf(inv)
		invs[i] = inv
	}
	return invs, nil
}

// Wait blocks until the invalidation with id is Completed or ctx ends. On
// ctx's end it returns ctx's error.
func (t *Tracker) Wait(ctx context.Context, id string) (Invalidation, error) {
	inv, err := t.store.Get(ctx, id)
	if err != nil {
		return Invalidation{}, err
	}
	if inv.CompleteTime.IsZero() {
		if inv, err = t.published(ctx, inv); err != nil {
			return Invalidation{}, err
		}
		if err := t.bus.WaitAcked(ctx, inv.Seq); err != nil {
			return Invalidation{}, err
		}
		if inv, err = t.store.Complete(ctx, id, t.now()); err != nil {
			return Invalidation{}, err
		}
	}
	return t.status(ctx, inv), nil
}

// status fills in inv's Status and Nodes; it records the
// completion time if inv is found complete for the first time. Errors
// reading the nodes leave inv as stored (InProgress unless completion was
// recorded before).
func (t *Tracker) status(ctx context.Context, inv Invalidation) Invalidation {
	if nr, ok := t.bus.(NodeReporter); ok {
		if nodes, err := nr.Nodes(ctx); err == nil {
			if inv.CompleteTime.IsZero() && inv.Seq != 0 && ackedBy(nodes, inv.Seq) {
				if done, err := t.store.Complete(ctx, inv.ID, t.now()); err == nil {
					inv = done
				}
			}
			if inv.Seq != 0 {
				inv.Nodes = make([]NodeProgress, len(nodes))
				for i, n := range nodes {
					inv.Nodes[i] = NodeProgress{Node: n.Name, Applied: n.Applied, Live: n.Live, Done: n.Applied >= inv.Seq}
				}
			}
		}
	} else if inv.CompleteTime.IsZero() && inv.Seq != 0 && t.bus.Acked(inv.Seq) {
		if done, err := t.store.Complete(ctx, inv.ID, t.now()); err == nil {
			inv = done
		}
	}
	inv.Status = statusOf(inv)
	return inv
}

func statusOf(inv Invalidation) string {
	if inv.CompleteTime.IsZero() {
		return StatusInProgress
	}
	return StatusCompleted
}

// ackedBy reports whether every live node in nodes has applied seq.
func ackedBy(nodes []NodeStatus, seq uint64) bool {
	for _, n := range nodes {
		if n.Live && n.Applied < seq {
			return false
		}
	}
	return true
}

// newID returns a CloudFront-like invalidation id: I plus 13 upper-case hex.
func newID() string {
	var b [7]byte
	rand.Read(b[:])
	return "I" + strings.ToUpper(hex.EncodeToString(b[:]))[:13]
}
