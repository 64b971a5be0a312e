// Package testenv starts real backing servers for tests, each on a free
// loopback port and private to the calling test.
//
// # What it starts
//
//   - [Redis] runs redis-server as a child process bound to 127.0.0.1 on a
//     free port, with persistence off (--save "" --appendonly no) and a
//     temporary working directory. It returns "127.0.0.1:PORT" once the
//     server has logged "Ready to accept connections"; readiness is detected
//     by reading the server's output, never by sleeping.
//   - [Postgres] creates a throw-away cluster with initdb (superuser
//     "strata", trust authentication, UTF8), starts it with pg_ctl -w on
//     127.0.0.1 and a free port, creates the database "strata" and returns a
//     pgx-compatible URL such as
//     postgres://strata@127.0.0.1:PORT/strata?sslmode=disable. When the test
//     runs as root, initdb and the server run as the "postgres" system user
//     (via runuser), in a data directory under os.TempDir owned by that user.
//
// Every call starts a fresh server; tests never share state through this
// package.
//
// # Skip or fail
//
// When a needed program (redis-server, initdb, pg_ctl, createdb, runuser) or
// the postgres user is missing, the test is skipped with a message that names
// what is missing and how to install it
// (apt-get install redis-server postgresql, or scripts/install-test-deps.sh).
// If the environment variable STRATA_INTEGRATION is "require" (see
// [Required]), the same message fails the test instead, so CI can never pass
// by silently skipping integration tests. A server that is present but fails
// to start always fails the test, with the server's output or log in the
// message.
//
// # Cleanup
//
// Servers are stopped by t.Cleanup: Redis gets SIGTERM and is waited for
// (SIGKILL if it does not exit in time); PostgreSQL is stopped with
// pg_ctl -m immediate stop. Temporary directories are removed afterwards.
package testenv
