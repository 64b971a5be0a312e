package db

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func open(t *testing.T) *DB {
	t.Helper()
	d, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "strata.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestTriggersWriteOutbox(t *testing.T) {
	d := open(t)
	ctx := context.Background()
	ob := Outbox{d}
	if _, err := d.Exec(`INSERT INTO products (sku, name, price_cents) VALUES ('a', 'A', 100)`); err != nil {
		t.Fatal(err)
	}
	// An update from any client, not setting the version, bumps it once.
	if _, err := d.Exec(`UPDATE products SET name = 'A2' WHERE sku = 'a'`); err != nil {
		t.Fatal(err)
	}
	var version int
	d.QueryRow(`SELECT version FROM products WHERE sku = 'a'`).Scan(&version)
	if version != 2 {
		t.Errorf("version = %d, want 2", version)
	}
	evs, err := ob.After(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[1].Version != 2 || evs[1].Keys[0] != "product:1" || evs[1].Tags[1] != "products" {
		t.Fatalf("outbox = %+v", evs)
	}
	if evs[1].Time.IsZero() {
		t.Error("outbox row has no time")
	}
	if _, err := d.Exec(`DELETE FROM products`); err != nil {
		t.Fatal(err)
	}
	if last, _ := ob.Last(ctx); last != 3 {
		t.Errorf("Last = %d, want 3", last)
	}
	if err := ob.Prune(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if evs, _ := ob.After(ctx, 0, 10); len(evs) != 1 {
		t.Errorf("after prune %d rows, want 1", len(evs))
	}
	tx, _ := d.BeginTx(ctx, nil)
	defer tx.Rollback()
	if v, err := DataVersion(ctx, tx); err != nil || v != 3 {
		t.Errorf("DataVersion = %d, %v", v, err)
	}
}

func TestReopenKeepsSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	d, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	d.Exec(`INSERT INTO schema_version (version) VALUES (999)`)
	d.Close()
	if _, err := OpenSQLite(context.Background(), path); !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("newer schema: err = %v", err)
	}
}

func TestUnwritableDir(t *testing.T) {
	if os.Geteuid() == 0 {
		// root can write anywhere; use a path under a regular file instead.
		f := filepath.Join(t.TempDir(), "file")
		os.WriteFile(f, nil, 0o600)
		if _, err := OpenSQLite(context.Background(), filepath.Join(f, "x", "s.db")); err == nil {
			t.Error("opened a database under a regular file")
		}
		return
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o500)
	if _, err := OpenSQLite(context.Background(), filepath.Join(dir, "s.db")); err == nil {
		t.Error("opened a database in a read-only directory")
	}
}
