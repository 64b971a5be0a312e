// Package invaltest holds the conformance tests every implementation of
// inval.Bus and inval.Store must pass: the in-memory ones of package inval
// and the Redis ones of package inval/redisbus run the same tests.
//
// The tests wait for events through channels and WaitAcked, never by
// sleeping; a test that waits too long fails after a generous bound.
package invaltest
