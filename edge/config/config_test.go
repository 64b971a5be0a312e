package config_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/strata-cache/strata/edge/config"
)

// Every file in testdata/good parses without error.
func TestGoodFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/good/*.yaml")
	if len(files) == 0 {
		t.Fatal("no good files")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			cfg, err := config.Load(file)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if cfg.Default == nil || cfg.Default.Origin == nil || cfg.Default.CachePolicy == nil {
				t.Fatalf("default behavior not resolved: %+v", cfg.Default)
			}
			for _, b := range cfg.Behaviors {
				if b.Origin == nil || b.CachePolicy == nil {
					t.Errorf("behavior %s not resolved: %+v", b.Path, b)
				}
			}
		})
	}
}

// Every file in testdata/bad fails with exactly the errors its .err file
// lists, one per line as "file:line:col: part of the message", in order.
func TestBadFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/bad/*.yaml")
	if len(files) == 0 {
		t.Fatal("no bad files")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			golden, err := os.ReadFile(strings.TrimSuffix(file, ".yaml") + ".err")
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Split(strings.TrimSpace(string(golden)), "\n")
			_, err = config.Load(file)
			var list *config.ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("Load: error %v (%T), want an *ErrorList", err, err)
			}
			var got []string
			for _, e := range list.Errors {
				got = append(got, strings.TrimPrefix(e.Error(), "testdata/bad/"))
			}
			if len(got) != len(want) {
				t.Fatalf("got %d errors, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
			}
			for i := range want {
				pos, msg, _ := strings.Cut(want[i], ": ")
				if !strings.HasPrefix(got[i], pos+": ") || !strings.Contains(got[i], msg) {
					t.Errorf("error %d:\n got %s\nwant %s", i+1, got[i], want[i])
				}
			}
			if s := err.Error(); strings.Count(s, "\n") != len(want)-1 {
				t.Errorf("Error() has %d lines, want %d", strings.Count(s, "\n")+1, len(want))
			}
		})
	}
}

func TestFullFileCompiled(t *testing.T) {
	cfg, err := config.Load("testdata/good/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	api := cfg.Origins["api"]
	if api.Kind != config.OriginURL || api.URL.String() != "https://api.internal:8443/v1" ||
		api.ConnectTimeout != 2*time.Second || api.ResponseTimeout != 45*time.Second || api.MaxConnections != 64 {
		t.Errorf("api origin = %+v", api)
	}
	if api.Headers.Get("X-Edge-Secret") != "s3cr3t" || api.OAC == nil || string(api.OAC.Secret) != "not-a-real-secret" || api.OAC.KeyID != "edge-2025" {
		t.Errorf("api headers %v, oac %+v", api.Headers, api.OAC)
	}
	if b := cfg.Origins["api-backup"]; b.ConnectTimeout != config.DefaultConnectTimeout || b.ResponseTimeout != config.DefaultResponseTimeout {
		t.Errorf("defaults not applied: %+v", b)
	}
	g := cfg.Origins["api-group"].Group
	if g.Primary != api || g.Secondary != cfg.Origins["api-backup"] || g.FailoverOnConnectionError || !g.FailsOver(503) || g.FailsOver(500) {
		t.Errorf("group = %+v", g)
	}
	if site := cfg.Origins["site"]; site.Kind != config.OriginDir || !filepath.IsAbs(site.Dir) || filepath.Base(site.Dir) != "site" {
		t.Errorf("site = %+v", site)
	}
	if cfg.TLS == nil || cfg.TLS.Certificate == nil || cfg.TLS.HTTP2 {
		t.Errorf("tls = %+v", cfg.TLS)
	}

	b := cfg.Select("/api/products/42")
	if b.Path != "/api/*" || b.Origin.Name != "api-group" || b.ViewerProtocol != config.HTTPSOnly || !b.Compress {
		t.Fatalf("Select(/api/products/42) = %+v", b)
	}
	if !b.AllowedMethods.Has("PATCH") || !b.CachedMethods.Has("OPTIONS") || b.CachedMethods.Has("POST") || b.AllowedMethods.Has("TRACE") {
		t.Errorf("methods: allowed %s cached %s", b.AllowedMethods, b.CachedMethods)
	}
	p := b.CachePolicy
	if p.Name != "api-short" || p.MinTTL != 0 || p.DefaultTTL != time.Minute || p.MaxTTL != 5*time.Minute {
		t.Errorf("policy TTLs = %+v", p)
	}
	if !p.QueryStrings.Includes("anything") || !p.Headers.Includes("accept-language") || !p.Headers.Includes("Origin") || p.Headers.Includes("Cookie") {
		t.Errorf("policy key = %+v", p)
	}
	if !p.Cookies.Includes("session") || p.Cookies.Includes("Session") || !reflect.DeepEqual(p.AcceptEncoding, []string{"zstd", "br", "gzip"}) {
		t.Errorf("policy cookies/encodings = %+v", p)
	}
	orp := b.OriginRequestPolicy
	if orp.Headers.Includes("host") || !orp.Headers.Includes("X-Anything") || !orp.Cookies.Includes("x") || !orp.QueryStrings.Includes("q") || orp.QueryStrings.Includes("utm") {
		t.Errorf("origin request policy = %+v", orp)
	}
	if b.ResponseHeaders.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("response headers = %v", b.ResponseHeaders)
	}

	if b := cfg.Select("/images/cat.jpg"); b.Path != "/images/*.jpg" || b.CachePolicy.MinTTL != time.Hour || b.CachePolicy.DefaultTTL != 24*time.Hour {
		t.Errorf("Select(/images/cat.jpg) = %s %+v", b.Path, b.CachePolicy)
	}
	if b := cfg.Select("/images/cat.png"); b != cfg.Default || b.ViewerProtocol != config.RedirectToHTTPS || b.CachePolicy.Name != config.CachingOptimized {
		t.Errorf("Select(/images/cat.png) = %+v, want the default", b)
	}
	if b := cfg.Select("/v2/status"); b.CachePolicy.Name != config.CachingDisabled || !b.CachePolicy.CachingDisabled() || b.OriginRequestPolicy.Name != config.AllViewerExceptHostHeader {
		t.Errorf("Select(/v2/status) = %+v", b)
	}
	priv := cfg.Select("/private/x")
	if len(priv.TrustedKeyGroups) != 1 || len(priv.TrustedKeyGroups[0].Keys) != 2 || priv.TrustedKeyGroups[0].Key("K3ED25519") == nil || priv.TrustedKeyGroups[0].Key("nope") != nil {
		t.Errorf("signed = %+v", priv.TrustedKeyGroups)
	}
	if !priv.CachePolicy.OverridePrivateAndNoStore {
		t.Error("override_private_and_no_store lost")
	}
	if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0].Error(), "full.yaml:45:") || !strings.Contains(cfg.Warnings[0].Msg, "private or no-store") {
		t.Errorf("warnings = %v", cfg.Warnings)
	}
}

func TestManagedPolicies(t *testing.T) {
	cfg, err := config.Load("testdata/good/managed-ids.yaml")
	if err != nil {
		t.Fatal(err)
	}
	live := cfg.Select("/live/1")
	if live.CachePolicy.Name != config.CachingDisabled || !live.CachePolicy.Managed || live.OriginRequestPolicy.Name != config.AllViewer {
		t.Errorf("by ID: %+v %+v", live.CachePolicy, live.OriginRequestPolicy)
	}
	media := cfg.Select("/media/x.m3u8")
	if media.CachePolicy.Name != config.ElementalMediaPackage || media.OriginRequestPolicy.Name != config.CORSS3Origin {
		t.Errorf("by Managed- name: %+v", media.CachePolicy)
	}
	if !media.CachePolicy.QueryStrings.Includes("aws.manifestfilter") || media.CachePolicy.QueryStrings.Includes("utm") {
		t.Errorf("MediaPackage query strings = %+v", media.CachePolicy.QueryStrings)
	}
	ids := map[string]string{
		config.CachingOptimized:                         "658327ea-f89d-4fab-a63d-7e88639e58f6",
		config.CachingDisabled:                          "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
		config.CachingOptimizedForUncompressedObjects:   "b2884449-e4de-46a7-ac36-70bc7f1ddd6d",
		config.UseOriginCacheControlHeaders:             "83da9c7e-98b4-4e11-a168-04f0df8e2c65",
		config.UseOriginCacheControlHeadersQueryStrings: "4cc15a8a-d715-48a4-82b8-cc0b614638fe",
		config.ElementalMediaPackage:                    "08627262-05a9-4f76-9ded-b50ca2e3a84f",
		config.Amplify:                                  "2e54312d-136d-493c-8eb9-b001f22f67d2",
	}
	for name, id := range ids {
		p := config.ManagedCachePolicy(id)
		if p == nil || p.Name != name || config.ManagedCachePolicy(name).ID != id {
			t.Errorf("managed policy %s / %s: got %+v", name, id, p)
			continue
		}
		if p.MinTTL > p.DefaultTTL || p.DefaultTTL > p.MaxTTL {
			t.Errorf("%s: TTLs out of order: %+v", name, p)
		}
	}
	if config.ManagedCachePolicy("nope") != nil || config.ManagedOriginRequestPolicy("b689b0a8-53d0-40ab-baf2-68738e2966ac").Name != config.AllViewerExceptHostHeader {
		t.Error("managed lookups")
	}
	// Each lookup returns a copy: changing it changes no one else's.
	config.ManagedCachePolicy(config.CachingOptimized).MaxTTL = 0
	if config.ManagedCachePolicy(config.CachingOptimized).MaxTTL == 0 {
		t.Error("ManagedCachePolicy returns shared values")
	}
}

func TestTTL(t *testing.T) {
	p := &config.CachePolicy{MinTTL: time.Minute, DefaultTTL: time.Hour, MaxTTL: 24 * time.Hour}
	for _, tc := range []struct {
		lifetime time.Duration
		has      bool
		want     time.Duration
	}{
		{0, false, time.Hour},
		{10 * time.Second, true, time.Minute},
		{2 * time.Hour, true, 2 * time.Hour},
		{48 * time.Hour, true, 24 * time.Hour},
	} {
		if got := p.TTL(tc.lifetime, tc.has); got != tc.want {
			t.Errorf("TTL(%s, %v) = %s, want %s", tc.lifetime, tc.has, got, tc.want)
		}
	}
}

// Defaults: DefaultTTL and MaxTTL rise with MinTTL, as in CloudFront.
func TestTTLDefaults(t *testing.T) {
	cfg, err := config.Parse("x.yaml", []byte(`
origins: {o: {url: "http://o"}}
cache_policies:
  long: {min_ttl: 100000}
  huge: {default_ttl: 40000000}
behaviors:
  - {path: /long, origin: o, cache_policy: long}
  - {path: /huge, origin: o, cache_policy: huge}
default_behavior: {origin: o}
`))
	if err != nil {
		t.Fatal(err)
	}
	if p := cfg.CachePolicies["long"]; p.DefaultTTL != 100000*time.Second || p.MaxTTL != 365*24*time.Hour {
		t.Errorf("long = %+v", p)
	}
	if p := cfg.CachePolicies["huge"]; p.MinTTL != 0 || p.MaxTTL != 40000000*time.Second {
		t.Errorf("huge = %+v", p)
	}
}

// A File built in code compiles like one read from YAML, and marshals to
// YAML that parses back to the same configuration.
func TestCompileAndMarshal(t *testing.T) {
	f := &config.File{
		Origins: map[string]*config.OriginSpec{
			"api": {URL: "http://127.0.0.1:8081", ResponseTimeout: &config.Duration{Duration: 1500 * time.Millisecond}},
		},
		CachePolicies: map[string]*config.CachePolicySpec{
			"p": {DefaultTTL: config.Seconds(60), MaxTTL: config.Seconds(300), QueryStrings: &config.KeyList{Mode: config.KeyListAll},
				Cookies: &config.KeyList{Deny: []string{"tracking"}}},
		},
		Behaviors:       []*config.BehaviorSpec{{Path: "/api/*", Origin: "api", CachePolicy: "p"}},
		DefaultBehavior: &config.BehaviorSpec{Origin: "api", CachePolicy: config.CachingDisabled},
	}
	want, err := config.Compile("code", f)
	if err != nil {
		t.Fatal(err)
	}
	data, err := config.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	got, err := config.Parse("marshalled.yaml", data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if !reflect.DeepEqual(got.CachePolicies["p"], want.CachePolicies["p"]) {
		t.Errorf("policy after round trip = %+v, want %+v", got.CachePolicies["p"], want.CachePolicies["p"])
	}
	if got.Origins["api"].ResponseTimeout != 1500*time.Millisecond {
		t.Errorf("response timeout after round trip = %s", got.Origins["api"].ResponseTimeout)
	}
	if !bytes.Contains(data, []byte("default_ttl: 60")) || !bytes.Contains(data, []byte("response_timeout: 1.5s")) {
		t.Errorf("durations not marshalled as seconds or strings:\n%s", data)
	}

	f.Behaviors[0].Origin = "nowhere"
	_, err = config.Compile("code", f)
	if err == nil || !strings.Contains(err.Error(), `code: behavior 1 (/api/*): unknown origin "nowhere"`) {
		t.Errorf("Compile with a bad reference: %v", err)
	}
}

// Every yaml field name of the file format appears in docs/config.md, so
// the reference cannot fall behind the structs.
func TestDocsMentionEveryField(t *testing.T) {
	doc, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[reflect.Type]bool{}
	var check func(reflect.Type)
	check = func(typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] || typ.PkgPath() != reflect.TypeFor[config.File]().PkgPath() {
			return
		}
		seen[typ] = true
		for i := range typ.NumField() {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			if !regexp.MustCompile("`" + regexp.QuoteMeta(name) + "`").Match(doc) {
				t.Errorf("docs/config.md does not mention `%s` (%s.%s)", name, typ.Name(), f.Name)
			}
			check(f.Type)
		}
	}
	check(reflect.TypeFor[config.File]())
	if len(seen) < 10 {
		t.Errorf("walked only %d types", len(seen))
	}
}

// The example in docs parses.
func TestExampleFile(t *testing.T) {
	cfg, err := config.Load("../../docs/strata.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Behaviors) == 0 || cfg.Select("/api/products") == cfg.Default {
		t.Errorf("example has no /api behavior: %d behaviors", len(cfg.Behaviors))
	}
}

func TestParseIsNotFooledByDocuments(t *testing.T) {
	_, err := config.Parse("two.yaml", []byte("origins: {}\n---\norigins: {}\n"))
	if err == nil || !strings.Contains(err.Error(), "more than one YAML document") {
		t.Errorf("two documents: %v", err)
	}
	_, err = config.Parse("list.yaml", []byte("- a\n- b\n"))
	if err == nil || !strings.Contains(err.Error(), "list.yaml:1:1: a distribution file is a mapping") {
		t.Errorf("a list: %v", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := config.Load("testdata/no-such-file.yaml")
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: %v", err)
	}
}

// The loader never panics, and either returns a config or an *ErrorList
// whose every error has a position in the file.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"testdata/good", "testdata/bad"} {
		files, _ := filepath.Glob(dir + "/*.yaml")
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := config.Parse("fuzz.yaml", data)
		if err == nil {
			if cfg == nil || cfg.Default == nil {
				t.Fatal("nil config without error")
			}
			return
		}
		var list *config.ErrorList
		if !errors.As(err, &list) || len(list.Errors) == 0 {
			t.Fatalf("error %v (%T) is not a non-empty *ErrorList", err, err)
		}
		for _, e := range list.Errors {
			if e.Pos.File != "fuzz.yaml" || e.Msg == "" {
				t.Fatalf("error without position or message: %#v", e)
			}
		}
	})
}
