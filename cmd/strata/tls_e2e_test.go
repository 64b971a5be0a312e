package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// watched is a running strata whose stdout and stderr lines can be
// waited for.
type watched struct {
	t        *testing.T
	cmd      *exec.Cmd
	out, err chan string
}

// startWatched runs strata with args and waits for a stdout line holding
// ready.
func startWatched(t *testing.T, ready string, env []string, args ...string) *watched {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	w := &watched{t: t, cmd: cmd, out: make(chan string, 1000), err: make(chan string, 1000)}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		r  io.Reader
		ch chan string
	}{{stdout, w.out}, {stderr, w.err}} {
		go func() {
			sc := bufio.NewScanner(p.r)
			for sc.Scan() {
				p.ch <- sc.Text()
			}
			close(p.ch)
		}()
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	w.wait(w.out, ready)
	return w
}

// wait returns the next line of ch holding s, failing the test if the
// process ends or 30 seconds pass first.
func (w *watched) wait(ch chan string, s string) string {
	w.t.Helper()
	timeout := time.After(30 * time.Second)
	var seen []string
	for {
		select {
		case line, ok := <-ch:
			if !ok {
				w.t.Fatalf("strata ended before printing %q; saw %q", s, seen)
			}
			if strings.Contains(line, s) {
				return line
			}
			seen = append(seen, line)
		case <-timeout:
			w.t.Fatalf("strata did not print %q in 30s; saw %q", s, seen)
		}
	}
}

// tlsGet fetches url on a new connection trusting only pool (or anything,
// when pool is nil) and returns the response, its body and the
// certificate the server presented.
func tlsGet(t *testing.T, pool *x509.CertPool, url string) (*http.Response, string, *x509.Certificate) {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, InsecureSkipVerify: pool == nil}, ForceAttemptHTTP2: true, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b), resp.TLS.PeerCertificates[0]
}

func certFingerprint(c *x509.Certificate) string {
	return fingerprint(&tls.Certificate{Certificate: [][]byte{c.Raw}})
}

// strata edge -tls-self-signed serves HTTPS with HTTP/2 on -https-addr and
// plain HTTP on -listen, and prints the certificate's fingerprint.
func TestEdgeSelfSignedTLS(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "from origin")
	}))
	defer origin.Close()
	plain, secure := freeAddr(t), freeAddr(t)
	p := startWatched(t, "strata edge", []string{"STRATA_ADMIN_TOKEN=tok"}, "edge", "-origin", origin.URL, "-listen", plain,
		"-https-addr", secure, "-tls-self-signed", "-admin-addr", freeAddr(t), "-data-dir", t.TempDir())
	line := p.wait(p.out, "self-signed certificate, SHA-256 ")
	fp := line[strings.LastIndex(line, " ")+1:]
	if warn := p.wait(p.err, "self-signed certificate"); !strings.Contains(warn, "level=WARN") || !strings.Contains(warn, fp) {
		t.Errorf("warning: %s", warn)
	}

	resp, body, cert := tlsGet(t, nil, "https://"+secure+"/page")
	if resp.Proto != "HTTP/2.0" || body != "from origin" || certFingerprint(cert) != fp {
		t.Fatalf("HTTPS: %s %q, certificate %s, printed %s", resp.Proto, body, certFingerprint(cert), fp)
	}
	// The certificate is good for 127.0.0.1 once trusted.
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	if resp, _, _ = tlsGet(t, pool, "https://"+secure+"/page"); resp.Header.Get("X-Cache") != "Hit from strata" || resp.TLS.Version < tls.VersionTLS12 {
		t.Errorf("second HTTPS request: %v", resp.Header)
	}
	// Plain HTTP beside it shares the cache; the scheme is part of the key.
	resp, body = client{t}.do("GET", "http://"+plain+"/page", "")
	if resp.StatusCode != 200 || body != "from origin" || resp.TLS != nil {
		t.Errorf("HTTP: %d %q", resp.StatusCode, body)
	}
}

// On SIGHUP strata re-reads the certificate files: a bad file is logged
// and the old certificate served on; a good one is served from then on.
func TestEdgeReloadsCertificateOnSIGHUP(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer origin.Close()
	dir := t.TempDir()
	certFile, keyFile, first := writeCert(t, dir, "edge")
	addr := freeAddr(t)
	p := startWatched(t, "strata edge", []string{"STRATA_ADMIN_TOKEN=tok"}, "edge", "-origin", origin.URL, "-listen", addr,
		"-tls-cert", certFile, "-tls-key", keyFile, "-admin-addr", freeAddr(t), "-data-dir", t.TempDir())
	if _, body, cert := tlsGet(t, nil, "https://"+addr+"/"); body != "ok" || certFingerprint(cert) != fingerprint(first) {
		t.Fatalf("before: %q", body)
	}

	os.WriteFile(certFile, []byte("-----BEGIN CERTIFICATE-----\nbroken\n"), 0o600)
	p.cmd.Process.Signal(syscall.SIGHUP)
	if line := p.wait(p.err, "reload failed"); !strings.Contains(line, "by=SIGHUP") || !strings.Contains(line, certFile) {
		t.Errorf("log: %s", line)
	}
	if _, body, cert := tlsGet(t, nil, "https://"+addr+"/"); body != "ok" || certFingerprint(cert) != fingerprint(first) {
		t.Errorf("after a bad certificate: %q, another certificate", body)
	}

	newCert, newKey, second := writeCert(t, dir, "next")
	os.Rename(newKey, keyFile)
	os.Rename(newCert, certFile)
	p.cmd.Process.Signal(syscall.SIGHUP)
	if line := p.wait(p.err, "msg=reloaded"); !strings.Contains(line, "by=SIGHUP") {
		t.Errorf("log: %s", line)
	}
	if _, _, cert := tlsGet(t, nil, "https://"+addr+"/"); certFingerprint(cert) != fingerprint(second) {
		t.Errorf("the new certificate is not served")
	}
}

// Without -config, POST /config/reload says there is nothing to reload.
func TestReloadRouteWithoutConfig(t *testing.T) {
	origin := httptest.NewServer(http.NotFoundHandler())
	defer origin.Close()
	adminAddr := freeAddr(t)
	startWatched(t, "strata edge", []string{"STRATA_ADMIN_TOKEN=tok"}, "edge", "-origin", origin.URL, "-listen", freeAddr(t),
		"-admin-addr", adminAddr, "-data-dir", t.TempDir())
	c := client{t}
	resp, body := c.do("POST", "http://"+adminAddr+"/config/reload", "", "Authorization", "Bearer tok")
	if resp.StatusCode != 404 || !strings.Contains(body, "-config") {
		t.Errorf("reload: %d %s", resp.StatusCode, body)
	}
	// /explain answers for the edge.
	resp, body = c.do("GET", "http://"+adminAddr+"/explain?url="+"http://shop.example/a?b=1", "", "Authorization", "Bearer tok")
	var ex struct {
		Behavior struct{ Name string } `json:"behavior"`
		Key      string                `json:"key"`
	}
	json.Unmarshal([]byte(body), &ex)
	if resp.StatusCode != 200 || ex.Behavior.Name != "origin" || !strings.HasPrefix(ex.Key, "http://shop.example/a") {
		t.Errorf("explain: %d %s", resp.StatusCode, body)
	}
	if resp, body = c.do("GET", "http://"+adminAddr+"/cache/key-cardinality", "", "Authorization", "Bearer tok"); resp.StatusCode != 200 || !strings.Contains(body, `"components"`) {
		t.Errorf("key cardinality: %d %s", resp.StatusCode, body)
	}
}
