// Package keyid checks the key identifiers that Strata's signing schemes
// carry in requests (origin access control, signed URLs and cookies).
//
// Contract: Valid is a pure function; an identifier it accepts is safe to
// log, to put in a header and to use as a map key.
package keyid
