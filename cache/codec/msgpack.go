package codec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"
	"unsafe"

	"github.com/vmihailenco/msgpack/v5"
)

// msgpackCodec is MessagePack through github.com/vmihailenco/msgpack/v5,
// with a fast path for []byte and string, and a check of the data before
// the library sees it.
type msgpackCodec struct{}

var _ Codec = msgpackCodec{}

func (msgpackCodec) Name() string                         { return "msgpack" }
func (msgpackCodec) ID() byte                             { return idMsgPack }
func (c msgpackCodec) Marshal(v any) ([]byte, error)      { return marshal(c, v) }
func (c msgpackCodec) Unmarshal(data []byte, v any) error { return unmarshal(c, data, v) }

// MessagePack codes this file needs (see the MessagePack specification).
const (
	mpNil    = 0xc0
	mpFixStr = 0xa0 // | length, for lengths below 32
	mpBin8   = 0xc4
	mpBin16  = 0xc5
	mpBin32  = 0xc6
	mpStr8   = 0xd9
	mpStr16  = 0xda
	mpStr32  = 0xdb
)

// msgpackEncoder is a reusable msgpack.Encoder that appends to a slice.
type msgpackEncoder struct {
	enc *msgpack.Encoder
	w   appendWriter
}

var msgpackEncoders = sync.Pool{New: func() any {
	e := new(msgpackEncoder)
	e.enc = msgpack.NewEncoder(&e.w)
	return e
}}

// appendWriter is an io.Writer and io.ByteWriter that appends to b.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func (w *appendWriter) WriteByte(c byte) error {
	w.b = append(w.b, c)
	return nil
}

func (msgpackCodec) marshalAppend(dst []byte, v any) ([]byte, error) {
	// The fast path writes what msgpack.Marshal would.
	switch v := v.(type) {
	case []byte:
		if v == nil {
			return append(dst, mpNil), nil
		}
		return append(appendBinHeader(dst, len(v)), v...), nil
	case string:
		return append(appendStrHeader(dst, len(v)), v...), nil
	}
	e := msgpackEncoders.Get().(*msgpackEncoder)
	e.w.b = dst
	err := e.enc.Encode(v)
	dst = e.w.b
	e.w.b = nil
	msgpackEncoders.Put(e)
	return dst, err
}

// msgpackBytesLen is the length of the fast path's encoding of a []byte or
// string of n bytes.
func msgpackBytesLen(n int, str bool) int {
	switch {
	case str && n < 32:
		return 1 + n
	case n <= 0xff:
		return 2 + n
	case n <= 0xffff:
		return 3 + n
	}
	return 5 + n
}

func appendBinHeader(dst []byte, n int) []byte {
	switch {
	case n <= 0xff:
		return append(dst, mpBin8, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(dst, mpBin16), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, mpBin32), uint32(n))
}

func appendStrHeader(dst []byte, n int) []byte {
	switch {
	case n < 32:
		return append(dst, mpFixStr|byte(n))
	case n <= 0xff:
		return append(dst, mpStr8, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(dst, mpStr16), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, mpStr32), uint32(n))
}

// msgpackDecoder is a reusable msgpack.Decoder reading from a slice: unlike
// msgpack.Unmarshal it allocates no reader per call. It keeps the library's
// default flags; UsePreallocateValues in particular would start a goroutine
// per decoded type that never ends.
type msgpackDecoder struct {
	dec *msgpack.Decoder
	r   bytes.Reader
}

var msgpackDecoders = sync.Pool{New: func() any {
	d := new(msgpackDecoder)
	d.dec = msgpack.NewDecoder(&d.r)
	return d
}}

func (msgpackCodec) unmarshal(data []byte, v any, owned bool) (err error) {
	if err := checkMsgpack(data); err != nil {
		return corrupt(err)
	}
	switch p := v.(type) {
	case *[]byte:
		if p != nil {
			if b, isNil, ok := msgpackBytes(data); ok {
				switch {
				case isNil:
					*p = nil
				case owned:
					*p = b[:len(b):len(b)]
				default:
					*p = bytes.Clone(b)
				}
				return nil
			}
		}
	case *string:
		if p != nil {
			if b, _, ok := msgpackBytes(data); ok {
				if owned && len(b) > 0 {
					// data was handed to us and nothing else refers to
					// it: it can back the string without a copy.
					*p = unsafe.String(unsafe.SliceData(b), len(b))
				} else {
					*p = string(b)
				}
				return nil
			}
		}
	}

	d := msgpackDecoders.Get().(*msgpackDecoder)
	defer func() {
		// The library panics on some well-formed input, such as a map key
		// that is an array when decoding into an interface. A cache entry
		// must never crash the process that reads it.
		if r := recover(); r != nil {
			err = fmt.Errorf("msgpack panicked: %v", r)
			return // and drop d: its state is unknown
		}
		d.r.Reset(nil)
		msgpackDecoders.Put(d)
	}()
	d.r.Reset(data)
	d.dec.ResetReader(&d.r)
	return d.dec.Decode(v)
}

// msgpackBytes returns the content of data when it is a single msgpack
// str, bin or nil value; data must have passed checkMsgpack.
func msgpackBytes(data []byte) (b []byte, isNil, ok bool) {
	switch c := data[0]; {
	case c == mpNil:
		return nil, true, true
	case c&0xe0 == mpFixStr:
		return data[1:], false, true
	case c == mpBin8 || c == mpStr8:
		return data[2:], false, true
	case c == mpBin16 || c == mpStr16:
		return data[3:], false, true
	case c == mpBin32 || c == mpStr32:
		return data[5:], false, true
	}
	return nil, false, false
}

// maxMsgpackDepth is how deeply arrays and maps may nest, as in
// encoding/json and protobuf: deeper input would have the library recurse
// until the stack overflows, which no recover catches.
const maxMsgpackDepth = 10000

// checkMsgpack returns an error unless b holds exactly one well-formed
// MessagePack value whose arrays and maps nest at most maxMsgpackDepth deep
// and declare no more elements than there are bytes left. The library
// preallocates a slice of the declared length before reading any element
// (its allocation limit does not apply to slices), so without this check
// six bytes could ask it for gigabytes. It allocates only for nesting
// deeper than 32.
func checkMsgpack(b []byte) error {
	var stackArr [32]int
	stack := stackArr[:0] // items left in each enclosing array or map
	left := 1             // items left at this level
	i := 0
	for {
		for left == 0 {
			if len(stack) == 0 {
				if i != len(b) {
					return fmt.Errorf("%d trailing bytes after the value", len(b)-i)
				}
				return nil
			}
			left = stack[len(stack)-1]
			stack = stack[:len(stack)-1]
		}
		if i >= len(b) {
			return fmt.Errorf("truncated at byte %d", i)
		}
		c := b[i]
		i++
		left--
		// skip is how many bytes follow the code; lenBytes how many of
		// them give the length of what then follows, or an element count
		// when items is set.
		skip, lenBytes, items := 0, 0, 0
		switch {
		case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3:
			// fixints, nil, booleans
		case c <= 0x8f: // fixmap
			items = 2 * int(c&0x0f)
		case c <= 0x9f: // fixarray
			items = int(c & 0x0f)
		case c <= 0xbf: // fixstr
			skip = int(c & 0x1f)
		default:
			switch c {
			case 0xc4, 0xd9: // bin8, str8
				lenBytes = 1
			case 0xc5, 0xda: // bin16, str16
				lenBytes = 2
			case 0xc6, 0xdb: // bin32, str32
				lenBytes = 4
			case 0xc7, 0xc8, 0xc9: // ext8, ext16, ext32: length, then type
				lenBytes = 1 << (c - 0xc7)
				skip = 1
			case 0xca: // float32
				skip = 4
			case 0xcb: // float64
				skip = 8
			case 0xcc, 0xd0: // uint8, int8
				skip = 1
			case 0xcd, 0xd1:
				skip = 2
			case 0xce, 0xd2:
				skip = 4
			case 0xcf, 0xd3:
				skip = 8
			case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16, after the type
				skip = 1 + 1<<(c-0xd4)
			case 0xdc, 0xde: // array16, map16
				lenBytes = 2
				items = -1
			case 0xdd, 0xdf: // array32, map32
				lenBytes = 4
				items = -1
			default: // 0xc1: never used
				return fmt.Errorf("invalid code 0x%02x at byte %d", c, i-1)
			}
		}
		if lenBytes > 0 {
			if len(b)-i < lenBytes {
				return fmt.Errorf("truncated at byte %d", len(b))
			}
			var n int
			switch lenBytes {
			case 1:
				n = int(b[i])
			case 2:
				n = int(binary.BigEndian.Uint16(b[i:]))
			case 4:
				n = int(binary.BigEndian.Uint32(b[i:]))
			}
			i += lenBytes
			switch {
			case items == 0:
				skip += n
			case c == 0xde || c == 0xdf:
				items = 2 * n
			default:
				items = n
			}
		}
		if items > 0 {
			if items > len(b)-i {
				return fmt.Errorf("code 0x%02x at byte %d declares %d items with %d bytes left", c, i-1-lenBytes, items, len(b)-i)
			}
			if len(stack) >= maxMsgpackDepth {
				return fmt.Errorf("nested more than %d deep", maxMsgpackDepth)
			}
			stack = append(stack, left)
			left = items
		}
		if skip > len(b)-i {
			return fmt.Errorf("truncated at byte %d", len(b))
		}
		i += skip
	}
}
