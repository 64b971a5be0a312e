// Package edge is Strata's caching reverse proxy: an http.Handler that routes
// each request to an origin by path (behaviors), answers from its store when
// RFC 9111 allows, and otherwise fetches from the origin, collapsing
// concurrent misses for one key into one origin request.
//
// Guarantees:
//
//   - Responses that could carry one user's data to another are never stored
//     or shared: private, no-store, Authorization without explicit
//     permission, Set-Cookie, Vary: *. A collapsed fetch whose response turns
//     out not to be shareable is not handed to the waiters: each fetches its
//     own.
//
//   - Every response carries an RFC 9211 Cache-Status field and X-Cache
//     ("Hit from strata", "RefreshHit from strata", "Miss from strata");
//     responses served from the store carry Age.
//
//   - Purges (Edge.Purge) by URL, path, path prefix, surrogate key or
//     everything remove exactly the matching responses, every Vary variant
//     included, through indexes that always list exactly what is stored;
//     they visit only what they match. A soft purge marks the responses
//     stale instead: they are revalidated, and served stale only where
//     stale-while-revalidate or stale-if-error allow. Edge.PurgeLater,
//     which edge nodes use, returns as soon as the purge is in effect and
//     reports the counts after: a large tag purge is in effect before its
//     responses are visited (store.Memory.PurgeLater).
//
//   - A fetch that started before a purge matching its response does not
//     store that response (after a soft purge: stores it stale), so a purge
//     is never undone by a slow origin response (purgelog.go). Nor is a
//     response the origin read at a data version (Config.VersionHeader)
//     older than a matching purge's (Purge.Version), whenever it was
//     fetched: a tier behind the edge that lags cannot refill it.
//
//   - A successful unsafe request (POST, PUT, PATCH, DELETE) invalidates its
//     target URI and same-origin Location and Content-Location (RFC 9111
//     section 4.4).
//
//   - Stale responses are served only as RFC 9111 and RFC 5861 allow
//     (stale-while-revalidate with one background revalidation per key,
//     stale-if-error, a disconnected origin) and never past
//     must-revalidate, proxy-revalidate or no-cache.
//
//   - With Behavior.Compress, clients get br, zstd or gzip as their
//     Accept-Encoding prefers (encoding.go). Each stored response is
//     compressed at most once per coding and the variant stored beside it,
//     reached by every purge that reaches the response; compressed hits do
//     no compression work. Every response whose representation depends on
//     Accept-Encoding says so in Vary, and variants have their own (weak)
//     ETags.
//
//   - Collapsed waiters get a shareable response as soon as its headers
//     arrive and stream its body as it is read (fill.go); memory per fetch
//     is bounded by MaxObjectSize. Objects above MaxObjectSize are streamed
//     to the requester and not stored.
//
//   - Behaviors with policies (policy.go; FromConfig builds them from a
//     distribution file) refuse before any lookup what they do not allow
//     (405 for methods, 403 or 301 for the viewer protocol, 403 for a
//     missing or bad signature, never stored); key on scheme, host, path
//     and exactly the query parameters, headers and cookies their cache
//     policy names, normalised and unambiguous; send the origin only the
//     key's parts, what the origin request policy adds and the fields HTTP
//     needs; and clamp lifetimes to the policy's TTLs, without ever making
//     a response RFC 9111 keeps private shared unless the policy's
//     OverridePrivateAndNoStore says so. Purges by URL normalise the URL
//     with the policy its path selects, so they find what it keyed.
//
//   - SetBehaviors swaps the behaviors atomically; requests in flight
//     finish with those they started with, and the store is kept. Explain
//     reads without side effects; KeyCardinality is approximate and fed
//     by a sample of requests.
package edge
