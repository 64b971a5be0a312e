package writebehind_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"sync"

	"github.com/strata-cache/strata/cache/writebehind"
)

func Example() {
	dir, err := os.MkdirTemp("", "writebehind-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// A stand-in for a database table of key -> (seq, value). The upsert
	// replaces only an older row, so a batch delivered twice does no harm.
	type row struct {
		seq   uint64
		value string
	}
	var mu sync.Mutex
	table := make(map[string]row)
	flush := func(ctx context.Context, batch []writebehind.Write) error {
		mu.Lock()
		defer mu.Unlock()
		for _, w := range batch {
			if r, ok := table[w.Key]; !ok || r.seq < w.Seq {
				table[w.Key] = row{w.Seq, string(w.Value)}
			}
		}
		return nil
	}

	q, err := writebehind.Open(writebehind.Options{Dir: dir}, flush)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	for _, w := range []struct{ key, value string }{
		{"product:42", "price=10"},
		{"product:42", "price=12"},
		{"product:7", "price=3"},
	} {
		// Durable on return: a crash from here on does not lose it.
		seq, err := q.Enqueue(ctx, w.key, []byte(w.value))
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("acknowledged", seq)
	}
	if err := q.Flush(ctx); err != nil {
		log.Fatal(err)
	}
	if err := q.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Println(table["product:42"].value, table["product:7"].value)
	// Output:
	// acknowledged 1
	// acknowledged 2
	// acknowledged 3
	// price=12 price=3
}
