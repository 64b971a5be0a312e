// Package dbtest runs one test body against every database dialect, on
// real servers: SQLite in a temporary directory and PostgreSQL from
// internal/testenv (skipped when PostgreSQL is not installed, unless
// STRATA_INTEGRATION=require).
//
// Contract: Dialects calls its body once per dialect as a subtest; each
// Env.New returns a fresh, migrated database that is closed (and, for
// PostgreSQL, dropped with its server) when the test ends.
package dbtest
