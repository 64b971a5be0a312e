package inval_test

import (
	"testing"

	"github.com/strata-cache/strata/inval"
	"github.com/strata-cache/strata/inval/invaltest"
)

func TestMemoryConformance(t *testing.T) {
	invaltest.TestBus(t, func(t *testing.T, n int) []inval.Bus {
		m := inval.NewMemory(nil)
		t.Cleanup(func() { m.Close() })
		buses := make([]inval.Bus, n)
		for i := range buses {
			buses[i] = m
		}
		return buses
	})
}

func TestMemoryStoreConformance(t *testing.T) {
	invaltest.TestStore(t, func(t *testing.T, n int) []inval.Store {
		s := inval.NewMemoryStore(0)
		stores := make([]inval.Store, n)
		for i := range stores {
			stores[i] = s
		}
		return stores
	})
}

func TestMemoryCursorConformance(t *testing.T) {
	invaltest.TestCursor(t, func(t *testing.T, n int) []inval.Cursor {
		c := &inval.MemoryCursor{}
		cs := make([]inval.Cursor, n)
		for i := range cs {
			cs[i] = c
		}
		return cs
	})
}
