package inventory

import (
	"sync"

	"github.com/meshperf/meshperf/apitypes"
	"github.com/meshperf/meshperf/bus"
)

// ChangeFlushed is a change saying a cluster's inventory was emptied.
const ChangeFlushed = "flushed"

// Change is one committed change of the inventory, for live streams.
type Change = apitypes.InventoryChange

func changeOf(cluster, typ string, o *bus.MeshSyncObject) Change {
	return Change{Cluster: cluster, Type: typ, Group: o.Group, Version: o.Version, Kind: o.Kind,
		Namespace: o.Namespace, Name: o.Name, UID: o.UID, ResourceVersion: o.ResourceVersion}
}

// changeHub fans committed changes out to live subscribers. A subscriber too slow to
// keep up loses changes, never slows the writers: its Lost count says how many.
type changeHub struct {
	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

// Subscription receives changes of one cluster (or all, when Cluster is "").
type Subscription struct {
	C       <-chan Change
	c       chan Change
	cluster string
	hub     *changeHub
	mu      sync.Mutex
	lost    int64
}

// Lost counts changes dropped because the subscriber was behind.
func (s *Subscription) Lost() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lost
}

// Close stops the subscription.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	delete(s.hub.subs, s)
	s.hub.mu.Unlock()
}

func (h *changeHub) subscribe(cluster string) *Subscription {
	c := make(chan Change, 1024)
	s := &Subscription{C: c, c: c, cluster: cluster, hub: h}
	h.mu.Lock()
	if h.subs == nil {
		h.subs = map[*Subscription]struct{}{}
	}
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s
}

func (h *changeHub) publish(c Change) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		if s.cluster != "" && s.cluster != c.Cluster {
			continue
		}
		select {
		case s.c <- c:
		default:
			s.mu.Lock()
			s.lost++
			s.mu.Unlock()
		}
	}
}

// Subscribe receives the inventory's committed changes of cluster ("" for all).
func (i *Inventory) Subscribe(cluster string) *Subscription { return i.changes.subscribe(cluster) }
