// Package catalog is the reference API service: a product catalog on a real
// database, read through the application cache, whose responses tell the
// edge how to cache them.
//
// Routes (all JSON):
//
//	GET /api/data                 a summary of the catalog, with how it was served
//	GET /api/products             a page of products (?offset=0&limit=20, limit ≤ 100)
//	GET /api/products/{id}        one product
//	PUT /api/products/{id}        update a product (Authorization: Bearer ADMIN_TOKEN)
//
// Cacheable responses carry Cache-Control (public, max-age from
// Config.MaxAge), an ETag (the row version, or the data version for
// collections), X-Cache-Version (the data version the response was read at)
// and Surrogate-Key (product:ID and products), and conditional GETs are
// answered with 304. Reads go through cache.Cache (cache-aside); a PUT
// commits one transaction (the outbox row is written by a trigger) and then
// calls Config.AfterWrite, which in `strata serve` relays the outbox and
// waits until every tier has acknowledged the invalidation, so the next read
// anywhere is fresh; the response's X-Data-Version names a data version
// whose invalidation covers the write.
//
// Errors are mapped to statuses in one place (writeError): bad input 400,
// missing token 401, unknown product 404, If-Match mismatch 412, body too
// large 413, anything else 500 without internal detail.
package catalog
