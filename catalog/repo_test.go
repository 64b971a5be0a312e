package catalog

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/strata-cache/strata/db"
	"github.com/strata-cache/strata/db/dbtest"
)

// TestSQLRepo runs the repository's contract against SQLite and
// PostgreSQL.
func TestSQLRepo(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, env dbtest.Env) {
		for _, c := range []struct {
			name string
			fn   func(t *testing.T, d *db.DB)
		}{
			{"Reads", testRepoReads},
			{"Update", testRepoUpdate},
			{"PlainSQLWrite", testRepoPlainSQLWrite},
			{"NotifiesAfterWrite", testRepoNotifies},
		} {
			t.Run(c.name, func(t *testing.T) {
				d, _ := env.New(t)
				insertSamples(t, d)
				c.fn(t, d)
			})
		}
	})
}

// insertSamples fills the catalog the way Seed does, in portable SQL.
func insertSamples(t *testing.T, d *db.DB) {
	t.Helper()
	for _, p := range sampleProducts {
		if _, err := d.Exec(d.Rebind(`INSERT INTO products (sku, name, description, price_cents, stock) VALUES (?, ?, ?, ?, ?)`),
			p.sku, p.name, p.desc, p.price, p.stock); err != nil {
			t.Fatal(err)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func testRepoReads(t *testing.T, d *db.DB) {
	ctx := context.Background()
	r := SQLRepo{DB: d}
	n := uint64(len(sampleProducts))

	p, v, err := r.Product(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != 3 || p.SKU != "STR-003" || p.Name != "Cache Mug" || p.PriceCents != 1800 || p.Stock != 60 || p.Version != 1 || v != n {
		t.Errorf("Product(3) = %+v at %d", p, v)
	}
	if p.UpdatedAt.IsZero() || time.Since(p.UpdatedAt) > time.Hour || p.UpdatedAt.Location() != time.UTC {
		t.Errorf("UpdatedAt = %v", p.UpdatedAt)
	}

	if _, v, err := r.Product(ctx, 999); !errors.Is(err, ErrNotFound) || v != n {
		t.Errorf("Product(999) = %d, %v; want ErrNotFound at %d", v, err, n)
	}

	page, v, err := r.Products(ctx, 10, 5)
	if err != nil {
		t.Fatal(err)
	}
	if page.Total != int64(n) || len(page.Items) != 2 || page.Items[0].ID != 11 || page.Items[1].ID != 12 || v != n {
		t.Errorf("Products(10, 5) = %+v at %d", page, v)
	}

	sum, v, err := r.Summary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var stock int64
	for _, p := range sampleProducts {
		stock += p.stock
	}
	if sum.Products != int64(n) || sum.TotalStock != stock || sum.LastUpdated.IsZero() || v != n {
		t.Errorf("Summary = %+v at %d, want %d products, %d in stock", sum, v, n, stock)
	}
}

func testRepoUpdate(t *testing.T, d *db.DB) {
	ctx := context.Background()
	r := SQLRepo{DB: d}
	ob := db.Outbox{DB: d}
	before, _ := ob.Last(ctx)

	p, err := r.UpdateProduct(ctx, 2, Update{Name: ptr("Edge Pen II"), Stock: ptr[int64](5)}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "Edge Pen II" || p.Stock != 5 || p.PriceCents != 320 || p.Description != "Fine-tip gel pen, black" || p.Version != 2 {
		t.Errorf("updated = %+v", p)
	}
	evs, err := ob.After(ctx, before, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Version != before+1 || evs[0].By != "outbox:products:2" {
		t.Fatalf("outbox after one update = %+v", evs)
	}
	got, v, err := r.Product(ctx, 2)
	if err != nil || got.Version != 2 || got.Name != "Edge Pen II" || v != before+1 {
		t.Errorf("Product(2) = %+v at %d, %v", got, v, err)
	}

	if _, err := r.UpdateProduct(ctx, 2, Update{Stock: ptr[int64](6)}, 1); !errors.Is(err, ErrPrecondition) {
		t.Errorf("stale If-Match: err = %v", err)
	}
	if _, err := r.UpdateProduct(ctx, 999, Update{Stock: ptr[int64](6)}, 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown product: err = %v", err)
	}
	if _, err := r.UpdateProduct(ctx, 2, Update{Stock: ptr[int64](-1)}, 0); err == nil {
		t.Error("negative stock accepted")
	}
	// Refused updates write nothing.
	if evs, _ := ob.After(ctx, before+1, 10); len(evs) != 0 {
		t.Errorf("refused updates wrote %+v", evs)
	}
	p, err = r.UpdateProduct(ctx, 2, Update{PriceCents: ptr[int64](330)}, 0)
	if err != nil || p.Version != 3 || p.PriceCents != 330 || p.Name != "Edge Pen II" {
		t.Errorf("unconditional update = %+v, %v", p, err)
	}
}

// testRepoPlainSQLWrite: a change made outside Strata is read at its new
// data version.
func testRepoPlainSQLWrite(t *testing.T, d *db.DB) {
	ctx := context.Background()
	r := SQLRepo{DB: d}
	_, v0, err := r.Product(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(`UPDATE products SET stock = 0 WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	p, v, err := r.Product(ctx, 1)
	if err != nil || p.Stock != 0 || p.Version != 2 || v != v0+1 {
		t.Errorf("after plain SQL: %+v at %d (was %d), %v", p, v, v0, err)
	}
	sum, sv, err := r.Summary(ctx)
	if err != nil || sv != v || !sum.LastUpdated.Equal(p.UpdatedAt) {
		t.Errorf("Summary = %+v at %d, %v; product updated at %v", sum, sv, err, p.UpdatedAt)
	}
}

func testRepoNotifies(t *testing.T, d *db.DB) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := d.Notifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (SQLRepo{DB: d}).UpdateProduct(ctx, 1, Update{Stock: ptr[int64](1)}, 0); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c:
	case <-time.After(15 * time.Second):
		t.Fatal("no wake-up after a write")
	}
}
