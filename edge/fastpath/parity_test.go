package fastpath

// Parity with net/http where a review found the fast path differed.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"
)

// A handed-off connection is net/http's, so net/http's connection-level
// behaviour must survive the handoff. When it refuses a request it cannot
// read (431 on a later request of the connection), net/http half-closes
// (CloseWrite, FIN) before it closes, so the client reads the
// close-delimited answer and a clean EOF: replayConn must pass CloseWrite
// on to the socket.
func TestHandedOffConnectionEndsLikeNetHTTP(t *testing.T) {
	h := start(t)
	c := h.dial(t)
	c.send("GET /miss HTTP/1.1\r\nHost: a\r\n\r\n") // handed off
	if res, _ := c.read("GET"); res.Header.Get("X-Served-By") != "fallback" {
		t.Fatal("not handed off")
	}
	// Larger than net/http's limit (MaxHeaderBytes + 4 KiB).
	go io.WriteString(c.c, "GET /x HTTP/1.1\r\nHost: a\r\nX: "+strings.Repeat("x", 1<<20)+"\r\n\r\n")
	b, err := io.ReadAll(c.r)
	if !strings.HasPrefix(string(b), "HTTP/1.1 431 ") || err != nil {
		t.Fatalf("read %.40q... then %v; want net/http's 431 and a clean EOF (as without the fast path)", b, err)
	}
}

// net/http recovers a handler's panic, logs it and closes that one
// connection; fasthttp recovers nothing, so the fast path must, or a panic
// in Hit would end the process. The server runs in a child process, so a
// crash fails the test instead of the test binary.
func TestHitPanicCostsOnlyItsConnection(t *testing.T) {
	if os.Getenv("FASTPATH_PANIC_CHILD") == "1" {
		fb := &http.Server{ErrorLog: nil, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})}
		srv := New(Config{Fallback: fb, Hit: func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path == "/panic" {
				panic("bug in Hit")
			}
			io.WriteString(w, "ok")
			return true
		}})
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		go srv.Serve(ln)
		for _, p := range []string{"/panic", "/ok"} {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(2 * time.Second))
			io.WriteString(c, "GET "+p+" HTTP/1.1\r\nHost: a\r\n\r\n")
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			if p == "/ok" && (err != nil || res.StatusCode != 200) {
				t.Fatalf("after a panic on another connection: %v", err)
			}
			c.Close()
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHitPanicCostsOnlyItsConnection$", "-test.count=1")
	cmd.Env = append(os.Environ(), "FASTPATH_PANIC_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		first := strings.SplitN(string(out), "\n", 2)[0]
		t.Fatalf("the server process died (%v): %q", err, first)
	}
}

// Package contract: a hit's response carries what Hit wrote, with
// net/http's defaults. Each case runs the same handler under net/http and
// under the fast path and compares status, header fields and whether the
// connection is kept. (Blank Content-Type, Content-Encoding and Server
// values are the documented exception: fasthttp drops them.)
func TestHitResponsesMatchNetHTTP(t *testing.T) {
	for _, tc := range []struct {
		name, method string
		h            http.HandlerFunc
	}{
		// A HEAD answer without Content-Length: net/http keeps the
		// connection, fasthttp sees an unframed response and closes it.
		{"HEAD without Content-Length", "HEAD", func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = []string{"text/plain"}
			w.WriteHeader(200)
		}},
		// net/http strips Content-Type and Content-Length from a 304.
		{"304", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = []string{"text/plain"}
			w.Header()["Content-Length"] = []string{"5"}
			w.Header()["Etag"] = []string{`"a"`}
			w.WriteHeader(http.StatusNotModified)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := func(w http.ResponseWriter, r *http.Request) {
				w.Header()["Date"] = []string{storedDate}
				tc.h(w, r)
			}
			want := answer(t, &http.Server{Handler: http.HandlerFunc(h)}, nil, tc.method)
			got := answer(t, nil, New(Config{Fallback: &http.Server{}, Hit: func(w http.ResponseWriter, r *http.Request) bool {
				h(w, r)
				return true
			}}), tc.method)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("fast path: %s\nnet/http:  %s", got, want)
			}
		})
	}
}

type response struct {
	Status string
	Header http.Header
	Close  bool
}

func (r response) String() string { return fmt.Sprintf("%s %v close=%v", r.Status, r.Header, r.Close) }

// answer serves one request with srv or fast and returns the response.
func answer(t *testing.T, srv *http.Server, fast *Server, method string) response {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if fast != nil {
		go fast.Serve(ln)
		defer fast.Shutdown(context.Background())
	} else {
		go srv.Serve(ln)
		defer srv.Shutdown(context.Background())
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	io.WriteString(c, method+" / HTTP/1.1\r\nHost: a\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, res.Body); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return response{res.Status, res.Header, res.Close}
}
