package fastpath

import (
	"io"
	"net"
	"sync"
)

// handoff is the net.Listener the fallback server accepts handed-off
// connections from.
type handoff struct {
	addr net.Addr // set by Server.Serve before the fallback serves

	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newHandoff() *handoff {
	return &handoff{conns: make(chan net.Conn), done: make(chan struct{})}
}

// give passes c to the fallback, or closes it once the listener is closed.
func (h *handoff) give(c net.Conn) {
	select {
	case h.conns <- c:
	case <-h.done:
		c.Close()
	}
}

func (h *handoff) Accept() (net.Conn, error) {
	select {
	case c := <-h.conns:
		return c, nil
	case <-h.done:
		return nil, net.ErrClosed
	}
}

func (h *handoff) Close() error {
	h.once.Do(func() { close(h.done) })
	return nil
}

func (h *handoff) Addr() net.Addr { return h.addr }

// replayConn is a handed-off connection: it reads the bytes fasthttp
// already consumed (pre), then what fasthttp's reader still holds, then
// the socket itself. Reading past fasthttp's reader lets that reader (as
// large as the largest header block) be collected instead of living as long
// as the connection.
type replayConn struct {
	net.Conn // the socket: writes, deadlines and Close go straight to it
	pre      []byte
	hijacked net.Conn // fasthttp's hijacked conn, read once after pre
	bufSize  int      // fasthttp's read buffer size
}

// drainPool holds the buffers replayConn reads fasthttp's reader into.
var drainPool = sync.Pool{New: func() any { return new([]byte) }}

// newReplayConn returns the connection the fallback serves for hc, whose
// request bytes pre fasthttp has consumed.
func newReplayConn(hc net.Conn, pre []byte, bufSize int) *replayConn {
	raw, ok := hc.(interface{ UnsafeConn() net.Conn })
	if !ok {
		return &replayConn{Conn: hc, pre: pre}
	}
	return &replayConn{Conn: raw.UnsafeConn(), pre: pre, hijacked: hc, bufSize: bufSize}
}

// CloseWrite half-closes the socket, which net/http does before closing a
// connection it refused a request on, so the client reads the answer and a
// clean end rather than a reset.
func (c *replayConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom lets net/http use the socket's sendfile and splice.
func (c *replayConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.pre) == 0 && c.hijacked != nil {
		// One read with a buffer at least as large as fasthttp's returns
		// exactly what its reader holds (bufio hands over its buffer, or
		// reads straight through when it is empty); after it the socket is
		// read directly.
		bp := drainPool.Get().(*[]byte)
		if cap(*bp) < c.bufSize {
			*bp = make([]byte, c.bufSize)
		}
		buf := (*bp)[:c.bufSize]
		n, err := c.hijacked.Read(buf)
		c.hijacked = nil
		if n == 0 {
			drainPool.Put(bp)
			return 0, err
		}
		if n <= len(p) {
			n = copy(p, buf[:n])
			drainPool.Put(bp)
			return n, nil
		}
		c.pre = append([]byte(nil), buf[:n]...)
		drainPool.Put(bp)
	}
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		if len(c.pre) == 0 {
			c.pre = nil // let the buffer go
		}
		return n, nil
	}
	return c.Conn.Read(p)
}
