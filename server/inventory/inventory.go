// Package inventory is the server's side of MeshSync: a durable JetStream consumer of
// every cluster's discovery events (stream MESHSYNC) that keeps the store's inventory
// equal to each cluster, one writer per cluster with batched upserts, snapshots that
// remove what was deleted while nobody watched, and resyncs asked for when a sequence
// has a gap. It also flushes a cluster, reports its discovery health, streams live
// changes, and runs MeshSync embedded for each connected cluster (Supervisor).
package inventory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/meshperf/meshperf/bus"
	"github.com/meshperf/meshperf/server/store"
)

// Defaults of Options.
const (
	DefaultDurable   = "meshperf-inventory"
	DefaultBatchSize = 500
	DefaultBatchWait = 100 * time.Millisecond
)

// Options configure the inventory.
type Options struct {
	Store *store.Store
	// NC publishes resync requests; JS reads the MESHSYNC stream (which must exist).
	NC *nats.Conn
	JS jetstream.JetStream
	// Durable names the consumer (tests on a shared NATS choose their own).
	Durable string
	// BatchSize and BatchWait bound one write: at most BatchSize events, collected for
	// at most BatchWait after the first.
	BatchSize int
	BatchWait time.Duration
	// ResyncEvery bounds how often one cluster is asked to resync (default 30 s).
	ResyncEvery time.Duration
	Logger      *slog.Logger
}

// Inventory consumes MeshSync events into the store.
type Inventory struct {
	st  *store.Store
	opt Options
	log *slog.Logger

	mu      sync.Mutex
	writers map[string]*writer
	known   map[string]bool
	knownAt time.Time

	changes changeHub

	// Counters since start.
	dropped    atomic.Int64 // events of clusters that are not connections
	refused    atomic.Int64 // messages that did not decode
	duplicates atomic.Int64 // events already applied (replays)
	resyncs    atomic.Int64 // resyncs asked for
	batches    atomic.Int64 // transactions committed
	applied    atomic.Int64 // events committed
	snapshots  atomic.Int64 // snapshots completed
}

// New makes the inventory; Run consumes.
func New(opt Options) *Inventory {
	if opt.Durable == "" {
		opt.Durable = DefaultDurable
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = DefaultBatchSize
	}
	if opt.BatchWait <= 0 {
		opt.BatchWait = DefaultBatchWait
	}
	if opt.ResyncEvery <= 0 {
		opt.ResyncEvery = 30 * time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	return &Inventory{st: opt.Store, opt: opt, log: opt.Logger, writers: map[string]*writer{}}
}

// Stats counts what the consumer did not store.
type Stats struct {
	Dropped    int64 `json:"dropped_unknown_cluster"`
	Refused    int64 `json:"refused"`
	Duplicates int64 `json:"duplicates"`
	Resyncs    int64 `json:"resyncs_requested"`
	Batches    int64 `json:"batches"`
	Events     int64 `json:"events"`
	Snapshots  int64 `json:"snapshots"`
}

// Stats returns the counters since start.
func (i *Inventory) Stats() Stats {
	return Stats{Dropped: i.dropped.Load(), Refused: i.refused.Load(), Duplicates: i.duplicates.Load(), Resyncs: i.resyncs.Load(),
		Batches: i.batches.Load(), Events: i.applied.Load(), Snapshots: i.snapshots.Load()}
}

// Run consumes until ctx ends. Every message is acknowledged only once what it says
// is committed; a message that cannot be read is terminated (never redelivered), so
// it cannot block the stream.
func (i *Inventory) Run(ctx context.Context) error {
	cons, err := i.opt.JS.CreateOrUpdateConsumer(ctx, bus.MeshSyncStream, jetstream.ConsumerConfig{
		Durable:       i.opt.Durable,
		FilterSubject: bus.AllMeshSyncEvents(),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       time.Minute,
		MaxAckPending: 50_000,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("the MeshSync consumer: %w", err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(2 * i.opt.BatchSize))
	if err != nil {
		return fmt.Errorf("reading MeshSync events: %w", err)
	}
	stopped := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
		case <-stopped:
		}
		it.Stop()
	}()
	defer close(stopped)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			return fmt.Errorf("reading MeshSync events: %w", err)
		}
		cluster := bus.MeshSyncCluster(msg.Subject())
		if cluster == "" {
			i.refuse(msg, "not a MeshSync events subject")
			continue
		}
		if !i.isKnown(ctx, cluster) {
			i.dropped.Add(1)
			_ = msg.Term()
			continue
		}
		w := i.writer(ctx, cluster, &wg)
		select {
		case w.in <- msg:
		case <-ctx.Done():
			return nil
		}
	}
}

func (i *Inventory) refuse(msg jetstream.Msg, why string) {
	if n := i.refused.Add(1); n <= 100 || n%1000 == 0 { // a flood of junk does not flood the log
		i.log.Warn("refused a MeshSync message", "subject", msg.Subject(), "why", why, "refused_so_far", n)
	}
	_ = msg.Term()
}

// isKnown says whether cluster is a connection's cluster. A miss re-reads the
// connections (at most five times a second), so a cluster connected a moment ago is
// never taken for a stranger.
func (i *Inventory) isKnown(ctx context.Context, cluster string) bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.known[cluster] {
		return true
	}
	if wait := time.Until(i.knownAt.Add(200 * time.Millisecond)); wait > 0 {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return false
		}
	}
	known, err := i.st.ClusterUIDs(ctx)
	if err != nil {
		i.log.Warn("reading the connections", "err", err)
		return i.known[cluster]
	}
	i.known, i.knownAt = known, time.Now()
	return known[cluster]
}

// forget drops a cluster from the known set (its connection is gone).
func (i *Inventory) forget(cluster string) {
	i.mu.Lock()
	delete(i.known, cluster)
	i.mu.Unlock()
}

func (i *Inventory) writer(ctx context.Context, cluster string, wg *sync.WaitGroup) *writer {
	i.mu.Lock()
	defer i.mu.Unlock()
	if w, ok := i.writers[cluster]; ok {
		return w
	}
	w := &writer{inv: i, cluster: cluster, in: make(chan jetstream.Msg, 4*i.opt.BatchSize)}
	i.writers[cluster] = w
	wg.Add(1)
	go func() {
		defer wg.Done()
		w.run(ctx)
	}()
	return w
}

// lockCluster serializes a flush with the cluster's writer. The flush asks for a
// resync itself, so the writer does not ask again when it next finds the emptied
// stream position.
func (i *Inventory) lockCluster(cluster string) func() {
	i.mu.Lock()
	w, ok := i.writers[cluster]
	i.mu.Unlock()
	if !ok {
		return func() {}
	}
	w.mu.Lock()
	w.lastResync = time.Now()
	return w.mu.Unlock
}

// Resync asks cluster's MeshSync for a snapshot of everything it watches.
func (i *Inventory) Resync(cluster, reason string) error {
	subject, err := bus.MeshSyncControl(cluster)
	if err != nil {
		return err
	}
	data, err := bus.Encode(&bus.Envelope{Kind: bus.KindMeshSyncControl, Sender: "meshperf-server", Seq: 1, Sent: time.Now().UTC(),
		MeshSyncControl: &bus.MeshSyncControlMsg{Type: bus.ControlResync, Reason: reason}})
	if err != nil {
		return err
	}
	if err := i.opt.NC.Publish(subject, data); err != nil {
		return fmt.Errorf("asking %s for a resync: %w", cluster, err)
	}
	i.resyncs.Add(1)
	i.log.Info("asked MeshSync for a resync", "cluster", cluster, "reason", reason)
	return nil
}

// Flush removes everything discovered of one cluster, touching no other, and asks
// its MeshSync for a fresh snapshot (if it still runs).
func (i *Inventory) Flush(ctx context.Context, cluster string) (store.InventoryFlushed, error) {
	unlock := i.lockCluster(cluster)
	f, err := i.st.FlushInventory(ctx, cluster)
	unlock()
	if err != nil {
		return f, err
	}
	i.changes.publish(Change{Cluster: cluster, Type: ChangeFlushed})
	_ = i.Resync(cluster, "the inventory was flushed")
	return f, nil
}

// Forget is called when a connection is removed: the cluster's events are no longer
// stored (the store's DeleteConnection already flushed its rows).
func (i *Inventory) Forget(cluster string) {
	i.forget(cluster)
	i.changes.publish(Change{Cluster: cluster, Type: ChangeFlushed})
}
