package apitypes

import (
	"encoding/json"
	"time"
)

// InventoryObject is one discovered object of a cluster.
type InventoryObject struct {
	ClusterUID      string            `json:"cluster_uid" yaml:"cluster_uid"`
	UID             string            `json:"uid" yaml:"uid"`
	Group           string            `json:"group" yaml:"group"`
	Version         string            `json:"version" yaml:"version"`
	Resource        string            `json:"resource" yaml:"resource"`
	Kind            string            `json:"kind" yaml:"kind"`
	Namespace       string            `json:"namespace,omitempty" yaml:"namespace,omitempty"`
	Name            string            `json:"name" yaml:"name"`
	Labels          map[string]string `json:"labels,omitempty" yaml:"labels,omitempty"`
	Annotations     map[string]string `json:"annotations,omitempty" yaml:"annotations,omitempty"`
	Owners          []OwnerRef        `json:"owners,omitempty" yaml:"owners,omitempty"`
	ResourceVersion string            `json:"resource_version" yaml:"resource_version"`
	// Managed says meshperf made it (label app.kubernetes.io/managed-by=meshperf).
	Managed   bool      `json:"managed" yaml:"managed"`
	Truncated bool      `json:"truncated,omitempty" yaml:"truncated,omitempty"`
	FirstSeen time.Time `json:"first_seen" yaml:"first_seen"`
	LastSeen  time.Time `json:"last_seen" yaml:"last_seen"`
	// Object is the trimmed object (one object's view, for the kinds kept whole).
	Object json.RawMessage `json:"object,omitempty" yaml:"object,omitempty"`
}

// OwnerRef is one owner reference of a discovered object.
type OwnerRef struct {
	APIVersion string `json:"api_version" yaml:"api_version"`
	Kind       string `json:"kind" yaml:"kind"`
	Name       string `json:"name" yaml:"name"`
	UID        string `json:"uid" yaml:"uid"`
	Controller bool   `json:"controller,omitempty" yaml:"controller,omitempty"`
}

// InventoryPage is one page of a listing.
type InventoryPage struct {
	Items      []InventoryObject `json:"items" yaml:"items"`
	NextCursor string            `json:"next_cursor" yaml:"next_cursor"`
}

// InventoryCount is how many objects of a kind a cluster has.
type InventoryCount struct {
	ClusterUID string `json:"cluster_uid" yaml:"cluster_uid"`
	Cluster    string `json:"cluster,omitempty" yaml:"cluster,omitempty"` // the connection's name
	Group      string `json:"group" yaml:"group"`
	Kind       string `json:"kind" yaml:"kind"`
	Count      int64  `json:"count" yaml:"count"`
}

// InventoryFlushed counts what flushing a cluster's inventory removed.
type InventoryFlushed struct {
	Objects int64 `json:"objects" yaml:"objects"`
	Labels  int64 `json:"labels" yaml:"labels"`
}

// InventoryChange is one committed change, as the live stream sends it.
type InventoryChange struct {
	Cluster         string `json:"cluster_uid" yaml:"cluster_uid"`
	Type            string `json:"type" yaml:"type"` // added, modified, deleted, flushed
	Group           string `json:"group,omitempty" yaml:"group,omitempty"`
	Version         string `json:"version,omitempty" yaml:"version,omitempty"`
	Kind            string `json:"kind,omitempty" yaml:"kind,omitempty"`
	Namespace       string `json:"namespace,omitempty" yaml:"namespace,omitempty"`
	Name            string `json:"name,omitempty" yaml:"name,omitempty"`
	UID             string `json:"uid,omitempty" yaml:"uid,omitempty"`
	ResourceVersion string `json:"resource_version,omitempty" yaml:"resource_version,omitempty"`
}

// DiscoveryHealth is one cluster's discovery as the server sees it.
type DiscoveryHealth struct {
	ClusterUID string `json:"cluster_uid" yaml:"cluster_uid"`
	Cluster    string `json:"cluster,omitempty" yaml:"cluster,omitempty"`
	// Mode is the connection's discovery mode (embedded or operator).
	Mode string `json:"mode,omitempty" yaml:"mode,omitempty"`
	// State is the discovering process's own state (from its last status event),
	// "reporting" when it sent events but no status, "silent" when nothing came.
	State   string `json:"state" yaml:"state"`
	Objects int64  `json:"objects" yaml:"objects"`
	// LastEventAt is when the last event was sent; LagSeconds how long it took to be
	// stored; SinceLastEventSeconds how long ago it was sent.
	LastEventAt           *time.Time `json:"last_event_at,omitempty" yaml:"last_event_at,omitempty"`
	LagSeconds            float64    `json:"lag_seconds" yaml:"lag_seconds"`
	SinceLastEventSeconds float64    `json:"since_last_event_seconds" yaml:"since_last_event_seconds"`
	LastSnapshotAt        *time.Time `json:"last_snapshot_at,omitempty" yaml:"last_snapshot_at,omitempty"`
	SnapshotOpen          bool       `json:"snapshot_open" yaml:"snapshot_open"`
	WatchesOpen           int        `json:"watches_open" yaml:"watches_open"`
	Resources             int        `json:"resources" yaml:"resources"`
	LastError             string     `json:"last_error,omitempty" yaml:"last_error,omitempty"`
	LastErrorAt           *time.Time `json:"last_error_at,omitempty" yaml:"last_error_at,omitempty"`
	// Gaps counts sequence gaps found (each asked for a resync).
	Gaps int64 `json:"gaps" yaml:"gaps"`
	// Embedded is the server's own MeshSync for the cluster, when it runs one.
	Embedded *EmbeddedMeshSync `json:"embedded,omitempty" yaml:"embedded,omitempty"`
	// Operator is the in-cluster operator, broker and MeshSync, read from the cluster
	// (operator mode only).
	Operator *OperatorStatus `json:"operator,omitempty" yaml:"operator,omitempty"`
}

// OperatorStatus is a cluster's operator-mode components as the cluster reports them.
type OperatorStatus struct {
	Namespace string `json:"namespace" yaml:"namespace"`
	// Install is the server's last attempt to install the operator: "installed", or
	// what failed.
	Install  string            `json:"install,omitempty" yaml:"install,omitempty"`
	Operator OperatorComponent `json:"operator" yaml:"operator"`
	Broker   OperatorComponent `json:"broker" yaml:"broker"`
	MeshSync OperatorComponent `json:"meshsync" yaml:"meshsync"`
	// Error is why the cluster could not be read (the components are then unknown).
	Error string `json:"error,omitempty" yaml:"error,omitempty"`
}

// OperatorComponent is one component's state: absent, pending (applied, not ready),
// ready, not_ready (with Message), invalid (a spec it refuses), unknown.
type OperatorComponent struct {
	State    string     `json:"state" yaml:"state"`
	Version  string     `json:"version,omitempty" yaml:"version,omitempty"`
	LastSeen *time.Time `json:"last_seen,omitempty" yaml:"last_seen,omitempty"`
	Message  string     `json:"message,omitempty" yaml:"message,omitempty"`
	// Broker: its in-cluster endpoint and whether it is connected to the server.
	Endpoint  string `json:"endpoint,omitempty" yaml:"endpoint,omitempty"`
	Connected *bool  `json:"connected,omitempty" yaml:"connected,omitempty"`
	// MeshSync: the objects it watches and when it last sent an event.
	Objects   *int64     `json:"objects,omitempty" yaml:"objects,omitempty"`
	LastEvent *time.Time `json:"last_event,omitempty" yaml:"last_event,omitempty"`
}

// EmbeddedMeshSync is a MeshSync the server runs for a connection.
type EmbeddedMeshSync struct {
	State       string     `json:"state" yaml:"state"` // running, backing_off
	StartedAt   time.Time  `json:"started_at" yaml:"started_at"`
	Restarts    int        `json:"restarts" yaml:"restarts"`
	LastError   string     `json:"last_error,omitempty" yaml:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty" yaml:"last_error_at,omitempty"`
}

// SyntheticCheck is a round trip through discovery: a marker ConfigMap written into
// the cluster, seen in the inventory, removed, seen gone.
type SyntheticCheck struct {
	Namespace string  `json:"namespace" yaml:"namespace"`
	Name      string  `json:"name" yaml:"name"`
	OK        bool    `json:"ok" yaml:"ok"`
	Error     string  `json:"error,omitempty" yaml:"error,omitempty"`
	ArriveMs  float64 `json:"arrive_ms" yaml:"arrive_ms"`
	RemoveMs  float64 `json:"remove_ms" yaml:"remove_ms"`
	// RoundTripMs is from the write to the removal seen.
	RoundTripMs float64 `json:"round_trip_ms" yaml:"round_trip_ms"`
}

// DiscoverySettings are a connection's discovery mode and scope.
type DiscoverySettings struct {
	// Mode is embedded or operator; empty: the server's default.
	Mode  string         `json:"mode" yaml:"mode"`
	Scope DiscoveryScope `json:"scope" yaml:"scope"`
}

// DiscoveryScope limits what is watched (meshsync.Scope).
type DiscoveryScope struct {
	IncludeKinds      []string `json:"include_kinds,omitempty" yaml:"include_kinds,omitempty"`
	ExcludeKinds      []string `json:"exclude_kinds,omitempty" yaml:"exclude_kinds,omitempty"`
	IncludeNamespaces []string `json:"include_namespaces,omitempty" yaml:"include_namespaces,omitempty"`
	ExcludeNamespaces []string `json:"exclude_namespaces,omitempty" yaml:"exclude_namespaces,omitempty"`
	FullKinds         []string `json:"full_kinds,omitempty" yaml:"full_kinds,omitempty"`
}
