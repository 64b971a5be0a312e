package edge

import (
	"context"
	"io"
	"net/http"
	"sync"

	"github.com/strata-cache/strata/edge/store"
)

// Streaming fills.
//
// A shareable response whose length the origin announced (Content-Length
// within MaxObjectSize) is not read to the end before anyone is answered:
// a fill goroutine reads the body into one buffer, and the request that made
// the fetch and every request that joined it write from that buffer as it
// grows, each at its own pace. Waiters get the response headers as soon as
// they arrive. When the body is complete the response is stored. Memory
// stays bounded by the announced length, which is at most MaxObjectSize.
//
// Responses of unknown length are read up to MaxObjectSize+1 bytes first
// (see fetch): bigger ones are streamed to the request that made the fetch
// and never shared, so no buffer grows without bound.

// fill is one origin body being read, shared by the requests that wait on it.
type fill struct {
	ready chan struct{} // closed once head or err is set
	head  *fetched
	err   error

	want int64 // the announced Content-Length

	mu   sync.Mutex
	body []byte
	done bool
	fail error         // set with done when the body could not be read whole
	grew chan struct{} // closed and replaced whenever body grows or done is set
}

func newFill() *fill { return &fill{ready: make(chan struct{}), grew: make(chan struct{})} }

// append adds p to the body and wakes readers.
func (f *fill) append(p []byte) {
	f.mu.Lock()
	f.body = append(f.body, p...)
	close(f.grew)
	f.grew = make(chan struct{})
	f.mu.Unlock()
}

// finish marks the body complete (err nil) or failed.
func (f *fill) finish(err error) {
	f.mu.Lock()
	f.done, f.fail = true, err
	close(f.grew)
	f.grew = make(chan struct{})
	f.mu.Unlock()
}

// progress is what a reader sees of a fill at one moment.
type progress struct {
	chunk []byte          // bytes after the reader's offset
	done  bool            // the body is complete (or failed: err)
	err   error           // why the body could not be read whole
	grew  <-chan struct{} // closed when there is more
}

// next returns the fill's progress after off bytes. Bytes before
// len(f.body) are never written again (the body only grows by append), so
// the chunk may be read after the lock is released.
func (f *fill) next(off int) progress {
	f.mu.Lock()
	defer f.mu.Unlock()
	return progress{f.body[off:], f.done, f.fail, f.grew}
}

// stream writes the body to w as it arrives, flushing whenever it would wait.
func (f *fill) stream(ctx context.Context, w http.ResponseWriter) error {
	rc := http.NewResponseController(w)
	return f.streamTo(ctx, w, func() error { rc.Flush(); return nil })
}

// streamTo writes the body to w as it arrives, calling flush whenever it
// would wait.
func (f *fill) streamTo(ctx context.Context, w io.Writer, flush func() error) error {
	off := 0
	for {
		p := f.next(off)
		if len(p.chunk) > 0 {
			if _, err := w.Write(p.chunk); err != nil {
				return err
			}
			off += len(p.chunk)
			continue
		}
		if p.done {
			return p.err
		}
		if err := flush(); err != nil {
			return err
		}
		select {
		case <-p.grew:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// wait blocks until the body is complete and returns it.
func (f *fill) wait(ctx context.Context) ([]byte, error) {
	for {
		p := f.next(0)
		if p.done {
			return p.chunk, p.err
		}
		select {
		case <-p.grew:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// pump reads body into f, then stores en (with the body) unless a purge
// since epoch matches it, and finally forgets the flight.
func (e *Edge) pump(f *fill, flightKey string, body io.ReadCloser, cancel context.CancelFunc, en *store.Entry, epoch uint64, store bool) {
	defer e.background.Done()
	defer cancel()
	defer body.Close()
	defer e.endFill(flightKey, f)
	buf := make([]byte, 32<<10)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			f.append(buf[:n])
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			e.cfg.Logger.Warn("edge: origin body failed", "key", en.Key, "err", err)
			f.finish(err)
			return
		}
	}
	full := f.next(0).chunk
	if int64(len(full)) != f.want {
		// Not the announced Content-Length (a RoundTripper that does not
		// enforce it): never store or complete a body of the wrong length.
		e.cfg.Logger.Warn("edge: origin body length differs from its Content-Length", "key", en.Key, "got", len(full), "want", f.want)
		f.finish(io.ErrUnexpectedEOF)
		return
	}
	if store {
		stored := *en
		stored.Body = full
		e.storeUnlessPurged(epoch, &stored)
	}
	f.finish(nil)
}

// endFill forgets the flight for flightKey if it is still f.
func (e *Edge) endFill(flightKey string, f *fill) {
	e.fillMu.Lock()
	if e.fills[flightKey] == f {
		delete(e.fills, flightKey)
	}
	e.fillMu.Unlock()
}
