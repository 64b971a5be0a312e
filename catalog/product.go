package catalog

import (
	"errors"
	"fmt"
	"time"
)

// Product is one catalog row.
type Product struct {
	ID          int64     `json:"id"`
	SKU         string    `json:"sku"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	PriceCents  int64     `json:"price_cents"`
	Stock       int64     `json:"stock"`
	Version     int64     `json:"version"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Page is one page of products.
type Page struct {
	Items  []Product `json:"items"`
	Total  int64     `json:"total"`
	Offset int       `json:"offset"`
	Limit  int       `json:"limit"`
}

// Summary is what GET /api/data reports about the catalog.
type Summary struct {
	Products    int64     `json:"products"`
	TotalStock  int64     `json:"total_stock"`
	LastUpdated time.Time `json:"last_updated"`
}

// Update is the body of PUT /api/products/{id}. Fields left out keep their
// current value.
type Update struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	PriceCents  *int64  `json:"price_cents"`
	Stock       *int64  `json:"stock"`
}

// Limits on product fields.
const (
	MaxNameLen        = 200
	MaxDescriptionLen = 4000
)

// Errors the handlers map to statuses.
var (
	ErrNotFound     = errors.New("catalog: not found")
	ErrInvalid      = errors.New("catalog: invalid request")
	ErrUnauthorized = errors.New("catalog: missing or wrong admin token")
	ErrPrecondition = errors.New("catalog: precondition failed")
)

// Validate checks an update before it reaches the database.
func (u Update) Validate() error {
	switch {
	case u.Name == nil && u.Description == nil && u.PriceCents == nil && u.Stock == nil:
		return fmt.Errorf("%w: nothing to update (fields: name, description, price_cents, stock)", ErrInvalid)
	case u.Name != nil && (*u.Name == "" || len(*u.Name) > MaxNameLen):
		return fmt.Errorf("%w: name must be 1 to %d bytes", ErrInvalid, MaxNameLen)
	case u.Description != nil && len(*u.Description) > MaxDescriptionLen:
		return fmt.Errorf("%w: description must be at most %d bytes", ErrInvalid, MaxDescriptionLen)
	case u.PriceCents != nil && *u.PriceCents < 0:
		return fmt.Errorf("%w: price_cents must not be negative", ErrInvalid)
	case u.Stock != nil && *u.Stock < 0:
		return fmt.Errorf("%w: stock must not be negative", ErrInvalid)
	}
	return nil
}
