// Package appcache compares Strata's application cache (package cache with
// its Redis tier, cache/redis) with go-redis/cache (Redis plus an optional
// local TinyLFU cache) on one real redis-server, in one run, on the same
// workload. It has no code of its own: everything is in its tests and
// benchmarks. See README.md and run.sh.
//
// It is a module of its own so that the main module does not depend on
// go-redis; `go test ./...` in the repository root does not run it.
package appcache
