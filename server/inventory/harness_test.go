package inventory_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/meshperf/meshperf/bus"
	"github.com/meshperf/meshperf/server/broker"
	"github.com/meshperf/meshperf/server/inventory"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/server/storetest"
)

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// world is a real embedded NATS with JetStream (the broker the server runs, with its
// MESHSYNC stream), a real database of one kind, and the inventory consuming.
type world struct {
	t   testing.TB
	st  *store.Store
	brk *broker.Broker
	inv *inventory.Inventory

	stop context.CancelFunc
	done chan error
}

func newWorld(t testing.TB, kind string) *world {
	t.Helper()
	brk, err := broker.Start(context.Background(), broker.Config{Addr: "127.0.0.1:0", StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(brk.Close)
	w := &world{t: t, st: storetest.Open(t, kind), brk: brk}
	w.start()
	t.Cleanup(w.halt)
	return w
}

// start runs a fresh Inventory on the same durable consumer (a restarted server).
func (w *world) start() {
	w.inv = inventory.New(inventory.Options{Store: w.st, NC: w.brk.NC, JS: w.brk.JS, BatchWait: 30 * time.Millisecond,
		ResyncEvery: time.Millisecond, Logger: quietLog})
	ctx, cancel := context.WithCancel(context.Background())
	w.stop, w.done = cancel, make(chan error, 1)
	go func() { w.done <- w.inv.Run(ctx) }()
}

func (w *world) halt() {
	if w.stop == nil {
		return
	}
	w.stop()
	select {
	case err := <-w.done:
		if err != nil {
			w.t.Errorf("inventory: %v", err)
		}
	case <-time.After(20 * time.Second):
		w.t.Error("the inventory did not stop within 20 s")
	}
	w.stop = nil
}

// connect stores a connection for a cluster (the inventory only keeps known clusters).
func (w *world) connect(name, cluster string) *store.Connection {
	w.t.Helper()
	c, _, err := w.st.AddConnection(context.Background(), &store.Connection{ID: uuid.NewString(), Kind: store.ConnKubernetes,
		Name: name, State: "connected", ClusterUID: cluster}, nil, func(string) []byte { return []byte("sealed") })
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

// producer publishes one cluster's events as MeshSync does: one boot, seq from 1.
type producer struct {
	w       *world
	cluster string
	boot    string
	seq     uint64
}

func (w *world) producer(cluster string) *producer {
	return &producer{w: w, cluster: cluster, boot: bus.NewBoot()}
}

func (p *producer) publish(ev *bus.MeshSyncEvent) *bus.Envelope {
	p.w.t.Helper()
	p.seq++
	ev.Cluster = p.cluster
	env := &bus.Envelope{Kind: bus.KindMeshSyncEvent, Sender: p.cluster, Boot: p.boot, Seq: p.seq, Sent: time.Now().UTC(), MeshSyncEvent: ev}
	p.w.publishEnv(p.cluster, env, fmt.Sprintf("%s-%d", p.boot, p.seq))
	return env
}

func (w *world) publishEnv(cluster string, env *bus.Envelope, msgID string) {
	w.t.Helper()
	data, err := bus.Encode(env)
	if err != nil {
		w.t.Fatal(err)
	}
	w.publishRaw(cluster, data, msgID)
}

func (w *world) publishRaw(cluster string, data []byte, msgID string) {
	w.t.Helper()
	subject, err := bus.MeshSyncEvents(cluster)
	if err != nil {
		w.t.Fatal(err)
	}
	var opts []jetstream.PublishOpt
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	if _, err := w.brk.JS.Publish(context.Background(), subject, data, opts...); err != nil {
		w.t.Fatal(err)
	}
}

var (
	pods       = "pods.v1."
	configmaps = "configmaps.v1."
	secretsRes = "secrets.v1."
)

func (p *producer) snapshot(id string, resources []string, objs ...*bus.MeshSyncObject) {
	p.publish(&bus.MeshSyncEvent{Type: bus.EventSnapshotStart, Snapshot: id, Resources: resources})
	for _, o := range objs {
		p.publish(&bus.MeshSyncEvent{Type: bus.EventAdded, Snapshot: id, Object: o})
	}
	p.publish(&bus.MeshSyncEvent{Type: bus.EventSnapshotEnd, Snapshot: id, Resources: resources, Count: len(objs)})
}

func (p *producer) event(typ string, o *bus.MeshSyncObject) {
	p.publish(&bus.MeshSyncEvent{Type: typ, Object: o})
}

// applied waits until the inventory has committed this producer's events so far.
func (p *producer) applied() {
	p.w.t.Helper()
	waitFor(p.w.t, 120*time.Second, fmt.Sprintf("cluster %s's events up to %d applied", p.cluster, p.seq), func() bool {
		st, err := p.w.st.InventoryStreamOf(context.Background(), p.cluster)
		return err == nil && st != nil && st.Boot == p.boot && st.Seq >= int64(p.seq)
	})
}

func pod(ns, name, uid, rv string, labels map[string]string) *bus.MeshSyncObject {
	obj, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": name, "namespace": ns, "uid": uid, "resourceVersion": rv, "labels": labels},
		"spec":     map[string]any{"containers": []map[string]string{{"name": "app", "image": "nginx:1.27"}}}})
	return &bus.MeshSyncObject{Version: "v1", Resource: "pods", Kind: "Pod", Namespace: ns, Name: name, UID: uid,
		ResourceVersion: rv, Labels: labels, Object: obj}
}

func configMap(ns, name, uid, rv string) *bus.MeshSyncObject {
	return &bus.MeshSyncObject{Version: "v1", Resource: "configmaps", Kind: "ConfigMap", Namespace: ns, Name: name, UID: uid, ResourceVersion: rv}
}

// rows lists a cluster's objects by uid.
func (w *world) rows(cluster string) map[string]store.InventoryObject {
	w.t.Helper()
	out := map[string]store.InventoryObject{}
	cursor := ""
	for {
		page, next, err := w.st.ListInventory(context.Background(), store.InventoryFilter{Cluster: cluster, Limit: 1000, Cursor: cursor})
		if err != nil {
			w.t.Fatal(err)
		}
		for _, r := range page {
			out[r.UID] = r
		}
		if next == "" {
			return out
		}
		cursor = next
	}
}

// controlListener collects resync requests on one cluster's control subject.
type controlListener struct {
	mu   sync.Mutex
	msgs []*bus.MeshSyncControlMsg
}

func (w *world) listenControl(cluster string) *controlListener {
	w.t.Helper()
	subject, _ := bus.MeshSyncControl(cluster)
	l := &controlListener{}
	sub, err := w.brk.NC.Subscribe(subject, func(m *nats.Msg) {
		env, err := bus.DecodeMeshSync(m.Data)
		if err != nil {
			w.t.Errorf("control message does not decode: %v", err)
			return
		}
		l.mu.Lock()
		l.msgs = append(l.msgs, env.MeshSyncControl)
		l.mu.Unlock()
	})
	if err != nil {
		w.t.Fatal(err)
	}
	_ = w.brk.NC.Flush()
	w.t.Cleanup(func() { _ = sub.Unsubscribe() })
	return l
}

func (l *controlListener) all() []*bus.MeshSyncControlMsg {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*bus.MeshSyncControlMsg(nil), l.msgs...)
}

// waitFor polls cond until it holds, or fails the test after within.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(within); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("after %v: %s", within, what)
		}
	}
}
