// Package apitypes holds the JSON bodies of meshperf's REST API (v1) that the server
// writes and its client reads: one definition each, so the two cannot drift. The API's
// tests also validate every response against openapi.json.
package apitypes

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/meshperf/meshperf/meshsync/fingerprint"
	"github.com/meshperf/meshperf/perf"
	"github.com/meshperf/meshperf/smp"
)

// Error is every error answer's body, under "error": the status, a code, a message for
// people and, for bad input, every field at fault.
type Error struct {
	Status    int              `json:"status"`
	Code      string           `json:"code"`
	Message   string           `json:"message"`
	Fields    []smp.FieldError `json:"fields,omitempty"`
	RequestID string           `json:"request_id,omitempty"`
}

func (e *Error) Error() string {
	if len(e.Fields) > 1 {
		return smp.FieldErrors(e.Fields).Error()
	}
	return e.Message
}

// IsInput reports whether the server refused the request as bad input.
func (e *Error) IsInput() bool {
	return e.Status == http.StatusBadRequest || e.Status == http.StatusRequestEntityTooLarge
}

// Profile is a stored profile at its current version.
type Profile struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Version     int             `json:"version"`
	Config      json.RawMessage `json:"config"`
	CreatedBy   string          `json:"created_by,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
}

// Run is one execution of a profile or an ad-hoc config, and where to follow it.
type Run struct {
	ID             string            `json:"id"`
	ProfileID      *string           `json:"profile_id,omitempty"`
	ProfileName    string            `json:"profile_name,omitempty"`
	ProfileVersion int               `json:"profile_version,omitempty"`
	Status         string            `json:"status"`
	Error          string            `json:"error,omitempty"`
	Overrides      json.RawMessage   `json:"overrides,omitempty"`
	Config         json.RawMessage   `json:"config"`
	TriggeredBy    string            `json:"triggered_by,omitempty"`
	ResultID       *string           `json:"result_id,omitempty"`
	CreatedAt      time.Time         `json:"created_at"`
	StartedAt      *time.Time        `json:"started_at,omitempty"`
	FinishedAt     *time.Time        `json:"finished_at,omitempty"`
	Links          map[string]string `json:"links"`
}

// ResultRow is a result's main figures, as lists and comparisons show them.
type ResultRow struct {
	ID             string            `json:"id"`
	RunID          string            `json:"run_id"`
	ProfileID      *string           `json:"profile_id,omitempty"`
	ProfileName    string            `json:"profile_name,omitempty"`
	ProfileVersion int               `json:"profile_version,omitempty"`
	Name           string            `json:"name,omitempty"`
	Status         string            `json:"status"`
	StartTime      time.Time         `json:"start_time"`
	EndTime        time.Time         `json:"end_time"`
	Requests       int64             `json:"requests"`
	ErrorRate      float64           `json:"error_rate"`
	ActualRPS      float64           `json:"actual_rps"`
	TargetRPS      float64           `json:"target_rps"`
	P50Ms          float64           `json:"p50_ms"`
	P90Ms          float64           `json:"p90_ms"`
	P99Ms          float64           `json:"p99_ms"`
	P999Ms         float64           `json:"p99_9_ms"`
	MaxMs          float64           `json:"max_ms"`
	Saturated      bool              `json:"generator_saturated"`
	Labels         map[string]string `json:"labels,omitempty"`
}

// Comparison is a side-by-side table of results' main figures, each with its change
// against the first result (the baseline); Changes adds, for each later result, the
// statistics from the per-second intervals (confidence intervals and verdicts).
type Comparison struct {
	Results []ResultRow        `json:"results"`
	Metrics []MetricRow        `json:"metrics"`
	Changes []CandidateChanges `json:"changes"`
}

// CandidateChanges compares one result with the baseline.
type CandidateChanges struct {
	Candidate string        `json:"candidate"`
	Changes   []perf.Change `json:"changes"`
}

// MetricRow is one figure across the compared results.
type MetricRow struct {
	Metric string    `json:"metric"`
	Unit   string    `json:"unit"`
	Better string    `json:"better"` // "lower" or "higher"
	Values []float64 `json:"values"`
	// Delta and DeltaPct are each value's change against the first (0 for the first).
	Delta    []float64  `json:"delta"`
	DeltaPct []*float64 `json:"delta_pct"` // null when the baseline is 0
}

// Schedule is a cron schedule of a profile, with its next firings and history.
type Schedule struct {
	ID        string      `json:"id"`
	Name      string      `json:"name"`
	ProfileID string      `json:"profile_id"`
	Cron      string      `json:"cron"`
	Missed    string      `json:"missed"`
	Paused    bool        `json:"paused"`
	LastFire  *time.Time  `json:"last_fire,omitempty"`
	Next      []time.Time `json:"next,omitempty"`
	CreatedBy string      `json:"created_by,omitempty"`
	History   []Firing    `json:"history,omitempty"`
}

// Firing is one firing of a schedule: which server claimed it and what became of its run.
type Firing struct {
	FireTime time.Time `json:"fire_time"`
	RunID    string    `json:"run_id,omitempty"`
	Outcome  string    `json:"outcome"`
	Server   string    `json:"server"`
}

// User is a user and its role.
type User struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at,omitzero"`
}

// Token is an API token as listed: never its secret.
type Token struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	UserID     string     `json:"user_id"`
	User       string     `json:"user"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// Agent is a load-generating agent as the server last heard it.
type Agent struct {
	Name        string            `json:"name"`
	Labels      map[string]string `json:"labels,omitempty"`
	Cores       int               `json:"cores"`
	Engines     []string          `json:"engines"`
	Version     string            `json:"version"`
	Busy        string            `json:"busy,omitempty"`
	ClockOffset time.Duration     `json:"clock_offset_ns"`
	RTT         time.Duration     `json:"rtt_ns"`
	LastSeen    time.Time         `json:"last_seen"`
	Alive       bool              `json:"alive"`
}

// Cluster is a connection to a Kubernetes cluster: its state, health and nodes. Never
// its credentials.
type Cluster struct {
	ID             string        `json:"id"`
	Name           string        `json:"name"`
	Kind           string        `json:"kind"`
	State          string        `json:"state"`
	ClusterUID     string        `json:"cluster_uid"`
	Server         string        `json:"server"`
	Version        string        `json:"version,omitempty"`
	NodeCount      int           `json:"node_count"`
	LastCheck      *time.Time    `json:"last_check,omitempty"`
	LastError      string        `json:"last_error,omitempty"`
	StateChangedAt time.Time     `json:"state_changed_at"`
	CreatedBy      string        `json:"created_by,omitempty"`
	CreatedAt      time.Time     `json:"created_at"`
	Nodes          []ClusterNode `json:"nodes,omitempty"`
}

// ClusterNode is one node of a connected cluster.
type ClusterNode struct {
	Name           string `json:"name"`
	InstanceType   string `json:"instance_type,omitempty"`
	Cores          int32  `json:"cores"`
	MemoryMB       int64  `json:"memory_mb"`
	KubeletVersion string `json:"kubelet_version,omitempty"`
	Ready          bool   `json:"ready"`
}

// AddClusterResult is what became of one kubeconfig context that was uploaded.
type AddClusterResult struct {
	Context string `json:"context"`
	// Outcome is added, updated (same context and cluster: new credential), duplicate
	// (another context already connects this cluster) or failed.
	Outcome     string   `json:"outcome"`
	Connection  *Cluster `json:"connection,omitempty"`
	DuplicateOf string   `json:"duplicate_of,omitempty"`
	Error       string   `json:"error,omitempty"`
}

// Flushed counts what removing a cluster deleted.
type Flushed struct {
	Connections      int64 `json:"connections"`
	Nodes            int64 `json:"nodes"`
	AgentDeployments int64 `json:"agent_deployments"`
	InventoryObjects int64 `json:"inventory_objects"`
}

// BrokerEndpoint is the broker URL agents in a cluster use, and how it was chosen.
type BrokerEndpoint struct {
	URL    string `json:"url"`
	Source string `json:"source"`
}

// AgentDeployReport is the outcome of deploying (or removing) agents in one cluster.
type AgentDeployReport struct {
	Cluster  string          `json:"cluster"`
	OK       bool            `json:"ok"`
	Error    string          `json:"error,omitempty"`
	Endpoint *BrokerEndpoint `json:"broker_endpoint,omitempty"`
	Objects  []string        `json:"objects,omitempty"`
	Replicas int32           `json:"replicas"`
	Ready    int32           `json:"ready"`
	Seconds  float64         `json:"seconds"`
}

// AgentDeployment is the last recorded deployment of agents in a cluster.
type AgentDeployment struct {
	Cluster        string    `json:"cluster"`
	Namespace      string    `json:"namespace"`
	Replicas       int32     `json:"replicas"`
	Ready          int32     `json:"ready"`
	Image          string    `json:"image"`
	BrokerEndpoint string    `json:"broker_endpoint"`
	BrokerSource   string    `json:"broker_source"`
	Status         string    `json:"status"`
	Error          string    `json:"error,omitempty"`
	UpdatedBy      string    `json:"updated_by,omitempty"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// ClusterMeshes is what runs in one connected cluster: its service meshes and its
// Prometheus and Grafana, as their fingerprints tell.
type ClusterMeshes struct {
	// ClusterID and Cluster are the connection's id and name.
	ClusterID  string                   `json:"cluster_id"`
	Cluster    string                   `json:"cluster"`
	ClusterUID string                   `json:"cluster_uid"`
	Meshes     []fingerprint.Mesh       `json:"meshes"`
	Monitoring []fingerprint.Monitoring `json:"monitoring"`
	// Error says why the cluster could not be read (the lists are then empty).
	Error     string    `json:"error,omitempty"`
	CheckedAt time.Time `json:"checked_at"`
}

// ResultCharts is what a browser draws of one result, computed from the stored HDR
// histograms (which a browser cannot decode): the percentile curve, the histogram in
// logarithmic bins and the per-second series of the measured window.
type ResultCharts struct {
	ID string `json:"id"`
	// Percentiles run from 0 to just below 100 in steps that halve the remaining
	// distance to 100 (as HdrHistogram's percentile plots do); MaxMs is the 100th.
	Percentiles []PercentilePoint `json:"percentiles"`
	MaxMs       float64           `json:"max_ms"`
	Histogram   []HistogramBin    `json:"histogram"`
	Series      SecondSeries      `json:"series"`
}

// PercentilePoint is one point of the percentile curve.
type PercentilePoint struct {
	Percentile float64 `json:"percentile"`
	Ms         float64 `json:"ms"`
}

// HistogramBin counts the requests whose latency fell in [FromMs, ToMs).
type HistogramBin struct {
	FromMs float64 `json:"from_ms"`
	ToMs   float64 `json:"to_ms"`
	Count  int64   `json:"count"`
}

// SecondSeries is the measured window second by second, all sources merged; the
// slices are parallel.
type SecondSeries struct {
	Second          []int     `json:"second"`
	RPS             []float64 `json:"rps"`
	P50Ms           []float64 `json:"p50_ms"`
	P99Ms           []float64 `json:"p99_ms"`
	ErrorsPerSecond []float64 `json:"errors_per_second"`
}

// ResultPanels are the Grafana panels attached to a result's profile, each linked over
// the run's measured window on one Grafana connection.
type ResultPanels struct {
	ResultID string `json:"result_id" yaml:"result_id"`
	// Connection is the Grafana connection the links point into ("" when the result
	// has no panels attached).
	Connection string      `json:"connection" yaml:"connection"`
	Links      []PanelLink `json:"links" yaml:"links"`
}

// PanelLink is one attached panel and its link over the run's window.
type PanelLink struct {
	BoardUID string `json:"board_uid" yaml:"board_uid"`
	PanelID  int    `json:"panel_id" yaml:"panel_id"`
	Title    string `json:"title" yaml:"title"`
	URL      string `json:"url" yaml:"url"`
}
