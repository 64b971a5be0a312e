package edge

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// rtFunc is an origin written as a function.
type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// scripted is an in-process origin whose next response the test sets.
type scripted struct {
	mu     sync.Mutex
	cc     string
	status int
	body   string
	down   bool
	gate   chan struct{} // when set, requests wait for it to close
	calls  atomic.Int64
}

func (s *scripted) set(status int, cc, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.cc, s.body = status, cc, body
}

func (s *scripted) RoundTrip(r *http.Request) (*http.Response, error) {
	s.calls.Add(1)
	s.mu.Lock()
	gate, down, status, cc, body := s.gate, s.down, s.status, s.cc, s.body
	s.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if down {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	}
	return HandlerOrigin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", cc)
		w.WriteHeader(status)
		io.WriteString(w, body)
	})).RoundTrip(r)
}

func TestStaleWhileRevalidate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := &scripted{}
		o.set(200, "max-age=1, stale-while-revalidate=30", "v1")
		e, st := newSyncEdge(t, o)
		defer st.Close()
		get(e, "/s")
		time.Sleep(2 * time.Second)
		o.set(200, "max-age=1, stale-while-revalidate=30", "v2")
		o.gate = make(chan struct{})
		for range 3 { // stale hits while one background revalidation waits
			rec := get(e, "/s")
			if rec.Body.String() != "v1" || rec.Header().Get("X-Cache") != "StaleHit from strata" ||
				!strings.Contains(rec.Header().Get("Cache-Status"), "detail=stale-while-revalidate") {
				t.Fatalf("stale hit: %q %v", rec.Body.String(), rec.Header())
			}
		}
		synctest.Wait()
		close(o.gate)
		e.Close() // waits for the background revalidation
		if n := o.calls.Load(); n != 2 {
			t.Errorf("origin calls = %d, want 2 (one background revalidation)", n)
		}
		if rec := get(e, "/s"); rec.Body.String() != "v2" || rec.Header().Get("X-Cache") != "Hit from strata" {
			t.Errorf("after revalidation: %q %v", rec.Body.String(), rec.Header())
		}
		time.Sleep(40 * time.Second) // past the window: a synchronous miss
		o.gate = nil
		o.set(200, "max-age=1", "v3")
		if rec := get(e, "/s"); rec.Body.String() != "v3" || rec.Header().Get("X-Cache") != "Miss from strata" {
			t.Errorf("past the window: %q %v", rec.Body.String(), rec.Header())
		}
	})
}

func TestStaleWhileRevalidateYieldsToMustRevalidate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := &scripted{}
		o.set(200, "max-age=1, stale-while-revalidate=30, must-revalidate", "v1")
		e, st := newSyncEdge(t, o)
		defer st.Close()
		get(e, "/s")
		time.Sleep(2 * time.Second)
		o.set(200, "max-age=1", "v2")
		if rec := get(e, "/s"); rec.Body.String() != "v2" {
			t.Errorf("must-revalidate response served stale: %q", rec.Body.String())
		}
	})
}

func TestStaleIfError(t *testing.T) {
	tests := []struct {
		name      string
		cc        string
		reqKV     []string
		failure   func(*scripted)
		wantStale bool
		wantCode  int
	}{
		{"503 within stale-if-error", "max-age=1, stale-if-error=60", nil, func(o *scripted) { o.set(503, "", "down") }, true, 0},
		{"503 without permission", "max-age=1", nil, func(o *scripted) { o.set(503, "", "down") }, false, 503},
		{"503 with request stale-if-error", "max-age=1", []string{"Cache-Control", "stale-if-error=60"}, func(o *scripted) { o.set(503, "", "down") }, true, 0},
		{"404 is not an error to hide", "max-age=1, stale-if-error=60", nil, func(o *scripted) { o.set(404, "", "gone") }, false, 404},
		{"unreachable: disconnected", "max-age=1", nil, func(o *scripted) { o.down = true }, true, 0},
		{"unreachable but must-revalidate", "max-age=1, must-revalidate", nil, func(o *scripted) { o.down = true }, false, 502},
		{"unreachable, s-maxage", "s-maxage=1", nil, func(o *scripted) { o.down = true }, false, 502},
		{"unreachable, s-maxage with stale-if-error", "s-maxage=1, stale-if-error=60", nil, func(o *scripted) { o.down = true }, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				o := &scripted{}
				o.set(200, tt.cc, "v1")
				e, st := newSyncEdge(t, o)
				defer st.Close()
				get(e, "/p")
				time.Sleep(2 * time.Second)
				tt.failure(o)
				rec := get(e, "/p", tt.reqKV...)
				if tt.wantStale {
					if rec.Code != 200 || rec.Body.String() != "v1" || rec.Header().Get("X-Cache") != "StaleHit from strata" ||
						!strings.Contains(rec.Header().Get("Cache-Status"), "detail=stale-if-error") {
						t.Errorf("want stale v1, got %d %q %v", rec.Code, rec.Body.String(), rec.Header())
					}
					return
				}
				if rec.Code != tt.wantCode {
					t.Errorf("status %d, want %d (%q)", rec.Code, tt.wantCode, rec.Body.String())
				}
			})
		})
	}
}

// An origin that cannot be reached is not contacted again for
// OriginRetryAfter, so clients get an answer at once.
func TestFailingOriginRemembered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := &scripted{down: true}
		e, st := newSyncEdge(t, o)
		defer st.Close()
		for i := range 3 {
			if rec := get(e, "/x"+string(rune('a'+i))); rec.Code != http.StatusBadGateway {
				t.Fatalf("request %d: %d", i, rec.Code)
			}
		}
		if n := o.calls.Load(); n != 1 {
			t.Errorf("origin calls while down = %d, want 1", n)
		}
		time.Sleep(3 * time.Second) // past OriginRetryAfter (2s)
		o.mu.Lock()
		o.down = false
		o.mu.Unlock()
		o.set(200, "max-age=60", "back")
		if rec := get(e, "/y"); rec.Body.String() != "back" {
			t.Errorf("after the retry window: %d %q", rec.Code, rec.Body.String())
		}
	})
}

func TestOriginTimeoutIs504(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slow := rtFunc(func(r *http.Request) (*http.Response, error) {
			<-r.Context().Done()
			return nil, r.Context().Err()
		})
		e, st := newSyncEdge(t, slow)
		defer st.Close()
		if rec := get(e, "/slow"); rec.Code != http.StatusGatewayTimeout {
			t.Errorf("status %d, want 504", rec.Code)
		}
	})
}
