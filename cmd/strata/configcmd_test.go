package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-cache/strata/edge/config"
)

func TestCheckConfig(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"check-config", "../../docs/strata.example.yaml"}, &out, &errOut)
	if err != nil || !strings.HasPrefix(out.String(), "../../docs/strata.example.yaml: ok (2 origins, 1 behaviors") || errOut.Len() != 0 {
		t.Errorf("good file: err %v, stdout %q, stderr %q", err, out.String(), errOut.String())
	}

	out.Reset()
	bad := "../../edge/config/testdata/bad/ttl.yaml"
	err = run(context.Background(), []string{"check-config", bad}, &out, &errOut)
	if err == nil || exitCode(err, &bytes.Buffer{}) != 1 || out.Len() != 0 {
		t.Fatalf("bad file: err %v (exit %d), stdout %q", err, exitCode(err, &bytes.Buffer{}), out.String())
	}
	lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
	if len(lines) != 6 || !strings.HasPrefix(lines[0], bad+":5:14: ") || !strings.HasPrefix(lines[5], bad+":16:14: ") {
		t.Errorf("bad file: stderr\n%s", errOut.String())
	}

	if err := run(context.Background(), []string{"check-config"}, &out, &errOut); !errors.Is(err, errUsage) {
		t.Errorf("no file: %v, want a usage error", err)
	}
	if err := run(context.Background(), []string{"check-config", "no-such.yaml"}, &out, &errOut); err == nil || errors.Is(err, errUsage) {
		t.Errorf("missing file: %v", err)
	}
}

func TestCheckConfigWarnings(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"check-config", "../../edge/config/testdata/good/full.yaml"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "full.yaml:45:") || !strings.Contains(errOut.String(), "warning: cache policy \"risky\"") {
		t.Errorf("stderr = %q", errOut.String())
	}
}

func TestConfigImportCloudFront(t *testing.T) {
	site := t.TempDir()
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"config", "import-cloudfront",
		"-origin-map", "strata-seed-site.s3.us-east-1.amazonaws.com=" + site + ",api.seed.example.com=http://127.0.0.1:8081",
		"-cache-policy", "../../edge/config/cloudfront/testdata/seed-api-cache-policy.json",
		"../../edge/config/cloudfront/testdata/seed-distribution.json"}, &out, &errOut)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	if errOut.Len() != 0 {
		t.Errorf("warnings for the seed distribution: %s", errOut.String())
	}
	file := filepath.Join(t.TempDir(), "strata.yaml")
	if err := os.WriteFile(file, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatalf("imported file does not load: %v\n%s", err, out.String())
	}
	if b := cfg.Select("/api/x"); b.CachePolicy.Name != "seed-api" || b.Origin.URL.String() != "http://127.0.0.1:8081" {
		t.Errorf("/api behavior = %+v", b)
	}
	out.Reset()
	if err := run(context.Background(), []string{"check-config", file}, &out, &errOut); err != nil || !strings.Contains(out.String(), ": ok") {
		t.Errorf("check-config of the import: %v %q", err, out.String())
	}

	out.Reset()
	errOut.Reset()
	if err := run(context.Background(), []string{"config", "import-cloudfront", "../../edge/config/cloudfront/testdata/legacy-distribution.json"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(errOut.String(), "warning: "); n < 20 || !strings.Contains(errOut.String(), "warning: WebACLId:") {
		t.Errorf("%d warnings:\n%s", n, errOut.String())
	}
	if !strings.Contains(out.String(), "legacy-default:") {
		t.Errorf("no generated legacy policy in:\n%s", out.String())
	}

	for _, args := range [][]string{
		{"config"},
		{"config", "export"},
		{"config", "import-cloudfront"},
		{"config", "import-cloudfront", "-origin-map", "nodomain", "x.json"},
	} {
		if err := run(context.Background(), args, &out, &errOut); !errors.Is(err, errUsage) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
}
