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
//   - [StartRedis] starts the same kind of server and returns a
//     [RedisProcess] handle for tests of Redis going away and coming back:
//     Addr returns "127.0.0.1:PORT"; Kill sends SIGKILL and waits for the
//     exit (a crash: connections reset, nothing flushed); Stop sends SIGTERM
//     and waits; Restart(t) starts redis-server again on the same port and
//     directory and returns once it has logged its ready line, failing t if
//     another process took the port meanwhile. Stop and Kill of a stopped
//     server do nothing; Restart of a running server stops it first, and
//     Restart of one that exited on its own (a crash, SHUTDOWN) just starts
//     it, whereas Stop, Kill and cleanup report such an exit as a test
//     error. Data does not survive a restart (persistence is off). [Redis]
//     is StartRedis(t).Addr().
//   - [RedisCluster] starts a three-master Redis Cluster without replicas:
//     three redis-server processes in cluster mode (node timeout 5s,
//     persistence off, each in its own temporary directory holding its
//     nodes-PORT.conf), joined and given all 16384 slots by
//     redis-cli --cluster create. Each node's client port p is drawn from
//     10000-19999 so that its cluster bus port p+10000 is in 20000-29999,
//     both below the Linux ephemeral range, and both are checked free before
//     the start (a lost race is retried with new ports). Redis signals no
//     cluster readiness, so RedisCluster polls CLUSTER INFO on every node
//     every 50ms, for at most 30s, until each reports cluster_state:ok,
//     cluster_slots_assigned:16384 and cluster_known_nodes:3; it then
//     returns the three "127.0.0.1:PORT" addresses. This takes 2-4s, mostly
//     redis-cli waiting in whole seconds for the nodes to agree, and Redis
//     keeping a master's cluster_state at fail for 2s after it starts.
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
// When a needed program (redis-server; redis-cli, for [RedisCluster]; initdb,
// pg_ctl, createdb, runuser) or the postgres user is missing, the test is
// skipped with a message that names what is missing and how to install it
// (apt-get install redis-server postgresql, or scripts/install-test-deps.sh;
// redis-cli comes with redis-server, from Debian's redis-tools).
// If the environment variable STRATA_INTEGRATION is "require" (see
// [Required]), the same message fails the test instead, so CI can never pass
// by silently skipping integration tests. A server that is present but fails
// to start always fails the test, with the server's output or log in the
// message.
//
// # Cleanup
//
// Servers are stopped by t.Cleanup: every redis-server still running
// (including cluster nodes) gets SIGTERM and is waited for (SIGKILL if it
// does not exit in time, which is reported as a test error, as is a server
// that exited without being stopped or killed); PostgreSQL is stopped with
// pg_ctl -m immediate stop. Temporary directories are removed afterwards.
package testenv
