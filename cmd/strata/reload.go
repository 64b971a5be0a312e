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
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/strata-cache/strata/admin"
	"github.com/strata-cache/strata/edge"
	"github.com/strata-cache/strata/edge/config"
	"github.com/strata-cache/strata/edge/fastpath"
)

// buildBehaviors turns a distribution into the edge's behaviors: its
// origins built once, with the transports and signers they ask for.
func buildBehaviors(cfg *config.Config) ([]edge.Behavior, error) {
	return edge.FromConfig(cfg, edge.FromConfigOptions{})
}

// explainHook is the admin API's GET /explain for e.
func explainHook(e *edge.Edge) func(*http.Request) any {
	return func(r *http.Request) any { return e.Explain(r) }
}

// keyCardinalityHook is the admin API's GET /cache/key-cardinality for e.
func keyCardinalityHook(e *edge.Edge) func() any {
	return func() any {
		return struct {
			Components []edge.ComponentStats `json:"components"`
		}{append([]edge.ComponentStats{}, e.KeyCardinality()...)}
	}
}

// distribution is what a distribution file configures: Apply makes it use
// a new one, for the requests that start afterwards, or changes nothing
// and says why.
type distribution interface {
	Apply(cfg *config.Config) error
}

// edgeDistribution applies distributions to a running edge.
type edgeDistribution struct{ e *edge.Edge }

func (d edgeDistribution) Apply(cfg *config.Config) error {
	bs, err := buildBehaviors(cfg)
	if err != nil {
		return err
	}
	// Requests that start afterwards use bs; the store is kept. The old
	// origins' idle connections are closed; those in use finish.
	old := d.e.Behaviors()
	if err := d.e.SetBehaviors(bs); err != nil {
		edge.CloseIdleConnections(bs)
		return err
	}
	edge.CloseIdleConnections(old)
	return nil
}

// loadDistribution reads the -config file. Every problem is printed to
// stderr as check-config prints it (file:line:col: message), as are the
// warnings; a bad file is a usage error.
func loadDistribution(cmd, file string, stderr io.Writer) (*config.Config, error) {
	cfg, err := config.Load(file)
	if err != nil {
		var list *config.ErrorList
		if !errors.As(err, &list) {
			return nil, fmt.Errorf("%w: %s: -config: %v", errUsage, cmd, err)
		}
		for _, e := range list.Errors {
			fmt.Fprintln(stderr, e)
		}
		return nil, fmt.Errorf("%w: %s: -config %s: %d problem(s), listed above", errUsage, cmd, file, len(list.Errors))
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(stderr, "%s: warning: %s\n", w.Pos, w.Msg)
	}
	return cfg, nil
}

// edgeFront is what stands between clients and the edge handler: the
// distribution file, the HTTPS settings and the certificate in use.
type edgeFront struct {
	cmd   string
	flags tlsFlags
	file  string         // -config; "" without it
	cfg   *config.Config // nil without -config
	tls   *tlsSettings   // nil: plain HTTP
	certs *certSource    // nil: plain HTTP
	// selfSigned is the generated certificate, to show its fingerprint.
	selfSigned *tls.Certificate
}

// newEdgeFront checks the TLS flags, loads the distribution file and the
// certificate. Nothing is bound yet.
func newEdgeFront(cmd string, ef edgeFlags, stderr io.Writer, logger *slog.Logger) (*edgeFront, error) {
	f := &edgeFront{cmd: cmd, flags: ef.tls, file: ef.configFile}
	if err := ef.tls.check(cmd); err != nil {
		return nil, err
	}
	if f.file != "" {
		cfg, err := loadDistribution(cmd, f.file, stderr)
		if err != nil {
			return nil, err
		}
		f.cfg = cfg
		if cfg.TLS != nil && (ef.tls.certFile != "" || ef.tls.selfSigned) {
			logger.Warn("tls: the tls section of -config overrides -tls-cert, -tls-key and -tls-self-signed", "config", f.file)
		}
	}
	f.tls = resolveTLS(ef.tls, f.cfg)
	if f.tls == nil {
		if ef.tls.httpsAddr != "" {
			return nil, fmt.Errorf("%w: %s: -https-addr needs -tls-cert and -tls-key, -tls-self-signed, or a tls section in -config", errUsage, cmd)
		}
		return f, nil
	}
	cert, err := f.tls.certificate(f.cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", errUsage, cmd, err)
	}
	if f.tls.selfSigned {
		if cert, err = selfSigned(time.Now()); err != nil {
			return nil, fmt.Errorf("%s: self-signed certificate: %w", cmd, err)
		}
		f.selfSigned = cert
		logger.Warn("tls: serving a self-signed certificate made for development; browsers will not trust it",
			"names", cert.Leaf.DNSNames, "ips", cert.Leaf.IPAddresses, "sha256", fingerprint(cert), "expires", cert.Leaf.NotAfter.Format(time.DateOnly))
	}
	f.certs = &certSource{}
	f.certs.cert.Store(cert)
	return f, nil
}

// behaviors returns the distribution's behaviors, or def without -config.
func (f *edgeFront) behaviors(def []edge.Behavior) ([]edge.Behavior, error) {
	if f.cfg == nil {
		return def, nil
	}
	bs, err := buildBehaviors(f.cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: -config %s: %w", f.cmd, f.file, err)
	}
	return bs, nil
}

// listen binds the edge's listeners: addr serves HTTPS when TLS is on and
// -https-addr is not set; otherwise addr serves plain HTTP and, with TLS,
// -https-addr serves HTTPS.
func (f *edgeFront) listen(addr string) ([]*listener, error) {
	l, err := listen("edge", addr)
	if err != nil {
		return nil, err
	}
	if f.tls == nil {
		return []*listener{l}, nil
	}
	tc := f.certs.tlsConfig(f.tls.http2)
	if f.flags.httpsAddr == "" {
		l.tls = tc
		return []*listener{l}, nil
	}
	hl, err := listen("https", f.flags.httpsAddr)
	if err != nil {
		l.ln.Close()
		return nil, err
	}
	hl.tls = tc
	return []*listener{l, hl}, nil
}

// httpsPort returns the port of the HTTPS listener among ls, or 0 (443)
// when the edge serves plain HTTP (HTTPS, if any, ends in front of it).
func httpsPort(ls []*listener) int {
	for _, l := range ls {
		if l.tls != nil {
			return l.ln.Addr().(*net.TCPAddr).Port
		}
	}
	return 0
}

// serveWith sets h as the handler of the edge's listeners. With fast,
// plain-HTTP listeners answer h's fresh hits through edge/fastpath.
func serveWith(ls []*listener, h http.Handler, fast bool, logger *slog.Logger) {
	for _, l := range ls {
		l.srv = newServer(h, logger)
		// CloudFront's limit on a request's line and header block (nginx and
		// Varnish allow 32 KiB). It is also the read buffer fasthttp keeps
		// for each connection it serves.
		l.srv.MaxHeaderBytes = edgeMaxHeaderBytes
		if f, ok := h.(freshServer); ok && fast && l.tls == nil {
			l.fast = fastpath.New(fastpath.Config{Hit: f.ServeFresh, Fallback: l.srv, Logger: logger})
		}
	}
}

const edgeMaxHeaderBytes = 20 << 10

// freshServer is what edge/fastpath needs of an edge.
type freshServer interface {
	ServeFresh(w http.ResponseWriter, r *http.Request) bool
}

// printListeners writes the banner lines of the edge's listeners.
func (f *edgeFront) printListeners(w io.Writer, ls []*listener, what string) {
	for _, l := range ls {
		fmt.Fprintf(w, "  %-6s %s/   (%s)\n", l.name, l.url(), what)
	}
	if f.selfSigned != nil {
		fmt.Fprintf(w, "  tls    self-signed certificate, SHA-256 %s\n", fingerprint(f.selfSigned))
	}
	if f.cfg != nil {
		fmt.Fprintf(w, "  config %s   (%d behaviors and a default; reload: SIGHUP or POST /config/reload)\n", f.file, len(f.cfg.Behaviors))
	}
}

// reloader re-reads what a running edge was configured with: the
// distribution file (-config) and the certificate files. One reload runs
// at a time; a reload that fails changes nothing.
type reloader struct {
	mu     sync.Mutex
	front  *edgeFront
	dist   distribution // nil without -config
	logger *slog.Logger
}

// newReloader returns the reloader of an edge set up by front.
func newReloader(front *edgeFront, dist distribution, logger *slog.Logger) *reloader {
	if front.cfg == nil {
		dist = nil
	}
	return &reloader{front: front, dist: dist, logger: logger}
}

// adminHook is the admin API's Reload hook: nil without -config.
func (rl *reloader) adminHook() func(context.Context) (admin.ReloadSummary, error) {
	if rl.dist == nil {
		return nil
	}
	return func(ctx context.Context) (admin.ReloadSummary, error) { return rl.reload(admin.Caller(ctx)) }
}

// reload re-reads the distribution file and certificates, for by ("SIGHUP"
// or an admin caller), and logs the result. A bad distribution file is an
// *admin.InvalidConfigError listing every problem.
func (rl *reloader) reload(by string) (admin.ReloadSummary, error) {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	sum, err := rl.reloadLocked()
	if err != nil {
		attrs := []any{"by", by, "err", err}
		var ce *admin.InvalidConfigError
		if errors.As(err, &ce) {
			problems := make([]string, len(ce.Problems))
			for i, p := range ce.Problems {
				problems[i] = p.Pos + ": " + p.Message
			}
			attrs = append(attrs, "problems", problems)
		}
		rl.logger.Error("reload failed; the running configuration stays", attrs...)
		return sum, err
	}
	rl.logger.Info("reloaded", "by", by, "source", sum.Source, "behaviors", sum.Behaviors, "warnings", len(sum.Warnings))
	return sum, nil
}

func (rl *reloader) reloadLocked() (admin.ReloadSummary, error) {
	f := rl.front
	if f.file == "" {
		// Only certificate files to re-read, if any.
		if f.tls == nil || f.tls.selfSigned {
			return admin.ReloadSummary{Reloaded: true}, nil
		}
		cert, err := f.tls.certificate(nil)
		if err != nil {
			return admin.ReloadSummary{}, err
		}
		f.certs.cert.Store(cert)
		return admin.ReloadSummary{Reloaded: true, Source: f.tls.certFile}, nil
	}
	bad := func(msg string) error {
		return &admin.InvalidConfigError{Source: f.file, Problems: []admin.ConfigProblem{{Pos: f.file, Message: msg}}}
	}
	cfg, err := config.Load(f.file)
	if err != nil {
		return admin.ReloadSummary{}, invalidConfig(f.file, err)
	}
	ts := resolveTLS(f.flags, cfg)
	if ts.mode() != f.tls.mode() {
		return admin.ReloadSummary{}, bad(fmt.Sprintf("tls: the edge serves %s; changing to %s needs a restart", f.tls.mode(), ts.mode()))
	}
	var cert *tls.Certificate
	if ts != nil {
		if cert, err = ts.certificate(cfg); err != nil {
			return admin.ReloadSummary{}, bad(err.Error())
		}
		if ts.http2 != f.tls.http2 {
			rl.logger.Warn("tls: http2 changes need a restart", "source", f.file)
		}
	}
	if err := rl.dist.Apply(cfg); err != nil {
		return admin.ReloadSummary{}, bad(err.Error())
	}
	if cert != nil {
		f.certs.cert.Store(cert)
	}
	f.cfg = cfg
	sum := admin.ReloadSummary{Reloaded: true, Behaviors: len(cfg.Behaviors) + 1, Source: f.file}
	for _, w := range cfg.Warnings {
		sum.Warnings = append(sum.Warnings, w.Error())
	}
	return sum, nil
}

// invalidConfig turns config.Load's error into the admin API's.
func invalidConfig(file string, err error) error {
	ce := &admin.InvalidConfigError{Source: file}
	var list *config.ErrorList
	if errors.As(err, &list) {
		for _, e := range list.Errors {
			ce.Problems = append(ce.Problems, admin.ConfigProblem{Pos: e.Pos.String(), Message: e.Msg})
		}
	} else {
		ce.Problems = []admin.ConfigProblem{{Pos: file, Message: err.Error()}}
	}
	return ce
}

// reloadOnSIGHUP reloads on every SIGHUP until ctx ends or the returned
// function is called, which waits for a reload in progress. Errors are
// logged by reload; the process goes on with what it had.
func reloadOnSIGHUP(ctx context.Context, rl *reloader) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer signal.Stop(ch)
		for {
			select {
			case <-ctx.Done():
				return
			case <-ch:
				rl.reload("SIGHUP")
			}
		}
	}()
	return func() { cancel(); <-done }
}
