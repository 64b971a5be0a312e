package config

import (
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Defaults, as in CloudFront.
const (
	DefaultConnectTimeout  = 10 * time.Second
	DefaultResponseTimeout = 30 * time.Second
	DefaultDefaultTTL      = day
	DefaultMaxTTL          = year
)

// DefaultFailoverStatus are the statuses an origin group fails over on when
// failover_status is not given.
var DefaultFailoverStatus = []int{500, 502, 503, 504}

// checker compiles a File, collecting every problem.
type checker struct {
	name  string
	dir   string // base of relative paths
	ps    *positions
	errs  []Error
	warns []Error
	cfg   *Config
	index []int // the 1-based place in File.Behaviors of each of cfg.Behaviors
}

func (c *checker) errorf(path string, format string, args ...any) {
	c.errs = append(c.errs, Error{Pos: c.pos(path), Msg: fmt.Sprintf(format, args...)})
}

func (c *checker) warnf(path string, format string, args ...any) {
	c.warns = append(c.warns, Error{Pos: c.pos(path), Msg: fmt.Sprintf(format, args...)})
}

// pos returns path's position, or that of the nearest written ancestor.
func (c *checker) pos(path string) Pos {
	if c.ps == nil {
		return Pos{File: c.name}
	}
	for p := path; ; {
		if pos, ok := c.ps.m[p]; ok {
			return pos
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			return Pos{File: c.name, Line: 1, Col: 1}
		}
		p = p[:i]
	}
}

// keyErrorf reports a problem with a map entry's name, at the name.
func (c *checker) keyErrorf(path string, format string, args ...any) {
	pos := c.pos(path)
	if c.ps != nil {
		if p, ok := c.ps.keys[path]; ok {
			pos = p
		}
	}
	c.errs = append(c.errs, Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// line describes where a behavior is, for messages about another one.
func (c *checker) line(b *Behavior) string {
	if b.Pos.Line == 0 {
		return b.Path
	}
	return fmt.Sprintf("%s, line %d", b.Path, b.Pos.Line)
}

// file resolves a relative file name against the distribution file's
// directory.
func (c *checker) file(name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	abs, err := filepath.Abs(filepath.Join(c.dir, name))
	if err != nil {
		return filepath.Join(c.dir, name)
	}
	return abs
}

func compile(name string, f *File, ps *positions) (*Config, []Error) {
	c := &checker{name: name, dir: filepath.Dir(name), ps: ps}
	c.cfg = &Config{
		Source:                name,
		Comment:               f.Comment,
		File:                  f,
		Origins:               map[string]*Origin{},
		CachePolicies:         map[string]*CachePolicy{},
		OriginRequestPolicies: map[string]*OriginRequestPolicy{},
		KeyGroups:             map[string]*KeyGroup{},
	}
	c.origins(f)
	c.keyGroups(f)
	c.cachePolicies(f)
	c.originRequestPolicies(f)
	c.behaviors(f)
	c.tls(f)
	if len(c.errs) > 0 {
		return nil, c.errs
	}
	c.cfg.Warnings = sortErrors(c.warns)
	return c.cfg, nil
}

func (c *checker) origins(f *File) {
	if len(f.Origins) == 0 {
		c.errorf(".origins", "no origins: a distribution needs at least one (url:, dir: or group:)")
		return
	}
	names := slices.Sorted(maps.Keys(f.Origins))
	var groups []string
	for _, name := range names {
		spec, path := f.Origins[name], keyPath(".origins", name)
		if spec == nil {
			c.errorf(path, "origin %q is empty: set url, dir or group", name)
			continue
		}
		if strings.TrimSpace(name) == "" {
			c.errorf(path, "an origin's name is empty")
		}
		kinds := 0
		for _, set := range []bool{spec.URL != "", spec.Dir != "", spec.Group != nil} {
			if set {
				kinds++
			}
		}
		if kinds != 1 {
			c.keyErrorf(path, "origin %q: set exactly one of url, dir and group", name)
			continue
		}
		o := &Origin{Name: name}
		switch {
		case spec.URL != "":
			o.Kind = OriginURL
			c.urlOrigin(o, spec, path)
		case spec.Dir != "":
			o.Kind = OriginDir
			o.Dir = c.file(spec.Dir)
			if fi, err := os.Stat(o.Dir); err != nil {
				c.errorf(fieldPath(path, "dir"), "origin %q: dir: %v", name, unwrapPathError(err))
			} else if !fi.IsDir() {
				c.errorf(fieldPath(path, "dir"), "origin %q: dir %s is not a directory", name, spec.Dir)
			}
		default:
			o.Kind = OriginGroup
			groups = append(groups, name)
		}
		if o.Kind != OriginURL {
			for field, set := range map[string]bool{
				"connect_timeout":  spec.ConnectTimeout != nil,
				"response_timeout": spec.ResponseTimeout != nil,
				"max_connections":  spec.MaxConnections != 0,
				"headers":          spec.Headers != nil,
				"oac":              spec.OAC != nil,
			} {
				if set {
					c.errorf(fieldPath(path, field), "origin %q: %s applies only to url origins", name, field)
				}
			}
		}
		c.cfg.Origins[name] = o
	}
	for _, name := range groups {
		c.group(c.cfg.Origins[name], f.Origins[name].Group, fieldPath(keyPath(".origins", name), "group"))
	}
}

func (c *checker) urlOrigin(o *Origin, spec *OriginSpec, path string) {
	u, err := url.Parse(spec.URL)
	switch {
	case err != nil:
		c.errorf(fieldPath(path, "url"), "origin %q: bad url: %v", o.Name, err)
	case u.Scheme != "http" && u.Scheme != "https":
		c.errorf(fieldPath(path, "url"), "origin %q: url %q: scheme must be http or https", o.Name, spec.URL)
	case u.Host == "" || u.Hostname() == "":
		c.errorf(fieldPath(path, "url"), "origin %q: url %q has no host", o.Name, spec.URL)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		c.errorf(fieldPath(path, "url"), "origin %q: url %q: only scheme, host, port and path are allowed", o.Name, spec.URL)
	default:
		o.URL = u
	}
	o.ConnectTimeout = c.timeout(o.Name, spec.ConnectTimeout, DefaultConnectTimeout, fieldPath(path, "connect_timeout"), "connect_timeout")
	o.ResponseTimeout = c.timeout(o.Name, spec.ResponseTimeout, DefaultResponseTimeout, fieldPath(path, "response_timeout"), "response_timeout")
	if spec.MaxConnections < 0 {
		c.errorf(fieldPath(path, "max_connections"), "origin %q: max_connections is negative", o.Name)
	}
	o.MaxConnections = max(spec.MaxConnections, 0)
	if len(spec.Headers) > 0 {
		o.Headers = c.headers(spec.Headers, fieldPath(path, "headers"), "origin "+fmt.Sprintf("%q", o.Name))
	}
	if spec.OAC != nil {
		o.OAC = c.oac(o.Name, spec.OAC, fieldPath(path, "oac"))
	}
}

func (c *checker) timeout(origin string, d *Duration, def time.Duration, path, field string) time.Duration {
	if d == nil {
		return def
	}
	if d.Duration <= 0 {
		c.errorf(path, "origin %q: %s (%s) must be more than 0", origin, field, d.Duration)
		return def
	}
	return d.Duration
}

func (c *checker) headers(h map[string]string, path, owner string) http.Header {
	out := http.Header{}
	for _, name := range slices.Sorted(maps.Keys(h)) {
		p := keyPath(path, name)
		if !validHeaderName(name) {
			c.keyErrorf(p, "%s: %q is not a valid header name", owner, name)
			continue
		}
		if strings.ContainsAny(h[name], "\r\n\x00") {
			c.errorf(p, "%s: header %s: value holds a line break or NUL", owner, name)
			continue
		}
		if strings.ContainsFunc(h[name], func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
			// net/http refuses to send such a value: every request would fail.
			c.errorf(p, "%s: header %s: value holds a control character", owner, name)
			continue
		}
		if framing[http.CanonicalHeaderKey(name)] {
			// The edge and net/http own these: a fixed value would break
			// the framing of every message, or the connection.
			c.keyErrorf(p, "%s: header %s cannot be set: it frames the message or the connection", owner, name)
			continue
		}
		out.Set(name, h[name])
	}
	return out
}

// framing are the fields that say how a message is delimited or how the
// connection behaves, which configured headers must not set.
var framing = map[string]bool{
	"Content-Length": true, "Transfer-Encoding": true, "Connection": true, "Keep-Alive": true,
	"Upgrade": true, "Te": true, "Trailer": true, "Proxy-Connection": true, "Host": true,
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		ok := 'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", ch) >= 0
		if !ok {
			return false
		}
	}
	return true
}

func (c *checker) oac(origin string, spec *OACSpec, path string) *OAC {
	o := &OAC{KeyID: spec.KeyID}
	if spec.KeyID == "" {
		c.errorf(path, "origin %q: oac: key_id is required", origin)
	}
	switch {
	case (spec.Secret == "") == (spec.SecretFile == ""):
		c.errorf(path, "origin %q: oac: set exactly one of secret and secret_file", origin)
	case spec.Secret != "":
		o.Secret = []byte(spec.Secret)
	default:
		b, err := os.ReadFile(c.file(spec.SecretFile))
		if err != nil {
			c.errorf(fieldPath(path, "secret_file"), "origin %q: oac: secret_file: %v", origin, unwrapPathError(err))
			break
		}
		o.Secret = []byte(strings.TrimRight(string(b), "\r\n"))
		if len(o.Secret) == 0 {
			c.errorf(fieldPath(path, "secret_file"), "origin %q: oac: secret_file %s is empty", origin, spec.SecretFile)
		}
	}
	return o
}

func (c *checker) group(o *Origin, spec *GroupSpec, path string) {
	g := &OriginGroupConfig{FailoverOnConnectionError: true}
	if spec.FailoverOnConnectionError != nil {
		g.FailoverOnConnectionError = *spec.FailoverOnConnectionError
	}
	member := func(field, name string) *Origin {
		p := fieldPath(path, field)
		if name == "" {
			c.errorf(p, "origin group %q: %s is required", o.Name, field)
			return nil
		}
		m, ok := c.cfg.Origins[name]
		if !ok {
			c.errorf(p, "origin group %q: %s: unknown origin %q%s", o.Name, field, name, suggest(name, slices.Collect(maps.Keys(c.cfg.Origins))))
			return nil
		}
		if m.Kind == OriginGroup {
			c.errorf(p, "origin group %q: %s %q is itself a group; groups do not nest", o.Name, field, name)
			return nil
		}
		return m
	}
	g.Primary = member("primary", spec.Primary)
	g.Secondary = member("secondary", spec.Secondary)
	if spec.Primary != "" && spec.Primary == spec.Secondary {
		c.errorf(fieldPath(path, "secondary"), "origin group %q: primary and secondary are both %q", o.Name, spec.Primary)
	}
	g.FailoverStatus = slices.Clone(DefaultFailoverStatus)
	if spec.FailoverStatus != nil {
		g.FailoverStatus = nil
		seen := map[int]bool{}
		for i, s := range spec.FailoverStatus {
			p := indexPath(fieldPath(path, "failover_status"), i)
			switch {
			case s < 400 || s > 599:
				c.errorf(p, "origin group %q: failover status %d is not an error status (400-599)", o.Name, s)
			case seen[s]:
				c.errorf(p, "origin group %q: failover status %d is listed twice", o.Name, s)
			}
			seen[s] = true
			g.FailoverStatus = append(g.FailoverStatus, s)
		}
		if len(spec.FailoverStatus) == 0 && !g.FailoverOnConnectionError {
			c.errorf(path, "origin group %q never fails over: failover_status is empty and failover_on_connection_error is false", o.Name)
		}
	}
	o.Group = g
}

func (c *checker) keyGroups(f *File) {
	ids := map[string]string{} // key ID -> group
	for _, name := range slices.Sorted(maps.Keys(f.KeyGroups)) {
		spec, path := f.KeyGroups[name], keyPath(".key_groups", name)
		g := &KeyGroup{Name: name}
		c.cfg.KeyGroups[name] = g
		if spec == nil || len(spec.Keys) == 0 {
			c.errorf(path, "key group %q has no keys", name)
			continue
		}
		for i, ks := range spec.Keys {
			p := indexPath(fieldPath(path, "keys"), i)
			if ks == nil {
				c.errorf(p, "key group %q: key %d is empty", name, i+1)
				continue
			}
			if ks.ID == "" {
				c.errorf(p, "key group %q: key %d has no id", name, i+1)
			} else if other, dup := ids[ks.ID]; dup {
				c.errorf(fieldPath(p, "id"), "key group %q: key id %q is also in key group %q; key ids are unique", name, ks.ID, other)
			} else {
				ids[ks.ID] = name
			}
			var pemText []byte
			switch {
			case (ks.PublicKey == "") == (ks.PublicKeyFile == ""):
				c.errorf(p, "key group %q: key %q: set exactly one of public_key and public_key_file", name, ks.ID)
				continue
			case ks.PublicKey != "":
				pemText = []byte(ks.PublicKey)
				p = fieldPath(p, "public_key")
			default:
				b, err := os.ReadFile(c.file(ks.PublicKeyFile))
				p = fieldPath(p, "public_key_file")
				if err != nil {
					c.errorf(p, "key group %q: key %q: %v", name, ks.ID, unwrapPathError(err))
					continue
				}
				pemText = b
			}
			key, err := parsePublicKey(pemText)
			if err != nil {
				c.errorf(p, "key group %q: key %q: %v", name, ks.ID, err)
				continue
			}
			g.Keys = append(g.Keys, &PublicKey{ID: ks.ID, Key: key})
		}
	}
}

// parsePublicKey parses a PEM "PUBLIC KEY" block holding an RSA key of at
// least 2048 bits or an Ed25519 key.
func parsePublicKey(text []byte) (any, error) {
	block, _ := pem.Decode(text)
	if block == nil {
		return nil, fmt.Errorf("no PEM block found: want -----BEGIN PUBLIC KEY-----")
	}
	if block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("PEM block is %q: want a PKIX \"PUBLIC KEY\"", block.Type)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("bad public key: %v", err)
	}
	switch k := key.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("RSA key is %d bits; want at least 2048", k.N.BitLen())
		}
	case ed25519.PublicKey:
	default:
		return nil, fmt.Errorf("%T keys are not supported; want RSA or Ed25519", key)
	}
	return key, nil
}

func (c *checker) cachePolicies(f *File) {
	for _, name := range slices.Sorted(maps.Keys(f.CachePolicies)) {
		spec, path := f.CachePolicies[name], keyPath(".cache_policies", name)
		if ManagedCachePolicy(name) != nil {
			c.keyErrorf(path, "cache policy %q: the name is a managed policy's; choose another", name)
			continue
		}
		if spec == nil {
			spec = &CachePolicySpec{}
		}
		p := &CachePolicy{Name: name, OverridePrivateAndNoStore: spec.OverridePrivateAndNoStore}
		c.ttls(p, spec, path)
		what := fmt.Sprintf("cache policy %q", name)
		p.QueryStrings = c.keyFilter(spec.QueryStrings, fieldPath(path, "query_strings"), what+": query_strings", false)
		p.Cookies = c.keyFilter(spec.Cookies, fieldPath(path, "cookies"), what+": cookies", false)
		p.Headers = KeyFilter{Fold: true}
		if len(spec.Headers) > 0 {
			p.Headers = c.keyFilter(&KeyList{Allow: spec.Headers}, fieldPath(path, "headers"), what+": headers", true)
		}
		seen := map[string]bool{}
		for i, enc := range spec.AcceptEncoding {
			ep := indexPath(fieldPath(path, "accept_encoding"), i)
			switch {
			case enc != "gzip" && enc != "br" && enc != "zstd":
				c.errorf(ep, "%s: accept_encoding %q: want gzip, br or zstd", what, enc)
			case seen[enc]:
				c.errorf(ep, "%s: accept_encoding %q is listed twice", what, enc)
			default:
				p.AcceptEncoding = append(p.AcceptEncoding, enc)
			}
			seen[enc] = true
		}
		if p.OverridePrivateAndNoStore {
			c.warnf(fieldPath(path, "override_private_and_no_store"),
				"cache policy %q: override_private_and_no_store: responses marked private or no-store are cached and shared for min_ttl (%s)", name, p.MinTTL)
		}
		c.cfg.CachePolicies[name] = p
	}
}

func (c *checker) ttls(p *CachePolicy, spec *CachePolicySpec, path string) {
	if spec.MinTTL != nil {
		p.MinTTL = spec.MinTTL.Duration
	}
	p.DefaultTTL = max(DefaultDefaultTTL, p.MinTTL)
	if spec.DefaultTTL != nil {
		p.DefaultTTL = spec.DefaultTTL.Duration
	}
	p.MaxTTL = max(DefaultMaxTTL, p.DefaultTTL)
	if spec.MaxTTL != nil {
		p.MaxTTL = spec.MaxTTL.Duration
	}
	negative := false
	for _, t := range []struct {
		field string
		d     *Duration
	}{{"min_ttl", spec.MinTTL}, {"default_ttl", spec.DefaultTTL}, {"max_ttl", spec.MaxTTL}} {
		if t.d != nil && t.d.Duration < 0 {
			c.errorf(fieldPath(path, t.field), "cache policy %q: %s (%s) is negative", p.Name, t.field, t.d.Duration)
			negative = true
		}
	}
	if negative {
		return
	}
	if p.MinTTL > p.DefaultTTL {
		c.errorf(fieldPath(path, "min_ttl"), "cache policy %q: min_ttl (%s) is more than default_ttl (%s)", p.Name, p.MinTTL, p.DefaultTTL)
	}
	if p.DefaultTTL > p.MaxTTL {
		c.errorf(fieldPath(path, "default_ttl"), "cache policy %q: default_ttl (%s) is more than max_ttl (%s)", p.Name, p.DefaultTTL, p.MaxTTL)
	}
	if p.MinTTL > p.MaxTTL && p.MinTTL <= p.DefaultTTL {
		c.errorf(fieldPath(path, "min_ttl"), "cache policy %q: min_ttl (%s) is more than max_ttl (%s)", p.Name, p.MinTTL, p.MaxTTL)
	}
}

// keyFilter compiles a KeyList; nil is none.
func (c *checker) keyFilter(k *KeyList, path, what string, fold bool) KeyFilter {
	f := KeyFilter{Fold: fold}
	if k == nil {
		return f
	}
	names := k.Allow
	switch {
	case k.Allow != nil:
		f.Mode = FilterAllow
	case k.Deny != nil:
		f.Mode, names = FilterDeny, k.Deny
	case k.Mode == KeyListAll:
		f.Mode = FilterAll
		return f
	case k.Mode == KeyListNone, k.Mode == "":
		return f
	default:
		c.errorf(path, "%s: %q: %v", what, k.Mode, errKeyList)
		return f
	}
	seen := map[string]bool{}
	for _, n := range names {
		key := n
		if fold {
			key = http.CanonicalHeaderKey(n)
			if !validHeaderName(n) {
				c.errorf(path, "%s: %q is not a valid header name", what, n)
			}
		}
		if seen[key] {
			c.errorf(path, "%s: %q is listed twice", what, n)
			continue
		}
		seen[key] = true
		f.Names = append(f.Names, key)
	}
	return f
}

func (c *checker) originRequestPolicies(f *File) {
	for _, name := range slices.Sorted(maps.Keys(f.OriginRequestPolicies)) {
		spec, path := f.OriginRequestPolicies[name], keyPath(".origin_request_policies", name)
		if ManagedOriginRequestPolicy(name) != nil {
			c.keyErrorf(path, "origin request policy %q: the name is a managed policy's; choose another", name)
			continue
		}
		if spec == nil {
			spec = &OriginRequestPolicySpec{}
		}
		what := fmt.Sprintf("origin request policy %q", name)
		c.cfg.OriginRequestPolicies[name] = &OriginRequestPolicy{
			Name:         name,
			Headers:      c.keyFilter(spec.Headers, fieldPath(path, "headers"), what+": headers", true),
			Cookies:      c.keyFilter(spec.Cookies, fieldPath(path, "cookies"), what+": cookies", false),
			QueryStrings: c.keyFilter(spec.QueryStrings, fieldPath(path, "query_strings"), what+": query_strings", false),
		}
	}
}

func (c *checker) behaviors(f *File) {
	for i, spec := range f.Behaviors {
		path := indexPath(".behaviors", i)
		if spec == nil {
			c.errorf(path, "behavior %d is empty", i+1)
			continue
		}
		what := fmt.Sprintf("behavior %d", i+1)
		if spec.Path == "" {
			c.errorf(path, "%s has no path (the default_behavior is the one without)", what)
			continue
		}
		what = fmt.Sprintf("behavior %d (%s)", i+1, spec.Path)
		pat, err := CompilePattern(spec.Path)
		if err != nil {
			c.errorf(fieldPath(path, "path"), "%s: %v", what, err)
			continue
		}
		b := c.behavior(spec, path, what)
		b.Path, b.Pattern = pat.String(), pat
		for j, prev := range c.cfg.Behaviors {
			if prev.Pattern.covers(&b.Pattern) {
				how := "matches every path it matches"
				if prev.Path == b.Path {
					how = "has the same pattern"
				}
				c.errorf(fieldPath(path, "path"), "%s can never match: behavior %d (%s) comes first and %s",
					what, c.index[j], c.line(prev), how)
				break
			}
		}
		c.cfg.Behaviors = append(c.cfg.Behaviors, b)
		c.index = append(c.index, i+1)
	}
	if f.DefaultBehavior == nil {
		c.errorf(".default_behavior", "no default_behavior: it handles requests no behavior matches, and is required")
		c.cfg.Default = &Behavior{}
		return
	}
	if f.DefaultBehavior.Path != "" {
		c.errorf(".default_behavior.path", "default_behavior has no path: it handles whatever no behavior matches")
	}
	d := c.behavior(f.DefaultBehavior, ".default_behavior", "default_behavior")
	d.Pattern = compilePattern("*")
	c.cfg.Default = d
}

func (c *checker) behavior(spec *BehaviorSpec, path, what string) *Behavior {
	b := &Behavior{Pos: c.pos(path), Compress: spec.Compress}
	if spec.Origin == "" {
		c.errorf(path, "%s: origin is required", what)
	} else if o, ok := c.cfg.Origins[spec.Origin]; ok {
		b.Origin = o
	} else {
		c.errorf(fieldPath(path, "origin"), "%s: unknown origin %q%s", what, spec.Origin, suggest(spec.Origin, slices.Collect(maps.Keys(c.cfg.Origins))))
	}

	b.AllowedMethods = MethodsGetHead
	if spec.AllowedMethods != nil {
		m, ok := c.methods(spec.AllowedMethods, fieldPath(path, "allowed_methods"), what+": allowed_methods")
		switch {
		case !ok:
		case m != MethodsGetHead && m != MethodsGetHeadOptions && m != MethodsAll:
			c.errorf(fieldPath(path, "allowed_methods"), "%s: allowed_methods [%s] is not one of CloudFront's sets: [GET, HEAD], [GET, HEAD, OPTIONS] or all seven", what, m)
		default:
			b.AllowedMethods = m
		}
	}
	b.CachedMethods = MethodsGetHead
	if spec.CachedMethods != nil {
		m, ok := c.methods(spec.CachedMethods, fieldPath(path, "cached_methods"), what+": cached_methods")
		switch {
		case !ok:
		case m != MethodsGetHead && m != MethodsGetHeadOptions:
			c.errorf(fieldPath(path, "cached_methods"), "%s: cached_methods [%s]: want [GET, HEAD] or [GET, HEAD, OPTIONS]", what, m)
		case m&^b.AllowedMethods != 0:
			c.errorf(fieldPath(path, "cached_methods"), "%s: cached_methods [%s] are not all in allowed_methods [%s]", what, m, b.AllowedMethods)
		default:
			b.CachedMethods = m
		}
	}

	switch vp := ViewerProtocol(spec.ViewerProtocol); vp {
	case "":
		b.ViewerProtocol = AllowAll
	case AllowAll, RedirectToHTTPS, HTTPSOnly:
		b.ViewerProtocol = vp
	default:
		c.errorf(fieldPath(path, "viewer_protocol"), "%s: viewer_protocol %q: want allow-all, redirect-to-https or https-only", what, spec.ViewerProtocol)
	}

	b.CachePolicy = c.cachePolicy(spec.CachePolicy, fieldPath(path, "cache_policy"), what)
	if spec.OriginRequestPolicy != "" {
		b.OriginRequestPolicy = c.originRequestPolicy(spec.OriginRequestPolicy, fieldPath(path, "origin_request_policy"), what)
	}
	if len(spec.ResponseHeaders) > 0 {
		b.ResponseHeaders = c.headers(spec.ResponseHeaders, fieldPath(path, "response_headers"), what)
	}
	if spec.Signed != nil {
		sp := fieldPath(path, "signed")
		if len(spec.Signed.TrustedKeyGroups) == 0 {
			c.errorf(sp, "%s: signed: trusted_key_groups is empty", what)
		}
		for i, name := range spec.Signed.TrustedKeyGroups {
			g, ok := c.cfg.KeyGroups[name]
			if !ok {
				c.errorf(indexPath(fieldPath(sp, "trusted_key_groups"), i), "%s: unknown key group %q%s", what, name, suggest(name, slices.Collect(maps.Keys(c.cfg.KeyGroups))))
				continue
			}
			if slices.Contains(b.TrustedKeyGroups, g) {
				c.errorf(indexPath(fieldPath(sp, "trusted_key_groups"), i), "%s: key group %q is listed twice", what, name)
				continue
			}
			b.TrustedKeyGroups = append(b.TrustedKeyGroups, g)
		}
	}
	return b
}

func (c *checker) methods(list []string, path, what string) (Methods, bool) {
	var m Methods
	ok := true
	for i, name := range list {
		bit := methodBit(strings.ToUpper(name))
		switch {
		case bit == 0:
			c.errorf(indexPath(path, i), "%s: unknown method %q", what, name)
			ok = false
		case m&bit != 0:
			c.errorf(indexPath(path, i), "%s: %s is listed twice", what, name)
			ok = false
		}
		m |= bit
	}
	return m, ok
}

func (c *checker) cachePolicy(name, path, what string) *CachePolicy {
	if name == "" {
		name = DefaultCachePolicy
	}
	if p, ok := c.cfg.CachePolicies[name]; ok {
		return p
	}
	m := ManagedCachePolicy(name)
	if m == nil {
		known := append(slices.Collect(maps.Keys(c.cfg.File.CachePolicies)), ManagedCachePolicyNames()...)
		c.errorf(path, "%s: unknown cache policy %q%s", what, name, suggest(name, known))
		return nil
	}
	if p, ok := c.cfg.CachePolicies[m.Name]; ok && p.Managed {
		return p
	}
	m.Managed = true
	c.cfg.CachePolicies[m.Name] = m
	return m
}

func (c *checker) originRequestPolicy(name, path, what string) *OriginRequestPolicy {
	if p, ok := c.cfg.OriginRequestPolicies[name]; ok {
		return p
	}
	m := ManagedOriginRequestPolicy(name)
	if m == nil {
		var known []string
		for _, p := range managedOriginRequestPolicies() {
			known = append(known, p.Name)
		}
		known = append(known, slices.Collect(maps.Keys(c.cfg.File.OriginRequestPolicies))...)
		c.errorf(path, "%s: unknown origin request policy %q%s", what, name, suggest(name, known))
		return nil
	}
	if p, ok := c.cfg.OriginRequestPolicies[m.Name]; ok && p.Managed {
		return p
	}
	m.Managed = true
	c.cfg.OriginRequestPolicies[m.Name] = m
	return m
}

func (c *checker) tls(f *File) {
	spec := f.TLS
	if spec == nil {
		return
	}
	t := &TLS{SelfSigned: spec.SelfSigned, HTTP2: true}
	if spec.HTTP2 != nil {
		t.HTTP2 = *spec.HTTP2
	}
	c.cfg.TLS = t
	hasFiles := spec.CertFile != "" || spec.KeyFile != ""
	switch {
	case spec.SelfSigned && hasFiles:
		c.errorf(".tls", "tls: self_signed cannot be used with cert_file and key_file")
		return
	case spec.SelfSigned:
		c.warnf(".tls.self_signed", "tls: self_signed: browsers will not trust this certificate; use it only for development")
		return
	case spec.CertFile == "" || spec.KeyFile == "":
		c.errorf(".tls", "tls: set cert_file and key_file (or self_signed: true for development)")
		return
	}
	t.CertFile, t.KeyFile = c.file(spec.CertFile), c.file(spec.KeyFile)
	ok := true
	for _, p := range []struct{ field, file string }{{"cert_file", t.CertFile}, {"key_file", t.KeyFile}} {
		if _, err := os.Stat(p.file); err != nil {
			c.errorf(fieldPath(".tls", p.field), "tls: %s: %v", p.field, unwrapPathError(err))
			ok = false
		}
	}
	if !ok {
		return
	}
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		c.errorf(".tls.cert_file", "tls: cert_file and key_file: %v", err)
		return
	}
	t.Certificate = &cert
}

// unwrapPathError shortens *fs.PathError messages to "open NAME: reason"
// with the name as written.
func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return fmt.Errorf("%s: %v", pe.Path, pe.Err)
	}
	return err
}

// suggest returns ` (did you mean "x"?)` for the known name closest to
// name, or "".
func suggest(name string, known []string) string {
	slices.Sort(known)
	best, bestD := "", max(2, len(name)/3)+1
	for _, k := range known {
		if d := editDistance(strings.ToLower(name), strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}
