// Package httpcache holds the HTTP caching rules of RFC 9111 (HTTP Caching),
// RFC 9211 (Cache-Status) and RFC 9213 (CDN-Cache-Control) as pure functions
// over headers and times, for a shared cache.
//
// It parses Cache-Control directives (ParseResponse, ParseRequest), computes a
// stored response's freshness lifetime and current age (Lifetime, Age), decides
// whether a response may be stored and says why not (Storable), builds
// conditional requests and merges 304 responses into stored headers, answers
// clients' own conditional requests, and formats Cache-Status values.
//
// The contract: standard library only, no I/O, no goroutines, no global state.
// Every function is safe for concurrent use and never panics on any input
// (the parsers are fuzzed). Times are passed in by the caller, so tests and
// callers control the clock.
package httpcache
