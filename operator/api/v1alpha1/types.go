// Package v1alpha1 holds meshperf's custom resources, group meshperf.io, version
// v1alpha1: Broker (an in-cluster NATS that dials out to the server's broker as a leaf
// node) and MeshSync (a Deployment of `meshperf meshsync` with its scope). The CRD
// manifests (crds/*.yaml, embedded) are written by hand and held to these types by
// the package's tests.
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Group and version of meshperf's resources.
const (
	Group   = "meshperf.io"
	Version = "v1alpha1"
)

// GroupVersion is meshperf.io/v1alpha1.
var GroupVersion = schema.GroupVersion{Group: Group, Version: Version}

// AddToScheme registers Broker and MeshSync (and their lists).
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &Broker{}, &BrokerList{}, &MeshSync{}, &MeshSyncList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}

// Condition types and reasons the operator sets.
const (
	// ConditionReady: everything the resource asks for is applied and, for a
	// Broker, its leaf connection to the server is up.
	ConditionReady = "Ready"
	// ConditionConnected (Broker): the in-cluster broker's leaf connection to the
	// server's broker is up.
	ConditionConnected = "Connected"
	// ConditionSpecValid: the spec can be acted on; False with ReasonInvalidSpec and a
	// message naming the field otherwise (no retry until the spec changes).
	ConditionSpecValid = "SpecValid"

	ReasonApplied      = "Applied"
	ReasonInvalidSpec  = "InvalidSpec"
	ReasonApplyFailed  = "ApplyFailed"
	ReasonConnected    = "LeafConnected"
	ReasonDisconnected = "LeafDisconnected"
	ReasonUnknown      = "StatusUnknown"
	ReasonWaiting      = "WaitingForBroker"
)

// SecretKeyRef names one key of a Secret in the resource's namespace.
type SecretKeyRef struct {
	// Name of the Secret.
	Name string `json:"name"`
	// Key in the Secret's data (default "token").
	Key string `json:"key,omitempty"`
}

// BrokerSpec is the wanted in-cluster broker.
type BrokerSpec struct {
	// ServerURL is the server's leaf node listener that the in-cluster broker dials
	// (nats-leaf://host:7422, tls://host:7422 or wss://host/leaf): the cluster needs
	// no inbound port.
	ServerURL string `json:"serverURL"`
	// CredentialsSecret holds the cluster's credential (from `meshperf cluster
	// meshsync-credential`); the same token authenticates in-cluster clients.
	CredentialsSecret SecretKeyRef `json:"credentialsSecret"`
	// Image runs the broker (default: the operator's own image).
	Image string `json:"image,omitempty"`
	// Port is the in-cluster client port (default 4222).
	Port int32 `json:"port,omitempty"`
}

// BrokerStatus is what the operator observed.
type BrokerStatus struct {
	// ObservedGeneration is the spec generation this status is about.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Endpoint is the in-cluster URL clients (MeshSync) connect to.
	Endpoint string `json:"endpoint,omitempty"`
	// Connected says whether the leaf connection to the server is up.
	Connected bool `json:"connected"`
	// Version is the broker's meshperf version, as it reports it.
	Version string `json:"version,omitempty"`
	// LastSeen is when the broker last answered the operator's probe.
	LastSeen *metav1.Time `json:"lastSeen,omitempty"`
	// Conditions in the standard shape (Ready, Connected, SpecValid).
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Broker is an in-cluster NATS broker that connects out to the meshperf server.
type Broker struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   BrokerSpec   `json:"spec"`
	Status BrokerStatus `json:"status,omitempty"`
}

// BrokerList is a list of Brokers.
type BrokerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Broker `json:"items"`
}

// MeshSyncScope limits what MeshSync watches (see meshsync.Scope).
type MeshSyncScope struct {
	// IncludeKinds: watch only these kinds ("Pod", "deployments.apps"); empty: all.
	IncludeKinds []string `json:"includeKinds,omitempty"`
	// ExcludeKinds: never watch these kinds.
	ExcludeKinds []string `json:"excludeKinds,omitempty"`
	// IncludeNamespaces: watch only these namespaces; empty: all.
	IncludeNamespaces []string `json:"includeNamespaces,omitempty"`
	// ExcludeNamespaces: never watch these namespaces.
	ExcludeNamespaces []string `json:"excludeNamespaces,omitempty"`
	// FullKinds: kinds kept whole (trimmed) beyond the defaults.
	FullKinds []string `json:"fullKinds,omitempty"`
}

// MeshSyncSpec is the wanted discovery.
type MeshSyncSpec struct {
	// Broker names the Broker (same namespace) MeshSync publishes through.
	Broker string `json:"broker"`
	// Scope limits the kinds and namespaces watched.
	Scope MeshSyncScope `json:"scope,omitempty"`
	// WatchNodes lets MeshSync list and watch Nodes (off: no access to nodes).
	WatchNodes bool `json:"watchNodes,omitempty"`
	// Image runs MeshSync (default: the operator's own image).
	Image string `json:"image,omitempty"`
}

// MeshSyncStatus is what the operator observed.
type MeshSyncStatus struct {
	// ObservedGeneration is the spec generation this status is about.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Objects is how many objects MeshSync last reported watching.
	Objects int64 `json:"objects,omitempty"`
	// LastEvent is when MeshSync last published an event, as it reports it.
	LastEvent *metav1.Time `json:"lastEvent,omitempty"`
	// Version is the meshperf version the Deployment runs.
	Version string `json:"version,omitempty"`
	// ReadyReplicas of MeshSync's Deployment.
	ReadyReplicas int32 `json:"readyReplicas"`
	// Conditions in the standard shape (Ready, SpecValid).
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// MeshSync is one cluster's discovery, run as a Deployment of `meshperf meshsync`.
type MeshSync struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   MeshSyncSpec   `json:"spec"`
	Status MeshSyncStatus `json:"status,omitempty"`
}

// MeshSyncList is a list of MeshSyncs.
type MeshSyncList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []MeshSync `json:"items"`
}
