package db

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/strata-cache/strata/inval"
)

// Outbox reads the outbox table; it implements inval.Outbox.
type Outbox struct {
	DB *DB
	// Logger receives one record per malformed row (see After); nil means
	// slog.Default().
	Logger *slog.Logger
}

var _ inval.Outbox = Outbox{}

// tableKeys says, for each table whose triggers write the outbox, what a
// change to the row with primary key pk invalidates. After uses it to
// widen a malformed row's event; the triggers are the source of truth.
var tableKeys = map[string]func(pk string) []string{
	"products": func(pk string) []string { return []string{"product:" + pk} },
}

// After implements inval.Outbox. Each row becomes an event with Version set
// to its sequence, Keys, Tags and Paths from the row, Time from created_at
// and By "outbox:TABLE:PK".
//
// A malformed row (no keys or no tags, an unreadable created_at, NULLs) is
// never skipped: it becomes an event that invalidates conservatively, with
// the table's name (which tags the table's lists) and, when the primary key is known, the row's keys added
// to Keys and Tags. A row that does not say which rows changed — no table
// and no keys, or a cached table without a primary key — empties every
// cache instead (All and Flush): not every entry of a table carries its
// name (a product is tagged product:ID only). Each is logged with its
// sequence, table, primary key and reason.
func (o Outbox) After(ctx context.Context, after uint64, limit int) ([]inval.Event, error) {
	rows, err := o.DB.QueryContext(ctx, o.DB.Rebind(
		`SELECT seq, table_name, pk, keys, tags, paths, created_at FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?`),
		int64(after), limit)
	if err != nil {
		return nil, fmt.Errorf("db: outbox: %w", err)
	}
	defer rows.Close()
	var evs []inval.Event
	for rows.Next() {
		var r outboxRow
		if err := rows.Scan(&r.seq, &r.table, &r.pk, &r.keys, &r.tags, &r.paths, &r.created); err != nil {
			return nil, fmt.Errorf("db: outbox: %w", err)
		}
		evs = append(evs, o.event(ctx, r))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: outbox: %w", err)
	}
	return evs, nil
}

type outboxRow struct {
	seq                          int64
	table, pk, keys, tags, paths sql.NullString
	created                      any
}

// event turns r into an event, conservatively when r is malformed.
func (o Outbox) event(ctx context.Context, r outboxRow) inval.Event {
	ev := inval.Event{
		Version: uint64(r.seq),
		Keys:    strings.Fields(r.keys.String),
		Tags:    strings.Fields(r.tags.String),
		Paths:   strings.Fields(r.paths.String),
		By:      "outbox",
	}
	table, pk := r.table.String, r.pk.String
	if table != "" {
		ev.By = "outbox:" + table + ":" + pk
	}
	var reasons []string
	if len(ev.Keys) == 0 {
		reasons = append(reasons, "no keys")
	}
	if len(ev.Tags) == 0 {
		reasons = append(reasons, "no tags")
	}
	t, err := ParseTime(r.created)
	if err != nil {
		reasons = append(reasons, "created_at: "+err.Error())
	} else {
		ev.Time = t
	}
	if len(reasons) == 0 {
		return ev
	}
	var widen []string
	if table != "" {
		widen = append(widen, table)
		if keys := tableKeys[table]; keys != nil && pk != "" {
			widen = append(widen, keys(pk)...)
		}
	}
	for _, k := range widen {
		if !slices.Contains(ev.Keys, k) {
			ev.Keys = append(ev.Keys, k)
		}
		if !slices.Contains(ev.Tags, k) {
			ev.Tags = append(ev.Tags, k)
		}
	}
	level := slog.LevelWarn
	_, known := tableKeys[table]
	if (known && pk == "") || (len(ev.Keys) == 0 && len(ev.Tags) == 0 && len(ev.Paths) == 0) {
		// Nothing says which rows changed (or which table): a cached
		// table's entries are not all tagged with its name (a product
		// carries only product:ID), so empty every edge and application
		// cache.
		ev.All, ev.Flush = true, true
		ev.Tags, ev.Paths = nil, nil // All takes no other edge selector
		level = slog.LevelError
	}
	o.logger().Log(ctx, level, "db: malformed outbox row, invalidating conservatively",
		"seq", r.seq, "table", table, "pk", pk, "reason", strings.Join(reasons, "; "),
		"keys", ev.Keys, "tags", ev.Tags, "all", ev.All)
	return ev
}

func (o Outbox) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}

// Last implements inval.Outbox: the last sequence handed out (the data
// version), which pruning does not lower.
func (o Outbox) Last(ctx context.Context) (uint64, error) {
	var seq int64
	err := o.DB.QueryRowContext(ctx, `SELECT seq FROM outbox_counter`).Scan(&seq)
	if err != nil {
		return 0, fmt.Errorf("db: outbox: %w", err)
	}
	return uint64(seq), nil
}

// Prune implements inval.Outbox: it removes every row up to and including
// upTo.
func (o Outbox) Prune(ctx context.Context, upTo uint64) error {
	if _, err := o.DB.ExecContext(ctx, o.DB.Rebind(`DELETE FROM outbox WHERE seq <= ?`), int64(upTo)); err != nil {
		return fmt.Errorf("db: outbox prune: %w", err)
	}
	return nil
}

// PruneBefore removes the rows up to and including upTo that were created
// before olderThan, keeping a window of recent rows for subscribers that
// replay, and returns how many it removed.
func (o Outbox) PruneBefore(ctx context.Context, upTo uint64, olderThan time.Time) (int64, error) {
	var before any = olderThan
	if o.DB.Dialect != Postgres {
		before = olderThan.UTC().Format(timeFormat) // text compares as time
	}
	res, err := o.DB.ExecContext(ctx, o.DB.Rebind(`DELETE FROM outbox WHERE seq <= ? AND created_at < ?`), int64(upTo), before)
	if err != nil {
		return 0, fmt.Errorf("db: outbox prune: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("db: outbox prune: %w", err)
	}
	return n, nil
}
