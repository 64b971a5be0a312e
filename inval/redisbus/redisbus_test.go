package redisbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/strata-cache/strata/internal/testenv"
	"github.com/strata-cache/strata/inval"
	"github.com/strata-cache/strata/inval/invaltest"
)

// timeout bounds waits that succeed much sooner when the code is right.
const timeout = 30 * time.Second

var quiet = slog.New(slog.DiscardHandler)

var prefixSeq atomic.Int64

// newPrefix returns a key prefix no other test of this binary uses.
func newPrefix() string { return fmt.Sprintf("strata:test%d", prefixSeq.Add(1)) }

func newClient(t testing.TB, addrs ...string) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: addrs})
	if err != nil {
		t.Fatalf("rueidis.NewClient(%v): %v", addrs, err)
	}
	t.Cleanup(c.Close)
	return c
}

// fast are options with short intervals, for tests.
func fast(prefix string) Options {
	return Options{Prefix: prefix, HeartbeatInterval: 50 * time.Millisecond, NodeTTL: time.Second,
		PollInterval: 20 * time.Millisecond, BlockTime: 200 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Logger: quiet}
}

func newBus(t testing.TB, c rueidis.Client, opts Options) *Bus {
	t.Helper()
	b, err := New(c, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return ctx
}

func TestConformance(t *testing.T) {
	addr := testenv.Redis(t)
	invaltest.TestBus(t, func(t *testing.T, n int) []inval.Bus {
		opts := fast(newPrefix())
		buses := make([]inval.Bus, n)
		for i := range buses {
			buses[i] = newBus(t, newClient(t, addr), opts)
		}
		return buses
	})
}

func TestStoreConformance(t *testing.T) {
	addr := testenv.Redis(t)
	invaltest.TestStore(t, func(t *testing.T, n int) []inval.Store {
		prefix := newPrefix()
		stores := make([]inval.Store, n)
		for i := range stores {
			s, err := NewStore(newClient(t, addr), StoreOptions{Prefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			stores[i] = s
		}
		return stores
	})
}

func TestCursorConformance(t *testing.T) {
	addr := testenv.Redis(t)
	invaltest.TestCursor(t, func(t *testing.T, n int) []inval.Cursor {
		prefix := newPrefix()
		cs := make([]inval.Cursor, n)
		for i := range cs {
			c, err := NewCursor(newClient(t, addr), prefix)
			if err != nil {
				t.Fatal(err)
			}
			cs[i] = c
		}
		return cs
	})
	if _, err := NewCursor(newClient(t, addr), "a{b}"); err == nil {
		t.Error("NewCursor accepted a prefix with braces")
	}
}

func TestOptions(t *testing.T) {
	c := newClient(t, testenv.Redis(t))
	for _, o := range []Options{
		{Prefix: "a{b}"},
		{HeartbeatInterval: time.Second, NodeTTL: time.Second},
		{NodeTTL: time.Minute, Retention: time.Second},
		{BlockTime: time.Microsecond},
	} {
		if _, err := New(c, o); err == nil {
			t.Errorf("New accepted %+v", o)
		}
	}
	if _, err := New(nil, Options{}); err == nil {
		t.Error("New accepted a nil client")
	}
	b, err := New(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.o.Prefix != DefaultPrefix || b.o.MaxLen != DefaultMaxLen || b.o.NodeTTL != 5*time.Second ||
		b.o.HeartbeatInterval != time.Second || b.o.Retention != time.Hour || b.k.events != "{strata:inval}:events" {
		t.Errorf("defaults: %+v %+v", b.o, b.k)
	}
}

// journal records, in order, what a node was given: events and losses.
type journal struct {
	mu      sync.Mutex
	entries []string
	lost    chan error
	events  chan uint64
}

func newJournal() *journal {
	return &journal{lost: make(chan error, 1024), events: make(chan uint64, 1024)}
}

func (j *journal) handle(_ context.Context, ev inval.Event) error {
	j.mu.Lock()
	j.entries = append(j.entries, fmt.Sprint(ev.Seq))
	j.mu.Unlock()
	j.events <- ev.Seq
	return nil
}

func (j *journal) onLost(reason error) {
	j.mu.Lock()
	j.entries = append(j.entries, "lost")
	j.mu.Unlock()
	j.lost <- reason
}

func (j *journal) got() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.entries)
}

func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(timeout):
		t.Fatalf("no %s within %v", what, timeout)
		panic("unreachable")
	}
}

func noLost(t *testing.T) inval.LostFunc {
	return func(reason error) { t.Errorf("unexpected loss: %v", reason) }
}

// A new node starts at the end of the stream, after calling its LostFunc.
func TestNewNodeStartsAtEnd(t *testing.T) {
	addr := testenv.Redis(t)
	opts := fast(newPrefix())
	pub := newBus(t, newClient(t, addr), opts)
	for range 3 {
		if _, err := pub.Publish(context.Background(), inval.Event{Keys: []string{"old"}}); err != nil {
			t.Fatal(err)
		}
	}
	j := newJournal()
	node := newBus(t, newClient(t, addr), opts)
	if err := node.SubscribeWithLost("n", j.handle, j.onLost); err != nil {
		t.Fatal(err)
	}
	// Called before Subscribe returned.
	select {
	case reason := <-j.lost:
		if !errors.Is(reason, ErrNewNode) || !errors.Is(reason, inval.ErrLost) {
			t.Errorf("reason %v", reason)
		}
	default:
		t.Fatal("LostFunc not called by Subscribe")
	}
	// Registered at once, at the end.
	if !pub.Acked(3) || pub.Acked(4) {
		t.Error("Acked disagrees with a node registered at 3")
	}
	seq, err := pub.Publish(context.Background(), inval.Event{})
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.WaitAcked(waitCtx(t), seq); err != nil {
		t.Fatal(err)
	}
	if got := j.got(); !slices.Equal(got, []string{"lost", "4"}) {
		t.Errorf("node got %v, want [lost 4]", got)
	}
	// Options.OnLost serves Subscribe.
	var lostNode string
	o := opts
	o.OnLost = func(node string, reason error) { lostNode = node }
	other := newBus(t, newClient(t, addr), o)
	if err := other.Subscribe("m", func(context.Context, inval.Event) error { return nil }); err != nil || lostNode != "m" {
		t.Errorf("Subscribe with Options.OnLost: %v, lost %q", err, lostNode)
	}
}

// A dead node stops holding invalidations open; when it comes back under
// its name it resumes after the last event it applied.
func TestDeadNodeAndRestart(t *testing.T) {
	addr := testenv.Redis(t)
	opts := fast(newPrefix())
	a := newBus(t, newClient(t, addr), opts)
	ja := newJournal()
	if err := a.SubscribeWithLost("a", ja.handle, ja.onLost); err != nil {
		t.Fatal(err)
	}
	b := newBus(t, newClient(t, addr), opts)
	jb := newJournal()
	if err := b.SubscribeWithLost("b", jb.handle, jb.onLost); err != nil {
		t.Fatal(err)
	}
	<-jb.lost // new node
	seq1, _ := a.Publish(context.Background(), inval.Event{Paths: []string{"/1"}})
	if err := a.WaitAcked(waitCtx(t), seq1); err != nil {
		t.Fatal(err)
	}
	b.Close()

	seq2, err := a.Publish(context.Background(), inval.Event{Paths: []string{"/2"}})
	if err != nil {
		t.Fatal(err)
	}
	seq3, _ := a.Publish(context.Background(), inval.Event{Paths: []string{"/3"}})
	// b holds seq3 open until NodeTTL has passed since its last heartbeat.
	if err := a.WaitAcked(waitCtx(t), seq3); err != nil {
		t.Fatal(err)
	}
	nodes, err := a.Nodes(waitCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 2 || nodes[0].Name != "a" || !nodes[0].Live || nodes[0].Applied != seq3 ||
		nodes[1].Name != "b" || nodes[1].Live || nodes[1].Applied != seq1 || nodes[1].Lag != seq3-seq1 {
		t.Fatalf("nodes %+v", nodes)
	}
	if nodes[1].Started.IsZero() || nodes[1].Heartbeat.Before(nodes[1].Started) {
		t.Errorf("b's times: %+v", nodes[1])
	}

	// b comes back: it replays 2 and 3, and is live again.
	b2 := newBus(t, newClient(t, addr), opts)
	if err := b2.SubscribeWithLost("b", jb.handle, noLost(t)); err != nil {
		t.Fatal(err)
	}
	seq4, _ := a.Publish(context.Background(), inval.Event{Paths: []string{"/4"}})
	if err := a.WaitAcked(waitCtx(t), seq4); err != nil {
		t.Fatal(err)
	}
	want := []string{"lost", fmt.Sprint(seq1), fmt.Sprint(seq2), fmt.Sprint(seq3), fmt.Sprint(seq4)}
	if got := jb.got(); !slices.Equal(got, want) {
		t.Errorf("b got %v, want %v", got, want)
	}
	nodes, _ = b2.Nodes(waitCtx(t))
	for _, n := range nodes {
		if !n.Live || n.Applied != seq4 || n.Lag != 0 {
			t.Errorf("after b's return: %+v", n)
		}
	}
}

// A node away for longer than the stream keeps calls its LostFunc when it
// returns, and does not replay what is left.
func TestTrimmedWhileAway(t *testing.T) {
	addr := testenv.Redis(t)
	opts := fast(newPrefix())
	opts.MaxLen = 10
	pub := newBus(t, newClient(t, addr), opts)
	j := newJournal()
	node := newBus(t, newClient(t, addr), opts)
	if err := node.SubscribeWithLost("n", j.handle, j.onLost); err != nil {
		t.Fatal(err)
	}
	<-j.lost
	seq, _ := pub.Publish(context.Background(), inval.Event{})
	if err := pub.WaitAcked(waitCtx(t), seq); err != nil {
		t.Fatal(err)
	}
	node.Close()
	var last uint64
	for range 300 {
		last, _ = pub.Publish(context.Background(), inval.Event{})
	}
	node = newBus(t, newClient(t, addr), opts)
	if err := node.SubscribeWithLost("n", j.handle, j.onLost); err != nil {
		t.Fatal(err)
	}
	select {
	case reason := <-j.lost:
		if !errors.Is(reason, ErrTrimmed) {
			t.Errorf("reason %v", reason)
		}
	default:
		t.Fatal("no loss reported on return")
	}
	next, _ := pub.Publish(context.Background(), inval.Event{})
	if next != last+1 {
		t.Fatalf("published %d after %d", next, last)
	}
	if err := pub.WaitAcked(waitCtx(t), next); err != nil {
		t.Fatal(err)
	}
	if got := j.got(); !slices.Equal(got, []string{"lost", fmt.Sprint(seq), "lost", fmt.Sprint(next)}) {
		t.Errorf("node got %v", got)
	}
}

// A running node that finds a gap (the stream was trimmed past the events
// it had still to read) calls its LostFunc before going on.
func TestTrimmedWhileRunning(t *testing.T) {
	addr := testenv.Redis(t)
	opts := fast(newPrefix())
	opts.MaxLen, opts.BatchSize = 10, 1
	pub := newBus(t, newClient(t, addr), opts)
	j := newJournal()
	entered, release := make(chan uint64, 1), make(chan struct{})
	node := newBus(t, newClient(t, addr), opts)
	if err := node.SubscribeWithLost("n", func(ctx context.Context, ev inval.Event) error {
		if ev.Seq == 1 {
			entered <- ev.Seq
			<-release
		}
		return j.handle(ctx, ev)
	}, j.onLost); err != nil {
		t.Fatal(err)
	}
	<-j.lost
	if _, err := pub.Publish(context.Background(), inval.Event{}); err != nil {
		t.Fatal(err)
	}
	receive(t, entered, "first event")
	var last uint64
	for range 300 {
		last, _ = pub.Publish(context.Background(), inval.Event{})
	}
	close(release)
	if err := pub.WaitAcked(waitCtx(t), last); err != nil {
		t.Fatal(err)
	}
	reason := receive(t, j.lost, "loss")
	if !errors.Is(reason, ErrTrimmed) {
		t.Errorf("reason %v", reason)
	}
	got := j.got()
	if len(got) != 3 || got[0] != "lost" || got[1] != "1" || got[2] != "lost" {
		t.Errorf("node got %v, want [lost 1 lost]: it jumps to the end", got)
	}
}

// An event that cannot be decoded is reported as a loss, not skipped
// silently, and the events after it are applied.
func TestUndecodableEvent(t *testing.T) {
	addr := testenv.Redis(t)
	c := newClient(t, addr)
	opts := fast(newPrefix())
	node := newBus(t, c, opts)
	j := newJournal()
	if err := node.SubscribeWithLost("n", j.handle, j.onLost); err != nil {
		t.Fatal(err)
	}
	<-j.lost
	epoch, err := c.Do(context.Background(), c.B().Get().Key(node.k.epoch).Build()).ToString()
	if err != nil {
		t.Fatal(err)
	}
	seq, _ := c.Do(context.Background(), c.B().Incr().Key(node.k.seq).Build()).AsInt64()
	if err := c.Do(context.Background(), c.B().Xadd().Key(node.k.events).Id(fmt.Sprintf("%d-0", seq)).
		FieldValue().FieldValue("e", epoch).FieldValue("ev", "{not json").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	next, err := node.Publish(context.Background(), inval.Event{})
	if err != nil {
		t.Fatal(err)
	}
	if err := node.WaitAcked(waitCtx(t), next); err != nil {
		t.Fatal(err)
	}
	if reason := receive(t, j.lost, "loss"); !errors.Is(reason, ErrUndecodable) {
		t.Errorf("reason %v", reason)
	}
	if got := j.got(); !slices.Equal(got, []string{"lost", "lost", fmt.Sprint(next)}) {
		t.Errorf("node got %v", got)
	}
}

// Redis killed and restarted without its data: Publish fails meanwhile,
// and the node finds the new stream, calls its LostFunc and goes on.
func TestRedisRestart(t *testing.T) {
	srv := testenv.StartRedis(t)
	opts := fast(newPrefix())
	node := newBus(t, newClient(t, srv.Addr()), opts)
	j := newJournal()
	if err := node.SubscribeWithLost("n", j.handle, j.onLost); err != nil {
		t.Fatal(err)
	}
	<-j.lost
	seq, err := node.Publish(context.Background(), inval.Event{})
	if err != nil {
		t.Fatal(err)
	}
	if err := node.WaitAcked(waitCtx(t), seq); err != nil {
		t.Fatal(err)
	}

	srv.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := node.Publish(ctx, inval.Event{}); err == nil || !strings.Contains(err.Error(), "redisbus: publish") {
		t.Errorf("Publish with Redis down = %v", err)
	}
	if node.Acked(seq) {
		t.Error("Acked with Redis down")
	}
	if _, err := node.Nodes(ctx); err == nil {
		t.Error("Nodes with Redis down succeeded")
	}
	// Cut off for about NodeTTL, the node forgets what it holds: the
	// others may complete invalidations without it from then on.
	if reason := receive(t, j.lost, "loss while Redis is down"); !errors.Is(reason, ErrPartitioned) {
		t.Errorf("reason while cut off: %v", reason)
	}

	srv.Restart(t)
	for { // possibly more partition notices, then the reset
		reason := receive(t, j.lost, "loss after the restart")
		if errors.Is(reason, ErrPartitioned) {
			continue
		}
		if !errors.Is(reason, ErrReset) {
			t.Errorf("reason %v", reason)
		}
		break
	}
	next, err := node.Publish(waitCtx(t), inval.Event{})
	if err != nil {
		t.Fatal(err)
	}
	if next <= seq {
		t.Errorf("numbering went back: %d after %d", next, seq)
	}
	if err := node.WaitAcked(waitCtx(t), next); err != nil {
		t.Fatal(err)
	}
	if got := slices.Compact(j.got()); !slices.Equal(got, []string{"lost", fmt.Sprint(seq), "lost", fmt.Sprint(next)}) {
		t.Errorf("node got %v", got)
	}
}

// Nodes dead for longer than the retention leave the registry; dead nodes
// within it are listed and hold nothing open.
func TestRegistryRetention(t *testing.T) {
	addr := testenv.Redis(t)
	c := newClient(t, addr)
	opts := fast(newPrefix())
	opts.Retention = time.Minute
	b := newBus(t, c, opts)
	if err := b.SubscribeWithLost("live", func(context.Context, inval.Event) error { return nil }, func(error) {}); err != nil {
		t.Fatal(err)
	}
	now, err := c.Do(context.Background(), c.B().Time().Build()).AsStrSlice()
	if err != nil {
		t.Fatal(err)
	}
	var sec int64
	fmt.Sscan(now[0], &sec)
	ms := sec * 1000
	put := func(name string, hb int64) {
		v := fmt.Sprintf(`{"applied":100,"epoch":"x","heartbeat":%d,"started":%d}`, hb, hb)
		if err := c.Do(context.Background(), c.B().Hset().Key(b.k.nodes).FieldValue().FieldValue(name, v).Build()).Error(); err != nil {
			t.Fatal(err)
		}
	}
	put("gone", ms-2*time.Minute.Milliseconds())
	put("dead", ms-30*time.Second.Milliseconds())
	nodes, err := b.Nodes(waitCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range nodes {
		names = append(names, fmt.Sprintf("%s:%v", n.Name, n.Live))
	}
	if !slices.Equal(names, []string{"dead:false", "live:true"}) {
		t.Errorf("nodes %v", names)
	}
	if exists, _ := c.Do(context.Background(), c.B().Hexists().Key(b.k.nodes).Field("gone").Build()).AsBool(); exists {
		t.Error("the long-dead node is still registered")
	}
	// A live node whose record counts in another epoch (it has not yet
	// noticed that Redis lost its data) has applied nothing of this stream.
	put("stale", ms+time.Minute.Milliseconds())
	nodes, _ = b.Nodes(waitCtx(t))
	if i := slices.IndexFunc(nodes, func(n inval.NodeStatus) bool { return n.Name == "stale" }); i < 0 || nodes[i].Applied != 0 || !nodes[i].Live {
		t.Errorf("stale-epoch node: %+v", nodes)
	}
	if b.Acked(1) {
		t.Error("Acked(1) with a live node in another epoch")
	}
	if err := c.Do(context.Background(), c.B().Hdel().Key(b.k.nodes).Field("stale").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	seq, _ := b.Publish(context.Background(), inval.Event{})
	if err := b.WaitAcked(waitCtx(t), seq); err != nil {
		t.Fatal(err)
	}
}

// The bus works on a Redis Cluster: its keys share one slot.
func TestCluster(t *testing.T) {
	addrs := testenv.RedisCluster(t)
	opts := fast(newPrefix())
	a := newBus(t, newClient(t, addrs...), opts)
	b := newBus(t, newClient(t, addrs...), opts)
	ja, jb := newJournal(), newJournal()
	if err := a.SubscribeWithLost("a", ja.handle, ja.onLost); err != nil {
		t.Fatal(err)
	}
	if err := b.SubscribeWithLost("b", jb.handle, jb.onLost); err != nil {
		t.Fatal(err)
	}
	var last uint64
	for range 5 {
		seq, err := a.Publish(context.Background(), inval.Event{Tags: []string{"t"}})
		if err != nil {
			t.Fatal(err)
		}
		last = seq
	}
	if err := b.WaitAcked(waitCtx(t), last); err != nil {
		t.Fatal(err)
	}
	if got := jb.got(); !slices.Equal(got, []string{"lost", "1", "2", "3", "4", "5"}) {
		t.Errorf("b got %v", got)
	}
	s, err := NewStore(newClient(t, addrs...), StoreOptions{Prefix: opts.Prefix})
	if err != nil {
		t.Fatal(err)
	}
	tr := inval.NewTrackerWith(a, inval.TrackerOptions{Store: s, Logger: quiet})
	defer tr.Close()
	inv, err := tr.Create(waitCtx(t), inval.Request{Tags: []string{"t"}, CallerReference: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if done, err := tr.Wait(waitCtx(t), inv.ID); err != nil || done.Status != inval.StatusCompleted || len(done.Nodes) != 2 {
		t.Errorf("Wait = %+v, %v", done, err)
	}
}

// Admin APIs on two nodes share invalidations through the Redis store: one
// created on either is seen on both, and one caller reference names one
// invalidation, published once, however many nodes are asked at once.
func TestTrackersShareInvalidations(t *testing.T) {
	addr := testenv.Redis(t)
	opts := fast(newPrefix())
	var trackers []*inval.Tracker
	release := make(chan struct{})
	var published atomic.Int64
	for i := range 2 {
		c := newClient(t, addr)
		b := newBus(t, c, opts)
		if err := b.SubscribeWithLost(fmt.Sprintf("edge-%d", i), func(ctx context.Context, ev inval.Event) error {
			if i == 0 {
				published.Add(1)
			}
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}, func(error) {}); err != nil {
			t.Fatal(err)
		}
		s, err := NewStore(c, StoreOptions{Prefix: opts.Prefix})
		if err != nil {
			t.Fatal(err)
		}
		tr := inval.NewTrackerWith(b, inval.TrackerOptions{Store: s, Logger: quiet})
		t.Cleanup(func() { tr.Close() })
		trackers = append(trackers, tr)
	}
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			inv, err := trackers[i%2].Create(waitCtx(t), inval.Request{Paths: []string{"/x"}, CallerReference: "deploy-1", By: "admin@test"})
			if err != nil {
				t.Error(err)
			}
			ids[i] = inv.ID
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("one caller reference, several invalidations: %v", ids)
		}
	}
	got, err := trackers[1].Get(waitCtx(t), ids[0])
	if err != nil || got.Status != inval.StatusInProgress || got.Seq != 1 || len(got.Nodes) != 2 || got.Nodes[0].Done || got.By != "admin@test" {
		t.Errorf("the other node's view: %+v, %v", got, err)
	}
	close(release)
	done, err := trackers[1].Wait(waitCtx(t), ids[0])
	if err != nil || done.Status != inval.StatusCompleted || done.CompleteTime.IsZero() {
		t.Fatalf("Wait = %+v, %v", done, err)
	}
	for _, n := range done.Nodes {
		if !n.Done || !n.Live {
			t.Errorf("node progress %+v", n)
		}
	}
	again, _ := trackers[0].Get(waitCtx(t), ids[0])
	if !again.CompleteTime.Equal(done.CompleteTime) {
		t.Errorf("completion times differ: %v, %v", again.CompleteTime, done.CompleteTime)
	}
	list, err := trackers[0].List(waitCtx(t), 10)
	if err != nil || len(list) != 1 || list[0].ID != ids[0] || list[0].Status != inval.StatusCompleted {
		t.Errorf("List = %+v, %v", list, err)
	}
	if n := published.Load(); n != 1 {
		t.Errorf("the invalidation was delivered %d times, want 1", n)
	}
}

// levels records the level of each log record whose message contains a
// substring.
type levels struct {
	slog.Handler
	match string
	got   chan slog.Level
}

func (l *levels) Enabled(context.Context, slog.Level) bool { return true }
func (l *levels) Handle(_ context.Context, r slog.Record) error {
	if r.Message == l.match {
		select {
		case l.got <- r.Level:
		default: // the test reads only the first few
		}
	}
	return nil
}

// drain empties ch.
func drain[T any](ch chan T) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// A new node's loss notice is routine: it holds nothing to forget, so it
// is logged at Info. A known node's loss (here: Redis lost the bus's data)
// is a warning.
func TestLossNoticeLevel(t *testing.T) {
	addr := testenv.Redis(t)
	c := newClient(t, addr)
	opts := fast(newPrefix())
	lv := &levels{Handler: slog.DiscardHandler, match: "redisbus: node lost events it cannot replay; it must forget what it holds", got: make(chan slog.Level, 8)}
	opts.Logger = slog.New(lv)
	lost := make(chan error, 8)
	onLost := func(err error) {
		select {
		case lost <- err:
		default:
		}
	}
	h := func(context.Context, inval.Event) error { return nil }
	// subscribe subscribes node n1 on b and checks the loss it is told of
	// and the level that loss is logged at.
	subscribe := func(b *Bus, who string, wantReason error, wantLevel slog.Level) {
		t.Helper()
		if err := b.SubscribeWithLost("n1", h, onLost); err != nil {
			t.Fatal(err)
		}
		if reason := receive(t, lost, who+"'s loss"); !errors.Is(reason, wantReason) {
			t.Fatalf("%s: reason %v, want %v", who, reason, wantReason)
		}
		if l := receive(t, lv.got, who+"'s log record"); l != wantLevel {
			t.Errorf("%s's loss logged at %v, want %v", who, l, wantLevel)
		}
	}

	b := newBus(t, c, opts)
	subscribe(b, "a new node", ErrNewNode, slog.LevelInfo)
	b.Close()
	drain(lost) // a partition notice the closed bus may have given meanwhile
	drain(lv.got)

	if err := c.Do(waitCtx(t), c.B().Del().Key(b.k.epoch, b.k.seq, b.k.events).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	subscribe(newBus(t, c, opts), "a known node", ErrReset, slog.LevelWarn)
}
