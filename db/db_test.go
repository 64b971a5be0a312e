package db_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-cache/strata/db"
)

func TestOpenDispatch(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, name := range []string{
		filepath.Join(dir, "a.db"),
		"sqlite:" + filepath.Join(dir, "b.db"),
		"file:" + filepath.Join(dir, "c.db") + "?mode=rwc",
	} {
		d, err := db.Open(ctx, name)
		if err != nil {
			t.Fatalf("Open(%q): %v", name, err)
		}
		if d.Dialect != db.SQLite || d.SchemaVersion() != 2 {
			t.Errorf("Open(%q): dialect %q, schema %d", name, d.Dialect, d.SchemaVersion())
		}
		d.Close()
	}
	if _, err := os.Stat(filepath.Join(dir, "c.db")); err != nil {
		t.Errorf("file: name: %v", err)
	}
}

func TestRebind(t *testing.T) {
	pg, lite := &db.DB{Dialect: db.Postgres}, &db.DB{Dialect: db.SQLite}
	for _, tc := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT ? , ?`, `SELECT $1 , $2`},
		{`WHERE a = '?' AND b = ?`, `WHERE a = '?' AND b = $1`},
		{`WHERE "we?rd" = ? AND c = 'it''s?' AND d = ?`, `WHERE "we?rd" = $1 AND c = 'it''s?' AND d = $2`},
		{"-- why?\nSELECT ?", "-- why?\nSELECT $1"},
		{`SELECT 'unterminated ?`, `SELECT 'unterminated ?`},
	} {
		if got := pg.Rebind(tc.in); got != tc.want {
			t.Errorf("Rebind(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := lite.Rebind(tc.in); got != tc.in {
			t.Errorf("SQLite Rebind(%q) = %q", tc.in, got)
		}
	}
}

func TestUnwritableDir(t *testing.T) {
	if os.Geteuid() == 0 {
		// root can write anywhere; use a path under a regular file instead.
		f := filepath.Join(t.TempDir(), "file")
		os.WriteFile(f, nil, 0o600)
		if _, err := db.OpenSQLite(context.Background(), filepath.Join(f, "x", "s.db")); err == nil {
			t.Error("opened a database under a regular file")
		}
		return
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o500)
	if _, err := db.OpenSQLite(context.Background(), filepath.Join(dir, "s.db")); err == nil {
		t.Error("opened a database in a read-only directory")
	}
}

// TestSQLiteMigration2 upgrades a database that shipped with migration 1:
// its outbox rows stay readable and new ones name their table.
func TestSQLiteMigration2(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	old, err := db.OpenAtVersion1(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	old.Close()

	d, err := db.OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Exec(`UPDATE products SET stock = 3`); err != nil {
		t.Fatal(err)
	}
	evs, err := db.Outbox{DB: d}.After(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].By != "outbox" || evs[0].Keys[0] != "product:1" ||
		evs[1].By != "outbox:products:1" || len(evs[1].Paths) == 0 || evs[1].Version != 2 {
		t.Fatalf("events after upgrade = %+v", evs)
	}
}
