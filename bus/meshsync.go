package bus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// MeshSync's stream and subjects. Every cluster has its own events subject (so the
// broker can let an in-cluster MeshSync publish only as its own cluster) and its own
// control subject. A cluster is named by its ID: the UID of its kube-system namespace,
// which MeshSync finds by itself in either mode.
const MeshSyncStream = "MESHSYNC"

// MeshSyncSubjects are the subjects of the MESHSYNC stream.
func MeshSyncSubjects() []string { return []string{subjectPrefix + "meshsync.*.events"} }

// Bounds of the MESHSYNC stream: events wait there while the server is down, and the
// oldest go first when a bound is reached (the consumer then finds a gap in the
// sequence and asks for a snapshot, so nothing is silently lost).
const (
	MeshSyncMaxAge            = 7 * 24 * time.Hour
	MeshSyncMaxBytes          = 4 << 30
	MeshSyncMaxMsgSize        = 1 << 20 // NATS's default max payload; larger objects travel truncated
	MeshSyncDuplicateWindow   = 2 * time.Minute
	MeshSyncMaxMsgsPerSubject = 5_000_000
)

// MeshSyncEvents is where one cluster's discovery events go (stream MESHSYNC).
func MeshSyncEvents(cluster string) (string, error) {
	if err := CheckToken("cluster", cluster); err != nil {
		return "", err
	}
	return subjectPrefix + "meshsync." + cluster + ".events", nil
}

// AllMeshSyncEvents is the wildcard the server consumes.
func AllMeshSyncEvents() string { return subjectPrefix + "meshsync.*.events" }

// MeshSyncControl carries resync and snapshot requests to one cluster's MeshSync
// (core NATS, not stored: a MeshSync that is not running snapshots when it starts).
func MeshSyncControl(cluster string) (string, error) {
	if err := CheckToken("cluster", cluster); err != nil {
		return "", err
	}
	return subjectPrefix + "meshsync." + cluster + ".control", nil
}

// MeshSyncCluster is the cluster a MeshSync events subject names ("" if it is not one).
func MeshSyncCluster(subject string) string {
	t := strings.Split(subject, ".")
	if len(t) != 5 || subjectPrefix != t[0]+"."+t[1]+"." || t[2] != "meshsync" || t[4] != "events" {
		return ""
	}
	return t[3]
}

// MeshSyncInbox is the only prefix an in-cluster MeshSync's replies (JetStream acks)
// may use.
func MeshSyncInbox(cluster string) string { return subjectPrefix + "inbox.meshsync-" + cluster }

// MeshSyncPermissions is everything an in-cluster MeshSync of cluster may do: publish
// its own cluster's events, hear its own control subject and get its replies.
func MeshSyncPermissions(cluster string) (Permissions, error) {
	ev, err := MeshSyncEvents(cluster)
	if err != nil {
		return Permissions{}, err
	}
	ctl, _ := MeshSyncControl(cluster)
	return Permissions{
		Publish:   []string{ev},
		Subscribe: []string{ctl, MeshSyncInbox(cluster) + ".>"},
	}, nil
}

// Kinds of MeshSync message (the envelope's Kind; Sender is the cluster ID, Boot the
// discovering process, Seq counts that process's events of the cluster from 1 without
// holes, so the consumer can tell a gap).
const (
	KindMeshSyncEvent   = "meshsync.event"
	KindMeshSyncControl = "meshsync.control"
)

// Types of MeshSync event.
const (
	EventAdded    = "added"
	EventModified = "modified"
	EventDeleted  = "deleted"
	// EventSnapshotStart and EventSnapshotEnd enclose a full listing of Resources:
	// after the end marker, the consumer removes every object of those resources of
	// the cluster that it has not heard of since the start marker (deleted while
	// nobody watched).
	EventSnapshotStart = "snapshot-start"
	EventSnapshotEnd   = "snapshot-end"
	// EventStatus reports the discovering process's health (no object).
	EventStatus = "status"
)

// MeshSyncEvent is one discovery event.
type MeshSyncEvent struct {
	Cluster string `json:"cluster" yaml:"cluster"`
	Type    string `json:"type" yaml:"type"`
	// Snapshot names the snapshot an event belongs to (markers, and objects listed
	// inside one).
	Snapshot string `json:"snapshot,omitempty" yaml:"snapshot,omitempty"`
	// Resources covered by a snapshot, as "resource.version.group" ("pods.v1." for the
	// core group): on markers only.
	Resources []string `json:"resources,omitempty" yaml:"resources,omitempty"`
	// Reason says why a snapshot was taken (markers only): start, new resource, relist,
	// resync (with the requester's reason), resource removed (an empty snapshot).
	Reason string `json:"reason,omitempty" yaml:"reason,omitempty"`
	// Count is the number of objects a snapshot listed (end marker only).
	Count  int             `json:"count,omitempty" yaml:"count,omitempty"`
	Object *MeshSyncObject `json:"object,omitempty" yaml:"object,omitempty"`
	Status *MeshSyncStatus `json:"status,omitempty" yaml:"status,omitempty"`
}

// MeshSyncObject is one object as discovered: identity and metadata always; the
// trimmed object only for the kinds kept whole (managedFields, the last-applied
// annotation and every Secret's data are never shipped).
type MeshSyncObject struct {
	Group           string            `json:"group" yaml:"group"`
	Version         string            `json:"version" yaml:"version"`
	Resource        string            `json:"resource" yaml:"resource"`
	Kind            string            `json:"kind" yaml:"kind"`
	Namespace       string            `json:"namespace,omitempty" yaml:"namespace,omitempty"`
	Name            string            `json:"name" yaml:"name"`
	UID             string            `json:"uid" yaml:"uid"`
	ResourceVersion string            `json:"resource_version" yaml:"resource_version"`
	Labels          map[string]string `json:"labels,omitempty" yaml:"labels,omitempty"`
	Annotations     map[string]string `json:"annotations,omitempty" yaml:"annotations,omitempty"`
	Owners          []OwnerRef        `json:"owners,omitempty" yaml:"owners,omitempty"`
	// Object is the trimmed object (JSON), absent for metadata-only kinds.
	Object json.RawMessage `json:"object,omitempty" yaml:"object,omitempty"`
	// Truncated says Object was dropped because the event would exceed the stream's
	// message size.
	Truncated bool `json:"truncated,omitempty" yaml:"truncated,omitempty"`
}

// OwnerRef is one owner reference.
type OwnerRef struct {
	APIVersion string `json:"api_version" yaml:"api_version"`
	Kind       string `json:"kind" yaml:"kind"`
	Name       string `json:"name" yaml:"name"`
	UID        string `json:"uid" yaml:"uid"`
	Controller bool   `json:"controller,omitempty" yaml:"controller,omitempty"`
}

// MeshSyncStatus is a discovering process's health.
type MeshSyncStatus struct {
	Mode         string    `json:"mode" yaml:"mode"` // embedded or operator
	State        string    `json:"state" yaml:"state"`
	WatchesOpen  int       `json:"watches_open" yaml:"watches_open"`
	Resources    int       `json:"resources" yaml:"resources"`
	Objects      int       `json:"objects" yaml:"objects"`
	LastError    string    `json:"last_error,omitempty" yaml:"last_error,omitempty"`
	LastErrorAt  time.Time `json:"last_error_at,omitzero" yaml:"last_error_at,omitempty"`
	StartedAt    time.Time `json:"started_at" yaml:"started_at"`
	MeshperfVers string    `json:"meshperf_version,omitempty" yaml:"meshperf_version,omitempty"`
}

// Types of MeshSync control message.
const (
	// ControlResync asks for a snapshot of every watched resource (or of Resources).
	ControlResync = "resync"
)

// MeshSyncControlMsg asks a cluster's MeshSync for something.
type MeshSyncControlMsg struct {
	Type      string   `json:"type" yaml:"type"`
	Reason    string   `json:"reason,omitempty" yaml:"reason,omitempty"`
	Resources []string `json:"resources,omitempty" yaml:"resources,omitempty"`
}

// DecodeMeshSync reads and validates a MeshSync envelope (event or control), as
// strictly as Decode: anything inconsistent is an error naming what is wrong.
func DecodeMeshSync(data []byte) (*Envelope, error) {
	if len(data) > maxMessageBytes {
		return nil, fmt.Errorf("message is %d bytes; the limit is %d", len(data), maxMessageBytes)
	}
	// encoding/json, strict: the YAML-based smp.DecodeStrict cannot carry an object
	// body (json.RawMessage), and a snapshot of 50k objects needs the fast path.
	var e Envelope
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return nil, fmt.Errorf("not a meshperf message: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("not a meshperf message: data after the message")
	}
	if e.Version != SchemaVersion {
		return nil, fmt.Errorf("schema version %d; this side speaks %d", e.Version, SchemaVersion)
	}
	switch e.Kind {
	case KindMeshSyncEvent:
		if err := checkMeshSyncEvent(&e); err != nil {
			return nil, err
		}
	case KindMeshSyncControl:
		if e.MeshSyncControl == nil || e.MeshSyncEvent != nil || e.Heartbeat != nil || e.Assign != nil || e.Cancel != nil || e.Interval != nil {
			return nil, fmt.Errorf("a meshsync.control message needs exactly its control body")
		}
		if e.MeshSyncControl.Type != ControlResync {
			return nil, fmt.Errorf("control type %q: want %q", e.MeshSyncControl.Type, ControlResync)
		}
	default:
		return nil, fmt.Errorf("kind %q is not a MeshSync message", e.Kind)
	}
	return &e, nil
}

func checkMeshSyncEvent(e *Envelope) error {
	ev := e.MeshSyncEvent
	if ev == nil || e.MeshSyncControl != nil || e.Heartbeat != nil || e.Assign != nil || e.Cancel != nil || e.Interval != nil {
		return fmt.Errorf("a meshsync.event message needs exactly its event body")
	}
	if e.Sender == "" || e.Seq == 0 || e.Boot == "" || len(e.Boot) > 64 {
		return fmt.Errorf("sender, boot (1 to 64 characters) and seq (from 1) are required")
	}
	if ev.Cluster != e.Sender {
		return fmt.Errorf("cluster %q: the sender is %q", ev.Cluster, e.Sender)
	}
	switch ev.Type {
	case EventAdded, EventModified, EventDeleted:
		o := ev.Object
		if o == nil || ev.Status != nil {
			return fmt.Errorf("a %s event needs an object and no status", ev.Type)
		}
		if o.Version == "" || o.Resource == "" || o.Kind == "" || o.Name == "" || o.UID == "" {
			return fmt.Errorf("object: version, resource, kind, name and uid are required")
		}
		if len(o.Object) > 0 && !json.Valid(o.Object) {
			return fmt.Errorf("object.object: not JSON")
		}
	case EventSnapshotStart, EventSnapshotEnd:
		if ev.Snapshot == "" || len(ev.Resources) == 0 || ev.Object != nil || ev.Status != nil {
			return fmt.Errorf("a %s marker needs snapshot and resources, and no object", ev.Type)
		}
		if ev.Count < 0 {
			return fmt.Errorf("count %d: cannot be negative", ev.Count)
		}
	case EventStatus:
		if ev.Status == nil || ev.Object != nil {
			return fmt.Errorf("a status event needs a status and no object")
		}
	default:
		return fmt.Errorf("event type %q: want added, modified, deleted, snapshot-start, snapshot-end or status", ev.Type)
	}
	return nil
}

// ResourceKey names a group/version/resource as snapshot markers do:
// "resource.version.group" ("pods.v1." for the core group).
func ResourceKey(group, version, resource string) string {
	return resource + "." + version + "." + group
}

// MeshSyncStreamConfig is the MESHSYNC stream as the broker creates it: file storage,
// bounded every way with the oldest going first, and a duplicate window so a publish
// retried after a lost ack (same Nats-Msg-Id) is stored once.
func MeshSyncStreamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              MeshSyncStream,
		Subjects:          MeshSyncSubjects(),
		Storage:           jetstream.FileStorage,
		MaxAge:            MeshSyncMaxAge,
		MaxBytes:          MeshSyncMaxBytes,
		MaxMsgSize:        MeshSyncMaxMsgSize,
		MaxMsgsPerSubject: MeshSyncMaxMsgsPerSubject,
		Discard:           jetstream.DiscardOld,
		Duplicates:        MeshSyncDuplicateWindow,
	}
}

// MeshSyncMsgID is the Nats-Msg-Id of one event: a retried publish carries the same
// id and JetStream stores it once.
func MeshSyncMsgID(boot string, seq uint64) string {
	return boot + "-" + strconv.FormatUint(seq, 10)
}
