// Package fastpath serves an edge's fresh cache hits over plain HTTP/1.1
// with fasthttp, and hands every other request, with its connection, to a
// net/http server.
//
// Contract:
//   - A request is answered here only when it is a GET or HEAD in origin
//     form, with no body, one valid Host, headers that net/http would accept,
//     and Config.Hit answers it (a fresh hit: admitted, no origin request;
//     the client's ranges and preconditions are answered from the stored
//     response). Its response carries exactly the
//     status, header fields and body Hit wrote, with net/http's defaults
//     (Date when absent, sniffed Content-Type when absent), so a client
//     cannot tell which server answered.
//   - Any other request is replayed, byte for byte as it arrived (request
//     line, header block, any body bytes read), to Config.Fallback, which
//     serves it and every later request on that connection. Parsing, framing
//     and bad-input rules (conflicting Content-Length and Transfer-Encoding,
//     Expect, absolute-form targets) are therefore net/http's.
//   - Requests fasthttp itself refuses to parse get its 4xx answer and the
//     connection is closed; a few of them net/http would serve (an empty
//     Host, duplicate identical Content-Length lines, header blocks ended by
//     bare LFs: see docs/edge.md, "Fast hits").
//   - A panic in Hit is logged and closes that connection only.
//   - Serve returns http.ErrServerClosed after Shutdown, which stops both
//     servers and waits for requests in flight.
//
// Why: net/http's per-request work (a background read goroutine, a 4 KiB
// connection buffer that splits larger bodies into two writes) costs a cache
// hit about a third of its throughput on small machines; nginx and Varnish
// do not pay it. Only hits take this path, so everything that needs
// net/http's semantics (streaming misses, collapsing, Early Hints, client
// disconnects cancelling work) keeps them.
package fastpath
