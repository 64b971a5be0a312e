package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/strata-cache/strata/edge/fastpath"
	"golang.org/x/sync/errgroup"
)

// listener is a named, bound socket with the server that will serve it.
type listener struct {
	name string
	ln   net.Listener
	srv  *http.Server
	// fast, when set, serves the listener: fresh hits itself, the rest
	// through srv.
	fast *fastpath.Server
	// tls, when set, makes the listener serve HTTPS (and HTTP/2 when its
	// NextProtos offer "h2").
	tls *tls.Config
}

// listen binds addr for the server called name; binding everything before
// starting anything makes a port in use fail the command at once.
func listen(name, addr string) (*listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot listen on %s: %w", name, addr, err)
	}
	return &listener{name: name, ln: ln}, nil
}

// url returns an http (or https) URL for reaching l from this machine: an
// unspecified address (":8080") becomes loopback.
func (l *listener) url() string {
	scheme := "http://"
	if l.tls != nil {
		scheme = "https://"
	}
	addr := l.ln.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return scheme + net.JoinHostPort(host, fmt.Sprint(addr.Port))
}

// port returns the port l is bound to.
func (l *listener) port() string { return fmt.Sprint(l.ln.Addr().(*net.TCPAddr).Port) }

// closeAll closes listeners that were bound but never served.
func closeAll(ls []*listener) {
	for _, l := range ls {
		if l != nil {
			l.ln.Close()
		}
	}
}

// newServer returns an http.Server with timeouts that protect it from slow
// clients; write timeouts are left to handlers, which may stream.
func newServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// serveAll serves every listener until ctx ends or one server fails, then
// shuts all of them down gracefully, waiting up to grace for requests in
// flight.
func serveAll(ctx context.Context, logger *slog.Logger, grace time.Duration, ls []*listener) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, l := range ls {
		g.Go(func() error {
			var err error
			switch {
			case l.fast != nil:
				err = l.fast.Serve(l.ln)
			case l.tls != nil:
				// ServeTLS sets up HTTP/2 when NextProtos has "h2".
				l.srv.TLSConfig = l.tls
				err = l.srv.ServeTLS(l.ln, "", "")
			default:
				err = l.srv.Serve(l.ln)
			}
			if !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("%s: %w", l.name, err)
			}
			return nil
		})
	}
	g.Go(func() error {
		<-gctx.Done()
		logger.Info("shutting down", "grace", grace)
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
		defer cancel()
		var errs []error
		for _, l := range ls {
			shutdown := l.srv.Shutdown
			if l.fast != nil {
				shutdown = l.fast.Shutdown
			}
			if err := shutdown(sctx); err != nil {
				errs = append(errs, fmt.Errorf("%s: shutdown: %w", l.name, err))
			}
		}
		return errors.Join(errs...)
	})
	return g.Wait()
}

// newLogger returns a text logger at level (debug, info, warn, error).
func newLogger(level string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		return nil, fmt.Errorf("%w: -log-level %q: want debug, info, warn or error", errUsage, level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
