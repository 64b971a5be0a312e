// Package site is the static origin: files embedded in the binary (a sample
// page that calls the catalog API through the edge) or a directory on disk.
//
// Responses carry Cache-Control (Config.MaxAge, public) and a validator: for
// embedded files a strong ETag from the content hash, for files on disk
// Last-Modified, so the edge can revalidate with conditional requests and
// clients get 304s. Directory listings are never served; paths that escape
// the root are rejected by http.FS. With Config.OAC, only requests signed
// by an edge (edge/oac) are served; the rest get 403.
//
// Contract: a Handler is safe for concurrent use and immutable once built.
package site
