package inventory

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/meshperf/meshperf/bus"
	"github.com/meshperf/meshperf/server/store"
)

// writer is one cluster's only writer: it collects the cluster's events into batches
// and applies each batch in one transaction, then acknowledges its messages.
type writer struct {
	inv     *Inventory
	cluster string
	in      chan jetstream.Msg
	mu      sync.Mutex // held while a batch or a flush writes, and for lastResync

	lastResync time.Time
	// wholeBoot is the producer process this writer has seen from its first event:
	// its objects before its opening snapshot's start marker are the ones that
	// snapshot will list, so they need no resync.
	wholeBoot string
}

func (w *writer) run(ctx context.Context) {
	batch := make([]jetstream.Msg, 0, w.inv.opt.BatchSize)
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-w.in:
			batch = append(batch[:0], m)
		}
		timer := time.NewTimer(w.inv.opt.BatchWait)
	collect:
		for len(batch) < w.inv.opt.BatchSize {
			select {
			case m := <-w.in:
				batch = append(batch, m)
			case <-timer.C:
				break collect
			case <-ctx.Done():
				timer.Stop()
				return // unacknowledged: redelivered to the next consumer
			}
		}
		timer.Stop()
		w.write(ctx, batch)
	}
}

// write decodes a batch, applies it (retrying while the database refuses: the batch's
// messages stay unacknowledged and in order), then acknowledges it.
func (w *writer) write(ctx context.Context, msgs []jetstream.Msg) {
	var envs []*bus.Envelope
	var keep []jetstream.Msg
	for _, m := range msgs {
		env, err := bus.DecodeMeshSync(m.Data())
		if err == nil && env.Kind != bus.KindMeshSyncEvent {
			err = fmt.Errorf("kind %q on an events subject", env.Kind)
		}
		if err == nil && env.Sender != w.cluster {
			err = fmt.Errorf("sender %q on cluster %s's subject", env.Sender, w.cluster)
		}
		if err == nil {
			err = storable(env.MeshSyncEvent)
		}
		if err != nil {
			w.inv.refuse(m, err.Error())
			continue
		}
		envs, keep = append(envs, env), append(keep, m)
	}
	if len(envs) == 0 {
		return
	}
	for attempt := 0; ; attempt++ {
		res, err := w.apply(ctx, envs)
		if err == nil {
			if res.dropped == 0 {
				w.inv.batches.Add(1)
				w.inv.applied.Add(int64(len(envs)))
				w.inv.snapshots.Add(int64(res.snapshots))
			}
			for _, m := range keep {
				_ = m.Ack()
			}
			w.after(res)
			return
		}
		if ctx.Err() != nil {
			return
		}
		w.inv.log.Warn("storing MeshSync events failed; retrying", "cluster", w.cluster, "events", len(envs), "attempt", attempt+1, "err", err)
		for _, m := range keep {
			_ = m.InProgress()
		}
		select {
		case <-time.After(min(5*time.Second, 200*time.Millisecond<<min(attempt, 5))):
		case <-ctx.Done():
			return
		}
	}
}

// applied is what a committed batch did.
type applied struct {
	changes   []Change
	resync    string // why a resync is needed ("" if not)
	dropped   int    // events of a connection removed meanwhile
	snapshots int    // snapshots completed (swept) by the batch
}

func (w *writer) apply(ctx context.Context, envs []*bus.Envelope) (applied, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var res applied
	known, err := w.inv.st.ClusterUIDs(ctx)
	if err != nil {
		return res, err
	}
	if !known[w.cluster] { // removed since dispatch: store nothing
		w.inv.forget(w.cluster)
		res.dropped = len(envs)
		return res, nil
	}
	err = w.inv.st.ApplyInventory(ctx, w.cluster, func(tx *store.InventoryTx) error {
		st, err := tx.Stream()
		if err != nil {
			return err
		}
		for _, env := range envs {
			if err := w.event(tx, st, env, &res); err != nil {
				return err
			}
		}
		now := time.Now().UTC()
		st.LastAppliedAt = &now
		return tx.SaveStream(st)
	})
	return res, err
}

// event applies one event to the open batch and moves the stream's position.
func (w *writer) event(tx *store.InventoryTx, st *store.InventoryStream, env *bus.Envelope, res *applied) error {
	ev, seq := env.MeshSyncEvent, int64(env.Seq)
	if env.Boot == st.Boot && seq <= st.Seq {
		w.inv.duplicates.Add(1) // a replay: already applied
		return nil
	}
	switch {
	case env.Boot == st.Boot && seq > st.Seq+1:
		st.Gaps++
		st.SnapshotID = "" // the snapshot lost events: its end must not sweep
		res.resync = fmt.Sprintf("events %d to %d of boot %s are missing", st.Seq+1, seq-1, env.Boot)
	case env.Boot != st.Boot && seq != 1:
		st.SnapshotID = ""
		res.resync = fmt.Sprintf("boot %s began before event %d", env.Boot, seq)
	case env.Boot != st.Boot:
		w.wholeBoot = env.Boot
	}
	st.Boot, st.Seq = env.Boot, seq
	sent := env.Sent.UTC()
	st.LastEventAt = &sent
	switch ev.Type {
	case bus.EventAdded, bus.EventModified:
		if st.SnapshotBoot != env.Boot && w.wholeBoot != env.Boot && res.resync == "" {
			res.resync = "boot " + env.Boot + " sent objects without a snapshot"
		}
		row, err := objectRow(ev.Object, env)
		if err != nil {
			return err
		}
		tx.Upsert(row)
		res.changes = append(res.changes, changeOf(w.cluster, ev.Type, ev.Object))
	case bus.EventDeleted:
		if _, err := tx.Delete(ev.Object.UID); err != nil {
			return err
		}
		res.changes = append(res.changes, changeOf(w.cluster, ev.Type, ev.Object))
	case bus.EventSnapshotStart:
		st.SnapshotID, st.SnapshotBoot, st.SnapshotSeq = ev.Snapshot, env.Boot, seq
	case bus.EventSnapshotEnd:
		if st.SnapshotID != ev.Snapshot || st.SnapshotBoot != env.Boot {
			w.inv.log.Info("a snapshot ended whose start was not seen whole; nothing swept", "cluster", w.cluster, "snapshot", ev.Snapshot)
			return nil
		}
		gone, err := tx.Sweep(groupResources(ev.Resources), env.Boot, st.SnapshotSeq)
		if err != nil {
			return err
		}
		for _, uid := range gone {
			res.changes = append(res.changes, Change{Cluster: w.cluster, Type: bus.EventDeleted, UID: uid})
		}
		st.SnapshotID = ""
		res.snapshots++
		t := time.Now().UTC()
		st.LastSnapshotAt = &t
	case bus.EventStatus:
		b, _ := json.Marshal(ev.Status)
		st.Status = string(b)
	}
	return nil
}

// after publishes a committed batch's changes and asks for a resync if it needs one
// (at most every ResyncEvery per cluster).
func (w *writer) after(res applied) {
	if res.dropped > 0 {
		w.inv.dropped.Add(int64(res.dropped))
	}
	for _, c := range res.changes {
		w.inv.changes.publish(c)
	}
	if res.resync == "" {
		return
	}
	w.mu.Lock() // a flush moves lastResync too
	defer w.mu.Unlock()
	if time.Since(w.lastResync) >= w.inv.opt.ResyncEvery {
		if err := w.inv.Resync(w.cluster, res.resync); err != nil {
			w.inv.log.Warn("asking for a resync", "cluster", w.cluster, "err", err)
			return
		}
		w.lastResync = time.Now()
	}
}

// groupResources reads snapshot markers' "resource.version.group" keys.
func groupResources(keys []string) []store.GroupResource {
	var out []store.GroupResource
	for _, k := range keys {
		res, rest, ok := strings.Cut(k, ".")
		if !ok {
			continue
		}
		_, group, _ := strings.Cut(rest, ".")
		out = append(out, store.GroupResource{Group: group, Resource: res})
	}
	return out
}

// ManagedByLabel marks what meshperf made.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "meshperf"
)

// objectRow is an event's object as a row. A Secret's data never reaches the store,
// whatever the producer sent.
func objectRow(o *bus.MeshSyncObject, env *bus.Envelope) (store.InventoryObject, error) {
	row := store.InventoryObject{
		UID: o.UID, Group: o.Group, Version: o.Version, Resource: o.Resource, Kind: o.Kind,
		Namespace: o.Namespace, Name: o.Name, ResourceVersion: o.ResourceVersion, Truncated: o.Truncated,
		Managed: o.Labels[ManagedByLabel] == ManagedByValue, Boot: env.Boot, Seq: int64(env.Seq),
		FirstSeen: time.Now().UTC(), LastSeen: time.Now().UTC(),
	}
	for _, f := range []struct {
		dst *string
		v   any
		n   int
	}{{&row.Labels, o.Labels, len(o.Labels)}, {&row.Annotations, o.Annotations, len(o.Annotations)}, {&row.Owners, o.Owners, len(o.Owners)}} {
		if f.n == 0 {
			continue
		}
		b, err := json.Marshal(f.v)
		if err != nil {
			return row, err
		}
		*f.dst = string(b)
	}
	obj := o.Object
	if len(obj) > 0 && o.Group == "" && o.Kind == "Secret" {
		obj = withoutSecretData(obj)
	}
	// PostgreSQL's JSON cannot hold a NUL character; such an object is kept as
	// metadata only.
	if len(obj) > 0 && bytes.Contains(obj, []byte(`\u0000`)) {
		obj, row.Truncated = nil, true
	}
	if len(obj) > 0 {
		s := string(obj)
		row.Object = &s
	}
	return row, nil
}

func withoutSecretData(obj []byte) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(obj, &m) != nil {
		return nil
	}
	delete(m, "data")
	delete(m, "stringData")
	b, _ := json.Marshal(m)
	return b
}

// storable refuses what the database cannot hold (it would fail the whole batch
// again at every retry): overlong fields and NUL characters, named by their field.
func storable(ev *bus.MeshSyncEvent) error {
	type field struct {
		name, v string
		max     int
	}
	fields := []field{{"snapshot", ev.Snapshot, 128}}
	if o := ev.Object; o != nil {
		fields = append(fields, field{"object.group", o.Group, 253}, field{"object.version", o.Version, 64},
			field{"object.resource", o.Resource, 253}, field{"object.kind", o.Kind, 128}, field{"object.namespace", o.Namespace, 253},
			field{"object.name", o.Name, 253}, field{"object.uid", o.UID, 64}, field{"object.resource_version", o.ResourceVersion, 64})
		for k, v := range o.Labels {
			fields = append(fields, field{"object.labels key", k, 317}, field{"object.labels." + k, v, 63})
		}
		for k, v := range o.Annotations {
			fields = append(fields, field{"object.annotations key", k, 317}, field{"object.annotations." + k, v, 1 << 20})
		}
	}
	for _, r := range ev.Resources {
		fields = append(fields, field{"resources", r, 600})
	}
	for _, f := range fields {
		if len(f.v) > f.max {
			return fmt.Errorf("%s: %d bytes, at most %d", f.name, len(f.v), f.max)
		}
		if strings.ContainsRune(f.v, 0) {
			return fmt.Errorf("%s: contains a NUL character", f.name)
		}
	}
	return nil
}
