package smp

// ServerView is the target's own account of a run, beside the generator's: when the
// target is meshperf's (`meshperf target`), it keeps the service time it gave each
// request (from reading the request to writing the response), and the run asks it
// for the measured window. The client's latency can never be below it; a client p99
// far above it is the network, the generator, or the target's process queueing
// requests outside the service time (TargetProcess tells). (meshperf extension)
type ServerView struct {
	// Endpoint is the URL whose target answered; Path the path it counted.
	Endpoint string `json:"endpoint" yaml:"endpoint"`
	Path     string `json:"path" yaml:"path"`
	// Requests the target served on that path in the window (whole seconds).
	Requests    int64          `json:"requests" yaml:"requests"`
	ServiceTime LatencySummary `json:"service_time" yaml:"service_time"`
	// ClientP99Ms is the client-side p99 of the same run, for reading the two side by side.
	ClientP99Ms float64 `json:"client_p99_ms" yaml:"client_p99_ms"`
	// NetworkMs is what the network can explain: a few round trips to the target,
	// measured after the run.
	NetworkMs float64 `json:"network_ms" yaml:"network_ms"`
	// TargetProcess is the target's process over the same seconds, when it tells: a
	// request also waits for that process before it is read and after its response is
	// written, outside the service time.
	TargetProcess *TargetProcess `json:"target_process,omitempty" yaml:"target_process,omitempty"`
	// Warning is set when the client's p99 exceeds the server's by more than NetworkMs.
	Warning string `json:"warning,omitempty" yaml:"warning,omitempty"`
}

// TargetProcess is how busy the target's process was.
type TargetProcess struct {
	// CPUCores is the average number of cores it kept busy, of UsableCores (GOMAXPROCS).
	CPUCores    float64 `json:"cpu_cores" yaml:"cpu_cores"`
	UsableCores int     `json:"usable_cores" yaml:"usable_cores"`
	// SchedLatencyP99Ms is the p99 of how long its runnable goroutines waited for a CPU.
	SchedLatencyP99Ms float64 `json:"sched_latency_p99_ms" yaml:"sched_latency_p99_ms"`
}
