package edge

// Regression tests for sharing and purge races found in review.

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func get(e *Edge, path string, kv ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", "http://h"+path, nil)
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Add(kv[i], kv[i+1])
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

// a 304 carrying Set-Cookie (or private/no-store) is merged into the
// shared entry and then served to every other user as a hit.
func Test304WithUnsharedFieldsIsNotShared(t *testing.T) {
	for _, cc304 := range []string{"public, max-age=60", "private, max-age=60", "no-store, max-age=60"} {
		t.Run(cc304, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e, st := newSyncEdge(t, HandlerOrigin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Cache-Control", "public, max-age=1")
					w.Header().Set("Etag", `"v1"`)
					if r.Header.Get("If-None-Match") == `"v1"` {
						if c, err := r.Cookie("session"); err == nil {
							w.Header().Set("Set-Cookie", "session="+c.Value+"; refreshed")
						}
						w.Header().Set("Cache-Control", cc304)
						w.WriteHeader(http.StatusNotModified)
						return
					}
					io.WriteString(w, "shared")
				})))
				defer st.Close()
				get(e, "/p")                            // stored
				time.Sleep(2 * time.Second)             // stale
				get(e, "/p", "Cookie", "session=alice") // revalidated: 304 + Set-Cookie
				rec := get(e, "/p", "Cookie", "session=bob")
				t.Logf("bob: X-Cache=%q Set-Cookie=%q Cache-Control=%q", rec.Header().Get("X-Cache"), rec.Header().Get("Set-Cookie"), rec.Header().Get("Cache-Control"))
				if rec.Header().Get("X-Cache") == "Hit from strata" {
					t.Errorf("bob served from the shared cache after a 304 with %q and alice's Set-Cookie: Set-Cookie=%q", cc304, rec.Header().Get("Set-Cookie"))
				}
			})
		})
	}
}

// private="Set-Cookie" strips the field from the stored copy only; the
// collapsed waiters get the leader's unstripped header.
func TestPrivateFieldsNotGivenToWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		e, st := newSyncEdge(t, HandlerOrigin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-release
			c, _ := r.Cookie("u")
			w.Header().Set("Cache-Control", `max-age=60, private="Set-Cookie"`)
			w.Header().Set("Set-Cookie", "token-for="+c.Value)
			io.WriteString(w, "page")
		})))
		defer st.Close()
		users := []string{"alice", "bob", "carol"}
		got := make([]string, len(users))
		var wg sync.WaitGroup
		for i, u := range users {
			wg.Go(func() { got[i] = get(e, "/c", "Cookie", "u="+u).Header().Get("Set-Cookie") })
		}
		synctest.Wait()
		close(release)
		wg.Wait()
		for i, u := range users {
			if got[i] != "" && got[i] != "token-for="+u {
				t.Errorf("%s received %q", u, got[i])
			}
		}
	})
}

// a collapsed waiter gets the leader's 304-refreshed variant without a
// Vary check.
func TestRefreshedResponseHonoursVaryForWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var gate atomic.Pointer[chan struct{}]
		e, st := newSyncEdge(t, HandlerOrigin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if g := gate.Load(); g != nil {
				<-*g
			}
			user := r.Header.Get("Cookie")
			w.Header().Set("Cache-Control", "public, max-age=1")
			w.Header().Set("Vary", "Cookie")
			w.Header().Set("Etag", `"`+user+`"`)
			if r.Header.Get("If-None-Match") == `"`+user+`"` {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			io.WriteString(w, "account page of "+user)
		})))
		defer st.Close()
		get(e, "/me", "Cookie", "alice")
		time.Sleep(2 * time.Second)
		g := make(chan struct{})
		gate.Store(&g)
		var wg sync.WaitGroup
		var alice, bob string
		wg.Go(func() { alice = get(e, "/me", "Cookie", "alice").Body.String() })
		synctest.Wait() // alice leads, in the origin
		wg.Go(func() { bob = get(e, "/me", "Cookie", "bob").Body.String() })
		synctest.Wait() // bob waits on alice's flight
		close(g)
		wg.Wait()
		t.Logf("alice=%q bob=%q", alice, bob)
		if bob != "account page of bob" {
			t.Errorf("bob got %q", bob)
		}
	})
}

// a request that arrives after Purge returned joins a fetch that started
// before it and is served the pre-purge response.
func TestRequestAfterPurgeDoesNotJoinOlderFetch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var version atomic.Int64
		release := make(chan struct{})
		var first atomic.Bool
		e, st := newSyncEdge(t, HandlerOrigin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			v := version.Load()
			if first.CompareAndSwap(false, true) {
				<-release
			}
			w.Header().Set("Cache-Control", "max-age=60")
			io.WriteString(w, "v"+string(rune('0'+v)))
		})))
		defer st.Close()
		var wg sync.WaitGroup
		wg.Go(func() { get(e, "/p") })
		synctest.Wait() // fetch of v0 in flight
		version.Store(1)
		e.Purge(Purge{Paths: []string{"/p"}}) // origin changed, purge acknowledged
		var after string
		wg.Go(func() { after = get(e, "/p").Body.String() })
		synctest.Wait()
		close(release)
		wg.Wait()
		if after != "v1" {
			t.Errorf("request made after the purge got %q", after)
		}
	})
}

// check-then-set race between purgedSince and Store.Set.
// It is a stress test: the interleaving it looks for is rare, so it runs
// many rounds (fewer with -short).
func TestPurgeRacingStoreIsNeverUndone(t *testing.T) {
	rounds := 3000
	if testing.Short() {
		rounds = 200
	}
	undone := 0
	for range rounds {
		entered := make(chan struct{})
		release := make(chan struct{})
		e, st := newSyncEdge(t, HandlerOrigin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(entered)
			<-release
			w.Header().Set("Cache-Control", "max-age=60")
			io.WriteString(w, "old")
		})))
		done := make(chan struct{})
		go func() { get(e, "/p"); close(done) }()
		<-entered // the fetch took its epoch before the purge below
		var wg sync.WaitGroup
		wg.Go(func() { e.Purge(Purge{All: true}) })
		close(release)
		wg.Wait()
		<-done
		if _, ok := st.Get("http://h/p"); ok {
			undone++
		}
		st.Close()
	}
	if undone > 0 {
		t.Errorf("purge undone by an in-flight fetch %d times out of %d", undone, rounds)
	}
}

// s-maxage implies proxy-revalidate (RFC 9111 5.2.2.10): a shared cache
// must not serve it stale, even to max-stale.
func TestSMaxAgeNeverServedStale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int64
		e, st := newSyncEdge(t, HandlerOrigin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.Header().Set("Cache-Control", "s-maxage=1")
			io.WriteString(w, "x")
		})))
		defer st.Close()
		get(e, "/s")
		time.Sleep(5 * time.Second)
		rec := get(e, "/s", "Cache-Control", "max-stale")
		if rec.Header().Get("X-Cache") == "Hit from strata" {
			t.Errorf("stale s-maxage response served as a hit (Age %s, origin calls %d)", rec.Header().Get("Age"), calls.Load())
		}
	})
}
