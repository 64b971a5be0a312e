package db

import (
	"context"
	"fmt"
)

// migrations are applied in order; migration i brings the schema to version
// i+1. Never edit one that has shipped: append a new one.
var migrations = []string{
	// 1: catalog, outbox and the triggers that keep them in step.
	`
CREATE TABLE products (
	id          INTEGER PRIMARY KEY,
	sku         TEXT    NOT NULL UNIQUE,
	name        TEXT    NOT NULL,
	description TEXT    NOT NULL DEFAULT '',
	price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
	stock       INTEGER NOT NULL DEFAULT 0 CHECK (stock >= 0),
	version     INTEGER NOT NULL DEFAULT 1,
	updated_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- One row per committed change; seq is the data version.
CREATE TABLE outbox (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	keys       TEXT NOT NULL, -- application-cache keys and tags, space-separated
	tags       TEXT NOT NULL, -- edge surrogate keys, space-separated
	version    INTEGER NOT NULL DEFAULT 0, -- the row version after the change
	created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Any client's update of a product's content bumps its version, unless the
-- client set the version itself.
CREATE TRIGGER products_bump_version AFTER UPDATE OF sku, name, description, price_cents, stock ON products
WHEN NEW.version = OLD.version
BEGIN
	UPDATE products SET version = OLD.version + 1,
		updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
	WHERE id = NEW.id;
END;

CREATE TRIGGER products_outbox_insert AFTER INSERT ON products
BEGIN
	INSERT INTO outbox (keys, tags, version)
	VALUES ('product:' || NEW.id || ' products', 'product:' || NEW.id || ' products', NEW.version);
END;

CREATE TRIGGER products_outbox_update AFTER UPDATE OF version ON products
WHEN NEW.version <> OLD.version
BEGIN
	INSERT INTO outbox (keys, tags, version)
	VALUES ('product:' || NEW.id || ' products', 'product:' || NEW.id || ' products', NEW.version);
END;

CREATE TRIGGER products_outbox_delete AFTER DELETE ON products
BEGIN
	INSERT INTO outbox (keys, tags, version)
	VALUES ('product:' || OLD.id || ' products', 'product:' || OLD.id || ' products', OLD.version + 1);
END;
`,
}

// SchemaVersion is the schema version this binary migrates to.
var SchemaVersion = len(migrations)

func (d *DB) migrate(ctx context.Context) error {
	if _, err := d.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("db: migrate: %w", err)
	}
	var current int
	if err := d.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&current); err != nil {
		return fmt.Errorf("db: migrate: %w", err)
	}
	if current > len(migrations) {
		return fmt.Errorf("%w: database is at version %d, this binary knows %d", ErrSchemaTooNew, current, len(migrations))
	}
	for v := current; v < len(migrations); v++ {
		tx, err := d.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("db: migrate to %d: %w", v+1, err)
		}
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			tx.Rollback()
			return fmt.Errorf("db: migrate to %d: %w", v+1, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, v+1); err != nil {
			tx.Rollback()
			return fmt.Errorf("db: migrate to %d: %w", v+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("db: migrate to %d: %w", v+1, err)
		}
	}
	return nil
}
