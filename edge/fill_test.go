package edge

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
)

// lockedRecorder is a ResponseWriter whose state can be read while the
// handler runs.
type lockedRecorder struct {
	mu     sync.Mutex
	header http.Header
	code   int
	body   bytes.Buffer
}

func newLockedRecorder() *lockedRecorder { return &lockedRecorder{header: http.Header{}} }

func (l *lockedRecorder) Header() http.Header { return l.header }
func (l *lockedRecorder) WriteHeader(c int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.code == 0 {
		l.code = c
	}
}
func (l *lockedRecorder) Write(p []byte) (int, error) {
	l.WriteHeader(200)
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.body.Write(p)
}
func (l *lockedRecorder) Flush() {}
func (l *lockedRecorder) state() (int, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.code, l.body.String()
}

// Collapsed waiters get the headers and the first bytes while the origin is
// still sending; one origin request serves all of them, and the response is
// stored once complete.
func TestWaitersStreamAsTheBodyArrives(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pr, pw := io.Pipe()
		var calls atomic.Int64
		origin := rtFunc(func(r *http.Request) (*http.Response, error) {
			calls.Add(1)
			return &http.Response{
				StatusCode: 200, ContentLength: 10, Body: pr, Request: r,
				Header: http.Header{"Cache-Control": {"max-age=60"}, "Content-Type": {"text/plain"}},
			}, nil
		})
		e, st := newSyncEdge(t, origin)
		defer st.Close()
		recs := make([]*lockedRecorder, 4)
		var wg sync.WaitGroup
		for i := range recs {
			recs[i] = newLockedRecorder()
			wg.Go(func() { e.ServeHTTP(recs[i], httptest.NewRequest("GET", "http://h/big", nil)) })
			synctest.Wait() // the first request leads; the others join
		}
		pw.Write([]byte("01234"))
		synctest.Wait()
		for i, rec := range recs {
			if code, body := rec.state(); code != 200 || body != "01234" {
				t.Errorf("request %d mid-body: %d %q", i, code, body)
			}
		}
		pw.Write([]byte("56789"))
		pw.Close()
		wg.Wait()
		e.Close()
		for i, rec := range recs {
			if _, body := rec.state(); body != "0123456789" {
				t.Errorf("request %d: %q", i, body)
			}
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("origin calls = %d, want 1", n)
		}
		if rec := get(e, "/big"); rec.Header().Get("X-Cache") != "Hit from strata" || rec.Body.String() != "0123456789" {
			t.Errorf("after the fill: %q %q", rec.Header().Get("X-Cache"), rec.Body.String())
		}
		if cs := recs[1].Header().Get("Cache-Status"); !strings.Contains(cs, "collapsed") {
			t.Errorf("waiter Cache-Status %q", cs)
		}
	})
}

// A body that breaks off mid-way aborts every client instead of handing
// them a short response, and nothing is stored.
func TestBrokenBodyAbortsAndIsNotStored(t *testing.T) {
	var h *harness
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(200)
		io.WriteString(w, "only ten b")
		w.(http.Flusher).Flush()
		conn, _, _ := http.NewResponseController(w).Hijack()
		conn.Close()
	})
	h = newHarness(t, behaviorFor(t, o))
	req, _ := http.NewRequest("GET", h.srv.URL+"/broken", nil)
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Fatal("the client got a complete response from a broken origin body")
	}
	h.edge.Close()
	if h.store.Len() != 0 {
		t.Errorf("a broken response was stored")
	}
}

// A request with a range or precondition that joins a streaming fill is
// answered from the whole body once it is complete.
func TestRangeOnStreamingFill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pr, pw := io.Pipe()
		origin := rtFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, ContentLength: 6, Body: pr, Request: r,
				Header: http.Header{"Cache-Control": {"max-age=60"}}}, nil
		})
		e, st := newSyncEdge(t, origin)
		defer st.Close()
		lead, ranged := newLockedRecorder(), newLockedRecorder()
		var wg sync.WaitGroup
		wg.Go(func() { e.ServeHTTP(lead, httptest.NewRequest("GET", "http://h/r", nil)) })
		synctest.Wait()
		wg.Go(func() {
			req := httptest.NewRequest("GET", "http://h/r", nil)
			req.Header.Set("Range", "bytes=2-3")
			e.ServeHTTP(ranged, req)
		})
		synctest.Wait()
		pw.Write([]byte("abcdef"))
		pw.Close()
		wg.Wait()
		e.Close()
		if code, body := ranged.state(); code != 206 || body != "cd" {
			t.Errorf("ranged waiter: %d %q", code, body)
		}
	})
}
