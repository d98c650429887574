package smp

import "time"

// MetricsConfig names the Prometheus queries run over the measured window after a
// run, and where. (meshperf extension)
type MetricsConfig struct {
	// Prometheus is the server's Prometheus connection by name (server runs); a local
	// run takes --prometheus URL instead.
	Prometheus string `yaml:"prometheus,omitempty" json:"prometheus,omitempty"`
	// Mesh adds the default queries of a mesh type (istio, linkerd): its proxies' and
	// control plane's CPU and memory. Empty: none.
	Mesh string `yaml:"mesh,omitempty" json:"mesh,omitempty"`
	// Namespace and Cluster replace $namespace and $cluster in every query (Cluster
	// defaults to the run's cluster). The defaults select on the namespace when set.
	Namespace string `yaml:"namespace,omitempty" json:"namespace,omitempty"`
	Cluster   string `yaml:"cluster,omitempty" json:"cluster,omitempty"`
	// Step is the smallest query_range step (default 5 s, near a usual scrape
	// interval); a long window gets a larger one so no series passes 11,000 points.
	Step Duration `yaml:"step,omitempty" json:"step,omitempty"`
	// Queries are the run's own, beside the mesh's defaults.
	Queries []MetricQuery `yaml:"queries,omitempty" json:"queries,omitempty"`
}

// MetricQuery is one PromQL query over the window.
type MetricQuery struct {
	// Name identifies the query in the result (unique in a run).
	Name string `yaml:"name" json:"name"`
	// Query is PromQL; $namespace, $cluster and $step are replaced before it runs.
	Query string `yaml:"query" json:"query"`
	// Unit of the values: cores, bytes, requests/s, ...
	Unit string `yaml:"unit,omitempty" json:"unit,omitempty"`
	// Role marks the queries the resource summary reads: proxy_cpu, proxy_memory,
	// control_plane_cpu, control_plane_memory. Empty: a query of its own.
	Role string `yaml:"role,omitempty" json:"role,omitempty"`
}

// Resource roles of a query.
const (
	RoleProxyCPU           = "proxy_cpu"
	RoleProxyMemory        = "proxy_memory"
	RoleControlPlaneCPU    = "control_plane_cpu"
	RoleControlPlaneMemory = "control_plane_memory"
)

// MetricsResult is what Prometheus held over a run's measured window.
type MetricsResult struct {
	// Source is the Prometheus asked: a connection's name or a URL.
	Source string    `json:"source" yaml:"source"`
	Start  time.Time `json:"start" yaml:"start"`
	End    time.Time `json:"end" yaml:"end"`
	// Step is the query_range step used (points per series <= 11,000).
	Step Duration `json:"step" yaml:"step"`
	// AssumedMesh is the mesh whose default queries ran though the config named none:
	// the mesh found in the run's cluster as it started.
	AssumedMesh string        `json:"assumed_mesh,omitempty" yaml:"assumed_mesh,omitempty"`
	Queries     []QueryResult `json:"queries" yaml:"queries"`
}

// Metric statuses.
const (
	MetricsOK      = "ok"
	MetricsMissing = "missing"
)

// QueryResult is one query's series, or why there are none.
type QueryResult struct {
	MetricQuery `yaml:",inline"`
	// Status is ok or missing; Reason says why it is missing (Prometheus down, the
	// query failed, no series matched).
	Status string   `json:"status" yaml:"status"`
	Reason string   `json:"reason,omitempty" yaml:"reason,omitempty"`
	Series []Series `json:"series,omitempty" yaml:"series,omitempty"`
}

// Series is one labelled series: each point is [unix seconds, value] (a list, so the
// strict decoder and every JSON/YAML reader take it).
type Series struct {
	Labels map[string]string `json:"labels,omitempty" yaml:"labels,omitempty"`
	Points [][]float64       `json:"points" yaml:"points"`
}
