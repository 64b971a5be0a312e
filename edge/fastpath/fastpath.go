package fastpath

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/net/http/httpguts"
)

// Config says what a Server answers and who answers the rest.
type Config struct {
	// Hit answers r when it is a fresh hit and reports whether it did; when
	// it returns false it must have written nothing. It must not keep r or
	// w after returning, nor change a slice it passed to w.Write: bodies are
	// sent after Hit returns, without a copy (edge.Edge.ServeFresh writes
	// stored, immutable bodies).
	Hit func(w http.ResponseWriter, r *http.Request) bool
	// Fallback serves every request Hit declines, and the rest of its
	// connection. Its Serve and Shutdown are called by the Server's; its
	// ReadHeaderTimeout, IdleTimeout and MaxHeaderBytes apply to the fast
	// path too. MaxHeaderBytes is also the read buffer fasthttp keeps for
	// each connection, so New sets it to 16 KiB when it is 0 (net/http's
	// default, 1 MiB, would cost that much per connection).
	Fallback *http.Server
	// Logger receives fasthttp's connection errors at debug level.
	Logger *slog.Logger
}

// Server serves HTTP/1.1 hits with fasthttp and hands the rest to
// Config.Fallback.
type Server struct {
	cfg  Config
	fast *fasthttp.Server
	hand *handoff
	// inflight counts connections between fasthttp's hijack and the
	// fallback's Accept, which neither server tracks.
	inflight sync.WaitGroup

	mu     sync.Mutex
	closed bool
	ln     net.Listener
}

// DefaultMaxHeaderBytes is the header limit New gives a fallback without
// one.
const DefaultMaxHeaderBytes = 16 << 10

// New returns a Server for cfg; Hit and Fallback are required.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Fallback.MaxHeaderBytes <= 0 {
		cfg.Fallback.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	s := &Server{cfg: cfg, hand: newHandoff()}
	s.fast = &fasthttp.Server{
		Handler:                       s.handle,
		NoDefaultServerHeader:         true,
		NoDefaultDate:                 true,
		NoDefaultContentType:          true,
		DisableHeaderNamesNormalizing: true, // RawHeaders stays the wire bytes
		// Bodies are left on the connection for the fallback: fasthttp reads
		// at most one byte of one before calling the handler, and the
		// handoff replays it.
		StreamRequestBody:            true,
		MaxRequestBodySize:           1,
		DisablePreParseMultipartForm: true,
		KeepHijackedConns:            true,
		// The header limit. With StreamRequestBody, fasthttp keeps this
		// reader for as long as it serves the connection (a handed-off
		// connection lets it go, see replayConn).
		ReadBufferSize:    cfg.Fallback.MaxHeaderBytes,
		ReduceMemoryUsage: true,
		ReadTimeout:       cfg.Fallback.ReadHeaderTimeout,
		IdleTimeout:       cfg.Fallback.IdleTimeout,
		CloseOnShutdown:   true,
		Logger:            debugLogger{cfg.Logger},
	}
	return s
}

// Serve accepts connections on ln until Shutdown; it returns
// http.ErrServerClosed then, or the first error of either server. Serve is
// called once.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return http.ErrServerClosed
	}
	s.ln = ln
	s.hand.addr = ln.Addr()
	s.mu.Unlock()
	errc := make(chan error, 1)
	go func() { errc <- s.cfg.Fallback.Serve(s.hand) }()
	err := s.fast.Serve(ln)
	if s.shutDown() {
		err = http.ErrServerClosed
	} else {
		// fasthttp failed on its own: stop the fallback's accepting too.
		s.hand.Close()
	}
	ferr := <-errc
	if ferr != nil && !errors.Is(ferr, http.ErrServerClosed) && !errors.Is(ferr, net.ErrClosed) && !errors.Is(err, http.ErrServerClosed) {
		return ferr
	}
	return err
}

func (s *Server) shutDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Shutdown stops accepting connections and waits, until ctx ends, for the
// requests in flight on both servers to finish: fasthttp's first, then
// connections being handed over, then the fallback's.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	ln := s.ln
	s.mu.Unlock()
	errs := []error{s.fast.ShutdownWithContext(ctx)}
	if ln != nil {
		ln.Close() // Serve may not have handed it to fasthttp yet
	}
	handed := make(chan struct{})
	go func() {
		s.inflight.Wait()
		close(handed)
	}()
	select {
	case <-handed:
	case <-ctx.Done():
		errs = append(errs, ctx.Err())
	}
	errs = append(errs, s.cfg.Fallback.Shutdown(ctx))
	s.hand.Close()
	return errors.Join(errs...)
}

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	defer func() {
		// As net/http does: a panicking handler costs its connection, not
		// the process (fasthttp recovers nothing).
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				s.cfg.Logger.Error("fastpath: panic serving a hit", "remote", ctx.RemoteAddr().String(),
					"uri", string(ctx.RequestURI()), "panic", v, "stack", string(debug.Stack()))
			}
			ctx.Response.Reset()
			ctx.HijackSetNoResponse(true)
			ctx.Hijack(func(c net.Conn) { c.Close() })
		}
	}()
	if s.serveHit(ctx) {
		return
	}
	s.handOff(ctx)
}

// serveHit builds the request net/http would and asks Hit to answer it.
func (s *Server) serveHit(ctx *fasthttp.RequestCtx) bool {
	var method string
	switch string(ctx.Method()) {
	case http.MethodGet:
		method = http.MethodGet
	case http.MethodHead:
		method = http.MethodHead
	default:
		return false
	}
	rh := &ctx.Request.Header
	uri := rh.RequestURI()
	if len(uri) == 0 || uri[0] != '/' {
		return false // absolute-form, asterisk-form: net/http's rules
	}
	// HTTP/1.0 is net/http's: fasthttp would answer it with an HTTP/1.1
	// status line.
	if string(rh.Protocol()) != "HTTP/1.1" {
		return false
	}
	const proto = "HTTP/1.1"
	h, ok := parseHeader(rh.RawHeaders())
	if !ok {
		return false
	}
	hosts := h["Host"]
	if len(hosts) != 1 || !httpguts.ValidHostHeader(hosts[0]) {
		return false
	}
	for k, vs := range h {
		if !httpguts.ValidHeaderFieldName(k) {
			return false
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return false
			}
		}
	}
	for _, f := range [...]string{"Content-Length", "Transfer-Encoding", "Expect", "Upgrade"} {
		if _, ok := h[f]; ok {
			return false
		}
	}
	requestURI := string(uri)
	u, err := url.ParseRequestURI(requestURI)
	if err != nil {
		return false
	}
	delete(h, "Host")
	// As net/http does (fixPragmaCacheControl).
	if p := h["Pragma"]; len(p) > 0 && p[0] == "no-cache" {
		if _, ok := h["Cache-Control"]; !ok {
			h["Cache-Control"] = []string{"no-cache"}
		}
	}
	r := &http.Request{
		Method:     method,
		URL:        u,
		Proto:      proto,
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Body:       http.NoBody,
		Host:       hosts[0],
		RemoteAddr: ctx.RemoteAddr().String(),
		RequestURI: requestURI,
	}
	w := &writer{h: make(http.Header, 16)}
	if !s.cfg.Hit(w, r) {
		return false
	}
	w.emit(ctx, method == http.MethodHead)
	return true
}

// handOff gives the connection, with this request unread, to the fallback.
func (s *Server) handOff(ctx *fasthttp.RequestCtx) {
	rh := &ctx.Request.Header
	raw := rh.RawHeaders()
	pre := make([]byte, 0, 32+len(raw))
	pre = append(pre, rh.Method()...)
	pre = append(pre, ' ')
	pre = append(pre, rh.RequestURI()...)
	pre = append(pre, ' ')
	pre = append(pre, rh.Protocol()...)
	pre = append(pre, "\r\n"...)
	switch {
	case len(raw) == 0:
		pre = append(pre, "\r\n"...)
	case ctx.Request.MayContinue():
		// fasthttp has sent 100 Continue; net/http would send another.
		pre = appendWithout(pre, raw, "Expect")
	default:
		pre = append(pre, raw...)
	}
	// The body byte fasthttp may have read ahead (MaxRequestBodySize 1).
	if cl := rh.ContentLength(); cl > 0 {
		if bs := ctx.Request.BodyStream(); bs != nil {
			var b [1]byte
			if n, _ := bs.Read(b[:]); n == 1 {
				pre = append(pre, b[0])
			}
		}
	}
	ctx.HijackSetNoResponse(true)
	s.inflight.Add(1)
	ctx.Hijack(func(c net.Conn) {
		defer s.inflight.Done()
		s.hand.give(newReplayConn(c, pre, s.fast.ReadBufferSize))
	})
}

// appendWithout appends the header block raw to dst without the lines of
// field name (and their obs-fold continuation lines).
func appendWithout(dst, raw []byte, name string) []byte {
	dropping := false
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line = raw[:i+1]
		}
		raw = raw[len(line):]
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			if !dropping {
				dst = append(dst, line...)
			}
			continue
		}
		k, _, _ := bytes.Cut(line, []byte(":"))
		dropping = strings.EqualFold(string(k), name)
		if !dropping {
			dst = append(dst, line...)
		}
	}
	return dst
}

// writer is the http.ResponseWriter Hit writes a hit to.
type writer struct {
	h      http.Header
	status int
	body   []byte
	copied bool
}

func (w *writer) Header() http.Header { return w.h }

func (w *writer) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *writer) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	switch {
	case w.body == nil:
		w.body = p // a stored body: immutable, written after Hit returns
	case !w.copied:
		w.body = append(bytes.Clone(w.body), p...)
		w.copied = true
	default:
		w.body = append(w.body, p...)
	}
	return len(p), nil
}

var headPool = sync.Pool{New: func() any { return new([]byte) }}

// emit hands the response to fasthttp. Its header block is parsed by
// fasthttp from the bytes net/http would write, which is the one way to
// send a stored Date (fasthttp's setters would replace it).
func (w *writer) emit(ctx *fasthttp.RequestCtx, head bool) {
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	bp := headPool.Get().(*[]byte)
	b := (*bp)[:0]
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	if text := http.StatusText(status); text != "" {
		b = append(b, text...)
	} else {
		b = append(b, "status code "...)
		b = strconv.AppendInt(b, int64(status), 10)
	}
	b = append(b, "\r\n"...)
	if _, ok := w.h["Date"]; !ok {
		b = appendField(b, "Date", httpDate())
	}
	// net/http sniffs a missing Content-Type, except for encoded bodies.
	_, hasType := w.h["Content-Type"]
	if !hasType && w.h.Get("Content-Encoding") == "" && len(w.body) > 0 && bodyAllowed(status) {
		b = appendField(b, "Content-Type", http.DetectContentType(w.body))
	}
	if _, ok := w.h["Content-Length"]; !ok && bodyAllowed(status) && !head {
		b = appendField(b, "Content-Length", strconv.Itoa(len(w.body)))
	}
	for k, vs := range w.h {
		switch {
		case k == "Transfer-Encoding" || k == "Connection":
			continue // framing is the server's
		case suppressed(status, k):
			continue // as net/http: no body, no body fields
		case !httpguts.ValidHeaderFieldName(k):
			continue // net/http drops these too
		case len(vs) > 1 && singleInFasthttp(k):
			// fasthttp keeps one value of these; a list field's lines
			// joined with commas mean the same (RFC 9110 section 5.3).
			b = appendField(b, k, strings.Join(vs, ", "))
			continue
		}
		for _, v := range vs {
			b = appendField(b, k, v)
		}
	}
	b = append(b, "\r\n"...)
	var br *bufio.Reader
	if len(b) <= headReaderSize {
		br = readerPool.Get().(*bufio.Reader)
		defer readerPool.Put(br)
		br.Reset(bytes.NewReader(b))
	} else {
		br = bufio.NewReaderSize(bytes.NewReader(b), len(b))
	}
	err := ctx.Response.Header.Read(br)
	*bp = b
	headPool.Put(bp)
	if err != nil {
		// Not a header block fasthttp accepts: fail loudly rather than send
		// something else than what was asked.
		ctx.Response.Reset()
		ctx.Error("edge: response header not representable", http.StatusInternalServerError)
		return
	}
	if !head && bodyAllowed(status) {
		ctx.Response.SetBodyRaw(w.body)
	} else {
		ctx.Response.SkipBody = true
		// A HEAD answer needs no framing; net/http keeps the connection.
		ctx.Response.Header.ResetConnectionClose()
	}
}

// suppressed reports whether net/http leaves field k out of a response with
// status (its suppressedHeaders: 304 has no Content-Type or Content-Length,
// 1xx and 204 no Content-Length).
func suppressed(status int, k string) bool {
	switch {
	case status == http.StatusNotModified:
		return k == "Content-Type" || k == "Content-Length"
	case status == http.StatusNoContent || status < 200:
		return k == "Content-Length"
	}
	return false
}

// singleInFasthttp reports whether fasthttp keeps only one value of field
// k in a response header.
func singleInFasthttp(k string) bool {
	switch k {
	case "Content-Type", "Content-Encoding", "Content-Length", "Server":
		return true
	}
	return false
}

const headReaderSize = 4096

var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, headReaderSize) }}

// appendField appends "k: v\r\n", with control bytes in v (CR and LF,
// which net/http also replaces, and the others, which fasthttp refuses)
// turned into spaces.
func appendField(b []byte, k, v string) []byte {
	b = append(b, k...)
	b = append(b, ": "...)
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < ' ' && c != '\t' || c == 0x7f {
			c = ' '
		}
		b = append(b, c)
	}
	return append(b, "\r\n"...)
}

// bodyAllowed reports whether a response with status may have a body
// (RFC 9110 sections 15.2, 15.3.5, 15.4.5).
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// httpDate is the current time as an HTTP-date, formatted once a second.
func httpDate() string {
	now := time.Now().Unix()
	if d := date.Load(); d != nil && d.unix == now {
		return d.text
	}
	d := &dateText{unix: now, text: time.Unix(now, 0).UTC().Format(http.TimeFormat)}
	date.Store(d)
	return d.text
}

type dateText struct {
	unix int64
	text string
}

var date atomic.Pointer[dateText]

// parseHeader parses a raw header block with net/textproto, as net/http
// does; ok is false where net/http would refuse the request.
func parseHeader(raw []byte) (h http.Header, ok bool) {
	if len(raw) == 0 {
		return http.Header{}, true
	}
	p := parserPool.Get().(*parser)
	defer parserPool.Put(p)
	p.src.Reset(raw)
	p.br.Reset(&p.src)
	p.tp.R = p.br
	m, err := p.tp.ReadMIMEHeader()
	if err != nil {
		return nil, false
	}
	return http.Header(m), true
}

type parser struct {
	src bytes.Reader
	br  *bufio.Reader
	tp  textproto.Reader
}

var parserPool = sync.Pool{New: func() any { return &parser{br: bufio.NewReaderSize(nil, 4096)} }}

// debugLogger sends fasthttp's log lines to a slog logger at debug level.
type debugLogger struct{ l *slog.Logger }

func (d debugLogger) Printf(format string, args ...any) {
	d.l.Debug("fastpath: " + fmt.Sprintf(format, args...))
}
