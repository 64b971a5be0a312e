package codec_test

import (
	"errors"
	"fmt"

	"github.com/strata-cache/strata/cache/codec"
)

func ExampleFormat() {
	type product struct {
		ID    int64
		Name  string
		Price float64
	}
	var f codec.Format // MsgPack, S2 from 1 KiB, at most 16 MiB

	data, err := f.Encode(nil, product{ID: 42, Name: "Espresso cup", Price: 12.5})
	if err != nil {
		panic(err)
	}
	fmt.Printf("version %d, codec %d, compression %d\n", data[0], data[1], data[2])

	var p product
	if err := f.Decode(data, &p); err != nil {
		panic(err)
	}
	fmt.Printf("%+v\n", p)
	// Output:
	// version 1, codec 1, compression 0
	// {ID:42 Name:Espresso cup Price:12.5}
}

// A reader decodes what any Format wrote, and treats an envelope it does not
// understand as a miss.
func ExampleFormat_Decode() {
	writer := codec.Format{Codec: codec.JSON, Compression: codec.CompressionZstd, Threshold: 1}
	data, err := writer.Encode(nil, map[string]int{"stock": 7})
	if err != nil {
		panic(err)
	}

	var reader codec.Format
	var m map[string]int
	err = reader.Decode(data, &m)
	fmt.Println(m, err)

	data[0] = 2 // as a newer release might write
	err = reader.Decode(data, &m)
	if errors.Is(err, codec.ErrUnknownFormat) {
		fmt.Println("miss:", err)
	}
	// Output:
	// map[stock:7] <nil>
	// miss: codec: unknown format: envelope version 2 (this release reads version 1)
}
