package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/strata-cache/strata/edge/config"
)

// tlsFlags are the edge's HTTPS settings shared by serve and edge.
type tlsFlags struct {
	certFile, keyFile string
	selfSigned        bool
	httpsAddr         string
}

func (f *tlsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.certFile, "tls-cert", "", "serve the edge over HTTPS with this PEM certificate chain, leaf first (with -tls-key; re-read on SIGHUP)")
	fs.StringVar(&f.keyFile, "tls-key", "", "the PEM private key of -tls-cert")
	fs.BoolVar(&f.selfSigned, "tls-self-signed", false, "serve the edge over HTTPS with a certificate generated at start for localhost, 127.0.0.1, ::1 and this host name: for development only, browsers do not trust it")
	fs.StringVar(&f.httpsAddr, "https-addr", "", "serve HTTPS on this address and keep plain HTTP on the edge address (so redirect-to-https behaviors have somewhere to send clients); empty: the edge address itself serves HTTPS when TLS is on")
}

// check reports flag combinations that cannot work.
func (f *tlsFlags) check(cmd string) error {
	switch {
	case (f.certFile == "") != (f.keyFile == ""):
		return fmt.Errorf("%w: %s: -tls-cert and -tls-key go together", errUsage, cmd)
	case f.selfSigned && f.certFile != "":
		return fmt.Errorf("%w: %s: -tls-self-signed cannot be used with -tls-cert and -tls-key", errUsage, cmd)
	}
	return nil
}

// tlsSettings is the HTTPS configuration in force: from the distribution
// file's tls section when it has one, else from the flags.
type tlsSettings struct {
	// certFile and keyFile are re-read on reload; empty when self-signed
	// or when the distribution file holds them (it is re-read instead).
	certFile, keyFile string
	selfSigned        bool
	http2             bool
	// fromConfig is true when the distribution file's tls section set
	// these, overriding the flags.
	fromConfig bool
}

// resolveTLS returns the HTTPS settings of flags and cfg (which may be
// nil), or nil when the edge serves plain HTTP. The tls section of a
// distribution file overrides the flags.
func resolveTLS(f tlsFlags, cfg *config.Config) *tlsSettings {
	if cfg != nil && cfg.TLS != nil {
		return &tlsSettings{selfSigned: cfg.TLS.SelfSigned, http2: cfg.TLS.HTTP2, fromConfig: true}
	}
	if f.certFile == "" && !f.selfSigned {
		return nil
	}
	return &tlsSettings{certFile: f.certFile, keyFile: f.keyFile, selfSigned: f.selfSigned, http2: true}
}

// mode names how certificates are obtained, for comparing a reloaded
// configuration with the running one.
func (s *tlsSettings) mode() string {
	switch {
	case s == nil:
		return "plain HTTP"
	case s.selfSigned:
		return "HTTPS with a self-signed certificate"
	}
	return "HTTPS with a certificate"
}

// certificate returns the certificate s names: the one the distribution
// file's loading read, or the flags' files read now. Self-signed settings
// return nil: the certificate is made once, at start.
func (s *tlsSettings) certificate(cfg *config.Config) (*tls.Certificate, error) {
	switch {
	case s.selfSigned:
		return nil, nil
	case s.fromConfig:
		return cfg.TLS.Certificate, nil
	}
	return loadKeyPair(s.certFile, s.keyFile)
}

// loadKeyPair reads a certificate and its key, naming the flag and file
// of any problem.
func loadKeyPair(certFile, keyFile string) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("-tls-cert %s: %w", certFile, unwrapPath(err))
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("-tls-key %s: %w", keyFile, unwrapPath(err))
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("-tls-cert %s and -tls-key %s: %w", certFile, keyFile, err)
	}
	return &cert, nil
}

// unwrapPath drops the operation and path an *os.PathError repeats.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// certSource hands the TLS stack the current certificate; a reload swaps
// it without touching connections or listeners.
type certSource struct {
	cert atomic.Pointer[tls.Certificate]
}

func (c *certSource) get(*tls.ClientHelloInfo) (*tls.Certificate, error) { return c.cert.Load(), nil }

// tlsConfig is the edge's TLS configuration: TLS 1.2 at least, the
// certificate from c, and HTTP/2 offered by ALPN when http2 is set.
func (c *certSource) tlsConfig(http2 bool) *tls.Config {
	protos := []string{"h2", "http/1.1"}
	if !http2 {
		protos = protos[1:]
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.get, NextProtos: protos}
}

// selfSignedValidity is how long a generated certificate is valid.
const selfSignedValidity = 30 * 24 * time.Hour

// selfSigned makes an ECDSA P-256 certificate for localhost, 127.0.0.1,
// ::1 and the host name, signed by its own key.
func selfSigned(now time.Time) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	names := []string{"localhost"}
	if host, err := os.Hostname(); err == nil && host != "" && host != "localhost" {
		names = append(names, host)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"Strata development"}, CommonName: "localhost"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(selfSignedValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              names,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// fingerprint is the SHA-256 of a certificate's leaf, as openssl prints it
// (AB:CD:...).
func fingerprint(cert *tls.Certificate) string {
	sum := sha256.Sum256(cert.Certificate[0])
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}
