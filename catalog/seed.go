package catalog

import (
	"context"
	"fmt"

	"github.com/strata-cache/strata/db"
)

// sampleProducts seed an empty catalog.
var sampleProducts = []struct {
	sku, name, desc string
	price, stock    int64
}{
	{"STR-001", "Layered Notebook", "A5 notebook, dot grid, 160 pages", 1450, 120},
	{"STR-002", "Edge Pen", "Fine-tip gel pen, black", 320, 800},
	{"STR-003", "Cache Mug", "Stoneware mug, 350 ml", 1800, 60},
	{"STR-004", "Origin Tote", "Heavy canvas tote bag", 2200, 45},
	{"STR-005", "Purge Eraser", "Dust-free vinyl eraser", 150, 1000},
	{"STR-006", "TTL Timer", "Kitchen timer with magnetic back", 1299, 75},
	{"STR-007", "Surrogate Stickers", "Sheet of 24 vinyl stickers", 499, 300},
	{"STR-008", "Replica Desk Mat", "Felt desk mat, 80 x 30 cm", 3500, 25},
	{"STR-009", "Lease Lamp", "LED desk lamp, three brightness levels", 4900, 18},
	{"STR-010", "Shard Coasters", "Set of four cork coasters", 899, 140},
	{"STR-011", "Tombstone Bookends", "Pair of slate bookends", 3999, 12},
	{"STR-012", "Outbox Tray", "Stackable letter tray", 1599, 40},
}

// Seed fills an empty catalog — the sample products, then generated ones
// up to n products in all (for benchmarks) — and reports whether it did.
// Instances starting together on one empty database may all try: the
// first to commit seeds it, and the others, whose inserts then fail, find
// the catalog filled and report false without an error.
func Seed(ctx context.Context, d *db.DB, n int) (bool, error) {
	seeded, err := seed(ctx, d, n)
	if err != nil {
		var count int
		if cerr := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM products`).Scan(&count); cerr == nil && count > 0 {
			return false, nil // another instance seeded it meanwhile
		}
	}
	return seeded, err
}

func seed(ctx context.Context, d *db.DB, n int) (bool, error) {
	var count int
	if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM products`).Scan(&count); err != nil {
		return false, fmt.Errorf("catalog: seed: %w", err)
	}
	if count > 0 {
		return false, nil
	}
	tx, err := d.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("catalog: seed: %w", err)
	}
	defer tx.Rollback()
	insert := d.Rebind(`INSERT INTO products (sku, name, description, price_cents, stock) VALUES (?, ?, ?, ?, ?)`)
	for _, p := range sampleProducts {
		if _, err := tx.ExecContext(ctx, insert, p.sku, p.name, p.desc, p.price, p.stock); err != nil {
			return false, fmt.Errorf("catalog: seed: %w", err)
		}
	}
	for i := len(sampleProducts) + 1; i <= n; i++ {
		if _, err := tx.ExecContext(ctx, insert, fmt.Sprintf("GEN-%07d", i), fmt.Sprintf("Generated product %d", i),
			"Generated for benchmarks", 100+(i*7919)%99900, 10+(i*31)%990); err != nil {
			return false, fmt.Errorf("catalog: seed: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("catalog: seed: %w", err)
	}
	return true, nil
}
