package admin

import (
	"sync"
	"time"
)

// bucket is a token bucket: it holds up to burst tokens and gains rate
// tokens per second. It is a few lines, so it is written here rather than
// adding golang.org/x/time to the module for it.
type bucket struct {
	rate  float64 // tokens per second, > 0
	burst float64
	now   func() time.Time

	mu     sync.Mutex
	tokens float64 // may be negative after a request larger than burst
	last   time.Time
}

func newBucket(rate float64, burst int, now func() time.Time) *bucket {
	return &bucket{rate: rate, burst: float64(burst), now: now, tokens: float64(burst), last: now()}
}

// take takes n tokens and returns 0, or takes none and returns how long
// until it would succeed. A request for more than burst tokens succeeds
// when the bucket is full, which then refills from below zero.
func (b *bucket) take(n int) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = min(b.burst, b.tokens+elapsed.Seconds()*b.rate)
	}
	b.last = now
	need := min(float64(n), b.burst)
	if b.tokens >= need {
		b.tokens -= float64(n)
		return 0
	}
	return time.Duration((need - b.tokens) / b.rate * float64(time.Second))
}
