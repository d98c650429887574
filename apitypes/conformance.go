package apitypes

import "time"

// ConformanceRunRequest asks the server to run conformance profiles on a connected
// cluster.
type ConformanceRunRequest struct {
	// Cluster is the connection's id or name.
	Cluster  string   `json:"cluster"`
	Profiles []string `json:"profiles"`
	// Mesh picks one of the cluster's meshes (its type); a mesh not found is taken
	// as given, with MeshVersion.
	Mesh             string   `json:"mesh,omitempty"`
	MeshVersion      string   `json:"mesh_version,omitempty"`
	ExtendedFeatures []string `json:"extended_features,omitempty"`
	AllFeatures      bool     `json:"all_features,omitempty"`
	SkipTests        []string `json:"skip_tests,omitempty"`
	// StepTimeout bounds each step, 1s..10m (default 30s).
	StepTimeout string `json:"step_timeout,omitempty"`
}

// ConformanceRun is a conformance run or an uploaded report (its report is fetched
// on its own).
type ConformanceRun struct {
	ID          string     `json:"id"`
	Cluster     string     `json:"cluster,omitempty"`
	ClusterUID  string     `json:"cluster_uid,omitempty"`
	Mesh        string     `json:"mesh"`
	MeshVersion string     `json:"mesh_version"`
	Profiles    string     `json:"profiles"`
	Status      string     `json:"status"`
	Error       string     `json:"error,omitempty"`
	Conformant  bool       `json:"conformant"`
	KeyID       string     `json:"key_id,omitempty"`
	CreatedBy   string     `json:"created_by"`
	CreatedAt   time.Time  `json:"created_at"`
	FinishedAt  *time.Time `json:"finished_at,omitempty"`
}

// ConformanceCell is one mesh x version x profile of the compatibility matrix: the
// newest stored report's result.
type ConformanceCell struct {
	Mesh     string `json:"mesh"`
	Version  string `json:"version"`
	Profile  string `json:"profile"`
	Core     string `json:"core"`
	Extended string `json:"extended,omitempty"`
	Passed   int    `json:"passed"`
	Failed   int    `json:"failed"`
	Skipped  int    `json:"skipped"`
	RunID    string `json:"run_id"`
	Date     string `json:"date"`
	KeyID    string `json:"key_id"`
}

// ConformanceKey is the server's public signing key.
type ConformanceKey struct {
	Algorithm string `json:"algorithm"`
	KeyID     string `json:"key_id"`
	PublicKey string `json:"public_key"` // base64
	PEM       string `json:"pem"`
}
