package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-cache/strata/admin"
	"github.com/strata-cache/strata/edge/config"
)

// writeCert writes a fresh self-signed certificate and its key as PEM files
// in dir, named name.crt and name.key, and returns their paths and the
// certificate.
func writeCert(t *testing.T, dir, name string) (certFile, keyFile string, cert *tls.Certificate) {
	t.Helper()
	cert, err := selfSigned(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

func TestSelfSigned(t *testing.T) {
	cert, err := selfSigned(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	leaf := cert.Leaf
	for _, name := range []string{"localhost", "127.0.0.1", "::1"} {
		if err := leaf.VerifyHostname(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if host, _ := os.Hostname(); host != "" {
		if err := leaf.VerifyHostname(host); err != nil {
			t.Errorf("host name %s: %v", host, err)
		}
	}
	if leaf.PublicKeyAlgorithm != x509.ECDSA || leaf.IsCA {
		t.Errorf("key %v, CA %v", leaf.PublicKeyAlgorithm, leaf.IsCA)
	}
	if fp := fingerprint(cert); len(fp) != 32*3-1 || strings.ToUpper(fp) != fp {
		t.Errorf("fingerprint %q", fp)
	}
}

// A usage problem with TLS or -config stops serve and edge before they bind
// anything, exits 2 and says which flag and file.
func TestTLSAndConfigUsage(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := writeCert(t, dir, "a")
	_, otherKey, _ := writeCert(t, dir, "b")
	missing := filepath.Join(dir, "missing.pem")
	unreadable := filepath.Join(dir, "dir.pem")
	os.Mkdir(unreadable, 0o700)
	badConfig := "../../edge/config/testdata/bad/ttl.yaml"
	for _, tt := range []struct {
		name string
		args []string
		msgs []string
	}{
		{"missing cert", []string{"serve", "-tls-cert", missing, "-tls-key", keyFile}, []string{"-tls-cert " + missing, "no such file"}},
		{"missing key", []string{"edge", "-origin", "http://o", "-tls-cert", certFile, "-tls-key", missing}, []string{"-tls-key " + missing, "no such file"}},
		{"unreadable cert", []string{"serve", "-tls-cert", unreadable, "-tls-key", keyFile}, []string{"-tls-cert " + unreadable}},
		{"key of another cert", []string{"serve", "-tls-cert", certFile, "-tls-key", otherKey}, []string{"-tls-key " + otherKey, "does not match"}},
		{"cert without key", []string{"serve", "-tls-cert", certFile}, []string{"-tls-cert and -tls-key go together"}},
		{"self-signed and files", []string{"edge", "-origin", "http://o", "-tls-self-signed", "-tls-cert", certFile, "-tls-key", keyFile}, []string{"-tls-self-signed cannot"}},
		{"https-addr without TLS", []string{"serve", "-https-addr", "127.0.0.1:0"}, []string{"-https-addr needs"}},
		{"origin and config", []string{"edge", "-origin", "http://o", "-config", "x.yaml"}, []string{"not both"}},
		{"bad config", []string{"serve", "-config", badConfig}, []string{badConfig + ":5:14: ", badConfig + ":16:14: ", "6 problem(s)"}},
		{"bad config on edge", []string{"edge", "-config", badConfig}, []string{badConfig + ":5:14: ", "6 problem(s)"}},
		{"missing config", []string{"edge", "-config", missing}, []string{missing}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append(tt.args, "-data-dir", t.TempDir(), "-admin-token", "t", "-log-level", "error")
			err := run(context.Background(), args, &out, &errOut)
			code := exitCode(err, &errOut)
			for _, msg := range tt.msgs {
				if !strings.Contains(errOut.String(), msg) {
					t.Errorf("stderr lacks %q:\n%s", msg, errOut.String())
				}
			}
			if code != 2 || out.Len() != 0 {
				t.Errorf("exit %d, want 2; stdout %q", code, out.String())
			}
		})
	}
}

func TestResolveTLS(t *testing.T) {
	flags := tlsFlags{certFile: "f.crt", keyFile: "f.key"}
	if s := resolveTLS(tlsFlags{}, nil); s != nil || s.mode() != "plain HTTP" {
		t.Errorf("no TLS: %+v", s)
	}
	if s := resolveTLS(flags, &config.Config{}); s == nil || s.certFile != "f.crt" || !s.http2 || s.fromConfig {
		t.Errorf("flags: %+v", s)
	}
	if s := resolveTLS(flags, &config.Config{TLS: &config.TLS{SelfSigned: true}}); s == nil || !s.selfSigned || s.http2 || !s.fromConfig || s.certFile != "" {
		t.Errorf("the config's tls section overrides the flags: %+v", s)
	}
}

// fakeDist records the distributions applied, or refuses them.
type fakeDist struct {
	applied []*config.Config
	err     error
}

func (d *fakeDist) Apply(cfg *config.Config) error {
	if d.err != nil {
		return d.err
	}
	d.applied = append(d.applied, cfg)
	return nil
}

// logBuffer collects log output for assertions.
func logBuffer() (*slog.Logger, *bytes.Buffer) {
	var b bytes.Buffer
	return slog.New(slog.NewTextHandler(&b, nil)), &b
}

// distFile writes a distribution file; tls is its tls section's body or "".
func distFile(t *testing.T, file, tls string, behaviors ...string) {
	t.Helper()
	var b strings.Builder
	if tls != "" {
		fmt.Fprintf(&b, "tls:\n%s\n", tls)
	}
	b.WriteString("origins:\n  o:\n    url: http://127.0.0.1:1\n")
	if len(behaviors) > 0 {
		b.WriteString("behaviors:\n")
		for _, p := range behaviors {
			fmt.Fprintf(&b, "  - path: %s\n    origin: o\n", p)
		}
	}
	b.WriteString("default_behavior:\n  origin: o\n")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// newFrontForTest loads file like the commands do, with the stub that
// refuses distributions out of the way.
func newFrontForTest(t *testing.T, ef edgeFlags) *edgeFront {
	t.Helper()
	f, err := newEdgeFront("edge", ef, io.Discard, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestReloadDistribution(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "d.yaml")
	distFile(t, file, "", "/a/*")
	front := newFrontForTest(t, edgeFlags{configFile: file})
	dist := &fakeDist{}
	logger, logs := logBuffer()
	rl := newReloader(front, dist, logger)
	hook := rl.adminHook()
	if hook == nil {
		t.Fatal("no admin hook with -config")
	}

	distFile(t, file, "", "/a/*", "/b/*")
	sum, err := rl.reload("admin@127.0.0.1:1234")
	if err != nil || !sum.Reloaded || sum.Behaviors != 3 || sum.Source != file || len(sum.Warnings) != 0 {
		t.Fatalf("reload: %+v %v", sum, err)
	}
	if len(dist.applied) != 1 || dist.applied[0].Select("/b/x").Path != "/b/*" {
		t.Errorf("applied %v", dist.applied)
	}
	if !strings.Contains(logs.String(), `msg=reloaded by=admin@127.0.0.1:1234 source=`+file+` behaviors=3`) {
		t.Errorf("log: %s", logs)
	}

	// A bad file changes nothing and reports every problem with its place.
	os.WriteFile(file, []byte("origins:\n  o:\n    url: ftp://x\nbehaviors: 3\nbogus: 1\n"), 0o600)
	logs.Reset()
	_, err = rl.reload("SIGHUP")
	var ce *admin.InvalidConfigError
	if !errors.As(err, &ce) || ce.Source != file || len(ce.Problems) < 2 || !strings.HasPrefix(ce.Problems[0].Pos, file+":4:12") {
		t.Fatalf("bad file: %v %+v", err, ce.Problems)
	}
	if len(dist.applied) != 1 || front.cfg != dist.applied[0] {
		t.Errorf("a bad file was applied")
	}
	if !strings.Contains(logs.String(), "reload failed") || !strings.Contains(logs.String(), "by=SIGHUP") || !strings.Contains(logs.String(), file+":5:1: unknown field") {
		t.Errorf("log: %s", logs)
	}

	// What the edge refuses is refused the same way.
	distFile(t, file, "", "/c/*")
	dist.err = errors.New("origin o: no")
	if _, err = rl.reload("SIGHUP"); !errors.As(err, &ce) || ce.Problems[0].Message != "origin o: no" || ce.Problems[0].Pos != file {
		t.Errorf("refused by the edge: %v", err)
	}
	if front.cfg != dist.applied[0] {
		t.Errorf("the refused distribution replaced the running one")
	}

	// Turning TLS on needs a restart.
	dist.err = nil
	distFile(t, file, "  self_signed: true", "/c/*")
	if _, err = rl.reload("SIGHUP"); !errors.As(err, &ce) || !strings.Contains(ce.Problems[0].Message, "needs a restart") {
		t.Errorf("TLS turned on: %v", err)
	}
}

func TestReloadWithoutConfig(t *testing.T) {
	front := newFrontForTest(t, edgeFlags{})
	rl := newReloader(front, &fakeDist{}, slog.New(slog.DiscardHandler))
	if rl.adminHook() != nil {
		t.Error("an admin reload hook without -config")
	}
	if _, err := rl.reload("SIGHUP"); err != nil {
		t.Errorf("SIGHUP with nothing to reload: %v", err)
	}
}

// The certificate is re-read on reload; a bad one keeps the old.
func TestReloadCertificateFiles(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, first := writeCert(t, dir, "a")
	front := newFrontForTest(t, edgeFlags{tls: tlsFlags{certFile: certFile, keyFile: keyFile}})
	logger, logs := logBuffer()
	rl := newReloader(front, nil, logger)
	served := func() string { c, _ := front.certs.get(nil); return fingerprint(c) }
	if served() != fingerprint(first) {
		t.Fatal("not serving the flag's certificate")
	}
	os.WriteFile(certFile, []byte("not PEM"), 0o600)
	if _, err := rl.reload("SIGHUP"); err == nil || !strings.Contains(err.Error(), certFile) {
		t.Errorf("bad certificate: %v", err)
	}
	if served() != fingerprint(first) || !strings.Contains(logs.String(), "reload failed") {
		t.Errorf("a bad certificate replaced the good one; log %s", logs)
	}
	second, _, want := writeCert(t, dir, "b")
	os.Rename(second, certFile)
	os.Rename(filepath.Join(dir, "b.key"), keyFile)
	if _, err := rl.reload("SIGHUP"); err != nil || served() != fingerprint(want) {
		t.Errorf("rotation: %v", err)
	}
}

// A distribution's tls section names the certificate, and a reload of the
// file picks up a new one.
func TestReloadCertificateFromConfig(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, first := writeCert(t, dir, "a")
	file := filepath.Join(dir, "d.yaml")
	tlsSection := fmt.Sprintf("  cert_file: %s\n  key_file: %s", certFile, keyFile)
	distFile(t, file, tlsSection)
	front := newFrontForTest(t, edgeFlags{configFile: file, tls: tlsFlags{selfSigned: true}})
	rl := newReloader(front, &fakeDist{}, slog.New(slog.DiscardHandler))
	served := func() string { c, _ := front.certs.get(nil); return fingerprint(c) }
	if !front.tls.fromConfig || served() != fingerprint(first) {
		t.Fatal("the config's certificate does not override -tls-self-signed")
	}
	_, _, second := writeCert(t, dir, "a") // same names, new pair
	if _, err := rl.reload("SIGHUP"); err != nil || served() != fingerprint(second) {
		t.Errorf("reload: %v", err)
	}
	distFile(t, file, "")
	if _, err := rl.reload("SIGHUP"); err == nil || served() != fingerprint(second) {
		t.Errorf("TLS turned off by a reload: %v", err)
	}
}

// The edge listeners serve HTTPS with HTTP/2, and plain HTTP beside it
// with -https-addr.
func TestEdgeListenersTLS(t *testing.T) {
	front := newFrontForTest(t, edgeFlags{tls: tlsFlags{selfSigned: true, httpsAddr: "127.0.0.1:0"}})
	ls, err := front.listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 2 || ls[0].tls != nil || ls[1].tls == nil || !strings.HasPrefix(ls[1].url(), "https://") {
		t.Fatalf("listeners %+v", ls)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, r.Proto, " ", r.TLS != nil) })
	serveWith(ls, h, false, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveAll(ctx, slog.New(slog.DiscardHandler), time.Second, ls) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	pool := x509.NewCertPool()
	pool.AddCert(front.selfSigned.Leaf)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	for _, tt := range []struct{ url, proto, body string }{
		{ls[1].url(), "HTTP/2.0", "HTTP/2.0 true"},
		{ls[0].url(), "HTTP/1.1", "HTTP/1.1 false"},
	} {
		resp, err := c.Get(tt.url + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Proto != tt.proto || string(b) != tt.body {
			t.Errorf("%s: %s %q", tt.url, resp.Proto, b)
		}
	}
	old := &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}
	if _, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: old}}).Get(ls[1].url()); err == nil {
		t.Error("TLS 1.1 accepted")
	}
}
