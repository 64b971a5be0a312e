// Package signed verifies and makes signed URLs and signed cookies, in the
// shape CloudFront defines but with modern keys: the edge serves a
// protected path only to requests that carry a signature by a trusted key
// over a policy that grants them access.
//
// # What is signed
//
// A policy is JSON in CloudFront's format, with exactly one statement:
//
//	{"Statement":[{"Resource":"https://cdn.example.com/videos/*",
//	  "Condition":{"DateLessThan":{"AWS:EpochTime":1767225600},
//	    "DateGreaterThan":{"AWS:EpochTime":1767222000},
//	    "IpAddress":{"AWS:SourceIp":"192.0.2.0/24"}}}]}
//
// A canned policy carries only the resource (the exact URL) and
// DateLessThan; it is not sent, but rebuilt by the verifier from the
// request URL and the Expires parameter, so a canned signature covers one
// URL. A custom policy is sent (Policy) and may use a pattern, a start
// time and an address range. The signature is over the policy bytes:
// Ed25519, or RSA PKCS #1 v1.5 with SHA-256. RSA with SHA-1, which
// CloudFront uses, is deliberately not accepted: SHA-1 collisions are
// practical, and a signer that must also serve CloudFront can sign twice.
//
// Policy and Signature use CloudFront's URL-safe base64 (+ as -, = as _,
// / as ~). Signed URLs carry Expires or Policy, Signature and Key-Pair-Id
// query parameters; signed cookies use CloudFront's names
// (CloudFront-Expires or CloudFront-Policy, CloudFront-Signature,
// CloudFront-Key-Pair-Id), so existing client code keeps working.
//
// # What is checked
//
// Verifier.Verify takes the signing parameters from the query or, when the
// query has none, from the cookies, and checks in this order: the values
// are well formed and bounded (Policy at most MaxPolicySize), the key id
// is trusted, the signature verifies, then the policy's times, resource
// and address range. The resource is the full URL the client asked for,
// scheme://host/path?query, with the signing parameters removed and the
// rest of the query byte for byte; scheme and host compare in lower case
// and a default port is ignored. In patterns * matches any run of bytes
// and ? exactly one byte (so a literal ? in a query also matches itself).
// Each failure wraps one sentinel error (ErrMissing, ErrMalformed,
// ErrUnknownKey, ErrBadSignature, ErrExpired, ErrNotYetValid,
// ErrIPNotAllowed, ErrResourceMismatch) for the caller to map to a 403.
// After Verify, StripParams (and StripCookies) remove the signing material
// so it reaches neither the cache key nor the origin.
//
// # Keys and rotation
//
// Keys are grouped in KeyGroups; every key of every group given to the
// Verifier is trusted, so several are valid at once. Rotate by adding the
// new public key, switching signers to it, and removing the old key after
// the last URL it signed has expired (SetKeyGroups swaps the set
// atomically).
//
// # Threats
//
// Addressed: forged or altered URLs, policies and cookies (signature),
// use after expiry or before the start, use from outside an address range,
// use on other resources, and resource exhaustion by oversized or
// malformed parameters (bounded and rejected before any cryptography).
//
// Not addressed: a signed URL or cookie is a bearer token. Anyone who
// holds it may replay it, as often as they like, until it expires, unless
// the policy restricts the address; keep lifetimes short. Revocation
// before expiry needs removing the key. The client address is r.RemoteAddr
// unless Verifier.ClientIP says otherwise; behind a proxy set it from a
// header that proxy controls. A query parameter of the application named
// like a signing parameter (Expires, Policy, Signature, Key-Pair-Id) is
// taken for one, as in CloudFront.
package signed
