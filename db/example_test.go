package db_test

import (
	"context"
	"log"
	"time"

	"github.com/strata-cache/strata/db"
)

// The relay loop of `strata api`: one leader across instances reads the
// outbox, woken by commits and by a slow poll, and stops acting the moment
// it loses leadership.
func Example_relay() {
	ctx := context.Background()
	d, err := db.Open(ctx, "postgres://strata@127.0.0.1:5432/strata?sslmode=disable")
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	outbox := db.Outbox{DB: d}
	var pos uint64 // in Strata, the relay's durable cursor

	lead, err := d.Leader(ctx, "relay")
	if err != nil {
		return
	}
	defer lead.Release()
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Listen before the first read, so that no commit falls in between.
	wake, err := d.Notifications(lctx)
	if err != nil {
		return
	}
	poll := time.NewTicker(5 * time.Second) // other SQLite clients, missed wake-ups
	defer poll.Stop()
	for {
		evs, err := outbox.After(lctx, pos, 1000)
		if err != nil {
			log.Print(err)
		}
		for _, ev := range evs {
			// Publish ev (at least once), then move the cursor.
			pos = ev.Version
		}
		select {
		case <-lead.Lost():
			return
		case <-wake:
		case <-poll.C:
		}
	}
}
