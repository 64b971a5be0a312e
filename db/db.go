package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver
)

// Dialect names the SQL dialect of a DB.
type Dialect string

// The dialects Strata speaks.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is an open database with its schema migrated.
type DB struct {
	*sql.DB
	// Path is the SQLite file; "" for PostgreSQL.
	Path string
	// Dialect says which SQL the database speaks; see Rebind.
	Dialect Dialect
	// LeaderInterval is how often Leader retries the lock while another
	// process holds it and how often a leader confirms it still holds it
	// (PostgreSQL). Zero means DefaultLeaderInterval. Set it before calling
	// Leader.
	LeaderInterval time.Duration

	dsn    string // PostgreSQL URL, for dedicated connections
	wake   wakeups
	leadMu sync.Mutex
	leads  map[string]chan struct{} // SQLite: in-process leadership tokens
}

// ErrSchemaTooNew means the database was migrated by a newer Strata.
var ErrSchemaTooNew = errors.New("db: database schema is newer than this binary")

// Open opens the database named by dsn and migrates it. A postgres:// or
// postgresql:// URL opens PostgreSQL (through pgx); anything else is a
// SQLite database: a file path, optionally prefixed with "sqlite:" or
// "file:" (query parameters of a "file:" name are ignored; Open sets its
// own pragmas).
func Open(ctx context.Context, dsn string) (*DB, error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return OpenPostgres(ctx, dsn)
	case strings.HasPrefix(dsn, "sqlite:"):
		dsn = strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "//")
	case strings.HasPrefix(dsn, "file:"):
		dsn = strings.TrimPrefix(dsn, "file:")
		if i := strings.IndexByte(dsn, '?'); i >= 0 {
			dsn = dsn[:i]
		}
	}
	if dsn == "" {
		return nil, errors.New("db: empty database name")
	}
	return OpenSQLite(ctx, dsn)
}

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
	d := &DB{DB: sqldb, Path: path, Dialect: SQLite}
	if err := d.migrate(ctx); err != nil {
		sqldb.Close()
		return nil, err
	}
	return d, nil
}

// OpenPostgres opens the PostgreSQL database at url (postgres://...)
// through pgx's database/sql driver and migrates it.
func OpenPostgres(ctx context.Context, url string) (*DB, error) {
	sqldb, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("db: open postgres: %w", err)
	}
	if err := sqldb.PingContext(ctx); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("db: open postgres: %w", err)
	}
	d := &DB{DB: sqldb, Dialect: Postgres, dsn: url}
	if err := d.migrate(ctx); err != nil {
		sqldb.Close()
		return nil, err
	}
	return d, nil
}

// Rebind returns query written with "?" placeholders in d's dialect:
// unchanged for SQLite, with $1, $2, ... for PostgreSQL. Question marks in
// string literals, quoted identifiers and comments are left alone.
func (d *DB) Rebind(query string) string {
	if d.Dialect != Postgres || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'' || c == '"':
			j := strings.IndexByte(query[i+1:], c)
			if j < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+j+2])
			i += j + 1
		case c == '-' && i+1 < len(query) && query[i+1] == '-':
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+j+1])
			i += j
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// BeginSnapshot starts a read-only transaction whose reads, DataVersion
// included, all see one snapshot of the database: the default deferred
// transaction on SQLite (WAL mode fixes the snapshot at the first read),
// REPEATABLE READ on PostgreSQL (READ COMMITTED, the default, takes a new
// snapshot per statement, so a version read first could be older than rows
// read after it).
func (d *DB) BeginSnapshot(ctx context.Context) (*sql.Tx, error) {
	var opts *sql.TxOptions
	if d.Dialect == Postgres {
		opts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	tx, err := d.BeginTx(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("db: begin: %w", err)
	}
	return tx, nil
}

// DataVersion returns the data version visible to tx: the sequence of the
// last outbox row committed before tx's snapshot (0 before the first). It
// reads the outbox_counter that both dialects' schemas provide. On
// PostgreSQL tx must be REPEATABLE READ or SERIALIZABLE (BeginSnapshot) for
// the version and the rows tx reads afterwards to agree.
func DataVersion(ctx context.Context, tx *sql.Tx) (uint64, error) {
	var v sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT seq FROM outbox_counter`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("db: data version: %w", err)
	}
	return uint64(v.Int64), nil
}

// timeFormat is how SQLite stores times (strftime('%Y-%m-%dT%H:%M:%fZ')),
// with a fixed number of fractional digits so that strings compare as the
// times they hold.
const timeFormat = "2006-01-02T15:04:05.000Z"

// ParseTime converts a time column as the drivers return it (time.Time from
// PostgreSQL, text from SQLite in Strata's format, RFC 3339, or SQLite's
// "YYYY-MM-DD HH:MM:SS[.fff]") to a time.Time.
func ParseTime(v any) (time.Time, error) {
	var s string
	switch v := v.(type) {
	case time.Time:
		return v, nil
	case string:
		s = v
	case []byte:
		s = string(v)
	case nil:
		return time.Time{}, errors.New("db: time is NULL")
	default:
		return time.Time{}, fmt.Errorf("db: time of type %T", v)
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("db: unparsable time %q", s)
}
