// Package meshsync is meshperf's cluster discovery: informers over a cluster's API
// resources (built-in kinds and CRDs, found through discovery) become trimmed,
// versioned events on the bus (stream MESHSYNC), with snapshot markers around full
// listings. The same code runs inside the server for each connected cluster
// (embedded mode) and as `meshperf meshsync` in the cluster (operator mode).
//
// It never imports server: it speaks only kube, bus and NATS.
package meshsync

import (
	"context"
	"errors"
	"log/slog"

	"github.com/nats-io/nats.go"
	"k8s.io/client-go/rest"
)

// Modes of running.
const (
	ModeEmbedded = "embedded"
	ModeOperator = "operator"
)

// Scope limits what is watched, applied to the watches themselves (a kind or
// namespace out of scope is never listed or watched).
type Scope struct {
	// IncludeKinds and ExcludeKinds name kinds ("Pod") or resources with their group
	// ("deployments.apps", "virtualservices.networking.istio.io"). Empty include: all.
	IncludeKinds []string `json:"include_kinds,omitempty" yaml:"include_kinds,omitempty"`
	ExcludeKinds []string `json:"exclude_kinds,omitempty" yaml:"exclude_kinds,omitempty"`
	// IncludeNamespaces and ExcludeNamespaces limit namespaced resources. Empty
	// include: all.
	IncludeNamespaces []string `json:"include_namespaces,omitempty" yaml:"include_namespaces,omitempty"`
	ExcludeNamespaces []string `json:"exclude_namespaces,omitempty" yaml:"exclude_namespaces,omitempty"`
	// FullKinds are kinds kept whole (trimmed) beyond the defaults; every other kind
	// travels as metadata only.
	FullKinds []string `json:"full_kinds,omitempty" yaml:"full_kinds,omitempty"`
}

// Options configure one cluster's discovery.
type Options struct {
	// Cluster is the cluster's ID (its kube-system namespace's UID); empty: found by
	// reading kube-system.
	Cluster string
	Config  *rest.Config
	// NC publishes events (JetStream, stream MESHSYNC, which must exist) and hears
	// the cluster's control subject.
	NC    *nats.Conn
	Mode  string // ModeEmbedded or ModeOperator (reported in status events)
	Scope Scope
	// Version is meshperf's version, reported in status events.
	Version string
	Logger  *slog.Logger
}

// Run discovers the cluster until ctx ends: a snapshot first, then events as the
// cluster changes, a new snapshot on request and after a lost watch.
func Run(ctx context.Context, opt Options) error {
	return errors.New("meshsync: not built yet")
}
