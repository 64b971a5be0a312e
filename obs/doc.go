// Package obs turns Strata's measurements into Prometheus metrics.
//
// Metrics are registered on a registry the caller creates and passes in;
// nothing is registered globally. The recorders it returns implement the
// narrow interfaces of edge.Recorder, cache.Recorder and writebehind.Recorder
// structurally, so
// neither of those packages imports Prometheus.
//
// Series (all prefixed strata_):
//
//	edge_requests_total{behavior,result}     requests by how the edge answered (hit, refresh_hit, stale, collapsed, miss, pass, error)
//	edge_hit_ratio                           (hit+refresh_hit+stale+collapsed) / (those + miss) since start
//	edge_origin_fetches_total{behavior,code} origin requests by status class (2xx…5xx, or "error")
//	edge_purges_total{selector}              purges applied by this node (url, path, prefix, tag, all)
//	edge_purged_objects_total{selector,action} responses removed, or marked stale by soft purges
//	edge_stored_objects                      entries in the edge store (purged ones not yet removed included)
//	edge_stored_bytes                        approximate bytes the edge store holds
//	edge_purge_backlog{unit}                 background purge work left: tag-purge claims, purged objects to remove
//	invalidation_latency_seconds             invalidation created → completed on every live node
//	inval_nodes{state}                       nodes on the invalidation bus, live or dead
//	inval_node_lag{node}                     events published but not yet applied, per node
//	app_cache_requests_total{tier,result}    application-cache lookups by tier (l1, l2) and hit/miss
//	app_cache_hit_ratio{tier}                hits / lookups since start, per tier
//	app_cache_loads_total{result}            loader calls (ok, error)
//	app_cache_load_seconds                   loader latency histogram
//	app_cache_lease_wait_seconds             time waiting for another caller's load lease
//	app_cache_stale_served_total{tier}       values served past their freshness
//	app_cache_fills_refused_total{tier}      fills refused by version or tombstone (stale sets prevented)
//	app_cache_l2_breaker_open                caches whose L2 circuit breaker is open
//	writebehind_flushed_total{queue,result}  writes handed to the flush function
//	writebehind_pending{queue}               acknowledged writes not yet flushed (the lag)
//	writebehind_oldest_seconds{queue}        age of the oldest unflushed write
//
// Contract: recorders are safe for concurrent use and cheap (a counter
// increment), so they can sit on the hot paths.
package obs
