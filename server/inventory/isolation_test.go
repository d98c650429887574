package inventory_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/meshperf/meshperf/bus"
	"github.com/meshperf/meshperf/server/inventory"
	"github.com/meshperf/meshperf/server/storetest"
)

// TestStrangersAndJunk: events of a cluster that is no connection are dropped and
// counted; junk is refused and counted; neither blocks the events behind it.
func TestStrangersAndJunk(t *testing.T) {
	for _, kind := range storetest.Kinds {
		t.Run(kind, func(t *testing.T) {
			w := newWorld(t, kind)
			w.connect("c1", "cluster-a")
			stranger := w.producer("stranger")
			stranger.snapshot("s", []string{pods}, pod("a", "x", "x-1", "1", nil))
			w.publishRaw("cluster-a", []byte("not json at all"), "")
			w.publishRaw("cluster-a", []byte(`{"v":1,"kind":"meshsync.event","sender":"cluster-a","boot":"b","seq":1,"meshsync_event":{"cluster":"cluster-a","type":"exploded"}}`), "")
			// Speaking as another cluster on cluster-a's subject.
			impostor := w.producer("cluster-b")
			impostor.cluster = "cluster-b"
			env := &bus.Envelope{Kind: bus.KindMeshSyncEvent, Sender: "cluster-b", Boot: "b", Seq: 1, Sent: time.Now(),
				MeshSyncEvent: &bus.MeshSyncEvent{Cluster: "cluster-b", Type: bus.EventAdded, Object: pod("a", "y", "y-1", "1", nil)}}
			w.publishEnv("cluster-a", env, "")
			// Fields the database cannot hold are refused alone, never retried forever.
			bad := w.producer("cluster-a")
			bad.event(bus.EventAdded, pod("a", strings.Repeat("n", 300), "l-1", "1", nil))
			bad.event(bus.EventAdded, pod("a", "nul", "l-2", "1", map[string]string{"k": "a\x00b"}))
			p := w.producer("cluster-a")
			p.snapshot("s", []string{pods}, pod("a", "p1", "p-1", "1", nil))
			p.applied()
			waitFor(t, 10*time.Second, "the stranger's events dropped", func() bool { return w.inv.Stats().Dropped == 3 })
			if s := w.inv.Stats(); s.Refused != 5 {
				t.Errorf("refused %d, want 5", s.Refused)
			}
			if rows := w.rows(""); len(rows) != 1 || rows["p-1"].ClusterUID != "cluster-a" {
				t.Errorf("rows %v", rows)
			}
		})
	}
}

// TestClustersStayApart: the same uid in two clusters is two rows; flushing one
// cluster, or removing its connection, leaves the other whole.
func TestClustersStayApart(t *testing.T) {
	for _, kind := range storetest.Kinds {
		t.Run(kind, func(t *testing.T) {
			w := newWorld(t, kind)
			w.connect("c1", "cluster-a")
			cb := w.connect("c2", "cluster-b")
			ctl := w.listenControl("cluster-a")
			a, b := w.producer("cluster-a"), w.producer("cluster-b")
			a.snapshot("s", []string{pods}, pod("x", "in-a", "same-uid", "1", nil), pod("x", "a2", "a-2", "1", nil))
			b.snapshot("s", []string{pods}, pod("x", "in-b", "same-uid", "9", nil))
			a.applied()
			b.applied()
			if ra, rb := w.rows("cluster-a"), w.rows("cluster-b"); ra["same-uid"].Name != "in-a" || rb["same-uid"].Name != "in-b" || len(ra) != 2 || len(rb) != 1 {
				t.Fatalf("a %v, b %v", ra, rb)
			}
			f, err := w.inv.Flush(context.Background(), "cluster-a")
			if err != nil || f.Objects != 2 {
				t.Fatalf("flush: %+v, %v", f, err)
			}
			if len(w.rows("cluster-a")) != 0 || len(w.rows("cluster-b")) != 1 {
				t.Errorf("after flushing a: a %d rows, b %d", len(w.rows("cluster-a")), len(w.rows("cluster-b")))
			}
			waitFor(t, 10*time.Second, "a resync asked after the flush", func() bool { return len(ctl.all()) == 1 })

			fl, err := w.st.DeleteConnection(context.Background(), cb.ID)
			if err != nil || fl.InventoryObjects != 1 {
				t.Fatalf("removing c2: %+v, %v", fl, err)
			}
			// Its later events are strangers now.
			b.event(bus.EventAdded, pod("x", "late", "b-late", "1", nil))
			waitFor(t, 10*time.Second, "the removed cluster's event dropped", func() bool { return w.inv.Stats().Dropped >= 1 })
			if n := len(w.rows("cluster-b")); n != 0 {
				t.Errorf("the removed cluster has %d rows", n)
			}
		})
	}
}

// TestNothingLostWhileDown: events published while the consumer is stopped are
// applied when it starts again, from where it stood.
func TestNothingLostWhileDown(t *testing.T) {
	for _, kind := range storetest.Kinds {
		t.Run(kind, func(t *testing.T) {
			w := newWorld(t, kind)
			w.connect("c1", "cluster-a")
			p := w.producer("cluster-a")
			p.snapshot("s", []string{pods}, pod("x", "p1", "p-1", "1", nil), pod("x", "p2", "p-2", "1", nil))
			p.applied()
			w.halt()
			p.event(bus.EventDeleted, pod("x", "p1", "p-1", "2", nil))
			p.event(bus.EventModified, pod("x", "p2", "p-2", "3", nil))
			p.event(bus.EventAdded, pod("x", "p3", "p-3", "1", nil))
			w.start()
			p.applied()
			rows := w.rows("cluster-a")
			if _, ok := rows["p-1"]; ok || rows["p-2"].ResourceVersion != "3" || rows["p-3"].Name != "p3" || len(rows) != 2 {
				t.Errorf("rows after the restart: %v", rows)
			}
			if s := w.inv.Stats(); s.Resyncs != 0 {
				t.Errorf("%d resyncs asked after a clean restart", s.Resyncs)
			}
		})
	}
}

// TestFingerprintObjects: the slim objects fingerprints read are one cluster's, of
// the kinds they look at only.
func TestFingerprintObjects(t *testing.T) {
	w := newWorld(t, "sqlite")
	w.connect("c1", "cluster-a")
	w.connect("c2", "cluster-b")
	a, b := w.producer("cluster-a"), w.producer("cluster-b")
	// Before its first complete snapshot the inventory cannot say "no mesh here".
	if _, err := w.inv.FingerprintObjects(context.Background(), "cluster-a"); !errors.Is(err, inventory.ErrNotDiscovered) {
		t.Fatalf("before any snapshot: %v, want ErrNotDiscovered", err)
	}
	deploy := &bus.MeshSyncObject{Group: "apps", Version: "v1", Resource: "deployments", Kind: "Deployment", Namespace: "istio-system",
		Name: "istiod", UID: "d-1", ResourceVersion: "1", Labels: map[string]string{"app": "istiod"},
		Object: []byte(`{"kind":"Deployment","metadata":{"name":"istiod","namespace":"istio-system"},"spec":{"template":{"spec":{"containers":[{"name":"discovery","image":"docker.io/istio/pilot:1.24.2"}]}}}}`)}
	crd := &bus.MeshSyncObject{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions", Kind: "CustomResourceDefinition",
		Name: "virtualservices.networking.istio.io", UID: "crd-1", ResourceVersion: "1"} // metadata only
	a.snapshot("s", []string{"deployments.v1.apps", pods, configmaps, "customresourcedefinitions.v1.apiextensions.k8s.io"},
		deploy, pod("x", "web", "p-1", "1", nil), configMap("x", "cm", "c-1", "1"), crd)
	b.snapshot("s", []string{pods}, pod("y", "other", "p-9", "1", nil))
	a.applied()
	b.applied()
	objs, err := w.inv.FingerprintObjects(context.Background(), "cluster-a")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.Kind+"/"+o.Namespace+"/"+o.Name)
		if o.Kind == "Deployment" && o.Labels["app"] != "istiod" {
			t.Errorf("the Deployment lost its labels: %+v", o)
		}
	}
	if fmt.Sprint(got) != "[CustomResourceDefinition//virtualservices.networking.istio.io Deployment/istio-system/istiod Pod/x/web]" {
		t.Errorf("fingerprint objects %v", got)
	}
}
