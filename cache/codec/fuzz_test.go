package codec_test

import (
	"bytes"
	"fmt"
	"math"
	"math/cmplx"
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/strata-cache/strata/cache/codec"
)

// fuzzTarget is a type the fuzzer decodes into, and the codecs for which
// decoding then re-encoding must give back the same value.
type fuzzTarget struct {
	name   string
	new    func() any // a pointer to decode into
	codecs []byte     // codec ids for which the value must round-trip
}

var fuzzTargets = []fuzzTarget{
	{"any", func() any { return new(any) }, []byte{1, 2}},
	{"product", func() any { return new(product) }, []byte{1, 2}},
	{"bytes", func() any { return new([]byte) }, []byte{1, 2}},
	{"string", func() any { return new(string) }, []byte{1, 2}},
	{"map", func() any { return new(map[string]int64) }, []byte{1, 2}},
	{"struct message", func() any { return new(*structpb.Struct) }, []byte{3}},
	{"bytes message", func() any { return new(wrapperspb.BytesValue) }, []byte{3}},
}

var fuzzCompressions = map[byte]string{0: "none", 1: "s2", 2: "zstd"}

// FuzzDecode checks that Decode never panics on any input, and that what it
// accepts re-encodes (with the envelope's codec and compression) to an
// envelope that decodes to the same value.
func FuzzDecode(f *testing.F) {
	s, err := structpb.NewStruct(map[string]any{"a": 1.5, "b": []any{"x", true, nil}})
	if err != nil {
		f.Fatal(err)
	}
	seeds := []any{
		sampleProduct(), product{}, (*product)(nil),
		[]byte("hello"), text(300), "hello", string(text(200)),
		map[string]int64{"a": 1, "b": -2},
		map[string]any{"n": 1.5, "s": "x", "l": []any{int64(1), "y"}},
	}
	for _, comp := range []string{"none", "s2", "zstd"} {
		for _, c := range []codec.Codec{codec.MsgPack, codec.JSON} {
			for _, v := range seeds {
				data, err := codec.Format{Codec: c, Compression: comp, Threshold: 1}.Encode(nil, v)
				if err != nil {
					f.Fatal(err)
				}
				addValid(f, data)
			}
		}
		for _, m := range []proto.Message{s, wrapperspb.Bytes(text(300))} {
			data, err := codec.Format{Codec: codec.Protobuf, Compression: comp, Threshold: 1}.Encode(nil, m)
			if err != nil {
				f.Fatal(err)
			}
			addValid(f, data)
		}
	}
	f.Add([]byte{})
	f.Add([]byte{2, 1, 0, 0})
	f.Add([]byte{1, 1, 0, 5, 0xdd, 0xff, 0xff, 0xff, 0xff})

	read := codec.Format{MaxSize: 1 << 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, target := range fuzzTargets {
			first := target.new()
			if err := read.Decode(data, first); err != nil {
				continue
			}
			if !bytes.Contains(target.codecs, data[1:2]) {
				continue // accepted, but no promise to round-trip
			}
			c := map[byte]codec.Codec{1: codec.MsgPack, 2: codec.JSON, 3: codec.Protobuf}[data[1]]
			// Re-encoding can make a payload larger (msgpack's int64
			// fields take 9 bytes however small they are).
			write := codec.Format{Codec: c, Compression: fuzzCompressions[data[2]], Threshold: 1, MaxSize: 1 << 30}
			v := first // a message encodes as it is
			if _, ok := first.(proto.Message); !ok {
				v = reflect.ValueOf(first).Elem().Interface()
			}
			again, err := write.Encode(nil, v)
			if err != nil {
				t.Fatalf("%s: decoded %#v, which does not encode: %v", target.name, v, err)
			}
			second := target.new()
			if err := write.Decode(again, second); err != nil {
				t.Fatalf("%s: decoded %#v, re-encoded as % x, which does not decode: %v", target.name, v, again, err)
			}
			if !sameValue(first, second) {
				t.Fatalf("%s: decoded %#v, re-encoded and decoded %#v", target.name, v, second)
			}
		}
	})
}

// addValid adds a seed that some target must accept, so that the seeds
// exercise the round trip and not only the errors.
func addValid(f *testing.F, data []byte) {
	f.Helper()
	for _, target := range fuzzTargets {
		if (codec.Format{}).Decode(data, target.new()) == nil {
			f.Add(data)
			return
		}
	}
	f.Fatalf("no target accepts seed % x", data[:min(len(data), 16)])
}

// sameValue is reflect.DeepEqual, except that NaN equals NaN and messages
// compare with proto.Equal.
func sameValue(a, b any) bool {
	return equalValues(reflect.ValueOf(a), reflect.ValueOf(b), 0)
}

var protoMessage = reflect.TypeFor[proto.Message]()

func equalValues(a, b reflect.Value, depth int) bool {
	if depth > 100_000 {
		panic("sameValue: too deep")
	}
	if a.IsValid() != b.IsValid() {
		return false
	}
	if !a.IsValid() {
		return true
	}
	if a.Type() != b.Type() {
		return false
	}
	if a.Type().Implements(protoMessage) && a.CanInterface() {
		return proto.Equal(a.Interface().(proto.Message), b.Interface().(proto.Message))
	}
	switch a.Kind() {
	case reflect.Float32, reflect.Float64:
		x, y := a.Float(), b.Float()
		return x == y || math.IsNaN(x) && math.IsNaN(y)
	case reflect.Complex64, reflect.Complex128:
		x, y := a.Complex(), b.Complex()
		return x == y || cmplx.IsNaN(x) && cmplx.IsNaN(y)
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return equalValues(a.Elem(), b.Elem(), depth+1)
	case reflect.Slice:
		if a.IsNil() != b.IsNil() {
			return false
		}
		fallthrough
	case reflect.Array:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !equalValues(a.Index(i), b.Index(i), depth+1) {
				return false
			}
		}
		return true
	case reflect.Struct:
		for i := range a.NumField() {
			if !equalValues(a.Field(i), b.Field(i), depth+1) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		// A NaN key cannot be looked up: count those, match the rest.
		nanKeys := 0
		for it := a.MapRange(); it.Next(); {
			if isNaN(it.Key()) {
				nanKeys++
				continue
			}
			w := b.MapIndex(it.Key())
			if !w.IsValid() || !equalValues(it.Value(), w, depth+1) {
				return false
			}
		}
		for it := b.MapRange(); it.Next(); {
			if isNaN(it.Key()) {
				nanKeys--
			}
		}
		return nanKeys == 0
	case reflect.Func, reflect.Chan, reflect.UnsafePointer:
		return a.Pointer() == b.Pointer()
	}
	// Bool, ints, uints, strings.
	return fmt.Sprint(valueOf(a)) == fmt.Sprint(valueOf(b))
}

func isNaN(v reflect.Value) bool {
	for v.Kind() == reflect.Interface && !v.IsNil() {
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		return math.IsNaN(v.Float())
	}
	return false
}

// valueOf returns the basic value in v, which may be an unexported field.
func valueOf(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint()
	case reflect.String:
		return v.String()
	}
	panic("sameValue: unexpected kind " + v.Kind().String())
}

func TestSameValue(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		a, b any
		want bool
	}{
		{1, 1, true},
		{1, 2, false},
		{int8(1), int64(1), false},
		{nan, nan, true},
		{[]any{nan, "x"}, []any{nan, "x"}, true},
		{[]byte(nil), []byte{}, false},
		{map[any]any{nan: 1, "a": 2}, map[any]any{nan: 3, "a": 2}, true},
		{map[any]any{nan: 1, "a": 2}, map[any]any{"b": 3, "a": 2}, false},
		{&product{Name: "x"}, &product{Name: "x"}, true},
		{&product{Next: &product{}}, &product{}, false},
		{wrapperspb.String("x"), wrapperspb.String("x"), true},
		{wrapperspb.String("x"), wrapperspb.String("y"), false},
	}
	for _, tc := range cases {
		if got := sameValue(tc.a, tc.b); got != tc.want {
			t.Errorf("sameValue(%#v, %#v) = %v", tc.a, tc.b, got)
		}
	}
}
