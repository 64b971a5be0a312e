// Package compress holds what the edge needs to serve compressed
// representations: content-coding negotiation (Negotiate), the choice of
// what is worth compressing (Compressible, NoTransform) and pooled encoders
// for gzip, br and zstd (Compress, NewEncoder, NewDecoder).
//
// Contract:
//
//   - Negotiate follows RFC 9110 section 12.5.3: q-values, q=0 as "not
//     acceptable", "*" for codings not named, "x-gzip" as "gzip", and
//     identity acceptable unless "identity;q=0" or "*;q=0" (without an
//     identity entry) exclude it. It does not allocate.
//
//   - Encoders are not written by hand: gzip and zstd come from
//     github.com/klauspost/compress, br from github.com/andybalholm/brotli.
//     Levels are fixed, chosen for content that is compressed once and then
//     served many times from a cache: gzip level 6 (the zlib default), br
//     quality 5 (most of br's gain over gzip on text, several times faster
//     than quality 11), zstd SpeedDefault (level 3) with an 8 MiB window
//     (the limit RFC 9659 sets for the "zstd" coding on the web).
//
//   - Encoders are reused through sync.Pool: an Encoder must be closed
//     (which finishes the stream) and not used after Close. Compress and
//     the Encoder methods are safe for concurrent use in the sense that
//     different goroutines use different Encoders; one Encoder is not.
//
//   - Output is deterministic for a given input and coding (and library
//     version), so a compressed variant built twice is the same bytes.
//
// The package knows nothing of caching or HTTP messages beyond header
// values; the edge decides what to compress and stores the result.
package compress
