package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"github.com/strata-cache/strata/cache"
)

// Backoff between attempts to restore a lost subscription.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// Lease implements cache.Leaser: SET <ns>:{key}:lease <token> NX PX ttl.
// The waiter is registered, and the tier's wake subscription confirmed,
// before the attempt, so a fill or release that follows a failed attempt
// wakes it; were the wake message lost (the subscription dropped), Wait
// still returns after its d.
func (t *Tier[V]) Lease(ctx context.Context, key string, ttl time.Duration) (*cache.Lease, error) {
	if err := cache.CheckKey(key); err != nil {
		return nil, err
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("redis: lease %s: ttl %v is not positive", quoteKey(key), ttl)
	}
	if err := t.startWake(); err != nil {
		return nil, err
	}
	// Registered, under the lock that guards the subscription's state,
	// before the subscription is known to hold: a drop from now on wakes
	// it (see setReady).
	w, ready := t.register(key)
	select {
	case <-ready:
	case <-ctx.Done():
		t.unregister(key, w)
		return nil, fmt.Errorf("redis: lease %s: waiting for the wake subscription: %w", quoteKey(key), ctx.Err())
	case <-t.ctx.Done():
		t.unregister(key, w)
		return nil, ErrClosed
	}
	var tok [16]byte
	_, _ = rand.Read(tok[:]) // never fails (crypto/rand)
	token := hex.EncodeToString(tok[:])
	lk := t.leaseKey(key)
	err := t.c.Do(ctx, t.c.B().Set().Key(lk).Value(token).Nx().PxMilliseconds(ceilMS(ttl)).Build()).Error()
	switch {
	case err == nil:
		t.unregister(key, w)
		return &cache.Lease{Held: true, Release: t.release(key, lk, token)}, nil
	case rueidis.IsRedisNil(err): // another holder
		return &cache.Lease{Wait: func(ctx context.Context, d time.Duration) error {
			defer t.unregister(key, w)
			if d <= 0 {
				return ctx.Err()
			}
			timer := time.NewTimer(d)
			defer timer.Stop()
			select {
			case <-w:
			case <-timer.C:
			case <-t.ctx.Done():
			case <-ctx.Done():
				return ctx.Err()
			}
			return nil
		}}, nil
	default:
		t.unregister(key, w)
		return nil, fmt.Errorf("redis: lease %s: %w", quoteKey(key), err)
	}
}

// release returns the Release of a held lease: one script that deletes the
// lease key if it still holds token and wakes the waiters. Once it has
// succeeded, further calls do nothing.
func (t *Tier[V]) release(key, leaseKey, token string) func(context.Context) error {
	var done atomic.Bool
	return func(ctx context.Context) error {
		if done.Load() {
			return nil
		}
		if err := releaseScript.exec(ctx, t.c, leaseKey, token, t.wakeChan, key).Error(); err != nil {
			return fmt.Errorf("redis: release lease %s: %w", quoteKey(key), err)
		}
		done.Store(true)
		return nil
	}
}

// register adds a waiter for key's wake message, and returns it with the
// channel that is closed while the wake subscription is confirmed.
func (t *Tier[V]) register(key string) (w, ready chan struct{}) {
	w = make(chan struct{})
	t.mu.Lock()
	defer t.mu.Unlock()
	t.waiters[key] = append(t.waiters[key], w)
	return w, t.ready
}

// unregister removes w if no wake took it already.
func (t *Tier[V]) unregister(key string, w chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ws := t.waiters[key]
	for i, x := range ws {
		if x == w {
			ws[i] = ws[len(ws)-1]
			ws = ws[:len(ws)-1]
			break
		}
	}
	if len(ws) == 0 {
		delete(t.waiters, key)
	} else {
		t.waiters[key] = ws
	}
}

// wake wakes key's waiters.
func (t *Tier[V]) wake(key string) {
	t.mu.Lock()
	ws := t.waiters[key]
	delete(t.waiters, key)
	t.mu.Unlock()
	for _, w := range ws {
		close(w)
	}
}

// wakeAll wakes every waiter.
func (t *Tier[V]) wakeAll() {
	t.mu.Lock()
	all := t.waiters
	t.waiters = make(map[string][]chan struct{})
	t.mu.Unlock()
	closeAll(all)
}

func closeAll(waiters map[string][]chan struct{}) {
	for _, ws := range waiters {
		for _, w := range ws {
			close(w)
		}
	}
}

// startWake starts the wake subscription on first use.
func (t *Tier[V]) startWake() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	if !t.wakeRun {
		t.wakeRun = true
		go t.runWake()
	}
	return nil
}

// runWake keeps one subscription to the wake channel until Close,
// restoring it with backoff when it ends. (rueidis itself subscribes again
// after a reconnection, inside one Receive.)
func (t *Tier[V]) runWake() {
	defer close(t.wakeDone)
	hook := func(s rueidis.PubSubSubscription) {
		if s.Kind == "subscribe" && s.Channel == t.wakeChan {
			t.setReady(true)
		}
	}
	ctx := rueidis.WithOnSubscriptionHook(t.ctx, hook)
	ctx = rueidis.WithOnReceiveReturnHook(ctx, func(err error, _ rueidis.CommandClient) error {
		t.setReady(false) // the connection dropped; rueidis may retry
		return err
	})
	backoff := minBackoff
	for t.ctx.Err() == nil {
		err := t.c.Receive(ctx, t.c.B().Subscribe().Channel(t.wakeChan).Build(), func(m rueidis.PubSubMessage) {
			t.wake(m.Message)
		})
		t.setReady(false)
		if t.ctx.Err() != nil {
			return
		}
		t.log.Warn("redis: lease wake subscription ended; restoring it", "channel", t.wakeChan, "err", err, "retry_in", backoff)
		if !sleepCtx(t.ctx, backoff) {
			return
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// setReady records whether the wake subscription is confirmed. When it
// is lost, wake messages may have been missed: every waiter is woken to
// read the tier again, and Lease waits for the next confirmation.
func (t *Tier[V]) setReady(ready bool) {
	t.mu.Lock()
	if ready == t.isReady {
		t.mu.Unlock()
		return
	}
	t.isReady = ready
	if ready {
		close(t.ready)
		t.mu.Unlock()
		return
	}
	t.ready = make(chan struct{})
	all := t.waiters
	t.waiters = make(map[string][]chan struct{})
	t.mu.Unlock()
	closeAll(all)
}

// sleepCtx waits d or until ctx ends, and reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
