package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/strata-cache/strata/db"
)

// Repository reads and writes the catalog. Every read returns the data
// version it was read at.
type Repository interface {
	Product(ctx context.Context, id int64) (Product, uint64, error)
	Products(ctx context.Context, offset, limit int) (Page, uint64, error)
	Summary(ctx context.Context) (Summary, uint64, error)
	// UpdateProduct applies u to product id in one transaction. When
	// ifVersion is not 0 and the row's version differs, it returns
	// ErrPrecondition.
	UpdateProduct(ctx context.Context, id int64, u Update, ifVersion int64) (Product, error)
}

// SQLRepo is the Repository on a db.DB, SQLite or PostgreSQL: queries are
// written with "?" placeholders and rebound for the dialect, reads run in
// one snapshot (db.DB.BeginSnapshot) so that the data version they return
// is the one their rows were read at, and a successful write calls
// db.DB.Notify so the relay wakes without polling.
type SQLRepo struct{ DB *db.DB }

var _ Repository = SQLRepo{}

const productColumns = `id, sku, name, description, price_cents, stock, version, updated_at`

type scanner interface{ Scan(...any) error }

func scanProduct(s scanner) (Product, error) {
	var p Product
	var updated any // text on SQLite, timestamptz on PostgreSQL
	if err := s.Scan(&p.ID, &p.SKU, &p.Name, &p.Description, &p.PriceCents, &p.Stock, &p.Version, &updated); err != nil {
		return p, err
	}
	p.UpdatedAt = parseTime(updated)
	return p, nil
}

// parseTime reads a time column; a value another client wrote in a form it
// cannot read is left zero rather than failing the read.
func parseTime(v any) time.Time {
	t, _ := db.ParseTime(v)
	return t.UTC()
}

// read runs fn in a transaction and returns the data version it saw.
func (r SQLRepo) read(ctx context.Context, fn func(tx *sql.Tx) error) (uint64, error) {
	tx, err := r.DB.BeginSnapshot(ctx)
	if err != nil {
		return 0, fmt.Errorf("catalog: begin: %w", err)
	}
	defer tx.Rollback()
	v, err := db.DataVersion(ctx, tx)
	if err != nil {
		return 0, err
	}
	if err := fn(tx); err != nil {
		if errors.Is(err, ErrNotFound) {
			return v, err // "not found" is a result read at v, and cached as one
		}
		return 0, err
	}
	return v, nil
}

// Product implements Repository.
func (r SQLRepo) Product(ctx context.Context, id int64) (p Product, v uint64, err error) {
	v, err = r.read(ctx, func(tx *sql.Tx) error {
		p, err = scanProduct(tx.QueryRowContext(ctx, r.DB.Rebind(`SELECT `+productColumns+` FROM products WHERE id = ?`), id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: product %d", ErrNotFound, id)
		}
		return err
	})
	return p, v, err
}

// Products implements Repository.
func (r SQLRepo) Products(ctx context.Context, offset, limit int) (Page, uint64, error) {
	page := Page{Items: []Product{}, Offset: offset, Limit: limit}
	v, err := r.read(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM products`).Scan(&page.Total); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, r.DB.Rebind(`SELECT `+productColumns+` FROM products ORDER BY id LIMIT ? OFFSET ?`), limit, offset)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			p, err := scanProduct(rows)
			if err != nil {
				return err
			}
			page.Items = append(page.Items, p)
		}
		return rows.Err()
	})
	return page, v, err
}

// Summary implements Repository.
func (r SQLRepo) Summary(ctx context.Context) (s Summary, v uint64, err error) {
	v, err = r.read(ctx, func(tx *sql.Tx) error {
		var last any
		// SUM of a bigint is numeric on PostgreSQL.
		err := tx.QueryRowContext(ctx, `SELECT COUNT(*), CAST(COALESCE(SUM(stock), 0) AS BIGINT), MAX(updated_at) FROM products`).
			Scan(&s.Products, &s.TotalStock, &last)
		if last != nil {
			s.LastUpdated = parseTime(last)
		}
		return err
	})
	return s, v, err
}

// UpdateProduct implements Repository.
func (r SQLRepo) UpdateProduct(ctx context.Context, id int64, u Update, ifVersion int64) (Product, error) {
	tx, err := r.DB.BeginTx(ctx, nil)
	if err != nil {
		return Product{}, fmt.Errorf("catalog: begin: %w", err)
	}
	defer tx.Rollback()
	// COALESCE keeps fields the update leaves out; the version bump and the
	// outbox row come from the schema's triggers.
	res, err := tx.ExecContext(ctx, r.DB.Rebind(`UPDATE products SET
		name = COALESCE(?, name), description = COALESCE(?, description),
		price_cents = COALESCE(?, price_cents), stock = COALESCE(?, stock)
		WHERE id = ? AND (CAST(? AS BIGINT) = 0 OR version = ?)`),
		u.Name, u.Description, u.PriceCents, u.Stock, id, ifVersion, ifVersion)
	if err != nil {
		return Product{}, fmt.Errorf("catalog: update product %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var exists bool
		tx.QueryRowContext(ctx, r.DB.Rebind(`SELECT EXISTS (SELECT 1 FROM products WHERE id = ?)`), id).Scan(&exists)
		if !exists {
			return Product{}, fmt.Errorf("%w: product %d", ErrNotFound, id)
		}
		return Product{}, fmt.Errorf("%w: product %d is no longer at version %d", ErrPrecondition, id, ifVersion)
	}
	p, err := scanProduct(tx.QueryRowContext(ctx, r.DB.Rebind(`SELECT `+productColumns+` FROM products WHERE id = ?`), id))
	if err != nil {
		return Product{}, fmt.Errorf("catalog: read back product %d: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return Product{}, fmt.Errorf("catalog: commit: %w", err)
	}
	r.DB.Notify()
	return p, nil
}
