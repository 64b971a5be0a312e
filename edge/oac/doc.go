// Package oac is origin access control: the edge signs every request it
// sends to an origin with a shared secret, and the origin refuses requests
// that are not signed, so clients cannot bypass the edge (and its signed
// URL checks, cache and limits) by going to the origin directly.
//
// # What is signed
//
// NewTransport adds two header fields to a copy of each request:
//
//	X-Strata-Date: 2026-03-01T12:00:00Z
//	X-Strata-Origin-Auth: v1 keyId=<id>, signature=<base64url, no padding>
//
// The signature is HMAC-SHA256 with the key's secret over the canonical
// string
//
//	"strata-oac-v1\n" + keyId + "\n" + method + "\n" + request-target + "\n" + date
//
// where method is as sent (GET when empty), request-target is the path
// and query exactly as written on the wire (url.URL.RequestURI(): the
// escaped path, then ? and the raw query when there is one), and date is
// the X-Strata-Date value, RFC 3339 in UTC with second precision. Binding
// the raw query stops a signature from being reused on another resource;
// binding the key id stops it from being presented under another key.
//
// # What is accepted
//
// Verifier accepts a request whose header parses, whose key id is one of
// Keys, whose signature matches (compared in constant time) and whose date
// is within MaxSkew (five minutes by default) of the verifier's clock, in
// either direction. Several keys may be valid at once: to rotate, add the
// new key on the origins, switch the edges to it, then remove the old one.
// Middleware answers anything else with 403 and a one-line plain-text
// reason.
//
// # Threats
//
// Addressed: requests that do not come from a holder of a key (a client
// going around the edge), and edge requests altered in method, path, query
// or date on the way.
//
// Not addressed: replay. A captured request can be sent again, to the
// same method and request-target, until its date leaves the skew window;
// there is no nonce cache. The body and the other header fields (Host
// included) are not signed, so an attacker on the path could change them:
// run the edge-to-origin hop over TLS or a private network, which also
// keeps the signatures from being captured. Requests are authenticated,
// not encrypted.
package oac
