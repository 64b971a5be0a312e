// Package config reads Strata's distribution file: the YAML file that says,
// as a CloudFront distribution does, which origins sit behind the edge, which
// path patterns go to which origin, and how each is cached (cache policies),
// forwarded (origin request policies), restricted (signed URLs through key
// groups) and served (TLS).
//
// Parse and Load return a *Config that is fully checked and compiled: names
// are resolved to the origins and policies they name, defaults are filled
// in, referenced files (secrets, public keys, certificates) are read, and
// path patterns are compiled. The edge uses it as is; Config.Select picks a
// request's behavior without allocating. A Config is never modified after it
// is returned and is safe for concurrent use.
//
// Invalid input yields an *ErrorList holding every problem found (not only
// the first), each with its file:line:column: YAML syntax errors, unknown
// fields (go-yaml's strict mode, extended to report them all), bad values,
// impossible TTL orders, dangling references, invalid or shadowed path
// patterns, and missing or unreadable files.
//
// The File types (File, OriginSpec, BehaviorSpec, ...) are the file format;
// their doc comments are the user documentation, mirrored with examples in
// docs/config.md. Managed CloudFront cache and origin request policies are
// built in, by name and by CloudFront ID.
//
// The package does not run anything: no listeners, no goroutines, no
// signing or verification (it only parses public keys).
package config
