package redis

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/strata-cache/strata/cache"
	"github.com/strata-cache/strata/internal/testenv"
)

// forever is a Wait duration no test reaches: a Wait that returns was
// woken, not timed out.
const forever = time.Hour

// waitTimeout bounds how long a test waits for something that must
// happen; reaching it is a failure, not a timing assertion.
const waitTimeout = 30 * time.Second

func TestLease(t *testing.T) {
	addr := testenv.Redis(t)
	testLease(t, func(t *testing.T, n int) []rueidis.Client {
		cs := make([]rueidis.Client, n)
		for i := range cs {
			cs[i] = newClient(t, addr)
		}
		return cs
	})
}

// testLease runs the lease tests on tiers of one namespace, each on its
// own client from clients.
func testLease(t *testing.T, clients func(t *testing.T, n int) []rueidis.Client) {
	tiers := func(t *testing.T) []*Tier[string] {
		ns := newNamespace()
		var ts []*Tier[string]
		for _, c := range clients(t, 3) {
			ts = append(ts, newTier[string](t, c, Options{Namespace: ns}))
		}
		return ts
	}

	t.Run("OneHolder", func(t *testing.T) {
		ts := tiers(t)
		const n = 30
		leases := make([]*cache.Lease, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				l, err := ts[i%len(ts)].Lease(context.Background(), "k", time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				leases[i] = l
			})
		}
		wg.Wait()
		held := 0
		for _, l := range leases {
			if l == nil {
				t.FailNow()
			}
			if l.Held {
				held++
				if l.Release == nil || l.Wait != nil {
					t.Error("held lease without Release, or with Wait")
				}
			} else if l.Wait == nil || l.Release != nil {
				t.Error("lease not held without Wait, or with Release")
			}
		}
		if held != 1 {
			t.Fatalf("%d of %d concurrent Lease calls hold the lease, want 1", held, n)
		}
	})

	// wokenBy takes the lease on one tier, waits on the two others, runs
	// wake and checks that every waiter returns.
	wokenBy := func(t *testing.T, wake func(ts []*Tier[string], holder *cache.Lease)) {
		ts := tiers(t)
		ctx := context.Background()
		holder, err := ts[0].Lease(ctx, "k", time.Minute)
		if err != nil || !holder.Held {
			t.Fatalf("first Lease: %+v, %v", holder, err)
		}
		done := make(chan error, 4)
		for _, tier := range []*Tier[string]{ts[1], ts[2], ts[1], ts[0]} {
			l, err := tier.Lease(ctx, "k", time.Minute)
			if err != nil || l.Held {
				t.Fatalf("second Lease: %+v, %v", l, err)
			}
			go func() { done <- l.Wait(ctx, forever) }()
		}
		wake(ts, holder)
		timeout := time.After(waitTimeout)
		for range 4 {
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-timeout:
				t.Fatal("waiters not woken")
			}
		}
	}
	t.Run("WokenByRelease", func(t *testing.T) {
		wokenBy(t, func(ts []*Tier[string], holder *cache.Lease) {
			if err := holder.Release(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	})
	t.Run("WokenByFill", func(t *testing.T) {
		wokenBy(t, func(ts []*Tier[string], _ *cache.Lease) {
			mustFill(t, ts[2], "k", entry("v", 1))
		})
	})

	t.Run("ReleaseTwiceAndRetake", func(t *testing.T) {
		ts := tiers(t)
		ctx := context.Background()
		l, err := ts[0].Lease(ctx, "k", time.Minute)
		if err != nil || !l.Held {
			t.Fatalf("Lease: %+v, %v", l, err)
		}
		for range 2 {
			if err := l.Release(ctx); err != nil {
				t.Fatal(err)
			}
		}
		l2, err := ts[1].Lease(ctx, "k", time.Minute)
		if err != nil || !l2.Held {
			t.Fatalf("Lease after Release: %+v, %v", l2, err)
		}
		// A stale Release does not free another's lease.
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if l3, err := ts[2].Lease(ctx, "k", time.Minute); err != nil || l3.Held {
			t.Fatalf("Lease while another holds it: %+v, %v", l3, err)
		}
	})

	t.Run("HolderDies", func(t *testing.T) {
		ts := tiers(t)
		ctx := context.Background()
		const ttl = 200 * time.Millisecond
		l, err := ts[0].Lease(ctx, "k", ttl)
		if err != nil || !l.Held {
			t.Fatalf("Lease: %+v, %v", l, err)
		}
		// The holder never releases: the waiter returns after d, and once
		// the ttl has passed the lease can be taken again.
		for tries := 0; ; tries++ {
			l2, err := ts[1].Lease(ctx, "k", ttl)
			if err != nil {
				t.Fatal(err)
			}
			if l2.Held {
				break
			}
			if tries == 100 {
				t.Fatal("lease never expired")
			}
			if err := l2.Wait(ctx, ttl); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("WaitEndsWithContext", func(t *testing.T) {
		ts := tiers(t)
		if l, err := ts[0].Lease(context.Background(), "k", time.Minute); err != nil || !l.Held {
			t.Fatalf("Lease: %+v, %v", l, err)
		}
		l, err := ts[1].Lease(context.Background(), "k", time.Minute)
		if err != nil || l.Held {
			t.Fatalf("Lease: %+v, %v", l, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := l.Wait(ctx, forever); err != context.Canceled {
			t.Errorf("Wait = %v, want context.Canceled", err)
		}
		ts[1].mu.Lock()
		n := len(ts[1].waiters)
		ts[1].mu.Unlock()
		if n != 0 {
			t.Errorf("%d waiters left registered", n)
		}
	})

	t.Run("Close", func(t *testing.T) {
		ts := tiers(t)
		if l, err := ts[0].Lease(context.Background(), "k", time.Minute); err != nil || !l.Held {
			t.Fatalf("Lease: %+v, %v", l, err)
		}
		l, err := ts[1].Lease(context.Background(), "k", time.Minute)
		if err != nil || l.Held {
			t.Fatalf("Lease: %+v, %v", l, err)
		}
		done := make(chan error, 1)
		go func() { done <- l.Wait(context.Background(), forever) }()
		ts[1].Close()
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(waitTimeout):
			t.Fatal("Wait did not return at Close")
		}
		if _, err := ts[1].Lease(context.Background(), "k", time.Minute); err != ErrClosed {
			t.Errorf("Lease after Close: %v, want ErrClosed", err)
		}
	})
}

// Waiters woken when the wake subscription drops, and leases work again
// once it is back.
func TestLeaseAcrossRestart(t *testing.T) {
	srv := testenv.StartRedis(t)
	ns := newNamespace()
	a := newTier[string](t, newClient(t, srv.Addr()), Options{Namespace: ns})
	b := newTier[string](t, newClient(t, srv.Addr()), Options{Namespace: ns})
	ctx := context.Background()
	if l, err := a.Lease(ctx, "k", time.Minute); err != nil || !l.Held {
		t.Fatalf("Lease: %+v, %v", l, err)
	}
	l, err := b.Lease(ctx, "k", time.Minute)
	if err != nil || l.Held {
		t.Fatalf("Lease: %+v, %v", l, err)
	}
	done := make(chan error, 1)
	go func() { done <- l.Wait(ctx, forever) }()
	srv.Kill()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("waiter not woken when the subscription dropped")
	}
	srv.Restart(t)
	// The data is gone with the restart: the lease is free, and a waiter
	// on it is woken by the holder's release.
	var holder *cache.Lease
	retry(t, func() (err error) {
		lctx, cancel := context.WithTimeout(ctx, waitTimeout)
		defer cancel()
		holder, err = a.Lease(lctx, "k", time.Minute)
		return err
	})
	if !holder.Held {
		t.Fatal("lease not free after a restart that lost it")
	}
	retry(t, func() (err error) {
		lctx, cancel := context.WithTimeout(ctx, waitTimeout)
		defer cancel()
		l, err = b.Lease(lctx, "k", time.Minute)
		return err
	})
	if l.Held {
		t.Fatal("two holders")
	}
	go func() { done <- l.Wait(ctx, forever) }()
	retry(t, func() error { return holder.Release(ctx) }) // safe to repeat
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("waiter not woken after the restart")
	}
}
