package main

import (
	"io"
	"log/slog"
	"runtime/debug"
	"testing"
)

func TestMemoryBudget(t *testing.T) {
	if got := storeBytes(100 << 20); got != 65<<20 {
		t.Errorf("store share of 100 MiB = %d, want 65 MiB", got)
	}
	t.Setenv("GOMEMLIMIT", "")
	prev := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(prev)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	limitMemory(256<<20, logger)
	if got := debug.SetMemoryLimit(-1); got != 248<<20 {
		t.Errorf("limit for a 256 MiB budget = %d, want 248 MiB", got)
	}
	limitMemory(16<<20, logger)
	if got := debug.SetMemoryLimit(-1); got != 32<<20 {
		t.Errorf("limit for a 16 MiB budget = %d, want the 32 MiB floor", got)
	}
	t.Setenv("GOMEMLIMIT", "1GiB")
	debug.SetMemoryLimit(prev)
	limitMemory(64<<20, logger)
	if got := debug.SetMemoryLimit(-1); got != prev {
		t.Errorf("GOMEMLIMIT was overridden: %d", got)
	}
}
