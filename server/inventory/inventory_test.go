package inventory_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/meshperf/meshperf/bus"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/server/storetest"
)

// TestEventsBecomeTheInventory: a snapshot, then changes and deletes, land in the
// store object by object; a Secret's data never does; label selectors and the managed
// flag filter; the first-seen time survives an update.
func TestEventsBecomeTheInventory(t *testing.T) {
	for _, kind := range storetest.Kinds {
		t.Run(kind, func(t *testing.T) {
			w := newWorld(t, kind)
			w.connect("c1", "cluster-a")
			p := w.producer("cluster-a")
			secret := &bus.MeshSyncObject{Version: "v1", Resource: "secrets", Kind: "Secret", Namespace: "app", Name: "db",
				UID: "s-1", ResourceVersion: "5",
				Object: json.RawMessage(`{"kind":"Secret","metadata":{"name":"db"},"data":{"password":"aHVudGVyMg=="},"stringData":{"x":"hunter2"},"type":"Opaque"}`)}
			p.snapshot("snap-1", []string{pods, secretsRes},
				pod("app", "web-1", "p-1", "10", map[string]string{"app": "web", "tier": "front"}),
				pod("app", "web-2", "p-2", "11", map[string]string{"app": "web"}),
				pod("ops", "agent", "p-3", "12", map[string]string{"app.kubernetes.io/managed-by": "meshperf"}),
				secret)
			p.applied()
			rows := w.rows("cluster-a")
			if len(rows) != 4 {
				t.Fatalf("%d rows, want 4: %v", len(rows), rows)
			}
			if r := rows["p-3"]; !r.Managed || rows["p-1"].Managed {
				t.Errorf("managed flags: p-3 %v, p-1 %v", r.Managed, rows["p-1"].Managed)
			}
			got, err := w.st.GetInventoryObject(context.Background(), "cluster-a", "s-1")
			if err != nil || got.Object == nil {
				t.Fatalf("secret row %+v, %v", got, err)
			}
			if strings.Contains(*got.Object, "aHVudGVyMg") || strings.Contains(*got.Object, "hunter2") || !strings.Contains(*got.Object, "Opaque") {
				t.Errorf("the Secret's data was stored: %s", *got.Object)
			}
			sel := func(reqs ...store.LabelRequirement) []string {
				page, _, err := w.st.ListInventory(context.Background(), store.InventoryFilter{Cluster: "cluster-a", Labels: reqs})
				if err != nil {
					t.Fatal(err)
				}
				var names []string
				for _, r := range page {
					names = append(names, r.Name)
				}
				return names
			}
			if got := fmt.Sprint(sel(store.LabelRequirement{Key: "app", Op: "in", Values: []string{"web"}})); got != "[web-1 web-2]" {
				t.Errorf("app=web: %s", got)
			}
			if got := fmt.Sprint(sel(store.LabelRequirement{Key: "app", Op: "in", Values: []string{"web"}},
				store.LabelRequirement{Key: "tier", Op: "!exists"})); got != "[web-2]" {
				t.Errorf("app=web,!tier: %s", got)
			}
			first := rows["p-1"].FirstSeen

			p.event(bus.EventModified, pod("app", "web-1", "p-1", "20", map[string]string{"app": "api"}))
			p.event(bus.EventDeleted, pod("app", "web-2", "p-2", "21", nil))
			p.applied()
			rows = w.rows("cluster-a")
			if _, ok := rows["p-2"]; ok || len(rows) != 3 {
				t.Errorf("after the delete: %d rows, p-2 present %v", len(rows), ok)
			}
			if r := rows["p-1"]; r.ResourceVersion != "20" || !r.FirstSeen.Equal(first) {
				t.Errorf("updated row: rv %s, first seen %v (was %v)", r.ResourceVersion, r.FirstSeen, first)
			}
			if got := fmt.Sprint(sel(store.LabelRequirement{Key: "app", Op: "in", Values: []string{"web"}})); got != "[]" {
				t.Errorf("the old label still selects: %s", got)
			}
			counts, err := w.st.InventoryCounts(context.Background(), "cluster-a")
			if err != nil || fmt.Sprint(counts) != "[{cluster-a  Pod 2} {cluster-a  Secret 1}]" {
				t.Errorf("counts %v, %v", counts, err)
			}
		})
	}
}

// TestBatchesAndReplays: many events are written in few transactions; replayed
// events (same boot and sequence, delivered again) change nothing.
func TestBatchesAndReplays(t *testing.T) {
	for _, kind := range storetest.Kinds {
		t.Run(kind, func(t *testing.T) {
			w := newWorld(t, kind)
			w.connect("c1", "cluster-a")
			w.halt() // events pile up while nobody consumes, as after a restart
			p := w.producer("cluster-a")
			var objs []*bus.MeshSyncObject
			for i := range 1200 {
				objs = append(objs, configMap("ns", fmt.Sprintf("cm-%04d", i), fmt.Sprintf("u-%04d", i), "1"))
			}
			var envs []*bus.Envelope
			envs = append(envs, p.publish(&bus.MeshSyncEvent{Type: bus.EventSnapshotStart, Snapshot: "s", Resources: []string{configmaps}}))
			for _, o := range objs {
				envs = append(envs, p.publish(&bus.MeshSyncEvent{Type: bus.EventAdded, Snapshot: "s", Object: o}))
			}
			envs = append(envs, p.publish(&bus.MeshSyncEvent{Type: bus.EventSnapshotEnd, Snapshot: "s", Resources: []string{configmaps}}))
			w.start()
			p.applied()
			if n := len(w.rows("cluster-a")); n != 1200 {
				t.Fatalf("%d rows, want 1200", n)
			}
			s := w.inv.Stats()
			if s.Events != int64(len(envs)) || s.Batches < 3 || s.Batches > 60 {
				t.Errorf("%d events in %d batches: want %d events in a few batches of at most 500", s.Events, s.Batches, len(envs))
			}
			before := w.rows("cluster-a")

			// The same messages again (without the publisher's message id, so JetStream
			// stores them anew, as a redelivery would hand them over).
			for _, env := range envs[:300] {
				w.publishEnv("cluster-a", env, "")
			}
			waitFor(t, 30*time.Second, "the replays counted as duplicates", func() bool { return w.inv.Stats().Duplicates >= 300 })
			after := w.rows("cluster-a")
			for uid, r := range before {
				a := after[uid]
				if a.LastSeen != r.LastSeen || a.Seq != r.Seq || a.ResourceVersion != r.ResourceVersion {
					t.Fatalf("a replay changed %s: %+v -> %+v", uid, r, a)
				}
			}
		})
	}
}
