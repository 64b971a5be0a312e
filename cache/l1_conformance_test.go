package cache_test

import (
	"testing"

	"github.com/strata-cache/strata/cache"
	"github.com/strata-cache/strata/cache/cachetest"
)

func TestL1Conformance(t *testing.T) {
	cachetest.TestTier(t, func(t *testing.T) cache.Tier[string] {
		l1, err := cache.NewL1(cache.L1Options[string]{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(l1.Close)
		return l1
	})
}
