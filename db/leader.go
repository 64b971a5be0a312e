package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"hash/fnv"
	"sync"
	"time"
)

// DefaultLeaderInterval is DB.LeaderInterval's default.
const DefaultLeaderInterval = time.Second

// Leadership is held by one caller of Leader per name at a time.
type Leadership interface {
	// Lost is closed when leadership ends: after Release, or (PostgreSQL)
	// when the lock's connection dies or the lock cannot be confirmed. A
	// caller must stop acting as leader when it is closed.
	Lost() <-chan struct{}
	// Release gives leadership up; it is safe to call more than once.
	Release()
}

// Leader blocks until the caller is the leader for name among every
// process using the database, or ctx ends.
//
// On PostgreSQL it holds a session-level advisory lock (pg_try_advisory_lock
// of a hash of name) on a dedicated connection, retrying every
// LeaderInterval, and confirms it on that connection every LeaderInterval
// (each check bounded by LeaderInterval too): Lost is closed at most about
// 2×LeaderInterval after the session ends, and a contender acquires the
// lock within LeaderInterval of the server ending the session. The server
// ends it at once when the leader's process exits or its connection is
// closed or terminated; after a network partition, only when its TCP
// keepalive or timeouts notice. Old and new leader can therefore overlap
// by up to about 2×LeaderInterval; the relay publishes at least once, so
// the overlap duplicates events rather than losing them.
//
// On SQLite (one process) leadership is an in-process lock: immediate when
// free, and Lost is closed only by Release.
func (d *DB) Leader(ctx context.Context, name string) (Leadership, error) {
	if d.Dialect == Postgres {
		return d.pgLeader(ctx, name)
	}
	return d.localLeader(ctx, name)
}

func (d *DB) leaderInterval() time.Duration {
	if d.LeaderInterval > 0 {
		return d.LeaderInterval
	}
	return DefaultLeaderInterval
}

// leadership is a Leadership whose end runs stop once.
type leadership struct {
	lost chan struct{}
	once sync.Once
	stop func()
}

func (l *leadership) Lost() <-chan struct{} { return l.lost }

func (l *leadership) Release() { l.end() }

func (l *leadership) end() {
	l.once.Do(func() {
		l.stop()
		close(l.lost)
	})
}

func (d *DB) localLeader(ctx context.Context, name string) (Leadership, error) {
	for {
		d.leadMu.Lock()
		if d.leads == nil {
			d.leads = make(map[string]chan struct{})
		}
		held, busy := d.leads[name]
		if !busy {
			released := make(chan struct{})
			d.leads[name] = released
			d.leadMu.Unlock()
			return &leadership{lost: make(chan struct{}), stop: func() {
				d.leadMu.Lock()
				delete(d.leads, name)
				d.leadMu.Unlock()
				close(released)
			}}, nil
		}
		d.leadMu.Unlock()
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("db: leader %s: %w", name, ctx.Err())
		case <-held:
		}
	}
}

// lockKey is the advisory lock key for name.
func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("strata-leader:" + name))
	return int64(h.Sum64())
}

func (d *DB) pgLeader(ctx context.Context, name string) (Leadership, error) {
	key := lockKey(name)
	every := d.leaderInterval()
	for {
		conn, err := d.tryLock(ctx, key)
		if err == nil && conn != nil {
			return d.watch(conn, key, every), nil
		}
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			if err != nil {
				return nil, fmt.Errorf("db: leader %s: %w (last attempt: %v)", name, ctx.Err(), err)
			}
			return nil, fmt.Errorf("db: leader %s: %w", name, ctx.Err())
		case <-t.C:
		}
	}
}

// tryLock returns a connection holding the lock, or nil when another
// session holds it.
func (d *DB) tryLock(ctx context.Context, key int64) (*sql.Conn, error) {
	conn, err := d.DB.Conn(ctx)
	if err != nil {
		return nil, err
	}
	var ok bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil {
		discard(conn)
		return nil, err
	}
	if !ok {
		conn.Close()
		return nil, nil
	}
	return conn, nil
}

// discard closes conn's session rather than returning it to the pool, so
// that no session lock outlives the leadership.
func discard(conn *sql.Conn) {
	conn.Raw(func(any) error { return driver.ErrBadConn })
	conn.Close()
}

// watch confirms the lock every interval until it fails or the leadership
// is released.
func (d *DB) watch(conn *sql.Conn, key int64, every time.Duration) Leadership {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	l := &leadership{lost: make(chan struct{})}
	l.stop = func() {
		cancel()
		<-done
	}
	go func() {
		defer close(done)
		defer func() {
			// Unlock politely, then end the session whatever happened.
			uctx, ucancel := context.WithTimeout(context.Background(), every)
			conn.ExecContext(uctx, `SELECT pg_advisory_unlock($1)`, key)
			ucancel()
			discard(conn)
		}()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if !confirm(ctx, conn, key, every) {
				if ctx.Err() == nil {
					go l.end()
				}
				return
			}
		}
	}()
	return l
}

// confirm reports whether this session still holds the advisory lock key.
func confirm(ctx context.Context, conn *sql.Conn, key int64, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var held bool
	// A bigint advisory key is split into classid (high half) and objid
	// (low half), with objsubid 1.
	err := conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks
		WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted AND objsubid = 1
		AND classid::bigint = ($1::bigint >> 32) & 4294967295 AND objid::bigint = $1::bigint & 4294967295)`, key).Scan(&held)
	return err == nil && held
}
