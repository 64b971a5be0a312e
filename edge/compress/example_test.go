package compress_test

import (
	"fmt"

	"github.com/strata-cache/strata/edge/compress"
)

func ExampleNegotiate() {
	offered := []string{compress.Brotli, compress.Zstd, compress.Gzip}
	fmt.Println(compress.Negotiate("gzip, deflate, br, zstd", offered))
	fmt.Println(compress.Negotiate("gzip;q=1.0, br;q=0.5", offered))
	fmt.Println(compress.Negotiate("deflate", offered))
	fmt.Printf("%q\n", compress.Negotiate("identity;q=0", offered))
	// Output:
	// br
	// gzip
	// identity
	// ""
}
