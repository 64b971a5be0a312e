package fastpath

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"net/textproto"
	"reflect"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
	"golang.org/x/net/http/httpguts"
)

// netHTTPAccepts reports whether net/http's server would serve raw as a
// request (its parser plus the checks its server adds), and the request.
func netHTTPAccepts(raw []byte) (*http.Request, bool) {
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil || r.ProtoMajor != 1 {
		return nil, false
	}
	// ReadRequest has moved Host out of the header; the server checks the
	// field as sent.
	_, block, _ := bytes.Cut(raw, []byte("\n"))
	sent, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(block))).ReadMIMEHeader()
	if err != nil {
		return nil, false
	}
	hosts, ok := sent["Host"]
	if r.ProtoAtLeast(1, 1) && (!ok || len(hosts) == 0) {
		return nil, false
	}
	if len(hosts) == 1 && !httpguts.ValidHostHeader(hosts[0]) {
		return nil, false
	}
	for k, vs := range r.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			return nil, false
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return nil, false
			}
		}
	}
	return r, true
}

// The fast path answers only requests net/http would accept, and sees them
// as net/http does.
func FuzzServeHitAgreesWithNetHTTP(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /x?y=1 HTTP/1.1\r\nHost: a:80\r\nAccept: text/html\r\naccept: x\r\n\r\n",
		"HEAD /p HTTP/1.0\r\nHost: [::1]:8080\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n  folded\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nBad Header: v\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n",
		"GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nPragma: no-cache\r\n\r\n",
		"GET / HTTP/1.1\r\nHost:\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var req fasthttp.Request
		req.Header.DisableNormalizing()
		if err := req.Read(bufio.NewReader(bytes.NewReader(raw))); err != nil {
			return // fasthttp answers 400 itself
		}
		var got *http.Request
		s := &Server{cfg: Config{Hit: func(w http.ResponseWriter, r *http.Request) bool {
			got = r
			return false
		}}}
		var ctx fasthttp.RequestCtx
		ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}, nil)
		s.serveHit(&ctx)
		if got == nil {
			return
		}
		want, ok := netHTTPAccepts(raw)
		if !ok {
			t.Fatalf("fast path served %q, which net/http refuses", raw)
		}
		if got.Method != want.Method || got.RequestURI != want.RequestURI || got.Host != want.Host ||
			got.URL.String() != want.URL.String() || got.Proto != want.Proto {
			t.Fatalf("request line: fast %s %s %s host %q, net/http %s %s %s host %q",
				got.Method, got.RequestURI, got.Proto, got.Host, want.Method, want.RequestURI, want.Proto, want.Host)
		}
		if !reflect.DeepEqual(got.Header, want.Header) {
			t.Fatalf("header: fast %q, net/http %q", got.Header, want.Header)
		}
	})
}

// appendWithout drops exactly the named field's lines.
func FuzzAppendWithout(f *testing.F) {
	f.Add([]byte("Host: a\r\nExpect: 100-continue\r\nX: 1\r\n\r\n"))
	f.Add([]byte("expect : x\r\n y\r\nA: b\r\n\r\n"))
	f.Add([]byte("A: b\n\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		before, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw))).ReadMIMEHeader()
		if err != nil {
			return
		}
		out := appendWithout(nil, raw, "Expect")
		after, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(out))).ReadMIMEHeader()
		if err != nil {
			t.Fatalf("%q parsed, %q (without Expect) does not: %v", raw, out, err)
		}
		delete(before, "Expect")
		if !reflect.DeepEqual(map[string][]string(before), map[string][]string(after)) {
			t.Fatalf("without Expect: %q, want %q (from %q)", after, before, raw)
		}
		if strings.Contains(strings.ToLower(string(out)), "\nexpect:") {
			t.Fatalf("%q still has Expect", out)
		}
	})
}
