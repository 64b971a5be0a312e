package dbtest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os/exec"
	"path/filepath"
	"sort"
	"sync/atomic"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for the admin connection

	"github.com/strata-cache/strata/db"
	"github.com/strata-cache/strata/internal/testenv"
)

// Env opens databases of one dialect.
type Env struct {
	Dialect db.Dialect
	// New returns a fresh, migrated, empty database, closed when t ends,
	// and the name Open opened it by.
	New func(t *testing.T) (*db.DB, string)
}

// Dialects runs body as one subtest per dialect, named after it. A
// PostgreSQL server is started once per call; each New creates a database
// on it.
func Dialects(t *testing.T, body func(t *testing.T, env Env)) {
	t.Helper()
	t.Run(string(db.SQLite), func(t *testing.T) {
		body(t, Env{Dialect: db.SQLite, New: func(t *testing.T) (*db.DB, string) {
			t.Helper()
			name := filepath.Join(t.TempDir(), "strata.db")
			return open(t, name), name
		}})
	})
	t.Run(string(db.Postgres), func(t *testing.T) {
		server := testenv.Postgres(t)
		admin, err := sql.Open("pgx", server)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { admin.Close() })
		var n atomic.Int64
		body(t, Env{Dialect: db.Postgres, New: func(t *testing.T) (*db.DB, string) {
			t.Helper()
			name := fmt.Sprintf("test_%d", n.Add(1))
			if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(server)
			if err != nil {
				t.Fatal(err)
			}
			u.Path = "/" + name
			return open(t, u.String()), u.String()
		}})
	})
}

func open(t *testing.T, dsn string) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// PSQL returns the path of the psql client, or "" when it is not
// installed.
func PSQL() string {
	if p, err := exec.LookPath("psql"); err == nil {
		return p
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/psql")
	sort.Sort(sort.Reverse(sort.StringSlice(matches)))
	if len(matches) > 0 {
		return matches[0]
	}
	return ""
}
