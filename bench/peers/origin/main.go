// Command origin is the shared origin server behind every cache that
// bench/peers/run.sh compares. It uses the standard library only.
//
//	GET /obj/{size}/{n}  size bytes (1k, 16k, 256k, 1024, 1m, ...), cacheable
//	                     for an hour, with an ETag; answers If-None-Match
//	                     with 304
//	GET /slow/{n}        sleeps -slow, then a small cacheable body
//	GET /gate/{n}        the thundering herd's floor: every request for n is
//	                     held until -slow after the first one arrived, then
//	                     all are answered at once with /slow/'s response —
//	                     what a perfect collapsing cache would do, served by
//	                     Go's net/http; the herd client's times against it are
//	                     what this machine allows any server
//	GET /_ready          200, not cached, not counted
//	GET /_stats          request counts per path as JSON; with ?path=P only
//	                     {"path":P,"count":N}
//
// Every request except /_stats and /_ready is counted by URL path, so the
// benchmark can tell how many requests a cache sent for one key.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const maxSize = 64 << 20

type counter struct {
	mu    sync.Mutex
	total int64
	paths map[string]int64
}

func (c *counter) add(path string) {
	c.mu.Lock()
	c.total++
	c.paths[path]++
	c.mu.Unlock()
}

// stats is the /_stats document.
type stats struct {
	Total int64            `json:"total"`
	Obj   int64            `json:"obj"`
	Slow  int64            `json:"slow"`
	Paths map[string]int64 `json:"paths"`
}

func (c *counter) snapshot() stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := stats{Total: c.total, Paths: make(map[string]int64, len(c.paths))}
	for p, n := range c.paths {
		s.Paths[p] = n
		switch {
		case strings.HasPrefix(p, "/obj/"):
			s.Obj += n
		case strings.HasPrefix(p, "/slow/"):
			s.Slow += n
		}
	}
	return s
}

func (c *counter) count(path string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paths[path]
}

// parseSize accepts a byte count with an optional k or m suffix (powers of
// 1024): "1024", "1k", "16K", "1m".
func parseSize(s string) (int, error) {
	mult := 1
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(s, "m"), strings.HasSuffix(s, "M"):
		mult, s = 1<<20, s[:len(s)-1]
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > maxSize/mult {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

// bodies holds one read-only body per size; every object of a size shares it.
type bodies struct {
	mu sync.Mutex
	m  map[int][]byte
}

func (b *bodies) get(size int) []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	if body, ok := b.m[size]; ok {
		return body
	}
	body := make([]byte, size)
	for i := range body {
		body[i] = byte('a' + i%26)
	}
	b.m[size] = body
	return body
}

type server struct {
	slow   time.Duration
	counts *counter
	bodies *bodies

	gateMu sync.Mutex
	gates  map[string]chan struct{} // /gate/ keys held: closed at release
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/_stats":
		s.serveStats(w, r)
		return
	case r.URL.Path == "/_ready":
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintln(w, "ok")
		return
	}
	s.counts.add(r.URL.Path)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	switch {
	case len(parts) == 3 && parts[0] == "obj" && parts[2] != "":
		s.serveObj(w, r, parts[1], parts[2])
	case len(parts) == 2 && parts[0] == "slow" && parts[1] != "":
		s.serveSlow(w, r, parts[1])
	case len(parts) == 2 && parts[0] == "gate" && parts[1] != "":
		s.serveGate(w, r, parts[1])
	default:
		http.NotFound(w, r)
	}
}

func (s *server) serveObj(w http.ResponseWriter, r *http.Request, sizeStr, n string) {
	size, err := parseSize(sizeStr)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	etag := fmt.Sprintf(`"%d-%s"`, size, n)
	h := w.Header()
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("ETag", etag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.Itoa(size))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(s.bodies.get(size))
	}
}

// etagMatch reports whether an If-None-Match list names etag (weak compare).
func etagMatch(list, etag string) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

func (s *server) serveSlow(w http.ResponseWriter, r *http.Request, n string) {
	t := time.NewTimer(s.slow)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
		return
	}
	s.writeSlow(w, r, n)
}

// serveGate holds every request for n until -slow after the first, then
// answers them all.
func (s *server) serveGate(w http.ResponseWriter, r *http.Request, n string) {
	s.gateMu.Lock()
	g, ok := s.gates[n]
	if !ok {
		g = make(chan struct{})
		s.gates[n] = g
		time.AfterFunc(s.slow, func() {
			s.gateMu.Lock()
			delete(s.gates, n) // a later request for n starts a new gate
			s.gateMu.Unlock()
			close(g)
		})
	}
	s.gateMu.Unlock()
	select {
	case <-g:
	case <-r.Context().Done():
		return
	}
	s.writeSlow(w, r, n)
}

// writeSlow writes the response of /slow/n.
func (s *server) writeSlow(w http.ResponseWriter, r *http.Request, n string) {
	body := fmt.Sprintf("slow %s after %s\n", n, s.slow)
	h := w.Header()
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("ETag", fmt.Sprintf(`"slow-%s"`, n))
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write([]byte(body))
	}
}

func (s *server) serveStats(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	if p := r.URL.Query().Get("path"); p != "" {
		_ = enc.Encode(struct {
			Path  string `json:"path"`
			Count int64  `json:"count"`
		}{p, s.counts.count(p)})
		return
	}
	_ = enc.Encode(s.counts.snapshot())
}

func main() {
	listen := flag.String("listen", "127.0.0.1:9000", "address to listen on")
	slow := flag.Duration("slow", 100*time.Millisecond, "delay of /slow/ responses")
	flag.Parse()

	srv := &http.Server{
		Addr: *listen,
		Handler: &server{
			slow:   *slow,
			counts: &counter{paths: make(map[string]int64)},
			bodies: &bodies{m: make(map[int][]byte)},
			gates:  make(map[string]chan struct{}),
		},
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Printf("origin listening on %s (slow %s)", *listen, *slow)
	select {
	case err := <-errc:
		log.Fatal(err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Print(err)
	}
}
