// Package codec turns the Go values of Strata's application cache into bytes
// for its Redis tier (L2), and back.
//
// A [Codec] serializes a value: [MsgPack] (the default), [JSON], or
// [Protobuf] for values that implement proto.Message. A [Format] wraps a
// codec's payload in a small envelope, compresses it with S2 or zstd when it
// is large enough to be worth it, and refuses anything larger than its
// MaxSize. The zero Format is ready to use: MsgPack, S2 above 1 KiB, 16 MiB
// at most.
//
// # Envelope
//
// Every value written by [Format.Encode] is stored as
//
//	[version][codec id][compression id][uvarint n][payload]
//
// version is 1, the only version this release writes or reads. n is the
// payload's uncompressed length, written as the shortest uvarint
// (encoding/binary). The payload is the codec's bytes, either as they are
// (compression id 0) or as one S2 block or one zstd frame that decompresses to
// exactly n bytes. A payload is compressed only when it has at least
// Threshold bytes and compression makes it smaller; otherwise it is stored
// with compression id 0, whatever the Format's Compression says.
//
// Codec ids: 1 msgpack, 2 json, 3 protobuf.
// Compression ids: 0 none, 1 s2, 2 zstd.
// These ids, and the meaning of version 1, are stable forever: entries outlive
// the process that wrote them, and releases of different ages share one
// Redis. An id is never reused, not even after its codec or compression is
// retired; a change of layout takes a new version.
//
// # Contract
//
// [Format.Decode] reads every envelope of a known version, whatever codec and
// compression wrote it, so a Format can change its settings without making
// existing entries unreadable. It returns an error wrapping
//
//   - [ErrUnknownFormat] for an envelope of another version (a newer release
//     wrote it), or with a codec or compression id this release does not
//     know. Callers treat it as a miss and overwrite the entry: that is how an
//     older release steps over a newer release's entries without misreading
//     them;
//   - [ErrCorrupt] for an envelope or payload that is truncated, has trailing
//     bytes, disagrees with its declared length, or is not well-formed for
//     its codec;
//   - [ErrTooLarge] for an envelope that declares more than MaxSize bytes.
//     [Format.Encode] refuses such values with the same error.
//
// A payload that is well-formed but does not fit the destination (a type
// changed between releases) gives the codec's error, wrapped with the codec
// name and the destination type; it wraps none of the three. Callers that
// cache should treat any Decode error as a miss.
//
// Decode bounds its memory by MaxSize, not by what an envelope claims: the
// declared length is checked before anything is decompressed, decompression
// stops at that length, and a msgpack payload is checked (lengths fit in the
// bytes that remain, nesting at most 10000 deep) before it is decoded, so a
// small hostile envelope cannot make the process allocate gigabytes or
// overflow its stack. Decoded values never alias data or any buffer of this
// package.
//
// All Codecs and Formats are safe for concurrent use. Encoders and decoders
// that are expensive to create (zstd) are made once per process, on first
// use, and shared. The package starts no goroutines of its own.
//
// What this package does not do: it knows nothing of keys, versions or
// tombstones (package cache keeps those beside the payload), and it does not
// checksum payloads. A zstd frame carries its own checksum; an S2 block or an
// uncompressed payload is checked only for being well-formed.
package codec
