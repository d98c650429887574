package inventory_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meshperf/meshperf/bus"
	"github.com/meshperf/meshperf/internal/selfmetrics"
	"github.com/meshperf/meshperf/server/storetest"
)

// The server's MeshSync metrics, read from a real inventory (real JetStream, real
// database) at scrape time: events applied, snapshots, refused messages, events of
// strangers dropped, and per connected cluster its objects, gaps and lag; a cluster
// only discovered has no series.
func TestMeshSyncMetricsAtScrapeTime(t *testing.T) {
	for _, kind := range storetest.Kinds {
		t.Run(kind, func(t *testing.T) {
			w := newWorld(t, kind)
			w.connect("c1", "cluster-a")
			c2 := w.connect("c2", "cluster-b")
			reg := prometheus.NewRegistry()
			selfmetrics.RegisterMeshSync(reg, w.inv.Metrics())

			p := w.producer("cluster-a")
			p.snapshot("s1", []string{pods}, pod("a", "p1", "p-1", "1", nil), pod("a", "p2", "p-2", "1", nil), pod("a", "p3", "p-3", "1", nil))
			p.applied()
			w.publishRaw("cluster-a", []byte("not json at all"), "")
			w.producer("stranger").event(bus.EventAdded, pod("a", "x", "x-1", "1", nil))
			// A lost event: a gap in cluster-a's sequence.
			p.seq++
			p.event(bus.EventAdded, pod("a", "p4", "p-4", "1", nil))
			p.applied()
			waitFor(t, 10*time.Second, "the stranger dropped and the junk refused", func() bool {
				s := w.inv.Stats()
				return s.Dropped == 1 && s.Refused == 1
			})

			events := w.inv.Stats().Events
			for name, want := range map[string]float64{
				"meshperf_server_meshsync_events_applied_total":    float64(events),
				"meshperf_server_meshsync_snapshots_total":         1,
				"meshperf_server_meshsync_refused_messages_total":  1,
				"meshperf_server_meshsync_dropped_events_total":    1,
				"meshperf_server_meshsync_resyncs_requested_total": float64(w.inv.Stats().Resyncs),
			} {
				if got := gauge(t, reg, name, ""); got != want {
					t.Errorf("%s = %v, want %v", name, got, want)
				}
			}
			if events < 6 {
				t.Errorf("only %d events applied", events)
			}
			if got := gauge(t, reg, "meshperf_server_meshsync_objects", "c1"); got != 4 {
				t.Errorf("objects of c1 = %v, want 4", got)
			}
			if got := gauge(t, reg, "meshperf_server_meshsync_gaps_total", "c1"); got != 1 {
				t.Errorf("gaps of c1 = %v, want 1", got)
			}
			if got := gauge(t, reg, "meshperf_server_meshsync_lag_seconds", "c1"); got < 0 {
				t.Errorf("lag of c1 = %v", got)
			}
			if got := gauge(t, reg, "meshperf_server_meshsync_last_snapshot_timestamp_seconds", "c1"); got < float64(time.Now().Add(-time.Minute).Unix()) {
				t.Errorf("last snapshot of c1 at %v", got)
			}
			// c2 sent nothing: its series say so; nothing of the stranger shows.
			if got := gauge(t, reg, "meshperf_server_meshsync_since_last_event_seconds", "c2"); got != -1 {
				t.Errorf("since last event of the silent c2 = %v, want -1", got)
			}
			if n := testutil.CollectAndCount(reg, "meshperf_server_meshsync_objects"); n != 2 {
				t.Errorf("%d object series, want one per connected cluster", n)
			}
			if err := w.st.SetConnectionState(context.Background(), c2.ID, "connected", "ignored"); err != nil {
				t.Fatal(err)
			}
			if n := testutil.CollectAndCount(reg, "meshperf_server_meshsync_objects"); n != 1 {
				t.Errorf("%d object series after c2 was ignored, want 1", n)
			}
		})
	}
}

// gauge reads one sample of a metric (with cluster="cluster" when cluster is set).
func gauge(t *testing.T, reg *prometheus.Registry, name, cluster string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := cluster == ""
			for _, l := range m.GetLabel() {
				match = match || (l.GetName() == "cluster" && l.GetValue() == cluster)
			}
			if !match {
				continue
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no %s%s gathered", name, strings.Repeat("{cluster="+cluster+"}", min(len(cluster), 1)))
	return 0
}
