package main

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/strata-cache/strata/edge/signed"
)

const signURLUsage = `Usage:
  strata sign-url -key FILE -key-id ID [-expires 1h | -expires-at TIME] [-start TIME]
                  [-ip CIDR] [-resource PATTERN] [-cookies] URL
  strata sign-url -generate-key ed25519|rsa -out PREFIX

Prints the URL signed for the edge's signed-URL check (see docs/signing.md), or
with -cookies the Set-Cookie lines of signed cookies. The policy is canned
(Expires) when only an expiry is given, custom (Policy) otherwise. TIME is
RFC 3339, e.g. 2026-03-01T12:00:00Z.

-generate-key writes PREFIX.key (private, mode 0600) and PREFIX.pub (public,
for the edge's key group) and prints a key id derived from the public key.

Flags:
`

// runSignURL is `strata sign-url`: it signs a URL or cookies with a
// private key, or generates a key pair.
func runSignURL(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sign-url", flag.ContinueOnError)
	keyFile := fs.String("key", "", "PEM `file` with the private key (PKCS #8 or PKCS #1; Ed25519 or RSA)")
	keyID := fs.String("key-id", "", "the key pair `id` the edge knows the public key by")
	expires := fs.Duration("expires", time.Hour, "how long from now the signature is valid")
	expiresAt := fs.String("expires-at", "", "when the signature expires, RFC 3339 (instead of -expires)")
	start := fs.String("start", "", "when the signature starts to be valid, RFC 3339 (custom policy)")
	ipRange := fs.String("ip", "", "client address range allowed, CIDR or one address (custom policy)")
	resource := fs.String("resource", "", "resource `pattern` granted, * and ? wildcards (custom policy; default: the URL)")
	cookies := fs.Bool("cookies", false, "print Set-Cookie lines of signed cookies instead of a URL")
	generate := fs.String("generate-key", "", "generate a key pair of this `type`: ed25519 or rsa (3072 bits)")
	out := fs.String("out", "", "with -generate-key, write PREFIX.key and PREFIX.pub")
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), signURLUsage)
		fs.PrintDefaults()
	}
	// Flags may come before or after the URL.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return fmt.Errorf("%w: sign-url: %v", errUsage, err)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	if *generate != "" {
		if len(pos) > 0 || *out == "" {
			return fmt.Errorf("%w: sign-url: -generate-key takes -out PREFIX and no URL", errUsage)
		}
		return generateKey(*generate, *out, stdout)
	}
	if set["out"] {
		return fmt.Errorf("%w: sign-url: -out is only for -generate-key", errUsage)
	}
	if len(pos) > 1 {
		return fmt.Errorf("%w: sign-url: one URL at a time, got %q", errUsage, pos)
	}
	if *keyFile == "" || *keyID == "" {
		return fmt.Errorf("%w: sign-url: -key and -key-id are required", errUsage)
	}
	now := time.Now()
	p := signed.Policy{Resource: *resource, Expires: now.Add(*expires)}
	if set["expires-at"] {
		if set["expires"] {
			return fmt.Errorf("%w: sign-url: give -expires or -expires-at, not both", errUsage)
		}
		t, err := time.Parse(time.RFC3339, *expiresAt)
		if err != nil {
			return fmt.Errorf("%w: sign-url: -expires-at: %v", errUsage, err)
		}
		p.Expires = t
	}
	if !p.Expires.After(now) {
		return fmt.Errorf("%w: sign-url: the expiry %s is not in the future", errUsage, p.Expires.Format(time.RFC3339))
	}
	if *start != "" {
		t, err := time.Parse(time.RFC3339, *start)
		if err != nil {
			return fmt.Errorf("%w: sign-url: -start: %v", errUsage, err)
		}
		if !t.Before(p.Expires) {
			return fmt.Errorf("%w: sign-url: -start is not before the expiry", errUsage)
		}
		p.Start = t
	}
	if *ipRange != "" {
		pfx, err := signed.ParseIPRange(*ipRange)
		if err != nil {
			return fmt.Errorf("%w: sign-url: -ip: %v", errUsage, err)
		}
		p.IPRange = pfx
	}
	pemBytes, err := os.ReadFile(*keyFile)
	if err != nil {
		return fmt.Errorf("sign-url: %w", err)
	}
	key, err := signed.ParsePrivateKeyPEM(pemBytes)
	if err != nil {
		return fmt.Errorf("sign-url: %s: %w", *keyFile, err)
	}
	s := signed.Signer{KeyID: *keyID, Key: key}

	if *cookies {
		if p.Resource == "" {
			if len(pos) == 0 {
				return fmt.Errorf("%w: sign-url: -cookies needs -resource or a URL", errUsage)
			}
			p.Resource = pos[0]
		} else if len(pos) > 0 {
			return fmt.Errorf("%w: sign-url: with -cookies give -resource or a URL, not both", errUsage)
		}
		cs, err := s.SignCookies(p)
		if err != nil {
			return fmt.Errorf("sign-url: %w", err)
		}
		for _, c := range cs {
			if _, err := fmt.Fprintf(stdout, "Set-Cookie: %s\n", c); err != nil {
				return err
			}
		}
		return nil
	}
	if len(pos) == 0 {
		return fmt.Errorf("%w: sign-url: no URL given", errUsage)
	}
	u, err := s.SignURL(pos[0], p)
	if err != nil {
		return fmt.Errorf("sign-url: %w", err)
	}
	_, err = fmt.Fprintln(stdout, u)
	return err
}

// generateKey writes a new key pair to prefix.key (0600, never over an
// existing file) and prefix.pub, and prints a key id for it.
func generateKey(kind, prefix string, stdout io.Writer) error {
	var key crypto.Signer
	var err error
	switch strings.ToLower(kind) {
	case "ed25519":
		_, key, err = ed25519.GenerateKey(rand.Reader)
	case "rsa":
		key, err = rsa.GenerateKey(rand.Reader, 3072)
	default:
		return fmt.Errorf("%w: sign-url: -generate-key %q: want ed25519 or rsa", errUsage, kind)
	}
	if err != nil {
		return fmt.Errorf("sign-url: %w", err)
	}
	privPEM, err := signed.MarshalPrivateKeyPEM(key)
	if err != nil {
		return err
	}
	pubPEM, err := signed.MarshalPublicKeyPEM(key.Public())
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return fmt.Errorf("sign-url: %w", err)
	}
	sum := sha256.Sum256(der)
	id := "K" + strings.ToUpper(hex.EncodeToString(sum[:8]))
	for _, name := range []string{prefix + ".key", prefix + ".pub"} {
		if _, err := os.Lstat(name); err == nil {
			return fmt.Errorf("sign-url: %s exists; not overwriting it", name)
		}
	}
	if err := writeNew(prefix+".key", privPEM, 0o600); err != nil {
		return err
	}
	if err := writeNew(prefix+".pub", pubPEM, 0o644); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "private key: %s.key (keep it secret)\npublic key:  %s.pub (add it to the edge's key group)\nkey id:      %s\n", prefix, prefix, id)
	return err
}

// writeNew creates name with data and perm, failing if it exists.
func writeNew(name string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("sign-url: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("sign-url: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("sign-url: %w", err)
	}
	return nil
}
