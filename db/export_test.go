package db

import (
	"context"
	"database/sql"
)

// OpenAtVersion1 creates a SQLite database at path with only migration 1
// applied, as the first release left it, holding one product.
func OpenAtVersion1(ctx context.Context, path string) (*sql.DB, error) {
	sqldb, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return nil, err
	}
	for _, q := range []string{
		`CREATE TABLE schema_version (version INTEGER NOT NULL)`,
		sqliteMigrations[0],
		`INSERT INTO schema_version (version) VALUES (1)`,
		`INSERT INTO products (sku, name, price_cents) VALUES ('a', 'A', 100)`,
	} {
		if _, err := sqldb.ExecContext(ctx, q); err != nil {
			sqldb.Close()
			return nil, err
		}
	}
	return sqldb, nil
}
