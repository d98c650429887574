package smp

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	smpspec "github.com/layer5io/service-mesh-performance/spec"
)

func roleQuery(name, role, unit string, pods ...[]float64) QueryResult {
	q := QueryResult{MetricQuery: MetricQuery{Name: name, Role: role, Unit: unit}, Status: MetricsOK}
	for i, vals := range pods {
		s := Series{Labels: map[string]string{"pod": string(rune('a' + i))}}
		for j, v := range vals {
			s.Points = append(s.Points, []float64{float64(1000 + 5*j), v})
		}
		q.Series = append(q.Series, s)
	}
	return q
}

// Resource figures sum the pods per instant, then take mean and max over the window;
// the MUE divides the rate by the mean cores of proxies and control plane; a mesh's
// SMP ServiceMeshConfig gets millicores and MiB, its other fields kept.
func TestResourcesMUEAndSMPMeshFields(t *testing.T) {
	r := &Result{ID: "r1", Summary: Summary{ActualRPS: 1000}, Metrics: &MetricsResult{Step: Duration(5 * time.Second), Queries: []QueryResult{
		roleQuery("proxy_cpu", RoleProxyCPU, "cores", []float64{0.1, 0.2, 0.3}, []float64{0.1, 0.2, 0.3}),
		roleQuery("proxy_memory", RoleProxyMemory, "bytes", []float64{64 << 20, 64 << 20, 64 << 20}),
		roleQuery("control_plane_cpu", RoleControlPlaneCPU, "cores", []float64{0.1, 0.1, 0.1}),
		{MetricQuery: MetricQuery{Name: "control_plane_memory", Role: RoleControlPlaneMemory}, Status: MetricsMissing, Reason: "no series matched over the window"},
	}}}
	fs := r.Metrics.Resources()
	if len(fs) != 4 {
		t.Fatalf("%+v", fs)
	}
	if f := fs[0]; math.Abs(f.Mean-0.4) > 1e-9 || math.Abs(f.Max-0.6) > 1e-9 || f.Points != 3 {
		t.Errorf("proxy cpu: %+v (want mean 0.4, max 0.6: two pods summed)", f)
	}
	if f := fs[3]; f.Status != MetricsMissing || f.Reason == "" {
		t.Errorf("a missing role: %+v", f)
	}
	mue, ok := MeshUtilizationEfficiency(r)
	if !ok || math.Abs(mue-2000) > 1e-6 {
		t.Errorf("MUE %v %v, want 1000 / (0.4 + 0.1) = 2000", mue, ok)
	}
	mc := &smpspec.ServiceMeshConfig{Sidecar: &smpspec.ServiceMeshConfig_Sidecar{Count: 3}}
	if !ApplyMeshResources(mc, r) || mc.Sidecar.Count != 3 || mc.Sidecar.CpuMcores != 400 || mc.Sidecar.MemMb != 64 || mc.Sidecar.Rps != 1000 ||
		mc.MeshControlPlane.CpuMcores != 100 || mc.MeshControlPlane.MemMb != 0 {
		t.Fatalf("mesh config: %+v", mc)
	}
	b, err := MarshalSMP(mc, "yaml")
	if err != nil || !strings.Contains(string(b), "cpu_mcores: 400") {
		t.Errorf("the SMP document: %v\n%s", err, b)
	}
	r.Metrics.Queries = r.Metrics.Queries[1:] // no proxy CPU
	if _, ok := MeshUtilizationEfficiency(r); ok {
		t.Errorf("an MUE without proxy CPU")
	}
	if ApplyMeshResources(&smpspec.ServiceMeshConfig{}, &Result{}) {
		t.Errorf("figures filled from a result without metrics")
	}
}

// A result with metrics survives the strict decoder, in JSON and YAML (compare and
// gate read result files with it).
func TestMetricsRoundTrip(t *testing.T) {
	r := &Result{ID: "r1", Status: StatusCompleted, Metrics: &MetricsResult{Source: "prom", Step: Duration(time.Second),
		Queries: []QueryResult{roleQuery("proxy_cpu", RoleProxyCPU, "cores", []float64{0.25, 0.5})}}}
	for _, format := range []string{FormatJSON, FormatYAML} {
		var buf bytes.Buffer
		if err := WriteResult(&buf, r, format); err != nil {
			t.Fatal(err)
		}
		back, err := DecodeResult(buf.Bytes())
		if err != nil {
			t.Fatalf("%s: %v\n%s", format, err, buf.String())
		}
		if fs := back.Metrics.Resources(); len(fs) != 1 || fs[0].Max != 0.5 || back.Metrics.Queries[0].Name != "proxy_cpu" {
			t.Errorf("%s: %+v", format, back.Metrics)
		}
	}
}

// The smp-mesh export carries the measured resources on the mesh the metrics describe
// (config.metrics.mesh), and only on it.
func TestSMPMeshExportCarriesResources(t *testing.T) {
	r := &Result{ID: "r1", Summary: Summary{ActualRPS: 500},
		Config: &TestConfig{Metrics: &MetricsConfig{Mesh: "istio"}},
		Environment: Environment{ID: "e1", Kubernetes: &KubernetesEnv{Meshes: []MeshEnv{
			{Type: "istio", Mode: "sidecar", Version: "1.24.2", Proxies: 2},
			{Type: "linkerd", Mode: "sidecar", Version: "stable-2.14.10", Proxies: 1},
		}}},
		Metrics: &MetricsResult{Step: Duration(5 * time.Second), Queries: []QueryResult{
			roleQuery("proxy_cpu", RoleProxyCPU, "cores", []float64{0.25, 0.25}),
		}}}
	var buf bytes.Buffer
	if err := WriteResult(&buf, r, FormatSMPMesh); err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(buf.String(), "---\n")
	if len(docs) != 2 {
		t.Fatalf("want one document per mesh:\n%s", buf.String())
	}
	if !strings.Contains(docs[0], "cpu_mcores: 250") || !strings.Contains(docs[0], "rps: 500") {
		t.Errorf("istio's config lacks the measured proxy CPU and rate:\n%s", docs[0])
	}
	if strings.Contains(docs[1], "cpu_mcores") {
		t.Errorf("linkerd's config got istio's figures:\n%s", docs[1])
	}
}
