package smp

import (
	"time"
)

// Status of a run's result.
type Status string

const (
	StatusCompleted Status = "completed"
	// StatusPartial: the run stopped early (cancelled, interrupted, an agent lost);
	// everything measured until then is kept.
	StatusPartial Status = "partial"
	StatusFailed  Status = "failed"
)

// Error classes: why a request got no response.
const (
	ErrConnect  = "connect"  // could not open a connection (refused, unreachable, DNS)
	ErrTimeout  = "timeout"  // no complete response within the request timeout
	ErrReset    = "reset"    // connection reset or closed mid-request
	ErrTLS      = "tls"      // TLS handshake or certificate failure
	ErrProtocol = "protocol" // malformed response, HTTP/2 or gRPC protocol error, echo mismatch
	// ErrSocket is a transport error the engine does not break down further (fortio's
	// fast HTTP client reports every transport failure as one code).
	ErrSocket = "socket"
	ErrOther  = "other"
)

// ErrorClasses lists the classes in display order.
var ErrorClasses = []string{ErrConnect, ErrTimeout, ErrReset, ErrTLS, ErrProtocol, ErrSocket, ErrOther}

// Result is everything meshperf knows about one run: the per-second interval series,
// the merged histogram and its summary, the environment and the generator's health.
// The SMP PerformanceTestResult is exported from it (see ExportResult).
type Result struct {
	SMPVersion string            `json:"smp_version" yaml:"smp_version"`
	ID         string            `json:"id" yaml:"id"`
	TestID     string            `json:"test_id,omitempty" yaml:"test_id,omitempty"`
	Name       string            `json:"name,omitempty" yaml:"name,omitempty"`
	Labels     map[string]string `json:"labels,omitempty" yaml:"labels,omitempty"`
	Status     Status            `json:"status" yaml:"status"`
	// StatusReason says why a run is partial or failed.
	StatusReason string `json:"status_reason,omitempty" yaml:"status_reason,omitempty"`

	// StartTime..EndTime is the whole run; MeasureStart is where warm-up ended.
	StartTime    time.Time `json:"start_time" yaml:"start_time"`
	MeasureStart time.Time `json:"measure_start" yaml:"measure_start"`
	EndTime      time.Time `json:"end_time" yaml:"end_time"`

	Config *TestConfig `json:"config,omitempty" yaml:"config,omitempty"`

	// Summary covers the measured window of all clients merged.
	Summary Summary `json:"summary" yaml:"summary"`
	// Latency is the merged histogram of the measured window.
	Latency *Histogram `json:"latency_histogram,omitempty" yaml:"latency_histogram,omitempty"`
	// Sources breaks the summary down per client (and, for distributed runs, per agent).
	Sources []SourceSummary `json:"sources,omitempty" yaml:"sources,omitempty"`

	// Thresholds holds each threshold's verdict on the measured window.
	Thresholds []ThresholdResult `json:"thresholds,omitempty" yaml:"thresholds,omitempty"`

	Generator   GeneratorReport `json:"generator" yaml:"generator"`
	ServerView  []ServerView    `json:"server_view,omitempty" yaml:"server_view,omitempty"`
	Environment Environment     `json:"environment" yaml:"environment"`
	// Metrics holds the Prometheus series of the measured window (config.metrics).
	Metrics    *MetricsResult `json:"metrics,omitempty" yaml:"metrics,omitempty"`
	Warnings   []string       `json:"warnings,omitempty" yaml:"warnings,omitempty"`
	DetailsURI string         `json:"details_uri,omitempty" yaml:"details_uri,omitempty"`

	Intervals []Interval `json:"intervals,omitempty" yaml:"intervals,omitempty"`
}

// Summary is the main figures of a run (or of one source).
type Summary struct {
	Requests        int64   `json:"requests" yaml:"requests"`
	Successes       int64   `json:"successes" yaml:"successes"`
	ErrorRate       float64 `json:"error_rate" yaml:"error_rate"`
	DurationSeconds float64 `json:"duration_seconds" yaml:"duration_seconds"`
	ActualRPS       float64 `json:"actual_rps" yaml:"actual_rps"`
	// TargetRPS is the requested average rate over the window (0 = as fast as possible).
	TargetRPS     float64          `json:"target_rps" yaml:"target_rps"`
	Latency       LatencySummary   `json:"latency" yaml:"latency"`
	StatusCodes   map[string]int64 `json:"status_codes,omitempty" yaml:"status_codes,omitempty"`
	Errors        map[string]int64 `json:"errors,omitempty" yaml:"errors,omitempty"`
	BytesSent     int64            `json:"bytes_sent" yaml:"bytes_sent"`
	BytesReceived int64            `json:"bytes_received" yaml:"bytes_received"`
}

// SourceSummary is one client's (or agent's) share of the run.
type SourceSummary struct {
	Source    string    `json:"source" yaml:"source"`
	Engine    string    `json:"engine,omitempty" yaml:"engine,omitempty"`
	Model     LoadModel `json:"model,omitempty" yaml:"model,omitempty"`
	Summary   Summary   `json:"summary" yaml:"summary"`
	LastSeen  time.Time `json:"last_seen,omitempty" yaml:"last_seen,omitempty"`
	Dropped   bool      `json:"dropped,omitempty" yaml:"dropped,omitempty"`
	DropNotes string    `json:"drop_notes,omitempty" yaml:"drop_notes,omitempty"`
}

// Interval is one second of one source's measurements. Requests count in the interval
// in which they complete.
type Interval struct {
	Source string    `json:"source" yaml:"source"`
	Index  int       `json:"index" yaml:"index"` // seconds since the run started
	Start  time.Time `json:"start" yaml:"start"`
	End    time.Time `json:"end" yaml:"end"`
	Warmup bool      `json:"warmup,omitempty" yaml:"warmup,omitempty"`

	Requests      int64            `json:"requests" yaml:"requests"`
	Successes     int64            `json:"successes" yaml:"successes"`
	StatusCodes   map[string]int64 `json:"status_codes,omitempty" yaml:"status_codes,omitempty"`
	Errors        map[string]int64 `json:"errors,omitempty" yaml:"errors,omitempty"`
	BytesSent     int64            `json:"bytes_sent" yaml:"bytes_sent"`
	BytesReceived int64            `json:"bytes_received" yaml:"bytes_received"`
	Latency       *Histogram       `json:"latency" yaml:"latency"`

	// Generator health.
	// SendLag: how late each request left versus its intended time (scheduled loads).
	SendLag *Histogram `json:"send_lag,omitempty" yaml:"send_lag,omitempty"`
	// GeneratorLag: the part of the send lag the generator itself caused (a connection
	// was free but the request still left late): CPU starvation, not a slow target.
	GeneratorLag *Histogram `json:"generator_lag,omitempty" yaml:"generator_lag,omitempty"`
	// WaitedForConnection: requests that left more than 1 ms late because every
	// connection was busy (the target was slower than rate × connections allow).
	WaitedForConnection int64 `json:"waited_for_connection,omitempty" yaml:"waited_for_connection,omitempty"`
	// MissedSends: requests due in this interval that never left (the run ended first).
	MissedSends int64 `json:"missed_sends,omitempty" yaml:"missed_sends,omitempty"`
	// CPUSeconds used by the generator process since the interval it sent before
	// (each process's CPU is counted once: summing a generator's intervals gives its
	// total).
	CPUSeconds float64 `json:"cpu_seconds,omitempty" yaml:"cpu_seconds,omitempty"`
	// Generator names the process that measured the interval (the agent; empty for a
	// local run). SchedLatency and UsableCores describe that process over the same
	// span as CPUSeconds: how long its runnable goroutines waited for a CPU (µs, from
	// the Go runtime) and how many cores it could use (GOMAXPROCS).
	Generator    string     `json:"generator,omitempty" yaml:"generator,omitempty"`
	SchedLatency *Histogram `json:"sched_latency,omitempty" yaml:"sched_latency,omitempty"`
	UsableCores  int        `json:"usable_cores,omitempty" yaml:"usable_cores,omitempty"`
}

// GeneratorReport says whether the load generator kept its schedule: numbers from an
// overloaded generator measure the generator, not the target.
type GeneratorReport struct {
	// Name is the generator (agent) this report is about; empty for the run as a whole.
	Name string `json:"name,omitempty" yaml:"name,omitempty"`
	// Measured says the generator's health was recorded; without it nothing below
	// about CPU or scheduling is known (results from before it was carried, or a
	// generator that sent none).
	Measured  bool `json:"measured,omitempty" yaml:"measured,omitempty"`
	Saturated bool `json:"saturated" yaml:"saturated"`
	// BehindMs is how far behind schedule the generator fell by its own fault (p99 and max).
	BehindP99Ms float64        `json:"behind_p99_ms" yaml:"behind_p99_ms"`
	BehindMaxMs float64        `json:"behind_max_ms" yaml:"behind_max_ms"`
	SendLag     LatencySummary `json:"send_lag" yaml:"send_lag"`
	MissedSends int64          `json:"missed_sends" yaml:"missed_sends"`
	// WaitedForConnection is the share of scheduled requests that left more than 1 ms
	// late because every connection was busy (the target, not the generator, was slow).
	WaitedForConnection float64 `json:"waited_for_connection" yaml:"waited_for_connection"`
	// SchedLatencyP99Ms: p99 of how long the generator's runnable goroutines waited
	// for a CPU (Go runtime metric). High values mean a CPU-starved generator.
	SchedLatencyP99Ms float64 `json:"sched_latency_p99_ms" yaml:"sched_latency_p99_ms"`
	CPUSeconds        float64 `json:"cpu_seconds" yaml:"cpu_seconds"`
	// CPUCores is the average number of cores the generator process kept busy, of
	// UsableCores it could use.
	CPUCores    float64 `json:"cpu_cores" yaml:"cpu_cores"`
	UsableCores int     `json:"usable_cores,omitempty" yaml:"usable_cores,omitempty"`
	Reason      string  `json:"reason,omitempty" yaml:"reason,omitempty"`
	// Generators breaks the report down per generator (agent) of a distributed run.
	Generators []GeneratorReport `json:"generators,omitempty" yaml:"generators,omitempty"`
}

// Environment describes where the load came from (and, when known, the cluster).
type Environment struct {
	ID string `json:"id,omitempty" yaml:"id,omitempty"`
	// Machine is the generator's host for a local run; empty for a distributed one.
	Machine    `yaml:",inline"`
	Kubernetes *KubernetesEnv `json:"kubernetes,omitempty" yaml:"kubernetes,omitempty"`
	// Generators describes each agent of a distributed run (the machine fields above
	// then stay empty: the load did not come from the server's machine).
	Generators []GeneratorEnv `json:"generators,omitempty" yaml:"generators,omitempty"`
}

// Machine is a host and the software a load came from.
type Machine struct {
	Hostname        string            `json:"hostname,omitempty" yaml:"hostname,omitempty"`
	OS              string            `json:"os,omitempty" yaml:"os,omitempty"`
	Arch            string            `json:"arch,omitempty" yaml:"arch,omitempty"`
	Kernel          string            `json:"kernel,omitempty" yaml:"kernel,omitempty"`
	CPUModel        string            `json:"cpu_model,omitempty" yaml:"cpu_model,omitempty"`
	CPUs            int               `json:"cpus,omitempty" yaml:"cpus,omitempty"`
	MemoryMB        int64             `json:"memory_mb,omitempty" yaml:"memory_mb,omitempty"`
	GoVersion       string            `json:"go_version,omitempty" yaml:"go_version,omitempty"`
	MeshperfVersion string            `json:"meshperf_version,omitempty" yaml:"meshperf_version,omitempty"`
	Engines         map[string]string `json:"engines,omitempty" yaml:"engines,omitempty"`
}

// GeneratorEnv is one agent's machine and software.
type GeneratorEnv struct {
	Name        string `json:"name" yaml:"name"`
	Machine     `yaml:",inline"`
	UsableCores int `json:"usable_cores,omitempty" yaml:"usable_cores,omitempty"`
}

// KubernetesEnv is the SMP EnvironmentConfig part meshperf records for cluster runs.
type KubernetesEnv struct {
	// Cluster and ClusterUID name the connected cluster (its kube-system namespace UID).
	// (meshperf extension)
	Cluster    string    `json:"cluster,omitempty" yaml:"cluster,omitempty"`
	ClusterUID string    `json:"cluster_uid,omitempty" yaml:"cluster_uid,omitempty"`
	Version    string    `json:"version,omitempty" yaml:"version,omitempty"`
	Nodes      []NodeEnv `json:"nodes,omitempty" yaml:"nodes,omitempty"`
	// Meshes are the service meshes found in the cluster as the run started, each
	// exported as an SMP ServiceMeshConfig (the first is the one the SMP result's
	// mesh_config_id names).
	Meshes []MeshEnv `json:"meshes,omitempty" yaml:"meshes,omitempty"`
}

// MeshEnv is one service mesh in a run's cluster: what SMP compares results by.
type MeshEnv struct {
	// Type is the mesh as SMP's ServiceMesh.Type names it, in lower case (istio,
	// linkerd, cilium, kuma, consul, traefik_mesh, open_service_mesh,
	// nginx_service_mesh).
	Type string `json:"type" yaml:"type"`
	// Mode is the data plane's mode: sidecar, ambient or node.
	Mode    string `json:"mode,omitempty" yaml:"mode,omitempty"`
	Version string `json:"version,omitempty" yaml:"version,omitempty"`
	// Namespace is the control plane's.
	Namespace string `json:"namespace,omitempty" yaml:"namespace,omitempty"`
	// Proxies counts the data plane's proxies (injected sidecars or node proxies).
	Proxies int `json:"proxies" yaml:"proxies"`
	// ProxyVersions counts the proxies by version ("unknown" when none is known).
	ProxyVersions map[string]int `json:"proxy_versions,omitempty" yaml:"proxy_versions,omitempty"`
}

// NodeEnv is one Kubernetes node.
type NodeEnv struct {
	Type  string `json:"type,omitempty" yaml:"type,omitempty"`
	Cores int32  `json:"cores,omitempty" yaml:"cores,omitempty"`
	MemMB int64  `json:"mem_mb,omitempty" yaml:"mem_mb,omitempty"`
}

// DecodeResult reads a full meshperf result (JSON or YAML), rejecting unknown fields.
func DecodeResult(data []byte) (*Result, error) {
	var r Result
	if err := DecodeStrict(data, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
