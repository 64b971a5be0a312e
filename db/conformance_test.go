package db_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-cache/strata/db"
	"github.com/strata-cache/strata/db/dbtest"
	"github.com/strata-cache/strata/inval"
)

// wait bounds how long a test waits for a signal that should come at once.
const wait = 15 * time.Second

var conformance = []struct {
	name string
	fn   func(t *testing.T, env dbtest.Env)
}{
	{"TriggersWriteOutbox", testTriggersWriteOutbox},
	{"PlainSQLUpdate", testPlainSQLUpdate},
	{"ClientSetsVersion", testClientSetsVersion},
	{"RollbackLeavesNoGap", testRollbackLeavesNoGap},
	{"CommitOrder", testCommitOrder},
	{"SnapshotDataVersion", testSnapshotDataVersion},
	{"PruneBefore", testPruneBefore},
	{"MalformedRows", testMalformedRows},
	{"Notifications", testNotifications},
	{"Leadership", testLeadership},
	{"SchemaTooNew", testSchemaTooNew},
}

// TestConformance runs every case against SQLite and PostgreSQL.
func TestConformance(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, env dbtest.Env) {
		for _, c := range conformance {
			t.Run(c.name, func(t *testing.T) { c.fn(t, env) })
		}
	})
}

func exec1(t *testing.T, d *db.DB, query string, args ...any) {
	t.Helper()
	if _, err := d.Exec(d.Rebind(query), args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func after(t *testing.T, d *db.DB, seq uint64) []inval.Event {
	t.Helper()
	evs, err := db.Outbox{DB: d}.After(context.Background(), seq, 100)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func last(t *testing.T, d *db.DB) uint64 {
	t.Helper()
	seq, err := db.Outbox{DB: d}.Last(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

func dataVersion(t *testing.T, d *db.DB) uint64 {
	t.Helper()
	ctx := context.Background()
	tx, err := d.BeginSnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	v, err := db.DataVersion(ctx, tx)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// wantEvent checks an event written by the products triggers.
func wantEvent(t *testing.T, ev inval.Event, seq uint64, id string) {
	t.Helper()
	want := inval.Event{
		Version: seq,
		Keys:    []string{"product:" + id, "products"},
		Tags:    []string{"product:" + id, "products"},
		Paths:   []string{"/api/products/" + id, "/api/products", "/api/data"},
		By:      "outbox:products:" + id,
	}
	if ev.Version != want.Version || !slices.Equal(ev.Keys, want.Keys) || !slices.Equal(ev.Tags, want.Tags) ||
		!slices.Equal(ev.Paths, want.Paths) || ev.By != want.By || ev.All {
		t.Errorf("event = %+v,\nwant %+v", ev, want)
	}
	if ev.Time.IsZero() || time.Since(ev.Time) > time.Hour || time.Since(ev.Time) < -time.Hour {
		t.Errorf("event time = %v", ev.Time)
	}
}

// rowVersion reads the outbox row's version column.
func rowVersion(t *testing.T, d *db.DB, seq uint64) (version int64, table, pk string) {
	t.Helper()
	err := d.QueryRow(d.Rebind(`SELECT version, table_name, pk FROM outbox WHERE seq = ?`), int64(seq)).Scan(&version, &table, &pk)
	if err != nil {
		t.Fatal(err)
	}
	return version, table, pk
}

func testTriggersWriteOutbox(t *testing.T, env dbtest.Env) {
	d, _ := env.New(t)
	ctx := context.Background()
	if v := dataVersion(t, d); v != 0 {
		t.Errorf("empty DataVersion = %d", v)
	}
	exec1(t, d, `INSERT INTO products (sku, name, price_cents) VALUES ('a', 'A', 100)`)
	// An update from any client, not setting the version, bumps it once.
	exec1(t, d, `UPDATE products SET name = 'A2' WHERE sku = 'a'`)
	var version int
	d.QueryRow(`SELECT version FROM products WHERE sku = 'a'`).Scan(&version)
	if version != 2 {
		t.Errorf("version = %d, want 2", version)
	}
	// Columns outside the content leave the version and the outbox alone.
	exec1(t, d, `UPDATE products SET updated_at = updated_at`)
	exec1(t, d, `DELETE FROM products`)
	evs := after(t, d, 0)
	if len(evs) != 3 {
		t.Fatalf("outbox = %+v", evs)
	}
	for i, wantVersion := range []int64{1, 2, 3} {
		wantEvent(t, evs[i], uint64(i+1), "1")
		if v, table, pk := rowVersion(t, d, uint64(i+1)); v != wantVersion || table != "products" || pk != "1" {
			t.Errorf("row %d: version %d table %q pk %q, want version %d", i+1, v, table, pk, wantVersion)
		}
	}
	if got := last(t, d); got != 3 {
		t.Errorf("Last = %d, want 3", got)
	}
	if err := (db.Outbox{DB: d}).Prune(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if evs := after(t, d, 0); len(evs) != 1 || evs[0].Version != 3 {
		t.Errorf("after prune: %+v", evs)
	}
	// Pruning does not lower the data version.
	if err := (db.Outbox{DB: d}).Prune(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if v, l := dataVersion(t, d), last(t, d); v != 3 || l != 3 {
		t.Errorf("after pruning everything: DataVersion %d, Last %d, want 3", v, l)
	}
}

// testPlainSQLUpdate changes a row the way an operator would, outside
// Strata: one outbox row, complete.
func testPlainSQLUpdate(t *testing.T, env dbtest.Env) {
	d, dsn := env.New(t)
	exec1(t, d, `INSERT INTO products (sku, name, price_cents) VALUES ('a', 'A', 100), ('b', 'B', 200)`)
	start := last(t, d)
	exec1(t, d, `UPDATE products SET price_cents = 150 WHERE sku = 'b'`)
	evs := after(t, d, start)
	if len(evs) != 1 {
		t.Fatalf("outbox after one update = %+v", evs)
	}
	wantEvent(t, evs[0], start+1, "2")
	if v, _, _ := rowVersion(t, d, start+1); v != 2 {
		t.Errorf("outbox version = %d, want 2", v)
	}
	if got := dataVersion(t, d); got != start+1 {
		t.Errorf("DataVersion = %d, want %d", got, start+1)
	}

	if env.Dialect != db.Postgres {
		return
	}
	psql := dbtest.PSQL()
	if psql == "" {
		t.Skip("psql not installed")
	}
	out, err := exec.Command(psql, "-X", "-v", "ON_ERROR_STOP=1", "-d", dsn,
		"-c", "UPDATE products SET stock = 7 WHERE sku = 'a'").CombinedOutput()
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	evs = after(t, d, start+1)
	if len(evs) != 1 {
		t.Fatalf("outbox after psql update = %+v", evs)
	}
	wantEvent(t, evs[0], start+2, "1")
	if v, _, _ := rowVersion(t, d, start+2); v != 2 {
		t.Errorf("outbox version = %d, want 2", v)
	}
}

func testClientSetsVersion(t *testing.T, env dbtest.Env) {
	d, _ := env.New(t)
	exec1(t, d, `INSERT INTO products (sku, name, price_cents) VALUES ('a', 'A', 100)`)
	exec1(t, d, `UPDATE products SET name = 'A2', version = 10`)
	var version int64
	d.QueryRow(`SELECT version FROM products`).Scan(&version)
	if version != 10 {
		t.Errorf("version = %d, want 10 (the client's)", version)
	}
	evs := after(t, d, 1)
	if len(evs) != 1 {
		t.Fatalf("outbox = %+v", evs)
	}
	if v, _, _ := rowVersion(t, d, 2); v != 10 {
		t.Errorf("outbox version = %d, want 10", v)
	}
	// Setting the version to itself with content bumps as usual.
	exec1(t, d, `UPDATE products SET name = 'A3', version = version`)
	if evs := after(t, d, 2); len(evs) != 1 {
		t.Fatalf("outbox = %+v", evs)
	}
	if v, _, _ := rowVersion(t, d, 3); v != 11 {
		t.Errorf("outbox version = %d, want 11", v)
	}
}

func testRollbackLeavesNoGap(t *testing.T, env dbtest.Env) {
	d, _ := env.New(t)
	ctx := context.Background()
	exec1(t, d, `INSERT INTO products (sku, name, price_cents) VALUES ('a', 'A', 100)`)
	tx, err := d.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(d.Rebind(`INSERT INTO products (sku, name, price_cents) VALUES (?, ?, ?)`), "b", "B", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`UPDATE products SET stock = 1`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	// A failing statement rolls back too.
	if _, err := d.Exec(`UPDATE products SET price_cents = -1`); err == nil {
		t.Fatal("CHECK did not refuse a negative price")
	}
	exec1(t, d, `UPDATE products SET stock = 2`)
	evs := after(t, d, 0)
	if len(evs) != 2 || evs[0].Version != 1 || evs[1].Version != 2 {
		t.Fatalf("outbox after a rollback = %+v", evs)
	}
	if l := last(t, d); l != 2 {
		t.Errorf("Last = %d, want 2", l)
	}
}

// testCommitOrder: a transaction that writes while another holds
// uncommitted outbox rows gets the next sequence after that one commits,
// and readers never see the later sequence without the earlier.
func testCommitOrder(t *testing.T, env dbtest.Env) {
	d, _ := env.New(t)
	ctx := context.Background()
	exec1(t, d, `INSERT INTO products (sku, name, price_cents) VALUES ('a', 'A', 100), ('b', 'B', 200)`)
	t1, err := d.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer t1.Rollback()
	if _, err := t1.Exec(`UPDATE products SET stock = 1 WHERE sku = 'a'`); err != nil {
		t.Fatal(err)
	}
	t2done := make(chan error, 1)
	go func() {
		t2done <- func() error {
			t2, err := d.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer t2.Rollback()
			if _, err := t2.Exec(`UPDATE products SET stock = 2 WHERE sku = 'b'`); err != nil {
				return err
			}
			return t2.Commit()
		}()
	}()
	if env.Dialect == db.Postgres {
		// Wait until t2 queues behind t1's outbox_counter row lock.
		deadline := time.Now().Add(wait)
		for {
			var waiting bool
			d.QueryRow(`SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database())`).Scan(&waiting)
			if waiting {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("second writer never waited for the first")
			}
			time.Sleep(10 * time.Millisecond) // polling an external server
		}
	}
	if evs := after(t, d, 2); len(evs) != 0 {
		t.Errorf("uncommitted rows visible: %+v", evs)
	}
	if err := t1.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-t2done; err != nil {
		t.Fatal(err)
	}
	evs := after(t, d, 2)
	if len(evs) != 2 {
		t.Fatalf("outbox = %+v", evs)
	}
	wantEvent(t, evs[0], 3, "1")
	wantEvent(t, evs[1], 4, "2")
	if !evs[0].Time.Before(evs[1].Time) {
		t.Errorf("times out of order: %v, %v", evs[0].Time, evs[1].Time)
	}
}

// testSnapshotDataVersion: rows and the data version read in one
// snapshot agree, whatever commits meanwhile.
func testSnapshotDataVersion(t *testing.T, env dbtest.Env) {
	d, _ := env.New(t)
	ctx := context.Background()
	exec1(t, d, `INSERT INTO products (sku, name, price_cents) VALUES ('a', 'A', 100)`)
	tx, err := d.BeginSnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	v1, err := db.DataVersion(ctx, tx)
	if err != nil || v1 != 1 {
		t.Fatalf("DataVersion = %d, %v", v1, err)
	}
	exec1(t, d, `UPDATE products SET stock = 5`)
	var stock int
	if err := tx.QueryRow(`SELECT stock FROM products`).Scan(&stock); err != nil {
		t.Fatal(err)
	}
	v2, err := db.DataVersion(ctx, tx)
	if err != nil {
		t.Fatal(err)
	}
	if stock != 0 || v2 != 1 {
		t.Errorf("snapshot read stock %d at version %d, want 0 at 1", stock, v2)
	}
	if v := dataVersion(t, d); v != 2 {
		t.Errorf("DataVersion after the update = %d, want 2", v)
	}
}

func testPruneBefore(t *testing.T, env dbtest.Env) {
	d, _ := env.New(t)
	ctx := context.Background()
	ob := db.Outbox{DB: d}
	exec1(t, d, `INSERT INTO products (sku, name, price_cents) VALUES ('a', 'A', 1), ('b', 'B', 2), ('c', 'C', 3), ('d', 'D', 4)`)
	old := time.Now().Add(-48 * time.Hour)
	var oldArg any = old
	if env.Dialect == db.SQLite {
		oldArg = old.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	// Rows 1 to 3 are old; 4 is recent.
	exec1(t, d, `UPDATE outbox SET created_at = ? WHERE seq <= 3`, oldArg)
	n, err := ob.PruneBefore(ctx, 2, time.Now().Add(-24*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("PruneBefore(2, -24h) = %d, %v; want 2 rows", n, err)
	}
	n, err = ob.PruneBefore(ctx, 4, time.Now().Add(-24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("PruneBefore(4, -24h) = %d, %v; want 1 row (the recent one stays)", n, err)
	}
	evs := after(t, d, 0)
	if len(evs) != 1 || evs[0].Version != 4 {
		t.Errorf("left: %+v", evs)
	}
	if !evs[0].Time.After(time.Now().Add(-time.Hour)) {
		t.Errorf("recent row's time = %v", evs[0].Time)
	}
}

func testMalformedRows(t *testing.T, env dbtest.Env) {
	d, _ := env.New(t)
	ctx := context.Background()
	var logs bytes.Buffer
	ob := db.Outbox{DB: d, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	exec1(t, d, `INSERT INTO products (sku, name, price_cents) VALUES ('a', 'A', 1)`)
	type raw struct {
		table, pk, keys, tags string
		badTime               bool // SQLite only: created_at is text
	}
	rows := []raw{
		{table: "products", pk: "7"},                             // no keys, no tags
		{table: "mystery", pk: "x"},                              // unknown table, no keys
		{table: "products", pk: "8", keys: "product:8 products"}, // no tags
		{},                  // nothing at all
		{table: "products"}, // a cached table, but no key: which rows?
	}
	if env.Dialect == db.SQLite {
		rows = append(rows, raw{table: "products", pk: "9", keys: "product:9 products", tags: "product:9 products", badTime: true})
	}
	for _, r := range rows {
		if env.Dialect == db.Postgres {
			exec1(t, d, `SELECT outbox_append(?, ?, 0, ?, ?, '')`, r.table, r.pk, r.keys, r.tags)
			continue
		}
		created := "2026-01-02T03:04:05.000Z"
		if r.badTime {
			created = "yesterday"
		}
		exec1(t, d, `INSERT INTO outbox (table_name, pk, keys, tags, created_at) VALUES (?, ?, ?, ?, ?)`, r.table, r.pk, r.keys, r.tags, created)
	}
	exec1(t, d, `UPDATE products SET stock = 1`)

	evs, err := ob.After(ctx, 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != len(rows)+1 {
		t.Fatalf("got %d events for %d malformed rows and one good one: %+v", len(evs), len(rows), evs)
	}
	want := [][]string{
		{"products", "product:7"},
		{"mystery"},
		{"product:8", "products"},
		nil,
		{"products"},
		{"product:9", "products"},
	}
	for i := range rows {
		ev := evs[i]
		if ev.Version != uint64(i+2) {
			t.Errorf("event %d: version %d", i, ev.Version)
		}
		keys, tags := slices.Sorted(slices.Values(ev.Keys)), slices.Sorted(slices.Values(ev.Tags))
		w := slices.Sorted(slices.Values(want[i]))
		// Rows that do not say which rows changed empty every cache:
		// All (edges, which takes no tags) and Flush (application caches).
		all := rows[i].keys == "" && (rows[i].table == "" || rows[i].table == "products" && rows[i].pk == "")
		wantTags := w
		if all {
			wantTags = nil
		}
		if !slices.Equal(keys, w) || !slices.Equal(tags, wantTags) {
			t.Errorf("event %d: keys %v tags %v, want %v and %v", i, ev.Keys, ev.Tags, w, wantTags)
		}
		if ev.All != all || ev.Flush != all {
			t.Errorf("event %d: All = %v, Flush = %v; want %v", i, ev.All, ev.Flush, all)
		}
		if rows[i].table != "" && ev.By != "outbox:"+rows[i].table+":"+rows[i].pk {
			t.Errorf("event %d: By = %q", i, ev.By)
		}
		if !strings.Contains(logs.String(), "seq="+itoa(i+2)+" ") {
			t.Errorf("no log for seq %d:\n%s", i+2, logs.String())
		}
	}
	wantEvent(t, evs[len(rows)], uint64(len(rows)+2), "1")
	for _, s := range []string{"table=mystery", "pk=x", "reason=", "no keys", "no tags"} {
		if !strings.Contains(logs.String(), s) {
			t.Errorf("log lacks %q:\n%s", s, logs.String())
		}
	}
	if env.Dialect == db.SQLite && !strings.Contains(logs.String(), "yesterday") {
		t.Errorf("log lacks the bad time:\n%s", logs.String())
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func testNotifications(t *testing.T, env dbtest.Env) {
	d, _ := env.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := d.Notifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	receive := func(what string) {
		t.Helper()
		select {
		case _, ok := <-c:
			if !ok {
				t.Fatalf("%s: channel closed", what)
			}
		case <-time.After(wait):
			t.Fatalf("%s: no wake-up", what)
		}
	}
	if env.Dialect == db.Postgres {
		// Commits by any client wake listeners; Notify is not needed.
		exec1(t, d, `INSERT INTO products (sku, name, price_cents) VALUES ('a', 'A', 1)`)
		receive("commit")

		// A dropped LISTEN connection reconnects and wakes once.
		var n int64
		if err := d.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid() AND datname = current_database()`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("terminating the listener: %d, %v", n, err)
		}
		receive("reconnect")
		// The new connection listens: wait until it does, then commit.
		deadline := time.Now().Add(wait)
		for {
			var listening bool
			d.QueryRow(`SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND datname = current_database())`).Scan(&listening)
			if listening {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("listener did not reconnect")
			}
			time.Sleep(10 * time.Millisecond) // polling an external server
		}
		exec1(t, d, `UPDATE products SET stock = 2`)
		receive("commit after reconnect")
	} else {
		d.Notify()
		receive("Notify")
	}
	// Wake-ups coalesce.
	d.Notify()
	d.Notify()
	receive("Notify")
	select {
	case <-c:
		t.Error("two Notify calls woke twice")
	default:
	}
	cancel()
	select {
	case _, ok := <-c:
		if ok {
			// A commit notification may still have been in flight.
			if _, ok := <-c; ok {
				t.Error("channel not closed after ctx ended")
			}
		}
	case <-time.After(wait):
		t.Error("channel not closed after ctx ended")
	}
}

func testLeadership(t *testing.T, env dbtest.Env) {
	d, _ := env.New(t)
	d.LeaderInterval = 50 * time.Millisecond
	ctx := context.Background()
	a, err := d.Leader(ctx, "relay")
	if err != nil {
		t.Fatal(err)
	}
	// Another name is independent.
	other, err := d.Leader(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Release()

	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	if _, err := d.Leader(short, "relay"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second leader while the first leads: err = %v", err)
	}
	cancel()

	got := make(chan db.Leadership, 1)
	go func() {
		l, err := d.Leader(ctx, "relay")
		if err != nil {
			t.Error(err)
		}
		got <- l
	}()
	a.Release()
	a.Release() // twice is fine
	select {
	case <-a.Lost():
	default:
		t.Error("Lost not closed by Release")
	}
	var b db.Leadership
	select {
	case b = <-got:
	case <-time.After(wait):
		t.Fatal("waiting contender did not take over after Release")
	}
	if b == nil {
		t.FailNow()
	}
	defer b.Release()
	select {
	case <-b.Lost():
		t.Error("new leader's Lost is closed")
	default:
	}
}

// TestLeaderFailover kills the leader's PostgreSQL session: it learns it
// lost, and a waiting contender takes over.
func TestLeaderFailover(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, env dbtest.Env) {
		if env.Dialect != db.Postgres {
			t.Skip("leadership is in-process on SQLite")
		}
		ctx := context.Background()
		// Two processes: two pools on one database.
		d1, dsn := env.New(t)
		d2, err := db.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer d2.Close()
		d1.LeaderInterval, d2.LeaderInterval = 50*time.Millisecond, 50*time.Millisecond

		a, err := d1.Leader(ctx, "relay")
		if err != nil {
			t.Fatal(err)
		}
		defer a.Release()
		var wg sync.WaitGroup
		got := make(chan db.Leadership, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := d2.Leader(ctx, "relay")
			if err != nil {
				t.Error(err)
			}
			got <- l
		}()
		defer wg.Wait()

		var pid int
		if err := d1.QueryRow(`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted`).Scan(&pid); err != nil {
			t.Fatal(err)
		}
		select {
		case <-got:
			t.Fatal("two leaders")
		default:
		}
		var ok bool
		if err := d2.QueryRow(`SELECT pg_terminate_backend($1)`, pid).Scan(&ok); err != nil || !ok {
			t.Fatalf("pg_terminate_backend: %v, %v", ok, err)
		}
		select {
		case <-a.Lost():
		case <-time.After(wait):
			t.Fatal("leader did not notice its session ended")
		}
		var b db.Leadership
		select {
		case b = <-got:
		case <-time.After(wait):
			t.Fatal("contender did not take over")
		}
		if b == nil {
			t.FailNow()
		}
		defer b.Release()
		var holder int
		if err := d1.QueryRow(`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted`).Scan(&holder); err != nil || holder == pid {
			t.Errorf("lock holder %d (old %d), %v", holder, pid, err)
		}
	})
}

func testSchemaTooNew(t *testing.T, env dbtest.Env) {
	d, dsn := env.New(t)
	exec1(t, d, `INSERT INTO schema_version (version) VALUES (999)`)
	if _, err := db.Open(context.Background(), dsn); !errors.Is(err, db.ErrSchemaTooNew) {
		t.Errorf("newer schema: err = %v", err)
	}
	// Reopening at the current version is fine.
	exec1(t, d, `DELETE FROM schema_version WHERE version = 999`)
	d2, err := db.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	d2.Close()
}
