// Package httpapi holds the small pieces Strata's JSON HTTP APIs (the admin
// API and the catalog API) share: strict request-body decoding and bearer
// token checks.
//
// Contract: DecodeJSON reads at most the given number of bytes, refuses
// unknown fields and trailing data, and returns either an error wrapping
// ErrBadJSON or an *http.MaxBytesError, so callers map them to 400 and 413.
// Bearer compares tokens in constant time and never accepts an empty
// expected token.
package httpapi
