package writebehind

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkEnqueue measures acknowledged (fsynced) writes per second with
// one writer and with 64 sharing fsyncs. The figures depend on the disk:
// the test's temporary directory (set TMPDIR to measure another).
//
//	go test -run='^$' -bench=Enqueue -benchmem -count=10 ./cache/writebehind/ | tee new.txt
//	benchstat old.txt new.txt
func BenchmarkEnqueue(b *testing.B) {
	value := make([]byte, 100)
	for _, writers := range []int{1, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			q := mustOpen(b, Options{Dir: b.TempDir()}, func(context.Context, []Write) error { return nil })
			keys := make([]string, 1000)
			for i := range keys {
				keys[i] = "product:" + strconv.Itoa(i)
			}
			var next atomic.Int64
			b.ReportAllocs()
			b.SetBytes(int64(len(value)))
			b.ResetTimer()
			var wg sync.WaitGroup
			for range writers {
				wg.Go(func() {
					for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
						if _, err := q.Enqueue(context.Background(), keys[i%int64(len(keys))], value); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			q.mu.Lock()
			commits := q.commits
			q.mu.Unlock()
			b.ReportMetric(float64(b.N)/float64(max(commits, 1)), "writes/fsync")
		})
	}
}
