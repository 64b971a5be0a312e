package redis

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/strata-cache/strata/cache"
	"github.com/strata-cache/strata/cache/cachetest"
	"github.com/strata-cache/strata/internal/testenv"
)

// startSentinel starts a Redis Sentinel monitoring the master at addr as
// "mymaster" and returns its address once it monitors it. It is stopped
// when the test ends.
func startSentinel(t *testing.T, master string) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if testenv.Required() {
			t.Fatalf("redis-server (which runs Sentinel) not found: %v", err)
		}
		t.Skipf("redis-server (which runs Sentinel) not found: %v", err)
	}
	host, port, _ := strings.Cut(master, ":")
	dir := t.TempDir()
	sport := testenv.FreePort(t)
	conf := filepath.Join(dir, "sentinel.conf")
	body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor mymaster %s %s 1\n", sport, dir, host, port)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, conf, "--sentinel")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	monitoring := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		seen := false
		for sc.Scan() { // read all of it, so that the sentinel never blocks on a full pipe
			if !seen && strings.Contains(sc.Text(), "+monitor master mymaster") {
				seen = true
				close(monitoring)
			}
		}
	}()
	select {
	case <-monitoring:
	case <-time.After(waitTimeout):
		_ = cmd.Process.Kill()
		t.Fatalf("sentinel did not start monitoring %s", master)
	}
	return fmt.Sprintf("127.0.0.1:%d", sport)
}

func TestSentinel(t *testing.T) {
	master := testenv.Redis(t)
	url := "redis://" + startSentinel(t, master) + "?master_set=mymaster"
	c, err := NewClient(url)
	if err != nil {
		t.Fatalf("NewClient(%q): %v", url, err)
	}
	t.Cleanup(c.Close)
	if c.Mode() != rueidis.ClientModeSentinel {
		t.Fatalf("NewClient(%q): mode %v, want sentinel", url, c.Mode())
	}
	cachetest.TestTier(t, func(t *testing.T) cache.Tier[string] {
		return newTier[string](t, c, Options{})
	})
	t.Run("Lease", func(t *testing.T) {
		tier := newTier[string](t, c, Options{})
		l, err := tier.Lease(context.Background(), "k", time.Minute)
		if err != nil || !l.Held {
			t.Fatalf("Lease: %+v, %v", l, err)
		}
	})
}
