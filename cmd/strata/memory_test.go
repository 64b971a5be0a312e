package main

import (
	"io"
	"log/slog"
	"runtime/debug"
	"testing"
)

func TestMemoryBudget(t *testing.T) {
	if got := storeBytes(100<<20, 0); got != 65<<20 {
		t.Errorf("store share of 100 MiB = %d, want 65 MiB", got)
	}
	// With 20 MiB outside Go's limit, a 64 MiB budget leaves the collector
	// half the store: (64-20)/1.5 MiB; a large budget keeps its 65%.
	if got := storeBytes(64<<20, 20<<20); got != (44<<20)*10/15 {
		t.Errorf("store share of 64 MiB with 20 MiB outside = %d, want %d", got, (44<<20)*10/15)
	}
	if got, want := storeBytes(1<<30, 20<<20), storeBytes(1<<30, 0); got != want {
		t.Errorf("store share of 1 GiB = %d, want 65%%", got)
	}
	if got := rssFile("VmRSS:\t  18712 kB\nRssAnon:\t    2364 kB\nRssFile:\t   16348 kB\n"); got != 16348<<10 {
		t.Errorf("rssFile = %d", got)
	}
	if got := rssFile("RssFile: lots\n"); got != 0 {
		t.Errorf("rssFile of a malformed line = %d, want 0", got)
	}
	if o := residentOutsideHeap(); o < 8<<20 {
		t.Errorf("residentOutsideHeap = %d, below its 8 MiB floor", o)
	}
	t.Setenv("GOMEMLIMIT", "")
	prev := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(prev)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	limitMemory(256<<20, 8<<20, logger)
	if got := debug.SetMemoryLimit(-1); got != 248<<20 {
		t.Errorf("limit for a 256 MiB budget = %d, want 248 MiB", got)
	}
	limitMemory(16<<20, 8<<20, logger)
	if got := debug.SetMemoryLimit(-1); got != 32<<20 {
		t.Errorf("limit for a 16 MiB budget = %d, want the 32 MiB floor", got)
	}
	t.Setenv("GOMEMLIMIT", "1GiB")
	debug.SetMemoryLimit(prev)
	limitMemory(64<<20, 8<<20, logger)
	if got := debug.SetMemoryLimit(-1); got != prev {
		t.Errorf("GOMEMLIMIT was overridden: %d", got)
	}
}
