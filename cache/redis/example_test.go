package redis_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/strata-cache/strata/cache"
	"github.com/strata-cache/strata/cache/redis"
)

type Product struct {
	ID    int
	Name  string
	Price int
}

// A cache of products whose L2 is Redis. The same code runs on Sentinel
// ("redis://sentinel:26379?master_set=main") or on a Cluster
// ("node1:7000,node2:7000,node3:7000").
func Example() {
	client, err := redis.NewClient("redis://localhost:6379")
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	l2, err := redis.New[Product](client, redis.Options{Namespace: "strata:products"})
	if err != nil {
		log.Fatal(err)
	}
	defer l2.Close() // before client.Close
	c, err := cache.New(cache.Options[Product]{L2: l2, TTL: 5 * time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	r, err := c.Get(context.Background(), "product:42", func(ctx context.Context, key string) (cache.Item[Product], error) {
		// Read the row and the version it was read at.
		return cache.Item[Product]{Value: Product{ID: 42, Name: "Lamp", Price: 1999}, Version: 7, Tags: []string{"products"}}, nil
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.Value.Name)
}
