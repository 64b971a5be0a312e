package db

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// NotifyChannel is the PostgreSQL channel outbox_append notifies on, with
// the new sequence as payload.
const NotifyChannel = "strata_outbox"

// wakeups are the in-process subscribers of Notify.
type wakeups struct {
	mu   sync.Mutex
	subs map[chan struct{}]struct{}
}

func (w *wakeups) add(c chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.subs == nil {
		w.subs = make(map[chan struct{}]struct{})
	}
	w.subs[c] = struct{}{}
}

func (w *wakeups) remove(c chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.subs, c)
}

func (w *wakeups) notify() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for c := range w.subs {
		wake(c)
	}
}

// wake sends on c (buffered, capacity 1) unless a wake-up is already
// pending.
func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Notify wakes every channel Notifications returned in this process. Call
// it after committing a change to a cached table: on SQLite it is the only
// prompt signal (other sqlite3 clients are caught by the relay's polling);
// on PostgreSQL the database notifies at commit anyway and Notify only
// saves the round trip.
func (d *DB) Notify() { d.wake.notify() }

// Notifications returns a channel that receives a value soon after an
// outbox row is committed, until ctx ends (then it is closed). Wake-ups
// are coalesced (the channel holds at most one) and carry no data: on each,
// read the outbox from the last sequence handled. They are hints: there
// may be spurious ones, and a consumer should still poll now and then.
//
// Every commit made after Notifications returns is signalled. On
// PostgreSQL a dedicated connection LISTENs on NotifyChannel, so commits by
// any client are signalled; when that connection drops, it reconnects with
// backoff and sends one wake-up after reconnecting, since notifications
// may have been missed meanwhile. On SQLite, which has no cross-process
// notifications, only Notify (called by Strata after its own commits)
// signals; changes by other clients wait for the relay's polling.
func (d *DB) Notifications(ctx context.Context) (<-chan struct{}, error) {
	c := make(chan struct{}, 1)
	if d.Dialect != Postgres {
		d.wake.add(c)
		go func() {
			<-ctx.Done()
			d.wake.remove(c)
			close(c)
		}()
		return c, nil
	}
	conn, err := d.listen(ctx)
	if err != nil {
		return nil, err
	}
	d.wake.add(c)
	go d.listenLoop(ctx, conn, c)
	return c, nil
}

// listen opens a connection that listens on NotifyChannel.
func (d *DB) listen(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, d.dsn)
	if err != nil {
		return nil, fmt.Errorf("db: listen: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+NotifyChannel); err != nil {
		closeConn(conn)
		return nil, fmt.Errorf("db: listen: %w", err)
	}
	return conn, nil
}

// Reconnection backoff of the LISTEN connection.
const (
	listenBackoffMin = 100 * time.Millisecond
	listenBackoffMax = 5 * time.Second
)

func (d *DB) listenLoop(ctx context.Context, conn *pgx.Conn, c chan struct{}) {
	defer func() {
		d.wake.remove(c)
		close(c)
	}()
	backoff := listenBackoffMin
	for {
		for conn != nil {
			if _, err := conn.WaitForNotification(ctx); err != nil {
				closeConn(conn)
				conn = nil
				break
			}
			backoff = listenBackoffMin
			wake(c)
		}
		if ctx.Err() != nil {
			return
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, listenBackoffMax)
		var err error
		if conn, err = d.listen(ctx); err == nil {
			wake(c) // notifications may have been missed while disconnected
		}
	}
}

func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	conn.Close(ctx)
}
