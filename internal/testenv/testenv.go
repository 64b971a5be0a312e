package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// EnvIntegration is the environment variable that controls the skip policy.
// Its value "require" turns every skip for a missing dependency into a
// test failure.
const EnvIntegration = "STRATA_INTEGRATION"

const installHint = "install it with `apt-get install redis-server postgresql` " +
	"(or run scripts/install-test-deps.sh)"

// Required reports whether integration dependencies are mandatory, that is
// whether STRATA_INTEGRATION=require is set. When it is, a missing server
// binary fails the test instead of skipping it.
func Required() bool {
	return strings.EqualFold(strings.TrimSpace(os.Getenv(EnvIntegration)), "require")
}

// unavailable skips the test (or fails it when [Required]) because a
// dependency is missing.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := "testenv: " + fmt.Sprintf(format, args...)
	if Required() {
		t.Fatalf("%s (%s=require is set, so this is an error)", msg, EnvIntegration)
	}
	t.Skipf("%s; set %s=require to make this a failure", msg, EnvIntegration)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago. The
// port is not reserved: callers that bind it later must tolerate losing a
// race with another process and retry with a new port.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: pick free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatalf("testenv: close probe listener: %v", err)
	}
	return port
}

// lookBin finds name on PATH, then in the given fallback paths. It returns
// "" when none is an executable file.
func lookBin(name string, fallbacks ...string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, f := range fallbacks {
		if isExecutable(f) {
			return f
		}
	}
	return ""
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// serverEnv is the environment for server processes: the caller's, without
// libpq variables that could redirect client tools, and with the C locale so
// that logs are in English and initdb does not trip over missing locales.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PG") || k == "LANG" || strings.HasPrefix(k, "LC_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LANG=C", "LC_ALL=C")
}

// syncBuffer collects a child's output for error messages and signals once
// a marker string has appeared in it.
type syncBuffer struct {
	mu      sync.Mutex
	buf     []byte
	marker  []byte
	matched chan struct{} // closed when marker is seen; nil if no marker
}

func newSyncBuffer(marker string) *syncBuffer {
	return &syncBuffer{marker: []byte(marker), matched: make(chan struct{})}
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	start := len(b.buf) - len(b.marker)
	if start < 0 {
		start = 0
	}
	b.buf = append(b.buf, p...)
	if b.marker != nil && strings.Contains(string(b.buf[start:]), string(b.marker)) {
		select {
		case <-b.matched:
		default:
			close(b.matched)
		}
	}
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// tail returns at most the last n bytes of s, for error messages.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "...\n" + s[len(s)-n:]
}

// readFile returns the contents of path, or a note explaining why it could
// not be read, for error messages.
func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", filepath.Base(path), err)
	}
	return string(b)
}
