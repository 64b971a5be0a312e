package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	pgUser    = "strata" // superuser created by initdb
	pgDB      = "strata" // database created for the test
	pgSysUser = "postgres"

	pgInitTimeout  = 2 * time.Minute
	pgStartTimeout = 60 // seconds, for pg_ctl -t
	pgCmdTimeout   = 90 * time.Second
)

// Postgres starts a private PostgreSQL server on a free 127.0.0.1 port and
// returns a pgx-compatible URL for the database "strata" owned by the
// superuser "strata" (trust authentication, no password):
//
//	postgres://strata@127.0.0.1:PORT/strata?sslmode=disable
//
// The cluster lives in a fresh directory under os.TempDir and is stopped and
// removed when the test ends. See the package documentation for the
// skip-versus-fail rule when PostgreSQL is not installed.
func Postgres(t testing.TB) string {
	t.Helper()
	binDir := pgBinDir()
	if binDir == "" {
		unavailable(t, "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql/*/bin; %s", installHint)
	}
	for _, name := range []string{"initdb", "pg_ctl", "postgres", "createdb"} {
		if !isExecutable(filepath.Join(binDir, name)) {
			unavailable(t, "%s not found in %s; %s", name, binDir, installHint)
		}
	}

	r := &pgRunner{binDir: binDir}
	if os.Geteuid() == 0 {
		// initdb and postgres refuse to run as root.
		u, err := user.Lookup(pgSysUser)
		if err != nil {
			unavailable(t, "running as root, and initdb/postgres refuse to run as root, but there is no %q user to run them as (%v); "+
				"the postgresql package creates it: %s", pgSysUser, err, installHint)
		}
		r.runuser = lookBin("runuser", "/usr/sbin/runuser", "/sbin/runuser")
		if r.runuser == "" {
			unavailable(t, "running as root, but runuser (util-linux) is not available to drop to the %q user; install util-linux", pgSysUser)
		}
		r.uid, _ = strconv.Atoi(u.Uid)
		r.gid, _ = strconv.Atoi(u.Gid)
		r.asUser = pgSysUser
	}

	// Not t.TempDir: its parents are private to the current user, and the
	// postgres user must be able to reach the data directory.
	base, err := os.MkdirTemp(pgTempRoot(r.asUser != ""), "strata-pg-")
	if err != nil {
		t.Fatalf("testenv: create postgres directory: %v", err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(base); err != nil {
			t.Errorf("testenv: remove postgres directory: %v", err)
		}
	})
	if r.asUser != "" {
		if err := os.Chown(base, r.uid, r.gid); err != nil {
			t.Fatalf("testenv: chown %s to %s: %v", base, r.asUser, err)
		}
	}
	r.dir = base
	dataDir := filepath.Join(base, "data")
	logFile := filepath.Join(base, "postgres.log")

	out, err := r.run(pgInitTimeout, true, filepath.Join(binDir, "initdb"),
		"-D", dataDir, "-U", pgUser, "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	if err != nil {
		t.Fatalf("testenv: initdb: %v\n%s", err, tail(out, 4096))
	}

	var port int
	var lastErr error
	for attempt := 0; attempt < startAttempts; attempt++ {
		port = FreePort(t)
		lastErr = r.start(dataDir, logFile, port)
		if lastErr == nil || !errors.Is(lastErr, errPortTaken) {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("testenv: start postgres: %v", lastErr)
	}
	t.Cleanup(func() {
		out, err := r.run(pgCmdTimeout, true, filepath.Join(binDir, "pg_ctl"),
			"-D", dataDir, "-m", "immediate", "-w", "stop")
		if err != nil {
			t.Errorf("testenv: pg_ctl stop: %v\n%s\nserver log:\n%s", err, out, tail(readFile(logFile), 4096))
		}
	})

	out, err = r.run(pgCmdTimeout, false, filepath.Join(binDir, "createdb"),
		"-w", "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", pgUser, pgDB)
	if err != nil {
		t.Fatalf("testenv: createdb %s: %v\n%s\nserver log:\n%s", pgDB, err, out, tail(readFile(logFile), 4096))
	}
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", pgUser, port, pgDB)
}

// pgRunner runs PostgreSQL programs, as the postgres user when the test
// runs as root.
type pgRunner struct {
	binDir   string
	dir      string // working directory; reachable by asUser
	asUser   string // "" to run as the current user
	runuser  string
	uid, gid int
}

// run executes bin with args and returns its combined output. asServerUser
// selects running as r.asUser (for initdb and pg_ctl); client tools run as
// the current user.
func (r *pgRunner) run(timeout time.Duration, asServerUser bool, bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	name := bin
	if asServerUser && r.asUser != "" {
		args = append([]string{"-u", r.asUser, "--", bin}, args...)
		name = r.runuser
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = r.dir
	cmd.Env = serverEnv()
	// pg_ctl start leaves the server running with our output pipe closed
	// (its output goes to the log file), but bound Wait in any case.
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s timed out after %s: %w", filepath.Base(bin), timeout, err)
	}
	return string(out), err
}

// start runs pg_ctl start, which waits (-w) until the server accepts
// connections.
func (r *pgRunner) start(dataDir, logFile string, port int) error {
	// A previous failed attempt leaves its log behind; start afresh so that
	// the bind check below reads only this attempt.
	_ = os.Remove(logFile)
	opts := fmt.Sprintf("-p %d -k %s -h 127.0.0.1 -F", port, r.dir)
	out, err := r.run(time.Duration(pgStartTimeout+30)*time.Second, true, filepath.Join(r.binDir, "pg_ctl"),
		"-D", dataDir, "-l", logFile, "-w", "-t", strconv.Itoa(pgStartTimeout), "-o", opts, "start")
	if err == nil {
		return nil
	}
	// pg_ctl -w may give up while the server is still coming up; make sure
	// nothing is left running before a retry or the directory's removal.
	_, _ = r.run(pgCmdTimeout, true, filepath.Join(r.binDir, "pg_ctl"), "-D", dataDir, "-m", "immediate", "-w", "stop")
	log := readFile(logFile)
	if strings.Contains(log, "Address already in use") {
		return fmt.Errorf("%w: port %d: pg_ctl: %v\n%s\nserver log:\n%s", errPortTaken, port, err, out, tail(log, 4096))
	}
	return fmt.Errorf("pg_ctl start: %v\n%s\nserver log:\n%s", err, out, tail(log, 4096))
}

// pgBinDir returns the directory holding the PostgreSQL server programs:
// that of pg_ctl on PATH (symlinks resolved, as Debian's /usr/bin wrappers
// and /usr/local/bin links point elsewhere), else the highest-numbered
// /usr/lib/postgresql/*/bin. It returns "" when none is found.
func pgBinDir() string {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			dir := filepath.Dir(real)
			if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "postgres")) {
				return dir
			}
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(matches, func(i, j int) bool {
		return pgVersion(matches[i]) > pgVersion(matches[j])
	})
	for _, dir := range matches {
		if isExecutable(filepath.Join(dir, "pg_ctl")) && isExecutable(filepath.Join(dir, "initdb")) {
			return dir
		}
	}
	return ""
}

// pgVersion extracts the numeric version from /usr/lib/postgresql/N/bin.
func pgVersion(binDir string) float64 {
	v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	if err != nil {
		return -1
	}
	return v
}

// pgTempRoot returns the directory to create the cluster under. When the
// server runs as another user, that user must be able to traverse it; fall
// back to /tmp if os.TempDir is not world-searchable.
func pgTempRoot(otherUser bool) string {
	root := os.TempDir()
	if !otherUser {
		return root
	}
	if fi, err := os.Stat(root); err == nil && fi.Mode().Perm()&0o001 != 0 {
		return root
	}
	return "/tmp"
}
