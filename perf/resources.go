package perf

import (
	"github.com/meshperf/meshperf/smp"
)

// Units of resource figures.
const (
	UnitCores = "cores"
	UnitBytes = "bytes"
)

// resourceMetrics are the resource roles as compared figures: each value is one point
// of the role's Prometheus series over the measured window (several pods summed), so
// they are compared like latency from per-second values, with the same statistics.
// They are not in the metric registry: no interval or summary carries them.
var resourceMetrics = []Metric{
	{Name: smp.RoleProxyCPU, Unit: UnitCores, Better: LowerIsBetter},
	{Name: smp.RoleProxyMemory, Unit: UnitBytes, Better: LowerIsBetter},
	{Name: smp.RoleControlPlaneCPU, Unit: UnitCores, Better: LowerIsBetter},
	{Name: smp.RoleControlPlaneMemory, Unit: UnitBytes, Better: LowerIsBetter},
}

// LookupResource finds a resource figure by role name.
func LookupResource(name string) (Metric, bool) {
	for _, m := range resourceMetrics {
		if m.Name == name {
			return m, true
		}
	}
	return Metric{}, false
}

// CompareResources compares the resource roles both results measured (status ok on
// both sides), point by point over each window: medians with 95% intervals, the
// bootstrap interval of their ratio, and the Mann-Whitney verdict, as Compare does for
// latency. Roles either side lacks are left out.
func CompareResources(baseline, candidate *smp.Result) []Change {
	var out []Change
	for _, m := range resourceMetrics {
		a, qa := baseline.Metrics.RoleValues(m.Name)
		b, qb := candidate.Metrics.RoleValues(m.Name)
		if qa == nil || qb == nil || qa.Status != smp.MetricsOK || qb.Status != smp.MetricsOK {
			continue
		}
		out = append(out, compareSeries(m, a, b))
	}
	return out
}
