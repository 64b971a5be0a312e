package redisbus_test

import (
	"context"
	"log"

	"github.com/redis/rueidis"

	"github.com/strata-cache/strata/inval"
	"github.com/strata-cache/strata/inval/redisbus"
)

// An edge node subscribes under its node id, forgets its whole cache when
// it missed events it cannot replay, and serves an admin API whose
// invalidations every other node's admin API also sees.
func Example() {
	client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{"127.0.0.1:6379"}})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	bus, err := redisbus.New(client, redisbus.Options{Prefix: "strata:inval"})
	if err != nil {
		log.Fatal(err)
	}
	defer bus.Close()

	purge := func(ctx context.Context, ev inval.Event) error { return nil } // the edge's purge
	flushAll := func(reason error) {}                                       // the edge clears its cache
	if err := bus.SubscribeWithLost("edge-1", purge, flushAll); err != nil {
		log.Fatal(err)
	}

	store, err := redisbus.NewStore(client, redisbus.StoreOptions{Prefix: "strata:inval"})
	if err != nil {
		log.Fatal(err)
	}
	tracker := inval.NewTrackerWith(bus, inval.TrackerOptions{Store: store})
	defer tracker.Close()
	inv, err := tracker.Create(context.Background(), inval.Request{Tags: []string{"product:42"}, By: "deploy"})
	if err != nil {
		log.Fatal(err)
	}
	inv, err = tracker.Wait(context.Background(), inv.ID)
	log.Println(inv.Status, inv.Nodes, err)
}
