package inventory_test

import (
	"fmt"
	"testing"

	"github.com/meshperf/meshperf/bus"
	"github.com/meshperf/meshperf/server/storetest"
)

// BenchmarkSnapshot50k: a snapshot of 50,000 objects, published while the consumer is
// stopped, until every row is committed (reported as objects/s per database).
func BenchmarkSnapshot50k(b *testing.B) {
	const n = 50_000
	for _, kind := range storetest.Kinds {
		b.Run(kind, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				w := newWorld(b, kind)
				w.connect("c1", "cluster-a")
				w.halt()
				p := w.producer("cluster-a")
				p.publish(&bus.MeshSyncEvent{Type: bus.EventSnapshotStart, Snapshot: "s", Resources: []string{pods}})
				for i := range n {
					p.publish(&bus.MeshSyncEvent{Type: bus.EventAdded, Snapshot: "s",
						Object: pod("ns", fmt.Sprintf("p-%d", i), fmt.Sprintf("u-%d", i), "1", map[string]string{"app": "x", "i": fmt.Sprint(i % 10)})})
				}
				p.publish(&bus.MeshSyncEvent{Type: bus.EventSnapshotEnd, Snapshot: "s", Resources: []string{pods}})
				b.StartTimer()
				w.start()
				p.applied()
				b.StopTimer()
				if got := len(w.rows("cluster-a")); got != n {
					b.Fatalf("%d rows", got)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "objects/s")
		})
	}
}
