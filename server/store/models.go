// Package store keeps meshperf's state with gorm: SQLite by default (a file, pure Go),
// PostgreSQL at scale. Tables own one concept each; schema changes are versioned
// migrations (gormigrate), applied at start-up under a lock.
package store

import (
	"time"
)

// User is a person or automation with a role.
type User struct {
	ID        string `gorm:"primaryKey;size:36"`
	Name      string `gorm:"size:128;uniqueIndex;not null"`
	Role      string `gorm:"size:16;not null"`
	CreatedAt time.Time
}

// APIToken is a bearer token. Only its SHA-256 is stored; the token is shown once.
// Tokens issued by the server read mpt_<ID>_<secret>: the ID finds the row and is not
// secret (lists show it); older and operator-chosen tokens are found by their hash.
type APIToken struct {
	ID         string `gorm:"primaryKey;size:36"`
	UserID     string `gorm:"size:36;index;not null"`
	Name       string `gorm:"size:128"`
	Hash       string `gorm:"size:64;uniqueIndex;not null"`
	CreatedAt  time.Time
	LastUsedAt *time.Time
}

// Profile is a named, versioned test config. Each update adds a ProfileVersion; a run
// records the exact version it ran.
type Profile struct {
	ID          string `gorm:"primaryKey;size:36"`
	Name        string `gorm:"size:128;uniqueIndex;not null"`
	Description string `gorm:"size:1024"`
	Version     int    `gorm:"not null"`
	Config      string `gorm:"type:text;not null"` // JSON of smp.TestConfig, the current version
	CreatedBy   string `gorm:"size:128"`
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// ProfileVersion is one saved version of a profile's config.
type ProfileVersion struct {
	ProfileID string `gorm:"primaryKey;size:36"`
	Version   int    `gorm:"primaryKey"`
	Config    string `gorm:"type:text;not null"`
	CreatedBy string `gorm:"size:128"`
	CreatedAt time.Time
}

// Run statuses.
const (
	RunQueued      = "queued"
	RunRunning     = "running"
	RunCompleted   = "completed"
	RunPartial     = "partial"
	RunFailed      = "failed"
	RunCancelled   = "cancelled"
	RunInterrupted = "interrupted" // the server stopped during the run
)

// RunDone reports whether a status is final.
func RunDone(status string) bool {
	switch status {
	case RunQueued, RunRunning:
		return false
	}
	return true
}

// Run is one execution of a profile version or of an ad-hoc config.
type Run struct {
	ID             string  `gorm:"primaryKey;size:36"`
	ProfileID      *string `gorm:"size:36;index"`
	ProfileName    string  `gorm:"size:128"`
	ProfileVersion int
	Status         string    `gorm:"size:16;index;not null"`
	Config         string    `gorm:"type:text;not null"` // JSON of the exact smp.TestConfig that runs
	Overrides      string    `gorm:"type:text"`          // JSON of the overrides applied to the profile
	TriggeredBy    string    `gorm:"size:128"`
	Error          string    `gorm:"type:text"`
	ResultID       *string   `gorm:"size:36"`
	CreatedAt      time.Time `gorm:"index"`
	StartedAt      *time.Time
	FinishedAt     *time.Time
	// Owner is the server instance executing the run (several replicas share a database).
	Owner string `gorm:"size:64;index"`
	// ScheduleID links a run fired by a schedule.
	ScheduleID *string `gorm:"size:36;index"`
	// Placement records where a distributed run went (JSON: agents, agreed start), so a
	// restarted server can resume collecting it.
	Placement string `gorm:"type:text"`
}

// RunInterval is one second of one source, stored as it arrives so that a server that
// dies mid-run loses nothing it had received.
type RunInterval struct {
	RunID  string `gorm:"primaryKey;size:36"`
	Source string `gorm:"primaryKey;size:128"`
	Index  int    `gorm:"primaryKey;column:second"`
	Data   []byte `gorm:"not null"` // gzip JSON of smp.Interval
}

// Result is a finished run's result: summary columns for listing and comparing, and
// the whole smp.Result compressed.
type Result struct {
	ID             string  `gorm:"primaryKey;size:36;index:idx_results_newest,priority:2,sort:desc"`
	RunID          string  `gorm:"size:36;index"`
	ProfileID      *string `gorm:"size:36;index"`
	ProfileName    string  `gorm:"size:128"`
	ProfileVersion int
	Name           string `gorm:"size:256"`
	Status         string `gorm:"size:16;index"`
	// idx_results_newest matches the listing order exactly, so a filtered list can walk
	// results newest first and stop after one page.
	StartTime time.Time `gorm:"index:idx_results_newest,priority:1,sort:desc"`
	EndTime   time.Time
	Requests  int64
	ErrorRate float64
	ActualRPS float64
	TargetRPS float64
	P50Ms     float64
	P90Ms     float64
	P99Ms     float64
	P999Ms    float64
	MaxMs     float64
	Saturated bool
	Labels    string `gorm:"type:text"` // JSON, for display; filtering uses ResultLabel
	Data      []byte `gorm:"not null"`  // gzip JSON of smp.Result
	CreatedAt time.Time
}

// ResultLabel indexes a result's labels for filtering. It repeats the result's start
// time so that "the newest results with label k=v" is one ordered range of
// idx_label_newest, however many results carry the label.
type ResultLabel struct {
	ResultID  string    `gorm:"primaryKey;size:36;index:idx_label_newest,priority:4,sort:desc"`
	Key       string    `gorm:"primaryKey;size:128;index:idx_label_newest,priority:1"`
	Value     string    `gorm:"size:256;index:idx_label_newest,priority:2"`
	StartTime time.Time `gorm:"index:idx_label_newest,priority:3,sort:desc"`
}

// Event is the audit trail: who did what to which object.
type Event struct {
	ID     uint64    `gorm:"primaryKey;autoIncrement"`
	Time   time.Time `gorm:"index"`
	Actor  string    `gorm:"size:128"`
	Action string    `gorm:"size:64"`
	Object string    `gorm:"size:128"`
	Detail string    `gorm:"type:text"`
}

// Missed-firing policies: what a schedule does about firings that fell while no server
// was running.
const (
	MissedSkip    = "skip"     // forget them; fire at the next time
	MissedRunOnce = "run_once" // run once for all of them, at start-up
)

// Schedule runs a profile on a cron schedule.
type Schedule struct {
	ID        string `gorm:"primaryKey;size:36"`
	Name      string `gorm:"size:128;uniqueIndex;not null"`
	ProfileID string `gorm:"size:36;index;not null"`
	Cron      string `gorm:"size:128;not null"`
	Missed    string `gorm:"size:16;not null"`
	Paused    bool
	// LastFire is the latest fire time handled (run, skipped or missed).
	LastFire  time.Time
	CreatedBy string `gorm:"size:128"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ScheduleFiring is one fire time of a schedule. Its key makes a firing happen once
// however many servers share the database: the first to insert it runs it.
type ScheduleFiring struct {
	ScheduleID string    `gorm:"primaryKey;size:36"`
	FireTime   time.Time `gorm:"primaryKey"`
	RunID      string    `gorm:"size:36"`
	Owner      string    `gorm:"size:64"`
	Outcome    string    `gorm:"size:32"` // started, skipped (missed while down), failed: ...
	CreatedAt  time.Time
}

// Connection kinds.
const (
	ConnKubernetes = "kubernetes"
	// ConnPrometheus and ConnGrafana are HTTP endpoints: Server holds the URL,
	// ClusterUID their identity ("kind url"), Credential a sealed EndpointCredential.
	ConnPrometheus = "prometheus"
	ConnGrafana    = "grafana"
)

// Connection is the server's link to a Kubernetes cluster, made from a kubeconfig
// context. A cluster is known once, by the UID of its kube-system namespace, however
// many contexts point at it. Its state follows server/connections' state machine.
type Connection struct {
	ID    string `gorm:"primaryKey;size:36"`
	Kind  string `gorm:"size:32;index;not null"`
	Name  string `gorm:"size:128;uniqueIndex;not null"` // the context's name
	State string `gorm:"size:16;index;not null"`
	// ClusterUID is the kube-system namespace's UID: the cluster's identity.
	ClusterUID string `gorm:"size:64;uniqueIndex;not null"`
	Server     string `gorm:"size:512"`
	// Credential is the context's kubeconfig, sealed (server/secrets) and bound to ID.
	Credential     []byte `gorm:"not null"`
	Version        string `gorm:"size:64"`
	NodeCount      int
	LastCheck      *time.Time
	LastError      string `gorm:"type:text"`
	StateChangedAt time.Time
	CreatedBy      string `gorm:"size:128"`
	CreatedAt      time.Time
	UpdatedAt      time.Time
	// MeshSyncMode is how the cluster is discovered: embedded (in the server),
	// operator (in the cluster), or empty for the server's default.
	MeshSyncMode string `gorm:"size:16"`
	// MeshSyncScope limits discovery (JSON of meshsync.Scope; empty: everything).
	MeshSyncScope string `gorm:"type:text"`
}

// ClusterNode is one node of a connected cluster, as its last health check saw it.
type ClusterNode struct {
	ConnectionID   string `gorm:"primaryKey;size:36"`
	Name           string `gorm:"primaryKey;size:253"`
	InstanceType   string `gorm:"size:128"`
	KubeletVersion string `gorm:"size:64"`
	Cores          int32
	MemoryMB       int64
	Ready          bool
}

// AgentDeployment records meshperf agents deployed into a cluster.
type AgentDeployment struct {
	ConnectionID string `gorm:"primaryKey;size:36"`
	Namespace    string `gorm:"primaryKey;size:63"`
	Replicas     int32
	Ready        int32
	Image        string `gorm:"size:512"`
	BrokerURL    string `gorm:"size:512"`
	BrokerSource string `gorm:"size:32"`
	Status       string `gorm:"size:16"` // ready, progressing, failed
	Error        string `gorm:"type:text"`
	UpdatedBy    string `gorm:"size:128"`
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// InventoryObject is one object of a connected cluster as MeshSync last reported it,
// keyed by the cluster's ID (its kube-system UID) and the object's UID.
type InventoryObject struct {
	ClusterUID string `gorm:"primaryKey;size:64;index:idx_inventory_kind,priority:1;index:idx_inventory_name,priority:1;index:idx_inventory_resource,priority:1"`
	UID        string `gorm:"primaryKey;size:64"`
	Group      string `gorm:"column:api_group;size:253;index:idx_inventory_resource,priority:3"`
	Version    string `gorm:"size:64"`
	Resource   string `gorm:"size:253;index:idx_inventory_resource,priority:2"`
	Kind       string `gorm:"size:128;index:idx_inventory_kind,priority:2"`
	Namespace  string `gorm:"size:253;index:idx_inventory_kind,priority:3;index:idx_inventory_name,priority:3"`
	Name       string `gorm:"size:253;index:idx_inventory_kind,priority:4;index:idx_inventory_name,priority:2"`
	// Labels, Annotations and Owners are JSON (a map, a map, a list).
	Labels          string `gorm:"type:text"`
	Annotations     string `gorm:"type:text"`
	Owners          string `gorm:"type:text"`
	ResourceVersion string `gorm:"size:64"`
	// Object is the trimmed object (JSONB on PostgreSQL, text on SQLite); nil for
	// kinds discovered as metadata only.
	Object    *string `gorm:"type:text"`
	Truncated bool
	// Managed says meshperf made it (label app.kubernetes.io/managed-by=meshperf).
	Managed   bool `gorm:"index"`
	FirstSeen time.Time
	LastSeen  time.Time
	// Boot and Seq name the event that last touched the row: a snapshot keeps the rows
	// touched after its start marker.
	Boot string `gorm:"size:64"`
	Seq  int64
}

// InventoryLabel is one label of an inventory object, for label selectors.
type InventoryLabel struct {
	ClusterUID string `gorm:"primaryKey;size:64;index:idx_inventory_label,priority:1"`
	UID        string `gorm:"primaryKey;size:64"`
	Key        string `gorm:"primaryKey;size:317;index:idx_inventory_label,priority:2"`
	Value      string `gorm:"size:63;index:idx_inventory_label,priority:3"`
}

// InventoryStream is where the consumer stands in one cluster's MeshSync events: the
// last boot and sequence applied, the open snapshot, and the last status reported.
type InventoryStream struct {
	ClusterUID string `gorm:"primaryKey;size:64"`
	Boot       string `gorm:"size:64"`
	Seq        int64
	// SnapshotID, SnapshotBoot and SnapshotSeq are the open snapshot's start marker.
	SnapshotID   string `gorm:"size:128"`
	SnapshotBoot string `gorm:"size:64"`
	SnapshotSeq  int64
	// LastSnapshotAt is when a snapshot last completed.
	LastSnapshotAt *time.Time
	// LastEventAt is the last event's send time; LastAppliedAt when it was stored.
	LastEventAt   *time.Time
	LastAppliedAt *time.Time
	// Status is the last status event's body (JSON).
	Status    string `gorm:"type:text"`
	Gaps      int64
	UpdatedAt time.Time
}
