package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/strata-cache/strata/bench/load"
)

// strata bench against strata serve: reads and updates happen, nothing is
// served stale after its invalidation completed, and the last line is the
// summary. No timing is asserted.
func TestBenchEndToEnd(t *testing.T) {
	edgeAddr, apiAddr, adminAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	env := []string{"STRATA_ADMIN_TOKEN=bench-secret"}
	start(t, "  data", env, "serve", "-data-dir", t.TempDir(), "-log-level", "warn",
		"-edge-addr", edgeAddr, "-api-addr", apiAddr, "-admin-addr", adminAddr)
	relaying(t, "http://"+apiAddr, "bench-secret")

	cmd := exec.Command(binary, "bench", "-edge", "http://"+edgeAddr, "-api", "http://"+apiAddr,
		"-admin", "http://"+adminAddr, "-duration", "3s", "-products", "12", "-update-rate", "5",
		"-concurrency", "4", "-seed", "7")
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("strata bench: %v\nstdout:\n%s\nstderr:\n%s", err, out, &stderr)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	summary, err := load.ParseSummary(lines[len(lines)-1])
	if err != nil {
		t.Fatalf("last line: %v\n%s", err, out)
	}
	for _, k := range []string{"reads", "updates", "offload", "stale_after_complete", "stale_before_complete",
		"invalidation_p50_ms", "invalidation_p99_ms", "read_p50_ms", "read_p99_ms", "errors"} {
		if _, ok := summary[k]; !ok {
			t.Errorf("summary lacks %s", k)
		}
	}
	num := func(k string) float64 {
		f, err := strconv.ParseFloat(summary[k], 64)
		if err != nil {
			t.Errorf("%s=%q: %v", k, summary[k], err)
		}
		return f
	}
	if num("reads") <= 0 || num("updates") <= 0 || num("stale_after_complete") != 0 || num("errors") != 0 {
		t.Errorf("strata bench:\n%s\nstderr:\n%s", out, &stderr)
	}
	if off := num("offload"); !(off >= 0 && off <= 1) {
		t.Errorf("offload=%v, want a fraction", off)
	}
	t.Logf("\n%s", out)
}

// relaying writes to product 12, unread so far, until a PUT answers with
// X-Data-Version, i.e. its invalidation was relayed. A PUT made before the
// relay's first poll of a new catalog is acknowledged "completed" without
// being relayed, and what was cached of that product stays stale; the bench
// would (rightly) count that, so this test starts after it.
func relaying(t *testing.T, api, token string) {
	t.Helper()
	c := client{t}
	for i := range 20 {
		resp, body := c.do("PUT", api+"/api/products/12", `{"price_cents": 1000}`, "Authorization", "Bearer "+token)
		if resp.StatusCode != 200 {
			t.Fatalf("PUT: %d %s", resp.StatusCode, body)
		}
		if resp.Header.Get("X-Data-Version") != "" {
			if i > 0 {
				t.Logf("the first %d PUTs had no X-Data-Version (not relayed)", i)
			}
			return
		}
	}
	t.Fatal("no PUT answered X-Data-Version")
}

func TestBenchBadFlags(t *testing.T) {
	t.Setenv("STRATA_ADMIN_TOKEN", "")
	tests := []struct {
		name string
		args []string
		msg  string
	}{
		{"zipf 1", []string{"-zipf", "1", "-admin-token", "t"}, "greater than 1"},
		{"negative rate", []string{"-update-rate", "-1", "-admin-token", "t"}, "update rate"},
		{"zero duration", []string{"-duration", "0s"}, "must be positive"},
		{"bad edge", []string{"-edge", "ftp://x", "-admin-token", "t"}, "not an http(s) URL"},
		{"no token", []string{"-data-dir", t.TempDir()}, "no admin token"},
		{"stray argument", []string{"extra"}, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr strings.Builder
			err := run(context.Background(), append([]string{"bench"}, tt.args...), io.Discard, &stderr)
			if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %v, want a usage error with %q", err, tt.msg)
			}
		})
	}
}
