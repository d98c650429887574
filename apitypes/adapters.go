package apitypes

import "time"

// AdapterRegistration is what an adapter sends to register (POST /api/v1/adapters):
// where the server reaches its gRPC service and the mesh it says it lifecycles. The
// server then reads the adapter's capabilities over gRPC itself (Info), so what it
// stores is what the adapter serves, and a contract it does not speak is refused at
// once with a clear error.
type AdapterRegistration struct {
	// Address is host:port of the adapter's gRPC service, as the server dials it.
	Address string `json:"address"`
	// Mesh is the mesh the adapter lifecycles (istio, linkerd).
	Mesh string `json:"mesh"`
}

// Adapter is a registered adapter, its capabilities and its health.
type Adapter struct {
	ID              string             `json:"id"`
	Address         string             `json:"address"`
	Name            string             `json:"name"`
	Mesh            string             `json:"mesh"`
	AdapterVersion  string             `json:"adapter_version"`
	ContractVersion string             `json:"contract_version"`
	ChartRepository string             `json:"chart_repository,omitempty"`
	MeshVersions    []string           `json:"mesh_versions"`
	Operations      []AdapterOperation `json:"operations"`
	// Healthy is the outcome of the last periodic health check (gRPC health).
	Healthy      bool      `json:"healthy"`
	LastError    string    `json:"last_error,omitempty"`
	LastCheck    time.Time `json:"last_check"`
	RegisteredAt time.Time `json:"registered_at"`
}

// AdapterOperation is an operation an adapter offers.
type AdapterOperation struct {
	// Kind is install, uninstall, sample-deploy, sample-remove, configure-injection,
	// configure-mtls, configure-addons or validate.
	Kind        string             `json:"kind"`
	Description string             `json:"description"`
	Implemented bool               `json:"implemented"`
	Reason      string             `json:"reason,omitempty"`
	Parameters  []AdapterParameter `json:"parameters,omitempty"`
}

// AdapterParameter is a parameter an operation reads.
type AdapterParameter struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Allowed     []string `json:"allowed,omitempty"`
	Default     string   `json:"default,omitempty"`
}

// OperationRequest asks for a mesh operation on clusters (POST /api/v1/operations).
type OperationRequest struct {
	// Mesh picks the adapter (istio, linkerd).
	Mesh string `json:"mesh"`
	// Kind as in AdapterOperation.
	Kind string `json:"kind"`
	// Version of the mesh (install); "" = the newest the adapter offers.
	Version string `json:"version,omitempty"`
	// Namespace the operation works in ("" = the adapter's default for the kind).
	Namespace string `json:"namespace,omitempty"`
	// Clusters are connection names or ids, 1 to 64.
	Clusters   []string          `json:"clusters"`
	Parameters map[string]string `json:"parameters,omitempty"`
	// ClusterTimeoutSeconds is the per-cluster deadline (0 = the adapter's default).
	ClusterTimeoutSeconds int `json:"cluster_timeout_seconds,omitempty"`
}

// Operation is a mesh operation with its per-cluster outcome. State is pending,
// running, succeeded (every cluster did) or failed (at least one did not).
type Operation struct {
	ID         string             `json:"id"`
	Mesh       string             `json:"mesh"`
	Adapter    string             `json:"adapter"`
	Kind       string             `json:"kind"`
	Version    string             `json:"version,omitempty"`
	Namespace  string             `json:"namespace,omitempty"`
	State      string             `json:"state"`
	Error      string             `json:"error,omitempty"`
	Clusters   []OperationCluster `json:"clusters"`
	CreatedBy  string             `json:"created_by,omitempty"`
	CreatedAt  time.Time          `json:"created_at"`
	FinishedAt *time.Time         `json:"finished_at,omitempty"`
	// LastSequence is the sequence of the last event stored.
	LastSequence int64 `json:"last_sequence"`
}

// OperationCluster is one cluster's part of an operation.
type OperationCluster struct {
	Cluster  string            `json:"cluster"`
	State    string            `json:"state"`
	Error    string            `json:"error,omitempty"`
	Cause    string            `json:"cause,omitempty"`
	Remedy   string            `json:"remedy,omitempty"`
	Details  map[string]string `json:"details,omitempty"`
	Started  *time.Time        `json:"started,omitempty"`
	Finished *time.Time        `json:"finished,omitempty"`
}

// OperationEvent is one event of an operation: sequence runs over the operation
// without gaps, cluster_sequence per cluster.
type OperationEvent struct {
	Sequence        int64     `json:"sequence"`
	Cluster         string    `json:"cluster,omitempty"`
	ClusterSequence int64     `json:"cluster_sequence,omitempty"`
	Severity        string    `json:"severity"`
	Summary         string    `json:"summary"`
	Details         string    `json:"details,omitempty"`
	Cause           string    `json:"cause,omitempty"`
	Remedy          string    `json:"remedy,omitempty"`
	ClusterState    string    `json:"cluster_state,omitempty"`
	Time            time.Time `json:"time"`
}
