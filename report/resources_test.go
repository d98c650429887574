package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/meshperf/meshperf/smp"
)

// The summary's resource section: each role's mean and max in its unit, a missing one
// with its reason, and the MUE when proxy and control-plane CPU are both known.
func TestResourceSection(t *testing.T) {
	q := func(name, role, unit string, v ...float64) smp.QueryResult {
		s := smp.Series{}
		for i, x := range v {
			s.Points = append(s.Points, []float64{float64(i * 5), x})
		}
		return smp.QueryResult{MetricQuery: smp.MetricQuery{Name: name, Role: role, Unit: unit}, Status: smp.MetricsOK, Series: []smp.Series{s}}
	}
	r := &smp.Result{Status: smp.StatusCompleted, Summary: smp.Summary{ActualRPS: 900}, Metrics: &smp.MetricsResult{Source: "prom", AssumedMesh: "linkerd", Queries: []smp.QueryResult{
		q("proxy_cpu", smp.RoleProxyCPU, "cores", 0.2, 0.4),
		q("proxy_memory", smp.RoleProxyMemory, "bytes", 100<<20, 120<<20),
		q("control_plane_cpu", smp.RoleControlPlaneCPU, "cores", 0.15, 0.15),
		{MetricQuery: smp.MetricQuery{Name: "control_plane_memory", Role: smp.RoleControlPlaneMemory}, Status: smp.MetricsMissing, Reason: "Prometheus did not answer"},
		q("mine", "", "req/s", 1),
	}}}
	var buf bytes.Buffer
	Summary(&buf, r, Style{})
	out := buf.String()
	for _, want := range []string{"mean 0.300 cores  max 0.400 cores", "mean 110.0 MiB  max 120.0 MiB", "missing: Prometheus did not answer",
		"MUE", "2,000 req/s per mesh core", "1 ok, 0 missing",
		"linkerd (assumed"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	buf.Reset()
	ResultMarkdown(&buf, r)
	if !strings.Contains(buf.String(), "| proxy CPU | mean 0.300 cores  max 0.400 cores |") {
		t.Errorf("markdown:\n%s", buf.String())
	}
}
