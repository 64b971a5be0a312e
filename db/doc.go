// Package db opens Strata's databases and keeps their schema: the catalog's
// tables, the invalidation outbox and the triggers that fill it.
//
// The outbox is written by triggers in the same transaction as the change,
// so every committed change to a product, from any client (Strata, the
// sqlite3 shell, a migration), gets exactly one outbox row, in commit order.
// The outbox sequence is the data version: a read transaction that sees
// sequence S sees every change up to S and none after (DataVersion).
//
// Open applies pending migrations (numbered, each in its own transaction)
// and refuses a database whose schema is newer than this binary. SQLite
// (modernc.org/sqlite, no cgo) is the embedded default; the PostgreSQL
// dialect comes with the scale-out mode.
//
// Contract: a *DB is safe for concurrent use. Outbox implements
// inval.Outbox.
package db
