package edge

// Regression tests for the second review (streaming, stale, Vary).

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// a GET that started before a POST invalidated the URL stores its
// pre-POST body under the live Vary generation (consistency rule 5).
func TestInvalidationReachesVariantsInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var version atomic.Int64
		version.Store(1)
		gate := make(chan struct{})
		origin := rtFunc(func(r *http.Request) (*http.Response, error) {
			if r.Method == "POST" {
				version.Add(1)
				return &http.Response{StatusCode: 204, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
			}
			body := "v" + string(rune('0'+version.Load())) // generated now
			if r.Header.Get("X-Slow") != "" {
				<-gate // response in transit
			}
			return &http.Response{StatusCode: 200, ContentLength: int64(len(body)), Request: r,
				Header: http.Header{"Cache-Control": {"max-age=60"}, "Vary": {"Accept-Language"}},
				Body:   io.NopCloser(strings.NewReader(body))}, nil
		})
		e, st := newSyncEdge(t, origin)
		defer st.Close()
		var wg sync.WaitGroup
		wg.Go(func() { get(e, "/p", "Accept-Language", "en", "X-Slow", "1") }) // F: gets v1, slowly
		synctest.Wait()
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "http://h/p", nil)) // v2, invalidates /p
		if rec := get(e, "/p", "Accept-Language", "en"); rec.Body.String() != "v2" {
			t.Fatalf("after POST: %q", rec.Body.String())
		}
		close(gate)
		wg.Wait()
		e.Close()
		if rec := get(e, "/p", "Accept-Language", "en"); rec.Body.String() != "v2" {
			t.Errorf("pre-POST fetch overwrote the invalidated URL: got %q (%s), want v2", rec.Body.String(), rec.Header().Get("X-Cache"))
		}
	})
}

// one slow URL (timeout) or one broken body marks the whole origin down.
func TestOneSlowURLDoesNotMarkOriginDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int64
		origin := rtFunc(func(r *http.Request) (*http.Response, error) {
			calls.Add(1)
			if r.URL.Path == "/slow" {
				<-r.Context().Done()
				return nil, r.Context().Err()
			}
			return &http.Response{StatusCode: 200, ContentLength: 2, Request: r,
				Header: http.Header{"Cache-Control": {"max-age=60"}}, Body: io.NopCloser(strings.NewReader("ok"))}, nil
		})
		e, st := newSyncEdge(t, origin)
		defer st.Close()
		if rec := get(e, "/slow"); rec.Code != 504 {
			t.Fatalf("slow: %d", rec.Code)
		}
		if rec := get(e, "/fast"); rec.Code != 200 {
			t.Errorf("/fast after /slow timed out: %d %q (origin not asked: calls=%d)", rec.Code, rec.Body.String(), calls.Load())
		}
	})
}

// a client's request stale-if-error overrides the origin's s-maxage
// (which implies proxy-revalidate).
func TestRequestStaleIfErrorYieldsToSMaxAge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := &scripted{}
		o.set(200, "s-maxage=1", "v1")
		e, st := newSyncEdge(t, o)
		defer st.Close()
		get(e, "/s")
		time.Sleep(5 * time.Second)
		o.set(503, "", "down")
		rec := get(e, "/s", "Cache-Control", "stale-if-error=3600")
		if rec.Body.String() == "v1" {
			t.Errorf("served stale past s-maxage on the client's say-so: %q %s", rec.Body.String(), rec.Header().Get("Cache-Status"))
		}
	})
}

// when the leader's fetch fails (timeout), every waiter repeats it.
func TestWaitersShareAFailedFetch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int64
		origin := rtFunc(func(r *http.Request) (*http.Response, error) {
			calls.Add(1)
			<-r.Context().Done()
			return nil, r.Context().Err()
		})
		e, st := newSyncEdge(t, origin)
		defer st.Close()
		start := time.Now()
		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() { get(e, "/slow") })
			synctest.Wait()
		}
		wg.Wait()
		if n := calls.Load(); n != 1 {
			t.Errorf("origin calls = %d, want 1; waiters took %v (OriginTimeout 30s)", n, time.Since(start))
		}
	})
}

// a panic in the leader's origin wedges the key: the flight is never
// finished or forgotten, so later requests wait until their client leaves.
func TestPanickingOriginDoesNotWedgeKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n atomic.Int64
		origin := HandlerOrigin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				panic(http.ErrAbortHandler)
			}
			w.Header().Set("Cache-Control", "max-age=60")
			io.WriteString(w, "ok")
		}))
		e, st := newSyncEdge(t, origin)
		defer st.Close()
		func() {
			defer func() { recover() }()
			get(e, "/w")
		}()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest("GET", "http://h/w", nil).WithContext(ctx))
		if rec.Code != 200 {
			t.Errorf("second request: %d after waiting %v on a dead flight; fills=%d", rec.Code, time.Minute, len(e.fills))
		}
	})
}

// Vary marker (24h) expires before its long-lived variants.
func TestVaryMarkerOutlivesItsVariants(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int64
		origin := rtFunc(func(r *http.Request) (*http.Response, error) {
			calls.Add(1)
			return &http.Response{StatusCode: 200, ContentLength: 1, Request: r,
				Header: http.Header{"Cache-Control": {"max-age=604800"}, "Vary": {"Accept-Encoding"}},
				Body:   io.NopCloser(strings.NewReader("x"))}, nil
		})
		e, st := newSyncEdge(t, origin)
		defer st.Close()
		get(e, "/app.js", "Accept-Encoding", "gzip")
		e.Close()
		time.Sleep(25 * time.Hour)
		rec := get(e, "/app.js", "Accept-Encoding", "gzip")
		if calls.Load() != 1 {
			t.Errorf("fresh (7d) variant refetched after 25h: %s, origin calls %d", rec.Header().Get("X-Cache"), calls.Load())
		}
	})
}
