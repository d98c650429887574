package inventory

import (
	"context"
	"time"

	"github.com/meshperf/meshperf/internal/selfmetrics"
	"github.com/meshperf/meshperf/server/store"
)

// Metrics is discovery as the server's /metrics reads it at scrape time: the
// consumer's counters, and the health of every cluster connection whose discovery
// runs (not those only discovered, ignored or being deleted), labelled by the
// connection's name. The health comes from the database, so every replica says the
// same of each cluster.
func (i *Inventory) Metrics() selfmetrics.MeshSyncSource {
	return selfmetrics.MeshSyncSource{
		Totals: func() selfmetrics.MeshSyncTotals {
			s := i.Stats()
			return selfmetrics.MeshSyncTotals{Events: s.Events, Batches: s.Batches, Snapshots: s.Snapshots, Refused: s.Refused,
				Dropped: s.Dropped, Duplicates: s.Duplicates, Resyncs: s.Resyncs}
		},
		Clusters: i.clusterMetrics,
	}
}

// scrapeTimeout bounds the database reads of one scrape.
const scrapeTimeout = 2 * time.Second

func (i *Inventory) clusterMetrics() []selfmetrics.MeshSyncCluster {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	conns, err := i.st.ListConnections(ctx)
	if err != nil {
		i.log.Warn("listing clusters for /metrics", "err", err)
		return nil
	}
	var out []selfmetrics.MeshSyncCluster
	for _, c := range conns {
		switch {
		case c.Kind != store.ConnKubernetes, c.State == "discovered", c.State == "ignored", c.State == "deleted":
			continue
		}
		h, err := i.Health(ctx, c.ClusterUID)
		if err != nil {
			i.log.Warn("reading a cluster's discovery for /metrics", "cluster", c.Name, "err", err)
			continue
		}
		m := selfmetrics.MeshSyncCluster{Cluster: c.Name, Objects: h.Objects, LagSeconds: h.LagSeconds,
			SinceLastEventSeconds: -1, SnapshotOpen: h.SnapshotOpen, Gaps: h.Gaps}
		if h.LastEventAt != nil {
			m.SinceLastEventSeconds = h.SinceLastEventSeconds
		}
		if h.LastSnapshotAt != nil {
			m.LastSnapshot = *h.LastSnapshotAt
		}
		out = append(out, m)
	}
	return out
}
