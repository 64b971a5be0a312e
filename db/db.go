package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// DB is an open database with its schema migrated.
type DB struct {
	*sql.DB
	Path string
}

// ErrSchemaTooNew means the database was migrated by a newer Strata.
var ErrSchemaTooNew = errors.New("db: database schema is newer than this binary")

// OpenSQLite opens (creating if needed) the SQLite database at path, in WAL
// mode with a busy timeout, and migrates it.
func OpenSQLite(ctx context.Context, path string) (*DB, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("db: creating data dir: %w", err)
	}
	// Fail early and clearly when the directory cannot be written.
	probe, err := os.CreateTemp(dir, ".strata-probe-*")
	if err != nil {
		return nil, fmt.Errorf("db: data dir %s is not writable: %w", dir, err)
	}
	probe.Close()
	os.Remove(probe.Name())

	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	sqldb, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("db: open %s: %w", path, err)
	}
	if err := sqldb.PingContext(ctx); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("db: open %s: %w", path, err)
	}
	d := &DB{DB: sqldb, Path: path}
	if err := d.migrate(ctx); err != nil {
		sqldb.Close()
		return nil, err
	}
	return d, nil
}

// DataVersion returns the data version visible to tx: the sequence of the
// last outbox row committed before tx's snapshot.
func DataVersion(ctx context.Context, tx *sql.Tx) (uint64, error) {
	var v sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT seq FROM sqlite_sequence WHERE name = 'outbox'`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("db: data version: %w", err)
	}
	return uint64(v.Int64), nil
}
