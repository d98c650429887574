package inventory_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/meshperf/meshperf/bus"
	"github.com/meshperf/meshperf/server/storetest"
)

// TestSnapshotRemovesGhosts: objects deleted while nobody watched are gone after the
// next snapshot of their resource; objects of resources it did not cover stay.
func TestSnapshotRemovesGhosts(t *testing.T) {
	for _, kind := range storetest.Kinds {
		t.Run(kind, func(t *testing.T) {
			w := newWorld(t, kind)
			w.connect("c1", "cluster-a")
			p := w.producer("cluster-a")
			p.snapshot("s1", []string{pods, configmaps}, pod("a", "p1", "p-1", "1", nil), pod("a", "p2", "p-2", "1", nil),
				pod("a", "p3", "p-3", "1", nil), configMap("a", "cm", "c-1", "1"))
			p.applied()
			// MeshSync restarts (a new boot); p-2 was deleted meanwhile and p-1 changed.
			p2 := w.producer("cluster-a")
			p2.snapshot("s2", []string{pods}, pod("a", "p1", "p-1", "7", nil), pod("a", "p3", "p-3", "1", nil))
			p2.applied()
			rows := w.rows("cluster-a")
			if _, ghost := rows["p-2"]; ghost || len(rows) != 3 {
				t.Fatalf("after the snapshot: %d rows, ghost p-2 %v", len(rows), ghost)
			}
			if _, ok := rows["c-1"]; !ok {
				t.Error("a ConfigMap went though the snapshot covered only pods")
			}
			if rows["p-1"].ResourceVersion != "7" {
				t.Errorf("p-1 at %s", rows["p-1"].ResourceVersion)
			}
		})
	}
}

// TestGapsAskForResync: a hole in the sequence, and a new boot that does not begin
// with its first event, each publish a resync request on the cluster's control
// subject; a snapshot interrupted by a gap sweeps nothing.
func TestGapsAskForResync(t *testing.T) {
	w := newWorld(t, "sqlite")
	w.connect("c1", "cluster-a")
	ctl := w.listenControl("cluster-a")
	p := w.producer("cluster-a")
	p.snapshot("s1", []string{pods}, pod("a", "p1", "p-1", "1", nil), pod("a", "p2", "p-2", "1", nil))
	p.applied()
	if got := ctl.all(); len(got) != 0 {
		t.Fatalf("resync asked without a gap: %+v", got[0])
	}
	p.publish(&bus.MeshSyncEvent{Type: bus.EventSnapshotStart, Snapshot: "s2", Resources: []string{pods}})
	p.seq++ // event lost: p2's listing never arrives
	p.event(bus.EventAdded, pod("a", "p1", "p-1", "1", nil))
	p.publish(&bus.MeshSyncEvent{Type: bus.EventSnapshotEnd, Snapshot: "s2", Resources: []string{pods}})
	p.applied()
	waitFor(t, 10*time.Second, "a resync request after the gap", func() bool { return len(ctl.all()) == 1 })
	if m := ctl.all()[0]; m.Type != bus.ControlResync || !strings.Contains(m.Reason, "missing") {
		t.Errorf("control message %+v", m)
	}
	if _, ok := w.rows("cluster-a")["p-2"]; !ok {
		t.Error("a snapshot with a hole swept p-2")
	}
	h, err := w.inv.Health(context.Background(), "cluster-a")
	if err != nil || h.Gaps != 1 || h.Objects != 2 {
		t.Errorf("health %+v, %v", h, err)
	}

	p2 := w.producer("cluster-a")
	p2.seq = 40 // its first 40 events were lost
	p2.event(bus.EventAdded, pod("a", "p9", "p-9", "1", nil))
	p2.applied()
	waitFor(t, 10*time.Second, "a resync request for the new boot", func() bool { return len(ctl.all()) == 2 })
	if m := ctl.all()[1]; !strings.Contains(m.Reason, "began before") {
		t.Errorf("control message %+v", m)
	}
}

// TestStartingProducerNeedsNoSecondSnapshot: MeshSync's informers may send a change
// before its opening snapshot's start marker; the inventory that saw the boot from
// its first event keeps it and asks for no resync (at 50,000 objects a second
// snapshot at every start is 50,000 events more). A boot seen from the middle still
// gets one.
func TestStartingProducerNeedsNoSecondSnapshot(t *testing.T) {
	w := newWorld(t, "sqlite")
	w.connect("c1", "cluster-a")
	p := w.producer("cluster-a")
	p.event(bus.EventAdded, pod("a", "early", "p-0", "1", nil))
	p.snapshot("s1", []string{pods}, pod("a", "early", "p-0", "1", nil), pod("a", "p1", "p-1", "1", nil))
	p.applied()
	if rows := w.rows("cluster-a"); len(rows) != 2 {
		t.Fatalf("rows %v", rows)
	}
	if s := w.inv.Stats(); s.Resyncs != 0 {
		t.Errorf("%d resyncs asked of a producer seen from its first event", s.Resyncs)
	}
}
