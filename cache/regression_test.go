package cache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// A Get that starts after Invalidate returned may join a load that started
// before it; it must not return that load's older value.
func TestGetAfterInvalidateNeverReturnsOlderLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache(t, Options[string]{})
		release := make(chan struct{})
		var calls atomic.Int32
		load := func(ctx context.Context, key string) (Item[string], error) {
			if calls.Add(1) == 1 {
				<-release
				return Item[string]{Value: "old", Version: 41}, nil
			}
			return Item[string]{Value: "new", Version: 42}, nil
		}
		var wg sync.WaitGroup
		wg.Go(func() { c.Get(context.Background(), "k", load) })
		synctest.Wait()
		c.Invalidate(ctx0, 42, "k") // write committed, invalidation acknowledged
		var got Result[string]
		wg.Go(func() { got, _ = c.Get(context.Background(), "k", load) })
		synctest.Wait()
		close(release)
		wg.Wait()
		if got.Version < 42 {
			t.Errorf("Get started after Invalidate(42) returned %q at version %d", got.Value, got.Version)
		}
	})
}

// A loader that hangs is cut off by LoadTimeout, so later Gets of its key
// are not held by it forever.
func TestLoadTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := New[string](Options[string]{LoadTimeout: time.Second})
		defer c.Close()
		_, err := c.Get(context.Background(), "k", func(ctx context.Context, _ string) (Item[string], error) {
			<-ctx.Done()
			return Item[string]{}, ctx.Err()
		})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want DeadlineExceeded", err)
		}
		if r, err := c.Get(context.Background(), "k", loaderOf("v", 1)); err != nil || r.Value != "v" {
			t.Errorf("after the timeout: %+v %v", r, err)
		}
	})
}
