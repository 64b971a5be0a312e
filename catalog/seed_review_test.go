package catalog

import (
	"context"
	"sync"
	"testing"

	"github.com/strata-cache/strata/db"
	"github.com/strata-cache/strata/db/dbtest"
)

// TestSeedConcurrentStartsDoNotFail: `strata api` instances started
// together on one empty database each call Seed. The count is read outside
// the inserting transaction, so every one of them saw an empty catalog and
// all but the first failed on the sku UNIQUE constraint — and the instance
// refused to start.
func TestSeedConcurrentStartsDoNotFail(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, env dbtest.Env) {
		_, name := env.New(t)
		const n = 4
		dbs := make([]*db.DB, n)
		for i := range dbs {
			d, err := db.Open(context.Background(), name)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			dbs[i] = d
		}
		var wg sync.WaitGroup
		errs := make([]error, n)
		seeded := make([]bool, n)
		start := make(chan struct{})
		for i, d := range dbs {
			wg.Go(func() {
				<-start
				seeded[i], errs[i] = Seed(context.Background(), d, 200)
			})
		}
		close(start)
		wg.Wait()
		count := 0
		for i := range dbs {
			if errs[i] != nil {
				t.Errorf("instance %d: Seed: %v", i, errs[i])
			}
			if seeded[i] {
				count++
			}
		}
		if count != 1 {
			t.Errorf("%d instances seeded, want 1", count)
		}
		var products int
		if err := dbs[0].QueryRow(`SELECT COUNT(*) FROM products`).Scan(&products); err != nil {
			t.Fatal(err)
		}
		if products != 200 {
			t.Errorf("%d products, want 200", products)
		}
	})
}
