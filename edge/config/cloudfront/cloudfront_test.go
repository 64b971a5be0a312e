package cloudfront_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-cache/strata/edge/config"
	"github.com/strata-cache/strata/edge/config/cloudfront"
)

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// roundTrip marshals f and parses it back in dir.
func roundTrip(t *testing.T, f *config.File, dir string) *config.Config {
	t.Helper()
	data, err := config.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(filepath.Join(dir, "strata.yaml"), data)
	if err != nil {
		t.Fatalf("imported config does not parse: %v\n%s", err, data)
	}
	return cfg
}

func TestImportSeed(t *testing.T) {
	site := t.TempDir()
	f, warnings, err := cloudfront.Import(read(t, "seed-distribution.json"), cloudfront.ImportOptions{
		OriginMap: map[string]string{
			"strata-seed-site.s3.us-east-1.amazonaws.com": site,
			"api.seed.example.com":                        "http://127.0.0.1:8081",
		},
		CachePolicies: map[string][]byte{"seed-api": read(t, "seed-api-cache-policy.json")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings for a distribution Strata fully supports:\n%s", strings.Join(warnings, "\n"))
	}
	cfg := roundTrip(t, f, t.TempDir())
	if o := cfg.Origins["site-bucket"]; o.Kind != config.OriginDir || o.Dir != site {
		t.Errorf("site origin = %+v", o)
	}
	api := cfg.Origins["catalog-api"]
	if api.URL.String() != "http://127.0.0.1:8081" || api.ConnectTimeout != 5*time.Second || api.ResponseTimeout != 30*time.Second || api.Headers.Get("X-Origin-Verify") != "seed-shared-value" {
		t.Errorf("api origin = %+v", api)
	}
	b := cfg.Select("/api/products/1")
	if b.Path != "/api/*" || b.Origin != api || !b.Compress || b.ViewerProtocol != config.HTTPSOnly || b.AllowedMethods != config.MethodsAll {
		t.Errorf("/api/* behavior = %+v", b)
	}
	p := b.CachePolicy
	if p.Name != "seed-api" || p.DefaultTTL != time.Minute || p.MaxTTL != 5*time.Minute || p.MinTTL != 0 || !p.QueryStrings.Includes("page") || p.Cookies.Includes("session") {
		t.Errorf("/api/* cache policy = %+v", p)
	}
	if b.OriginRequestPolicy.Name != config.AllViewerExceptHostHeader {
		t.Errorf("/api/* origin request policy = %+v", b.OriginRequestPolicy)
	}
	d := cfg.Default
	if d.Origin.Name != "site-bucket" || d.CachePolicy.Name != config.CachingOptimized || !d.Compress || d.ViewerProtocol != config.RedirectToHTTPS {
		t.Errorf("default behavior = %+v", d)
	}
	if cfg.Comment != "seed: static site and catalog API" {
		t.Errorf("comment = %q", cfg.Comment)
	}
}

func TestImportLegacyWarnsAboutEverything(t *testing.T) {
	f, warnings, err := cloudfront.Import(read(t, "legacy-distribution.json"), cloudfront.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(warnings, "\n")
	for _, want := range []string{
		"Aliases: www.example.com, example.com",
		"ViewerCertificate:",
		"Logging:",
		"PriceClass: PriceClass_100",
		"WebACLId:",
		"Restrictions.GeoRestriction: blacklist",
		"CustomErrorResponses:",
		"DefaultRootObject:",
		"Origins.Items[0] (www).S3OriginConfig.OriginAccessIdentity",
		"Origins.Items[1] (app).OriginShield",
		"Origins.Items[2] (app-dr).CustomOriginConfig.OriginProtocolPolicy: match-viewer",
		"Origins.Items[0] (www).DomainName: www-bucket.s3.amazonaws.com is not in the origin map; Strata will fetch from https://www-bucket.s3.amazonaws.com/public",
		"DefaultCacheBehavior.LambdaFunctionAssociations",
		"DefaultCacheBehavior.FunctionAssociations",
		"DefaultCacheBehavior.MinTTL: 3600: CloudFront would cache even no-store/private",
		"CacheBehaviors.Items[0]: caching is off for app/*",
		"CacheBehaviors.Items[0].FieldLevelEncryptionId",
		"CacheBehaviors.Items[0].RealtimeLogConfigArn",
		"CacheBehaviors.Items[1].CachePolicyId: caching is off for /members/* (CachingDisabled)",
		"CacheBehaviors.Items[1].TrustedSigners",
		"CacheBehaviors.Items[1].TrustedKeyGroups: key group kg-members",
		"CacheBehaviors.Items[1].ResponseHeadersPolicyId",
		"CacheBehaviors.Items[2].CachePolicyId: custom cache policy ffffffff-0000-4000-8000-000000000000 was not given",
		"CacheBehaviors.Items[2].OriginRequestPolicyId: custom origin request policy eeeeeeee",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no warning containing %q", want)
		}
	}
	for _, w := range warnings {
		if strings.Contains(w, "\n") {
			t.Errorf("warning spans lines: %q", w)
		}
	}

	// The key group's placeholder file must exist for the file to parse.
	dir := t.TempDir()
	ed := read(t, "../../testdata/good/ed25519.pub")
	if err := os.WriteFile(filepath.Join(dir, "kg-members.pem"), ed, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := roundTrip(t, f, dir)
	if o := cfg.Origins["www"]; o.URL.String() != "https://www-bucket.s3.amazonaws.com/public" {
		t.Errorf("www origin = %v", o.URL)
	}
	if o := cfg.Origins["app"]; o.URL.String() != "http://app.example.internal:8080" || o.ResponseTimeout != time.Minute {
		t.Errorf("app origin = %v %s", o.URL, o.ResponseTimeout)
	}
	if g := cfg.Origins["app-ha"].Group; g.Primary.Name != "app" || g.Secondary.Name != "app-dr" || !g.FailsOver(502) || g.FailsOver(504) {
		t.Errorf("group = %+v", g)
	}
	def := cfg.Default.CachePolicy
	if def.Name != "legacy-default" || def.MinTTL != time.Hour || def.DefaultTTL != 24*time.Hour || def.OverridePrivateAndNoStore {
		t.Errorf("legacy default policy = %+v", def)
	}
	app := cfg.Select("/app/x")
	if app.Origin.Name != "app-ha" || !app.CachePolicy.CachingDisabled() || !app.CachePolicy.QueryStrings.Includes("q") || app.CachePolicy.QueryStrings.Includes("utm") ||
		!app.CachePolicy.Cookies.Includes("session") || !app.CachePolicy.Headers.Includes("authorization") || !app.CachedMethods.Has("OPTIONS") {
		t.Errorf("app behavior = %+v, policy %+v", app, app.CachePolicy)
	}
	if m := cfg.Select("/members/a"); len(m.TrustedKeyGroups) != 1 || m.TrustedKeyGroups[0].Name != "kg-members" {
		t.Errorf("members behavior = %+v", m)
	}
	if r := cfg.Select("/reports/1"); r.CachePolicy.Name != config.DefaultCachePolicy || r.OriginRequestPolicy != nil {
		t.Errorf("reports behavior = %+v", r)
	}
}

func TestImportBareAndErrors(t *testing.T) {
	bare := `{"Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "o.example"}]},
	  "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "allow-all", "CachePolicyId": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"}}`
	f, warnings, err := cloudfront.Import([]byte(bare), cloudfront.ImportOptions{OriginMap: map[string]string{"o.example": "http://localhost:1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "caching is off for *") {
		t.Errorf("warnings = %q", warnings)
	}
	if cfg := roundTrip(t, f, t.TempDir()); !cfg.Default.CachePolicy.CachingDisabled() {
		t.Error("CachingDisabled lost")
	}
	for _, bad := range []string{`[]`, `{"ETag": "x"}`, `{"DistributionConfig": {"Origins": {"Quantity": 0}}}`, `not json`} {
		if _, _, err := cloudfront.Import([]byte(bad), cloudfront.ImportOptions{}); err == nil {
			t.Errorf("Import(%s) succeeded", bad)
		}
	}
}

func TestParseOriginMap(t *testing.T) {
	m, err := cloudfront.ParseOriginMap("a.example=http://localhost:1, b.example=./site,")
	if err != nil || len(m) != 2 || m["a.example"] != "http://localhost:1" || m["b.example"] != "./site" {
		t.Errorf("ParseOriginMap = %v, %v", m, err)
	}
	if _, err := cloudfront.ParseOriginMap("nodomain"); err == nil {
		t.Error("ParseOriginMap accepted an entry without =")
	}
}
