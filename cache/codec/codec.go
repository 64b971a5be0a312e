package codec

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"google.golang.org/protobuf/proto"
)

// Codec turns values into bytes and back.
//
// The Codecs are [MsgPack], [JSON] and [Protobuf], and no others: Decode must
// know every codec id that an envelope can carry, so the set is closed. To add
// a codec, add it here with a new id.
type Codec interface {
	// Name is the codec's name: "msgpack", "json" or "protobuf".
	Name() string
	// ID is the codec's id in an envelope, stable forever (see the package
	// documentation).
	ID() byte
	// Marshal returns the encoding of v.
	Marshal(v any) ([]byte, error)
	// Unmarshal decodes data into v, which is usually a non-nil pointer.
	// Malformed data gives an error wrapping ErrCorrupt. The result never
	// aliases data.
	Unmarshal(data []byte, v any) error

	// marshalAppend appends the encoding of v to dst, or returns a new slice
	// if that is cheaper. It seals the interface.
	marshalAppend(dst []byte, v any) ([]byte, error)
	// unmarshal is Unmarshal without the error context. owned says that
	// the caller gives data away, so the result may alias it.
	unmarshal(data []byte, v any, owned bool) error
}

// The codecs. Their ids are part of the envelope format: never change or
// reuse one.
var (
	// MsgPack is MessagePack through github.com/vmihailenco/msgpack/v5:
	// compact, fast, and able to encode most Go values, struct fields by name
	// (the `msgpack` struct tag, else the field name). It is the default. A
	// []byte or string value takes a fast path that costs about a copy.
	MsgPack Codec = msgpackCodec{}
	// JSON is encoding/json.
	JSON Codec = jsonCodec{}
	// Protobuf is google.golang.org/protobuf/proto. It marshals a non-nil
	// proto.Message, and unmarshals into a non-nil proto.Message or into a
	// pointer to a message pointer (such as **pb.Product, which is what a
	// generic cache of *pb.Product passes), allocating a new message there.
	Protobuf Codec = protobufCodec{}
)

const (
	idMsgPack  byte = 1
	idJSON     byte = 2
	idProtobuf byte = 3
)

// codecByID returns the codec with the given envelope id, or nil.
func codecByID(id byte) Codec {
	switch id {
	case idMsgPack:
		return MsgPack
	case idJSON:
		return JSON
	case idProtobuf:
		return Protobuf
	}
	return nil
}

// marshal and unmarshal are the public methods' shared bodies: they add
// the codec and the type to the error.
func marshal(c Codec, v any) ([]byte, error) {
	b, err := c.marshalAppend(nil, v)
	if err != nil {
		return nil, encodeError(c, v, err)
	}
	return b, nil
}

func unmarshal(c Codec, data []byte, v any) error {
	if err := c.unmarshal(data, v, false); err != nil {
		return decodeError(c, v, err)
	}
	return nil
}

func encodeError(c Codec, v any, err error) error {
	if errors.Is(err, ErrTooLarge) {
		return err
	}
	return fmt.Errorf("codec: %s: encode %T: %w", c.Name(), v, err)
}

func decodeError(c Codec, v any, err error) error {
	var ce corruptError
	if errors.As(err, &ce) {
		return fmt.Errorf("%w: %s payload for %T: %w", ErrCorrupt, c.Name(), v, ce.err)
	}
	return fmt.Errorf("codec: %s: decode into %T: %w", c.Name(), v, err)
}

// corruptError marks a codec's error as meaning that the data is malformed;
// decodeError turns it into one wrapping ErrCorrupt.
type corruptError struct{ err error }

func corrupt(err error) error { return corruptError{err} }

func (e corruptError) Error() string { return e.err.Error() }
func (e corruptError) Unwrap() error { return e.err }

// jsonCodec is encoding/json.
type jsonCodec struct{}

var _ Codec = jsonCodec{}

func (jsonCodec) Name() string                         { return "json" }
func (jsonCodec) ID() byte                             { return idJSON }
func (c jsonCodec) Marshal(v any) ([]byte, error)      { return marshal(c, v) }
func (c jsonCodec) Unmarshal(data []byte, v any) error { return unmarshal(c, data, v) }

func (jsonCodec) marshalAppend(_ []byte, v any) ([]byte, error) {
	return json.Marshal(v)
}

func (jsonCodec) unmarshal(data []byte, v any, _ bool) error {
	err := json.Unmarshal(data, v)
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return corrupt(err)
	}
	return err
}

// protobufCodec is google.golang.org/protobuf/proto.
type protobufCodec struct{}

var _ Codec = protobufCodec{}

var protoMessageType = reflect.TypeFor[proto.Message]()

func (protobufCodec) Name() string                         { return "protobuf" }
func (protobufCodec) ID() byte                             { return idProtobuf }
func (c protobufCodec) Marshal(v any) ([]byte, error)      { return marshal(c, v) }
func (c protobufCodec) Unmarshal(data []byte, v any) error { return unmarshal(c, data, v) }

func (protobufCodec) marshalAppend(dst []byte, v any) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return dst, fmt.Errorf("%T is not a proto.Message", v)
	}
	if !m.ProtoReflect().IsValid() {
		// proto.Marshal would write an empty message, which decodes to a
		// non-nil one: refuse rather than change the value.
		return dst, fmt.Errorf("cannot encode a nil %T", v)
	}
	return proto.MarshalOptions{}.MarshalAppend(dst, m)
}

func (protobufCodec) unmarshal(data []byte, v any, _ bool) error {
	if m, ok := v.(proto.Message); ok {
		if !m.ProtoReflect().IsValid() {
			return fmt.Errorf("cannot decode into a nil %T", v)
		}
		if err := proto.Unmarshal(data, m); err != nil {
			return corrupt(err)
		}
		return nil
	}
	// A pointer to a message pointer: allocate a new message, so that a
	// message someone else holds is never overwritten.
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() ||
		rv.Type().Elem().Kind() != reflect.Pointer || !rv.Type().Elem().Implements(protoMessageType) {
		return fmt.Errorf("%T is neither a proto.Message nor a non-nil pointer to one", v)
	}
	m := reflect.New(rv.Type().Elem().Elem())
	if err := proto.Unmarshal(data, m.Interface().(proto.Message)); err != nil {
		return corrupt(err)
	}
	rv.Elem().Set(m)
	return nil
}
