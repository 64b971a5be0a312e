package db

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/strata-cache/strata/inval"
)

// Outbox reads the outbox table; it implements inval.Outbox.
type Outbox struct{ DB *DB }

var _ inval.Outbox = Outbox{}

// After implements inval.Outbox.
func (o Outbox) After(ctx context.Context, after uint64, limit int) ([]inval.Event, error) {
	rows, err := o.DB.QueryContext(ctx,
		`SELECT seq, keys, tags, created_at FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("db: outbox: %w", err)
	}
	defer rows.Close()
	var evs []inval.Event
	for rows.Next() {
		var ev inval.Event
		var keys, tags, created string
		if err := rows.Scan(&ev.Version, &keys, &tags, &created); err != nil {
			return nil, fmt.Errorf("db: outbox: %w", err)
		}
		ev.Keys, ev.Tags = strings.Fields(keys), strings.Fields(tags)
		ev.Time, _ = time.Parse("2006-01-02T15:04:05.999Z", created)
		evs = append(evs, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: outbox: %w", err)
	}
	return evs, nil
}

// Last implements inval.Outbox.
func (o Outbox) Last(ctx context.Context) (uint64, error) {
	var seq uint64
	err := o.DB.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM outbox`).Scan(&seq)
	if err != nil {
		return 0, fmt.Errorf("db: outbox: %w", err)
	}
	return seq, nil
}

// Prune implements inval.Outbox.
func (o Outbox) Prune(ctx context.Context, upTo uint64) error {
	if _, err := o.DB.ExecContext(ctx, `DELETE FROM outbox WHERE seq <= ?`, upTo); err != nil {
		return fmt.Errorf("db: outbox prune: %w", err)
	}
	return nil
}
