package promquery_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/meshperf/meshperf/internal/promtest"
	"github.com/meshperf/meshperf/promquery"
	"github.com/meshperf/meshperf/smp"
)

// A metrics section naming a Prometheus but no mesh gets the default set of the mesh
// found in the run's cluster (the first one the defaults know), the result says which
// was assumed, and a real Prometheus accepts and answers every default query.
func TestMeshAssumedFromTheRunsCluster(t *testing.T) {
	prom := promtest.Start(t)
	end := time.Now().Truncate(time.Second)
	cfg := &smp.TestConfig{Metrics: &smp.MetricsConfig{Prometheus: "prom", Namespace: "demo",
		Queries: []smp.MetricQuery{{Name: "up", Query: "vector(1)"}}}}
	res := &smp.Result{StartTime: end.Add(-time.Minute), MeasureStart: end.Add(-time.Minute), EndTime: end,
		Environment: smp.Environment{Kubernetes: &smp.KubernetesEnv{Cluster: "c1",
			Meshes: []smp.MeshEnv{{Type: "cilium"}, {Type: "linkerd", Namespace: "linkerd"}}}}}
	promquery.Attach(context.Background(), &promquery.Source{Name: "prom", URL: prom.URL}, cfg, res, "")
	if res.Metrics == nil || res.Metrics.AssumedMesh != "linkerd" {
		t.Fatalf("assumed mesh: %+v", res.Metrics)
	}
	if cfg.Metrics.Mesh != "" {
		t.Errorf("the run's own config was changed: mesh %q", cfg.Metrics.Mesh)
	}
	want := len(promquery.Defaults("linkerd")) + 1
	if len(res.Metrics.Queries) != want {
		t.Fatalf("%d queries, want the %d linkerd defaults and the config's own", len(res.Metrics.Queries), want)
	}
	for _, q := range res.Metrics.Queries {
		// Prometheus answered each query: ok, or no series (no linkerd scraped here).
		if q.Status != smp.MetricsOK && q.Reason != "no series matched over the window" {
			t.Errorf("%s: %s %q", q.Name, q.Status, q.Reason)
		}
		if q.Name == "proxy_cpu" && !strings.Contains(q.Query, `namespace="demo"`) {
			t.Errorf("proxy_cpu is not narrowed to the namespace: %s", q.Query)
		}
	}

	// Nothing is assumed where the config names a mesh, the cluster runs no mesh the
	// defaults know, there is no cluster, or the config's own queries take the names.
	for name, c := range map[string]struct {
		m   smp.MetricsConfig
		env *smp.KubernetesEnv
	}{
		"named":     {smp.MetricsConfig{Mesh: "istio"}, &smp.KubernetesEnv{Meshes: []smp.MeshEnv{{Type: "linkerd"}}}},
		"unknown":   {smp.MetricsConfig{}, &smp.KubernetesEnv{Meshes: []smp.MeshEnv{{Type: "kuma"}}}},
		"nocluster": {smp.MetricsConfig{}, nil},
		"own names": {smp.MetricsConfig{Queries: []smp.MetricQuery{{Name: "proxy_cpu", Query: "vector(1)"}}}, &smp.KubernetesEnv{Meshes: []smp.MeshEnv{{Type: "istio"}}}},
	} {
		got, mesh := promquery.AssumeMesh(&smp.TestConfig{Metrics: &c.m}, c.env)
		if mesh != "" || got.Metrics.Mesh != c.m.Mesh {
			t.Errorf("%s: assumed %q (mesh %q)", name, mesh, got.Metrics.Mesh)
		}
	}
}
