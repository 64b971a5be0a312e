package fastpath

import (
	"io"
	"net"
	"strings"
	"testing"
)

// hijacked stands for fasthttp's hijacked connection: it reads from a
// buffered reader (here a fixed string) and exposes the socket.
type hijacked struct {
	net.Conn
	r     io.Reader
	reads int
}

func (h *hijacked) Read(p []byte) (int, error) { h.reads++; return h.r.Read(p) }
func (h *hijacked) UnsafeConn() net.Conn       { return h.Conn }

func TestReplayConnReadsPreThenBufferedThenSocket(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	hc := &hijacked{Conn: server, r: strings.NewReader("BUFFERED")}
	c := newReplayConn(hc, []byte("PRE-"), 64)
	if c.Conn != server {
		t.Fatal("writes and deadlines do not go to the socket")
	}
	go func() { io.WriteString(client, "-SOCKET") }()
	var got []byte
	p := make([]byte, 3) // smaller than every piece: reads are split
	for len(got) < len("PRE-BUFFERED-SOCKET") {
		n, err := c.Read(p)
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		got = append(got, p[:n]...)
	}
	if string(got) != "PRE-BUFFERED-SOCKET" {
		t.Fatalf("read %q", got)
	}
	if hc.reads != 1 || c.hijacked != nil {
		t.Fatalf("fasthttp's reader read %d times and is still held: %v; want once, then dropped", hc.reads, c.hijacked != nil)
	}
}
