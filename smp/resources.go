package smp

import (
	"math"
	"sort"

	smpspec "github.com/layer5io/service-mesh-performance/spec"
)

// ResourceFigure is one resource role over the measured window: the mean and the
// maximum of its query's points (series summed per instant).
type ResourceFigure struct {
	Role   string  `json:"role" yaml:"role"`
	Query  string  `json:"query" yaml:"query"` // the query's name
	Unit   string  `json:"unit" yaml:"unit"`
	Mean   float64 `json:"mean" yaml:"mean"`
	Max    float64 `json:"max" yaml:"max"`
	Points int     `json:"points" yaml:"points"`
	Status string  `json:"status" yaml:"status"`
	Reason string  `json:"reason,omitempty" yaml:"reason,omitempty"`
}

// ResourceRoles are the roles in the order summaries show them.
var ResourceRoles = []string{RoleProxyCPU, RoleProxyMemory, RoleControlPlaneCPU, RoleControlPlaneMemory}

// RoleValues returns a role's values over the window, one per instant (the series of
// its query summed per instant: several pods are one figure), and its query result;
// nil when no query has the role.
func (m *MetricsResult) RoleValues(role string) ([]float64, *QueryResult) {
	if m == nil {
		return nil, nil
	}
	for i := range m.Queries {
		q := &m.Queries[i]
		if q.Role != role {
			continue
		}
		at := map[float64]float64{}
		for _, s := range q.Series {
			for _, p := range s.Points {
				if len(p) == 2 { // [unix seconds, value]; anything else is not a point
					at[p[0]] += p[1]
				}
			}
		}
		ts := make([]float64, 0, len(at))
		for t := range at {
			ts = append(ts, t)
		}
		sort.Float64s(ts)
		vals := make([]float64, len(ts))
		for j, t := range ts {
			vals[j] = at[t]
		}
		return vals, q
	}
	return nil, nil
}

// Resources summarizes every resource role the metrics hold.
func (m *MetricsResult) Resources() []ResourceFigure {
	var out []ResourceFigure
	for _, role := range ResourceRoles {
		vals, q := m.RoleValues(role)
		if q == nil {
			continue
		}
		f := ResourceFigure{Role: role, Query: q.Name, Unit: q.Unit, Status: q.Status, Reason: q.Reason, Points: len(vals)}
		if len(vals) > 0 {
			f.Max = math.Inf(-1)
			for _, v := range vals {
				f.Mean += v
				f.Max = max(f.Max, v)
			}
			f.Mean /= float64(len(vals))
		} else if f.Status == MetricsOK {
			f.Status, f.Reason = MetricsMissing, "no points in the window"
		}
		out = append(out, f)
	}
	return out
}

// MeshUtilizationEfficiency is meshperf's MeshMark figure (MUE): requests per second
// served per core the mesh used, rps ÷ (proxy cores + control-plane cores), both mean
// over the measured window. SMP leaves MeshMark's weights to implementers: meshperf
// weighs CPU alone (weight 1 for every core, proxy or control plane; memory is shown
// beside it but weighs 0), since cores are what a mesh's overhead costs per request.
// ok is false when either CPU figure is missing or the mesh used no CPU.
func MeshUtilizationEfficiency(r *Result) (float64, bool) {
	if r == nil || r.Metrics == nil {
		return 0, false
	}
	cores := 0.0
	for _, role := range []string{RoleProxyCPU, RoleControlPlaneCPU} {
		f, ok := figure(r.Metrics.Resources(), role)
		if !ok {
			return 0, false
		}
		cores += f.Mean
	}
	if cores <= 0 {
		return 0, false
	}
	return r.Summary.ActualRPS / cores, true
}

func figure(fs []ResourceFigure, role string) (ResourceFigure, bool) {
	for _, f := range fs {
		if f.Role == role && f.Status == MetricsOK && f.Points > 0 {
			return f, true
		}
	}
	return ResourceFigure{}, false
}

// ApplyMeshResources fills the measured parts of a mesh's SMP ServiceMeshConfig from a
// result's resource figures (means over the measured window): the sidecars' CPU
// (millicores), memory (MiB) and the rate through them, the control plane's CPU and
// memory. SMP's PerformanceTestResult has no resource fields; they belong here. Give
// it the config of the mesh the metrics describe (config.metrics.mesh). It reports
// whether any figure was filled; fields it has no figure for are left as they were.
func ApplyMeshResources(c *smpspec.ServiceMeshConfig, r *Result) bool {
	if c == nil || r == nil || r.Metrics == nil {
		return false
	}
	fs := r.Metrics.Resources()
	filled := false
	mcores := func(v float64) int32 { return int32(math.Round(v * 1000)) }
	mib := func(v float64) int32 { return int32(math.Round(v / (1 << 20))) }
	sidecar := func() *smpspec.ServiceMeshConfig_Sidecar {
		if c.Sidecar == nil {
			c.Sidecar = &smpspec.ServiceMeshConfig_Sidecar{}
		}
		return c.Sidecar
	}
	plane := func() *smpspec.ServiceMeshConfig_MeshControlPlane {
		if c.MeshControlPlane == nil {
			c.MeshControlPlane = &smpspec.ServiceMeshConfig_MeshControlPlane{}
		}
		return c.MeshControlPlane
	}
	if f, ok := figure(fs, RoleProxyCPU); ok {
		sidecar().CpuMcores, sidecar().Rps, filled = mcores(f.Mean), int32(math.Round(r.Summary.ActualRPS)), true
	}
	if f, ok := figure(fs, RoleProxyMemory); ok {
		sidecar().MemMb, filled = mib(f.Mean), true
	}
	if f, ok := figure(fs, RoleControlPlaneCPU); ok {
		plane().CpuMcores, filled = mcores(f.Mean), true
	}
	if f, ok := figure(fs, RoleControlPlaneMemory); ok {
		plane().MemMb, filled = mib(f.Mean), true
	}
	return filled
}
