// Package admin is Strata's admin HTTP API: metrics, health and
// CloudFront-style invalidations.
//
//	GET  /healthz                  200 "ok" when the process is healthy (no token needed)
//	GET  /metrics                  Prometheus metrics
//	POST /invalidations            {"paths": ["/api/*"], "tags": ["product:1"], "callerReference": "..."}
//	GET  /invalidations/{id}       status; ?wait=30s blocks until Completed (or the wait ends)
//
// Every route but /healthz needs "Authorization: Bearer TOKEN"; a missing or
// wrong token gets 401 and is compared in constant time. Bodies are limited
// to 1 MiB; malformed JSON gets 400, unknown fields included. Errors are
// JSON objects {"error": "..."} produced by one function, writeError.
//
// The token comes from the operator (flag or environment) or is generated
// once and kept in the data directory with mode 0600 (LoadOrCreateToken).
// Binding the admin listener to loopback is the caller's job, and the
// default of every Strata command.
package admin
