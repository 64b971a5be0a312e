package fastpath

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// harness runs a Server whose Hit answers GET /hit/... and whose fallback
// echoes what it received.
type harness struct {
	addr     string
	hits     atomic.Int64 // requests Hit answered
	fallback atomic.Int64 // requests the fallback answered
	srv      *Server
	done     chan error
}

const storedDate = "Tue, 01 Dec 2026 10:00:00 GMT"

func start(t *testing.T) *harness {
	t.Helper()
	h := &harness{done: make(chan error, 1)}
	fb := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		MaxHeaderBytes:    16 << 10,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.fallback.Add(1)
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			w.Header().Set("X-Served-By", "fallback")
			io.WriteString(w, r.Method+" "+r.RequestURI+" host="+r.Host+" body="+string(body))
		}),
	}
	h.srv = New(Config{
		Fallback: fb,
		Hit: func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.HasPrefix(r.URL.Path, "/hit/") {
				return false
			}
			h.hits.Add(1)
			hd := w.Header()
			hd["Date"] = []string{storedDate}
			hd["Set-Cookie"] = []string{"a=1; Path=/", "b=2"}
			hd["X-Multi"] = []string{"one", "two"}
			hd["X-Host"] = []string{r.Host}
			hd["X-Accept"] = []string{r.Header.Get("Accept")}
			hd["Content-Type"] = []string{"text/plain"}
			hd["Content-Length"] = []string{"5"}
			switch r.URL.Path {
			case "/hit/bigheader":
				// Response headers larger than any one buffer: long
				// surrogate-key lists, CSP, Link.
				hd["Surrogate-Key"] = []string{strings.Repeat("key ", 5000)}
			case "/hit/gzip":
				delete(hd, "Content-Type")
				hd["Content-Encoding"] = []string{"gzip", "br"}
			case "/hit/odd":
				hd["X-Ctl"] = []string{"a\x01b\rc"}
				hd["Bad Name"] = []string{"v"}
				w.WriteHeader(299)
				w.Write([]byte("hello"))
				return true
			case "/hit/nocontent":
				w.WriteHeader(http.StatusNoContent)
				return true
			case "/hit/notype":
				delete(hd, "Content-Type")
				hd["Content-Length"] = []string{"14"}
				w.WriteHeader(http.StatusOK)
				w.Write([]byte("<html>hi</html"))
				return true
			}
			w.WriteHeader(http.StatusOK)
			if r.Method != http.MethodHead {
				w.Write([]byte("hello"))
			}
			return true
		},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = ln.Addr().String()
	go func() { h.done <- h.srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-h.done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
		}
	})
	return h
}

// conn is a raw client connection.
type conn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func (h *harness) dial(t *testing.T) *conn {
	t.Helper()
	c, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &conn{t: t, c: c, r: bufio.NewReader(c)}
}

func (c *conn) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, s); err != nil {
		c.t.Fatal(err)
	}
}

func (c *conn) read(method string) (*http.Response, string) {
	c.t.Helper()
	res, err := http.ReadResponse(c.r, &http.Request{Method: method})
	if err != nil {
		c.t.Fatalf("reading response: %v", err)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatalf("reading body: %v", err)
	}
	return res, string(body)
}

func TestHitIsWrittenAsStored(t *testing.T) {
	h := start(t)
	c := h.dial(t)
	c.send("GET /hit/a?x=1 HTTP/1.1\r\nHost: example.com\r\naccept:  text/plain \r\n\r\n")
	res, body := c.read("GET")
	if res.StatusCode != 200 || body != "hello" {
		t.Fatalf("got %d %q, want 200 hello", res.StatusCode, body)
	}
	want := map[string][]string{
		"Date":           {storedDate}, // the stored Date, not the server's clock
		"Set-Cookie":     {"a=1; Path=/", "b=2"},
		"X-Multi":        {"one", "two"},
		"X-Host":         {"example.com"},
		"X-Accept":       {"text/plain"}, // parsed as net/http does: trimmed, canonical name
		"Content-Type":   {"text/plain"},
		"Content-Length": {"5"},
	}
	for k, v := range want {
		if got := res.Header[k]; strings.Join(got, "|") != strings.Join(v, "|") {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if s := res.Header.Get("Server"); s != "" {
		t.Errorf("Server = %q, want none (Hit set none)", s)
	}
	if h.hits.Load() != 1 || h.fallback.Load() != 0 {
		t.Fatalf("hits %d fallback %d, want 1 and 0", h.hits.Load(), h.fallback.Load())
	}
	// The connection stays with the fast path while requests are hits.
	c.send("HEAD /hit/b HTTP/1.1\r\nHost: example.com\r\n\r\n")
	res, body = c.read("HEAD")
	if res.StatusCode != 200 || body != "" || res.ContentLength != 5 {
		t.Fatalf("HEAD: got %d %q length %d, want 200, no body, length 5", res.StatusCode, body, res.ContentLength)
	}
	if h.hits.Load() != 2 {
		t.Fatalf("hits = %d, want 2", h.hits.Load())
	}
}

func TestHitDefaultsMatchNetHTTP(t *testing.T) {
	h := start(t)
	c := h.dial(t)
	c.send("GET /hit/notype HTTP/1.1\r\nHost: a\r\n\r\n")
	res, body := c.read("GET")
	if got := res.Header.Get("Content-Type"); got != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q, want the sniffed text/html; charset=utf-8 as net/http sends", got)
	}
	if body != "<html>hi</html" {
		t.Errorf("body = %q", body)
	}
	c.send("GET /hit/nocontent HTTP/1.1\r\nHost: a\r\n\r\n")
	res, body = c.read("GET")
	if res.StatusCode != http.StatusNoContent || body != "" {
		t.Fatalf("got %d %q, want 204 and no body", res.StatusCode, body)
	}
	if _, ok := res.Header["Content-Length"]; ok {
		t.Errorf("204 carries Content-Length %q", res.Header["Content-Length"])
	}
}

func TestDeclinedRequestIsHandedOffWithItsConnection(t *testing.T) {
	h := start(t)
	c := h.dial(t)
	c.send("GET /hit/a HTTP/1.1\r\nHost: a\r\n\r\n")
	if res, _ := c.read("GET"); res.Header.Get("X-Served-By") != "" {
		t.Fatal("a hit was served by the fallback")
	}
	c.send("GET /miss?q=%20x HTTP/1.1\r\nHost: b.example\r\n\r\n")
	res, body := c.read("GET")
	if res.Header.Get("X-Served-By") != "fallback" || body != "GET /miss?q=%20x host=b.example body=" {
		t.Fatalf("got %q %q, want the fallback's echo of the request as sent", res.Header.Get("X-Served-By"), body)
	}
	// From then on the connection is net/http's, hits included.
	c.send("GET /hit/a HTTP/1.1\r\nHost: a\r\n\r\n")
	if res, _ := c.read("GET"); res.Header.Get("X-Served-By") != "fallback" {
		t.Fatal("request after a handoff did not reach the fallback")
	}
	if h.hits.Load() != 1 || h.fallback.Load() != 2 {
		t.Fatalf("hits %d fallback %d, want 1 and 2", h.hits.Load(), h.fallback.Load())
	}
}

func TestBodiesReachTheFallbackIntact(t *testing.T) {
	for _, tc := range []struct{ name, req, want string }{
		{"content-length", "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world", "POST /p host=a body=hello world"},
		{"chunked", "PUT /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "PUT /p host=a body=hello world"},
		{"get with body", "GET /hit/x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", "GET /hit/x host=a body=abc"},
		// RFC 9112 section 6.3: Transfer-Encoding frames the body, as
		// net/http does, whatever Content-Length says.
		{"transfer-encoding over content-length", "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "POST /p host=a body="},
		{"one byte", "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nz", "POST /p host=a body=z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t)
			c := h.dial(t)
			c.send(tc.req)
			if _, body := c.read("POST"); body != tc.want {
				t.Fatalf("fallback saw %q, want %q", body, tc.want)
			}
			// The connection is still usable: the body was consumed exactly.
			c.send("GET /next HTTP/1.1\r\nHost: a\r\n\r\n")
			if _, body := c.read("GET"); body != "GET /next host=a body=" {
				t.Fatalf("next request: %q", body)
			}
		})
	}
}

func TestPipelinedRequestsAnswerInOrder(t *testing.T) {
	h := start(t)
	c := h.dial(t)
	c.send("GET /hit/1 HTTP/1.1\r\nHost: a\r\n\r\n" +
		"GET /two HTTP/1.1\r\nHost: a\r\n\r\n" +
		"POST /three HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok")
	if _, body := c.read("GET"); body != "hello" {
		t.Fatalf("first = %q, want the hit", body)
	}
	if _, body := c.read("GET"); body != "GET /two host=a body=" {
		t.Fatalf("second = %q", body)
	}
	if _, body := c.read("POST"); body != "POST /three host=a body=ok" {
		t.Fatalf("third = %q", body)
	}
}

func TestExpectContinueGetsOneInterimResponse(t *testing.T) {
	h := start(t)
	c := h.dial(t)
	c.send("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
	line, err := c.r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
		t.Fatalf("first line %q (%v), want a 100 Continue", line, err)
	}
	if blank, _ := c.r.ReadString('\n'); blank != "\r\n" {
		t.Fatalf("100 Continue carried %q", blank)
	}
	c.send("data")
	line, err = c.r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 200 ") {
		t.Fatalf("after the body: %q (%v), want the final 200 and no second 100", line, err)
	}
}

// Requests net/http refuses are refused the same way: the fast path hands
// them over instead of guessing.
func TestBadRequestsGetNetHTTPAnswers(t *testing.T) {
	for _, tc := range []struct {
		name, req string
		status    int
	}{
		{"two content-lengths", "GET /hit/a HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400},
		{"bad field name", "GET /hit/a HTTP/1.1\r\nHost: a\r\nBad Header: v\r\n\r\n", 400},
		{"two hosts", "GET /hit/a HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
		{"no host", "GET /hit/a HTTP/1.1\r\nAccept: */*\r\n\r\n", 400},
		{"bad host", "GET /hit/a HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
		{"unknown expectation", "GET /hit/a HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n", 417},
		{"header too large", "GET /hit/a HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("x", 20<<10) + "\r\n\r\n", 431},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t)
			c := h.dial(t)
			c.send(tc.req)
			res, _ := c.read("GET")
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.status)
			}
			if h.hits.Load() != 0 {
				t.Fatal("Hit answered a request net/http refuses")
			}
		})
	}
}

func TestShutdownClosesHandedOffConnections(t *testing.T) {
	h := start(t)
	c := h.dial(t)
	c.send("GET /miss HTTP/1.1\r\nHost: a\r\n\r\n")
	c.read("GET")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// An idle handed-off connection is closed by the fallback's Shutdown.
	if _, err := c.r.ReadByte(); err == nil {
		t.Fatal("connection still open after Shutdown")
	}
}

func TestResponsesFasthttpWouldMangle(t *testing.T) {
	h := start(t)
	c := h.dial(t)
	c.send("GET /hit/bigheader HTTP/1.1\r\nHost: a\r\n\r\n")
	res, body := c.read("GET")
	if res.StatusCode != 200 || body != "hello" || len(res.Header.Get("Surrogate-Key")) < 19000 {
		t.Fatalf("20 KB response header: %d %q, Surrogate-Key of %d bytes", res.StatusCode, body, len(res.Header.Get("Surrogate-Key")))
	}
	c.send("GET /hit/gzip HTTP/1.1\r\nHost: a\r\n\r\n")
	res, _ = c.read("GET")
	if ct, ok := res.Header["Content-Type"]; ok {
		t.Errorf("an encoded body got a sniffed Content-Type %q; net/http sends none", ct)
	}
	if ce := strings.Join(res.Header["Content-Encoding"], ", "); ce != "gzip, br" {
		t.Errorf("Content-Encoding %q, want both codings, in order", ce)
	}
	c.send("GET /hit/odd HTTP/1.1\r\nHost: a\r\n\r\n")
	res, body = c.read("GET")
	if res.StatusCode != 299 || body != "hello" || res.Status != "299 status code 299" {
		t.Fatalf("unknown status: %q %q", res.Status, body)
	}
	if v := res.Header.Get("X-Ctl"); v != "a b c" {
		t.Errorf("X-Ctl = %q, want control bytes as spaces", v)
	}
	if _, ok := res.Header["Bad Name"]; ok {
		t.Error("an invalid field name was sent")
	}
}

func TestHTTP10GoesToNetHTTP(t *testing.T) {
	h := start(t)
	c := h.dial(t)
	c.send("GET /hit/a HTTP/1.0\r\nHost: a\r\n\r\n")
	res, _ := c.read("GET")
	if res.Proto != "HTTP/1.0" || res.Header.Get("X-Served-By") != "fallback" {
		t.Fatalf("HTTP/1.0 request answered with %s by %q, want net/http's HTTP/1.0 answer", res.Proto, res.Header.Get("X-Served-By"))
	}
}

func TestShutdownBeforeServe(t *testing.T) {
	srv := New(Config{Hit: func(http.ResponseWriter, *http.Request) bool { return false }, Fallback: &http.Server{}})
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve after Shutdown: %v, want http.ErrServerClosed at once", err)
	}
}

// A request in flight when Shutdown starts is still answered.
func TestShutdownLetsRequestsInFlightFinish(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	fb := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "late")
	})}
	srv := New(Config{Hit: func(http.ResponseWriter, *http.Request) bool { return false }, Fallback: fb})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	<-entered
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	close(release)
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("request in flight during Shutdown: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	if string(body) != "late" {
		t.Fatalf("body %q", body)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
}
