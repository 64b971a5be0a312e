package catalog

import (
	"net/http"
	"strings"

	"github.com/strata-cache/strata/cache"
)

// productTriggers are the database triggers whose outbox rows name
// "product:<id>" and "products" (see package db).
var productTriggers = []string{"products_outbox_insert", "products_outbox_update", "products_outbox_delete"}

// InventoryLine is one hot key of one of the service's caches.
type InventoryLine struct {
	cache.KeyStat
	Cache string `json:"cache"`
	// Triggers are the database triggers whose changes invalidate the key;
	// empty means it only expires.
	Triggers []string `json:"triggers"`
}

// triggersFor names the triggers that emit an invalidation reaching a key
// with these names (its own key and its tags).
func triggersFor(key string, tags []string) []string {
	for _, n := range append([]string{key}, tags...) {
		// product:<id>, products, and the page keys products:<offset>:<limit>
		// (tagged "products") and summary (tagged "products").
		if strings.HasPrefix(n, "product") || n == "summary" {
			return productTriggers
		}
	}
	return []string{}
}

// Inventory lists up to n of the hottest keys of each cache with their
// estimated request counts, what L1 holds, and the triggers covering them.
func (s *Service) Inventory(n int) []InventoryLine {
	var out []InventoryLine
	add := func(name string, stats []cache.KeyStat) {
		for _, st := range stats {
			out = append(out, InventoryLine{KeyStat: st, Cache: name, Triggers: triggersFor(st.Key, st.Tags)})
		}
	}
	add("products", s.products.Inventory(n))
	add("pages", s.pages.Inventory(n))
	add("summary", s.summary.Inventory(n))
	return out
}

// InventoryHandler serves Inventory as JSON; ?n= sets the keys per cache
// (default 50, at most 1000).
func (s *Service) InventoryHandler() http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		n, err := intParam(r, "n", 50, 1000)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"keys": s.Inventory(n)})
		return nil
	})
}
