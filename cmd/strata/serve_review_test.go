package main

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/strata-cache/strata/internal/testenv"
)

// strata serve with -redis keeps its application cache's L2 in Redis,
// which outlives the process. Its relay's cursor was held in memory, so a
// restarted serve started after the outbox's last row: a change committed
// by another client while it was down (or committed by it just before a
// crash, before the relay ran) was never relayed, and the restarted
// process went on serving the old value from L2.
func TestServeRestartRelaysChangesCommittedWhileDown(t *testing.T) {
	redisAddr := testenv.Redis(t)
	dsn := testenv.Postgres(t)
	edgeAddr, apiAddr, adminAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	args := []string{"serve", "-db", dsn, "-redis", "redis://" + redisAddr,
		"-edge-addr", edgeAddr, "-api-addr", apiAddr, "-admin-addr", adminAddr, "-data-dir", t.TempDir(), "-relay-poll", "100ms"}
	p := start(t, "admin", []string{"STRATA_ADMIN_TOKEN=secret"}, args...)
	api := "http://" + apiAddr
	const id = 4
	before := price(t, api, id) // now in L2
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()

	psql(t, dsn, fmt.Sprintf("UPDATE products SET price_cents = %d WHERE id = %d", before+1, id))

	start(t, "admin", []string{"STRATA_ADMIN_TOKEN=secret"}, args...)
	// The restarted relay's first Sync runs within -relay-poll.
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := price(t, api, id)
		if got == before+1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a restart, serve serves price %d of a product changed to %d while it was down", got, before+1)
		}
		time.Sleep(50 * time.Millisecond) // another process: no signal to wait on
	}
}
