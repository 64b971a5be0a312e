package edge

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
)

// hopHeaders are the hop-by-hop fields of RFC 9110 section 7.6.1, which a
// proxy does not forward.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Proxy-Authentication-Info", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// removeHopHeaders deletes hop-by-hop fields, including those Connection names.
func removeHopHeaders(h http.Header) {
	for _, v := range h.Values("Connection") {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				h.Del(f)
			}
		}
	}
	for _, f := range hopHeaders {
		h.Del(f)
	}
}

// URLOrigin returns an origin that forwards requests to target over transport
// (NewTransport() when nil), joining target's path with the request path and
// setting X-Forwarded-For, -Host and -Proto.
func URLOrigin(target *url.URL, transport http.RoundTripper) http.RoundTripper {
	if transport == nil {
		transport = NewTransport()
	}
	return &urlOrigin{target: target, transport: transport}
}

// NewTransport returns the transport edges use for origins: like
// http.DefaultTransport, but keeping enough idle connections per origin for
// a busy edge (the default keeps 2, so under load every other request would
// open a new connection and leave one in TIME_WAIT), and never asking the
// origin for compression on its own (the edge stores what the origin
// sends for the client's Accept-Encoding).
func NewTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 256
	t.DisableCompression = true
	return t
}

type urlOrigin struct {
	target    *url.URL
	transport http.RoundTripper
}

func (o *urlOrigin) RoundTrip(in *http.Request) (*http.Response, error) {
	out := in.Clone(in.Context())
	out.RequestURI = ""
	pr := &httputil.ProxyRequest{In: in, Out: out}
	pr.SetURL(o.target)
	out.Host = in.Host // the origin sees the host the client asked for...
	if own, _ := in.Context().Value(originHostKey{}).(bool); own {
		out.Host = o.target.Host // ...unless a behavior's policy says otherwise (toOrigin)
	}
	pr.SetXForwarded()
	removeHopHeaders(out.Header)
	out.Header.Add("Via", "1.1 strata") // the edge's own name is not known here
	resp, err := o.transport.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	removeHopHeaders(resp.Header)
	return resp, nil
}

// HandlerOrigin returns an origin that serves requests with h in process, for
// origins that live in the same binary (the embedded static site). The
// response is buffered.
func HandlerOrigin(h http.Handler) http.RoundTripper { return handlerOrigin{h} }

type handlerOrigin struct{ h http.Handler }

func (o handlerOrigin) RoundTrip(in *http.Request) (*http.Response, error) {
	rec := &recorder{header: http.Header{}}
	r := in.Clone(in.Context())
	r.RequestURI = in.URL.RequestURI()
	o.h.ServeHTTP(rec, r)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return &http.Response{
		Status:        http.StatusText(rec.status),
		StatusCode:    rec.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        rec.header,
		Body:          io.NopCloser(&rec.body),
		ContentLength: int64(rec.body.Len()),
		Request:       in,
	}, nil
}

// recorder is the minimal http.ResponseWriter HandlerOrigin needs.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(p)
}
