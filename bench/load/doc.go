// Package load is the load generator behind `strata bench`: Zipf-distributed
// product reads through an edge, admin price updates through the API at a
// fixed rate, and a checker that compares every read with the versions the
// updates committed.
//
// Run drives one run and returns a Result, whose SummaryLine is one line of
// space-separated key=value pairs for scripts. The checker's definitions:
//
//   - An update is committed when its PUT returns: the bench records the row
//     version from the response and the time it read the response.
//   - A read is stale when the version it returned is older than the newest
//     version of that product whose PUT returned before the read started.
//     Versions committed after the read started are fine either way.
//   - A stale read is stale_after_complete when the invalidation of a newer
//     version (committed before the read started) had completed before the
//     read started, and stale_before_complete otherwise. An invalidation's
//     completion is the completeTime of the admin API's invalidation record
//     covering the update's data version (X-Data-Version on the PUT), or,
//     when the PUT answered "X-Invalidation: completed", at the latest the
//     time the PUT returned.
//
// Only products the bench itself updates can be found stale: the bench
// assumes it is their only writer, and learns nothing of other writes.
//
// Run is safe to call from several goroutines at once (each call has its own
// state); a Result is a plain value.
package load
