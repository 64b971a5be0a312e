// Package admin is Strata's admin HTTP API: metrics, health and
// CloudFront-style invalidations.
//
//	GET  /healthz                  200 "ok" when the process is healthy (no token needed)
//	GET  /metrics                  Prometheus metrics
//	POST /invalidations            {"paths": ["/api/*"], "urls": ["https://h/p?q"], "tags": ["product:1"],
//	                                "all": false, "soft": false, "callerReference": "..."} → 201
//	GET  /invalidations?limit=N    recent invalidations, newest first (default 100, at most 1000)
//	GET  /invalidations/{id}       status, times, who asked and every node's progress;
//	                               ?wait=30s blocks until Completed (or the wait ends)
//	POST /purge?wait=30s           the body of POST /invalidations; answers 200 once
//	                               Completed, 504 with the invalidation if the wait ends first
//	POST /config/reload            re-read the configuration file (Config.Reload): 200
//	                               {"reloaded": true, "behaviors": N, "source": FILE}; 400 with
//	                               every problem and its position, the old configuration staying
//	GET  /explain?url=URL&header=Name:value&method=GET
//	                               how the edge would handle that request (Config.Explain)
//	GET  /cache/key-cardinality    how many keys the edge holds and why (Config.KeyCardinality)
//
// The last three answer 404 when their hook is nil.
//
// Every route but /healthz needs "Authorization: Bearer TOKEN"; a missing or
// wrong token gets 401 and is compared in constant time. Bodies are limited
// to 4 MiB; malformed JSON gets 400, unknown fields included. A refused
// call (401, 400, 413, 429) publishes nothing. Errors are JSON objects
// {"error": "..."} produced by one function, writeError.
//
// POST /invalidations and POST /purge are rate-limited by a token bucket
// counting items (paths, URLs and tags; all counts as one) per second for
// the handler (Config.RateLimit, RateBurst); a call over the limit gets 429
// with Retry-After in seconds.
//
// Every call is logged, as one "admin: call" record with who asked
// ("admin@" and the remote address: the token is shared, so the address is
// what tells callers apart), the method and path, the status, and for
// invalidations what was asked (counts and a sample of each kind of item)
// and the invalidation's id: at Info for changes, Debug for reads, Warn for
// refused and failed calls.
//
// The token comes from the operator (flag or environment) or is generated
// once and kept in the data directory with mode 0600 (LoadOrCreateToken).
// Binding the admin listener to loopback is the caller's job, and the
// default of every Strata command.
package admin
