package edge

// Regression tests for the third review (Early Hints, CDN-Cache-Control, Vary).

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-cache/strata/edge/store"
)

// RFC 9213 2.1: an empty targeted field is ignored. Here it wipes out
// Cache-Control: private, so one user's page is stored and served to another.
func TestEmptyCDNCacheControlDoesNotOverridePrivate(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private")
		w.Header()["Cdn-Cache-Control"] = []string{""}
		w.Header().Set("Last-Modified", time.Now().Add(-24*time.Hour).UTC().Format(http.TimeFormat))
		io.WriteString(w, "account of "+r.Header.Get("X-User"))
	})
	h := newHarness(t, behaviorFor(t, o))
	h.do(t, "GET", "/me", "X-User", "alice")
	_, body := h.do(t, "GET", "/me", "X-User", "bob")
	if body != "account of bob" {
		t.Fatalf("bob got %q: a Cache-Control: private response was shared", body)
	}
}

// Ties in Accept-Language are broken by order; sorting makes "en, fr" and
// "fr, en" share one variant.
func TestAcceptLanguageOrderSelectsVariant(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		first := strings.TrimSpace(strings.Split(r.Header.Get("Accept-Language"), ",")[0])
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Language")
		io.WriteString(w, first)
	})
	h := newHarness(t, behaviorFor(t, o))
	h.do(t, "GET", "/l", "Accept-Language", "en, fr")
	if _, body := h.do(t, "GET", "/l", "Accept-Language", "fr, en"); body != "fr" {
		t.Fatalf("client preferring fr got %q", body)
	}
}

// slowWriter is a ResponseWriter whose 1xx writes block the way a real
// server's do when the client is not reading (WriteHeader(103) flushes).
type slowWriter struct {
	*httptest.ResponseRecorder
}

func (w slowWriter) WriteHeader(code int) {
	if code == http.StatusEarlyHints {
		time.Sleep(150 * time.Millisecond)
		return
	}
	w.ResponseRecorder.WriteHeader(code)
}

// The Got1xxResponse hook runs on the transport's read goroutine; when the
// origin request ends (timeout, client gone) while the hook is running, the
// handler writes the response concurrently with the hook.
func TestEarlyHintsStopWhenTheFetchEnds(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				http.ReadRequest(bufio.NewReader(c))
				fmt.Fprint(c, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n")
				time.Sleep(time.Second)
			}(c)
		}
	}()
	u, _ := url.Parse("http://" + ln.Addr().String())
	st, _ := store.NewMemory(store.Options{MaxBytes: 1 << 20})
	e, err := New(Config{Behaviors: []Behavior{{Pattern: "*", Origin: URLOrigin(u, nil)}}, Store: st, OriginTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, m := range []string{"GET", "POST"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := httptest.NewRequest(m, "http://h/x", nil)
			w := slowWriter{httptest.NewRecorder()}
			e.ServeHTTP(w, req)
			w.Header().Get("X-Cache") // the handler has returned; the hook may still be writing
			time.Sleep(200 * time.Millisecond)
		}()
	}
	wg.Wait()
}

// RFC 9110 15.2: a server MUST NOT send a 1xx response to an HTTP/1.0 client.
func TestNoEarlyHintsToHTTP10(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "hello")
	})
	h := newHarness(t, behaviorFor(t, o))
	c, err := net.Dial("tcp", strings.TrimPrefix(h.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "GET /x HTTP/1.0\r\nHost: h\r\n\r\n")
	line, _ := bufio.NewReader(c).ReadString('\n')
	if !strings.Contains(line, " 200 ") {
		t.Fatalf("HTTP/1.0 client got %q first", line)
	}
}
