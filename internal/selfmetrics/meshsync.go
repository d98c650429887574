package selfmetrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// MeshSyncTotals are the server's MeshSync consumer counters since it started.
type MeshSyncTotals struct {
	Events, Batches, Snapshots, Refused, Dropped, Duplicates, Resyncs int64
}

// MeshSyncCluster is one cluster's discovery as the server's inventory sees it.
type MeshSyncCluster struct {
	// Cluster is the connection's name (a label: one series set per connection).
	Cluster string
	Objects int64
	// LagSeconds is how long the last event took from MeshSync to the database;
	// SinceLastEventSeconds how long ago it was sent (-1: nothing came yet).
	LagSeconds, SinceLastEventSeconds float64
	// LastSnapshot is when the last snapshot completed (zero: none yet).
	LastSnapshot time.Time
	SnapshotOpen bool
	// Gaps counts sequence gaps found in the cluster's events (each asked a resync).
	Gaps int64
}

// MeshSyncSource reads discovery at scrape time: the consumer's counters and each
// connected cluster's health (from the inventory's store, so it is right on every
// replica).
type MeshSyncSource struct {
	Totals   func() MeshSyncTotals
	Clusters func() []MeshSyncCluster
}

var (
	msTotals = []struct {
		desc *prometheus.Desc
		of   func(MeshSyncTotals) int64
	}{
		{prometheus.NewDesc("meshperf_server_meshsync_events_applied_total", "MeshSync events committed to the inventory.", nil, nil),
			func(t MeshSyncTotals) int64 { return t.Events }},
		{prometheus.NewDesc("meshperf_server_meshsync_batches_total", "Inventory transactions committed.", nil, nil),
			func(t MeshSyncTotals) int64 { return t.Batches }},
		{prometheus.NewDesc("meshperf_server_meshsync_snapshots_total", "Snapshots completed (their ends committed and swept).", nil, nil),
			func(t MeshSyncTotals) int64 { return t.Snapshots }},
		{prometheus.NewDesc("meshperf_server_meshsync_refused_messages_total", "MeshSync messages that did not decode or could not be stored, terminated.", nil, nil),
			func(t MeshSyncTotals) int64 { return t.Refused }},
		{prometheus.NewDesc("meshperf_server_meshsync_dropped_events_total", "Events of clusters that are not connections, never stored.", nil, nil),
			func(t MeshSyncTotals) int64 { return t.Dropped }},
		{prometheus.NewDesc("meshperf_server_meshsync_duplicate_events_total", "Events already applied (replays), skipped.", nil, nil),
			func(t MeshSyncTotals) int64 { return t.Duplicates }},
		{prometheus.NewDesc("meshperf_server_meshsync_resyncs_requested_total", "Snapshots asked of MeshSyncs (gaps, new boots, flushes, requests).", nil, nil),
			func(t MeshSyncTotals) int64 { return t.Resyncs }},
	}
	msObjects  = prometheus.NewDesc("meshperf_server_meshsync_objects", "Objects in a cluster's inventory.", []string{"cluster"}, nil)
	msLag      = prometheus.NewDesc("meshperf_server_meshsync_lag_seconds", "From MeshSync sending a cluster's last event to the inventory storing it.", []string{"cluster"}, nil)
	msSince    = prometheus.NewDesc("meshperf_server_meshsync_since_last_event_seconds", "How long ago a cluster's last event was sent.", []string{"cluster"}, nil)
	msSnapshot = prometheus.NewDesc("meshperf_server_meshsync_last_snapshot_timestamp_seconds", "When a cluster's last snapshot completed (Unix time).", []string{"cluster"}, nil)
	msOpen     = prometheus.NewDesc("meshperf_server_meshsync_snapshot_open", "1 while a cluster's snapshot is under way.", []string{"cluster"}, nil)
	msGaps     = prometheus.NewDesc("meshperf_server_meshsync_gaps_total", "Sequence gaps found in a cluster's events (each asked a resync).", []string{"cluster"}, nil)
)

// RegisterMeshSync adds the MeshSync metrics to reg, read from src at each scrape.
func RegisterMeshSync(reg prometheus.Registerer, src MeshSyncSource) {
	reg.MustRegister(meshSyncCollector{src})
}

type meshSyncCollector struct{ src MeshSyncSource }

func (c meshSyncCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, t := range msTotals {
		ch <- t.desc
	}
	for _, d := range []*prometheus.Desc{msObjects, msLag, msSince, msSnapshot, msOpen, msGaps} {
		ch <- d
	}
}

func (c meshSyncCollector) Collect(ch chan<- prometheus.Metric) {
	if c.src.Totals != nil {
		t := c.src.Totals()
		for _, m := range msTotals {
			ch <- prometheus.MustNewConstMetric(m.desc, prometheus.CounterValue, float64(m.of(t)))
		}
	}
	if c.src.Clusters == nil {
		return
	}
	for _, cl := range c.src.Clusters() {
		ch <- prometheus.MustNewConstMetric(msObjects, prometheus.GaugeValue, float64(cl.Objects), cl.Cluster)
		ch <- prometheus.MustNewConstMetric(msLag, prometheus.GaugeValue, cl.LagSeconds, cl.Cluster)
		ch <- prometheus.MustNewConstMetric(msSince, prometheus.GaugeValue, cl.SinceLastEventSeconds, cl.Cluster)
		if !cl.LastSnapshot.IsZero() {
			ch <- prometheus.MustNewConstMetric(msSnapshot, prometheus.GaugeValue, float64(cl.LastSnapshot.UnixMilli())/1000, cl.Cluster)
		}
		open := 0.0
		if cl.SnapshotOpen {
			open = 1
		}
		ch <- prometheus.MustNewConstMetric(msOpen, prometheus.GaugeValue, open, cl.Cluster)
		ch <- prometheus.MustNewConstMetric(msGaps, prometheus.CounterValue, float64(cl.Gaps), cl.Cluster)
	}
}
