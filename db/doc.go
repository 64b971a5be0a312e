// Package db opens Strata's databases and keeps their schema: the catalog's
// tables, the invalidation outbox and the triggers that fill it, for SQLite
// (modernc.org/sqlite, no cgo; the embedded default) and PostgreSQL (pgx;
// the scale-out mode). Open picks the dialect from the name: a postgres://
// or postgresql:// URL, else a SQLite file.
//
// # Change capture
//
// A trigger on each cached table writes one outbox row per changed row, in
// the same transaction as the change, so every committed change, from any
// client (Strata, psql or the sqlite3 shell, a migration), is captured, and
// a rolled-back one leaves nothing. A row holds its sequence (seq), the
// table and primary key, the row's version after the change, the
// application-cache keys, the edge surrogate keys and the edge paths it
// affects. An update of a row's content bumps its version unless the client
// set the version itself; a delete records the old version plus one.
// PostgreSQL also records TRUNCATE, as an invalidation of the whole table.
//
// # Ordering and gaplessness
//
// Sequences are gapless and in commit order: if a transaction with sequence
// S is visible, so is every sequence below S, and none is ever skipped. A
// reader that has seen every row up to S therefore only ever needs rows
// after S. The last sequence handed out is the data version: a snapshot
// that sees S sees every change up to S and none after (DataVersion; on
// PostgreSQL read it in a REPEATABLE READ transaction, see BeginSnapshot).
//
// On SQLite this comes free: there is one writer at a time, and
// AUTOINCREMENT's counter (sqlite_sequence) is written in the writer's
// transaction. On PostgreSQL a SEQUENCE would give neither property
// (rollbacks leave gaps, and nextval order is not commit order), so the
// sequence comes from a one-row table, outbox_counter, that outbox_append
// increments with an UPDATE. The row lock is held until commit: the next
// writer waits for it and reads the committed value, so numbers are handed
// out in commit order, and a rollback undoes its increment. The cost:
// transactions that write cached tables serialise on that row from their
// first cached write to their commit, so keep them short, and run them at
// READ COMMITTED (the default): at REPEATABLE READ or SERIALIZABLE a writer
// that waited for the row fails with a serialization error. Reads, and
// writes to other tables, are not affected.
//
// # Notifications
//
// On PostgreSQL outbox_append calls pg_notify('strata_outbox', seq), which
// is delivered to listeners when the transaction commits (and never if it
// rolls back). Notifications turns that into a coalesced wake-up channel,
// and sends one extra wake-up after reconnecting, as notifications sent
// while disconnected are lost. SQLite has no such signal between processes:
// Notify (which the catalog repository calls after each commit) wakes this
// process's channels, and changes by other clients are found by polling.
// Wake-ups are hints; the outbox is the record.
//
// # Leadership
//
// Leader elects one relay among the processes sharing a database. On
// PostgreSQL it is a session advisory lock on a dedicated connection,
// confirmed every DB.LeaderInterval (1s by default): a leader learns it lost
// the lock within about two intervals of its session ending, and a waiting
// process takes over within one interval of the server ending the old
// session (at once when the old leader exits or its connection is closed
// or terminated; after a network partition, when the server's TCP timeouts
// notice). The old and the new leader may overlap for up to about two
// intervals, which the relay's at-least-once delivery tolerates. On SQLite
// leadership is an in-process lock.
//
// # Migrations
//
// Open applies pending migrations (numbered per dialect, each in its own
// transaction that also records its number; on PostgreSQL under an advisory
// lock, so processes starting together apply each once) and refuses a
// database whose schema is newer than this binary (ErrSchemaTooNew).
// Queries are written with "?" placeholders and passed through Rebind.
//
// Contract: a *DB is safe for concurrent use. Outbox implements
// inval.Outbox.
package db
