package inval

import (
	"context"
	"errors"
	"time"
)

// NodeStatus is one subscriber's progress, as a bus that reports it sees it.
// On the Redis bus a subscriber is a node (an edge node, an API instance's
// L1) and its name is the node's id; on Memory it is one in-process
// subscriber.
type NodeStatus struct {
	// Name is the subscriber's name, given to Subscribe.
	Name string `json:"name"`
	// Applied is the sequence number of the last event the subscriber
	// applied (handled, or covered by a loss: see LostFunc).
	Applied uint64 `json:"applied"`
	// Heartbeat is when the subscriber last reported itself alive.
	Heartbeat time.Time `json:"heartbeat"`
	// Started is when the subscriber (its current process) subscribed.
	Started time.Time `json:"started,omitzero"`
	// Live reports whether the subscriber's heartbeat is recent. Only live
	// subscribers hold invalidations open (Acked).
	Live bool `json:"live"`
	// Lag is the bus's last sequence number minus Applied.
	Lag uint64 `json:"lag"`
}

// NodeReporter is implemented by buses that can list their subscribers'
// progress: Memory and the Redis bus both do. Nodes returns every
// registered subscriber, sorted by name.
type NodeReporter interface {
	Nodes(ctx context.Context) ([]NodeStatus, error)
}

// ErrLost is wrapped by the reason given to a LostFunc.
var ErrLost = errors.New("inval: events were lost")

// LostFunc is called when a subscriber missed events it cannot replay: it
// is new and starts at the end of the bus, it was away longer than the bus
// keeps events, the bus's storage was lost, or an event could not be
// decoded. The subscriber must then forget everything it holds (an edge
// clears or marks stale its whole cache, an L1 drops every entry) as if
// it had received an invalidation of everything: the events it goes on
// to receive are only those published after the loss. reason wraps
// ErrLost and says what happened.
//
// A LostFunc is called before the next event is handled and never at the
// same time as the subscriber's Handler: from Subscribe itself for a loss
// found when choosing the start position, from the delivery goroutine
// afterwards.
type LostFunc func(reason error)

// LossNotifier is implemented by buses that can tell a subscriber it lost
// events (see LostFunc). Memory implements it for symmetry and never calls
// lost: it keeps every event until every subscriber has handled it.
type LossNotifier interface {
	// SubscribeWithLost is Subscribe with a LostFunc for this subscriber.
	SubscribeWithLost(name string, h Handler, lost LostFunc) error
}

// SubscribeWithLost subscribes h to b under name with lost as its LostFunc
// when b is a LossNotifier, and with b.Subscribe otherwise (a bus that
// cannot say it lost events).
func SubscribeWithLost(b Bus, name string, h Handler, lost LostFunc) error {
	if ln, ok := b.(LossNotifier); ok {
		return ln.SubscribeWithLost(name, h, lost)
	}
	return b.Subscribe(name, h)
}
