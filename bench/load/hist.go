package load

import (
	"math"
	"math/bits"
	"time"
)

// subBits sets the histogram's precision: each power of two is split into
// 2^subBits buckets, so a recorded value is off by less than 1/128.
const subBits = 7

// numBuckets covers every uint64: values below 2^(subBits+1) exactly, then
// 2^subBits buckets for each further power of two.
const numBuckets = (64 - subBits + 1) << subBits

// histogram is a log-bucketed histogram of durations in nanoseconds, in the
// manner of HDR histograms: fixed memory (about 58 KiB), bounded relative
// error. Its zero value is empty and ready; it is not safe for concurrent
// use (each goroutine keeps its own and they are merged).
type histogram struct {
	counts [numBuckets]uint64
	n      uint64
	max    int64
}

func bucketOf(v uint64) int {
	l := bits.Len64(v)
	if l <= subBits+1 {
		return int(v)
	}
	shift := l - subBits - 1
	m := v >> shift // in [2^subBits, 2^(subBits+1))
	return (shift+1)<<subBits + int(m) - 1<<subBits
}

// bucketMid is a representative value of bucket i: its midpoint.
func bucketMid(i int) uint64 {
	if i < 2<<subBits {
		return uint64(i)
	}
	shift := i>>subBits - 1
	m := uint64(i&(1<<subBits-1) + 1<<subBits)
	lo := m << shift
	return lo + (uint64(1)<<shift)/2
}

func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))]++
	h.n++
	h.max = max(h.max, int64(d))
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the value at quantile q (0 < q ≤ 1), the largest value
// exactly, or -1 when the histogram is empty.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return -1
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	if rank >= h.n {
		return time.Duration(h.max)
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(bucketMid(i)), time.Duration(h.max))
		}
	}
	return time.Duration(h.max)
}
