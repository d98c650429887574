// Package adapter is the library every meshperf mesh adapter is built on, so that an
// adapter is mostly its mesh's knowledge (a Mesh). The library serves the v1 gRPC
// contract (adapters/proto/meshperf/adapter/v1) with gRPC health and reflection; runs
// each operation on all its clusters in parallel, each under its own deadline, so one
// cluster failing fails only its own part; keeps every operation's events in order
// (a sequence over the operation and one per cluster) so a subscriber can resume from
// any sequence and none is lost; and registers the adapter with meshperf's server,
// idempotently, retrying with back-off while the server is away.
//
// Unlike Meshery's adapters (see the reference notes) results are per cluster, events
// are never merged nor dropped, and there is no sleep between them.
package adapter

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"k8s.io/client-go/rest"

	adapterv1 "github.com/meshperf/meshperf/adapters/proto/meshperf/adapter/v1"
)

// Mesh is what an adapter knows of its mesh.
type Mesh interface {
	// Name is the mesh's name: "istio", "linkerd".
	Name() string
	// Versions lists the versions it can install, newest first.
	Versions(ctx context.Context) ([]string, error)
	// Source says where the versions come from (a chart repository URL).
	Source() string
	// Operations lists the operations offered, with their parameters.
	Operations() []*adapterv1.OperationDescriptor
	// Do performs op on one cluster. It returns the operation's outputs (for example
	// the installed "version") or an error; a *Failure gives the cause and remedy.
	Do(ctx context.Context, op Operation, c Target) (map[string]string, error)
}

// Operation is one operation as a Mesh sees it: validated, defaults applied.
type Operation struct {
	ID         string
	Kind       adapterv1.OperationKind
	Namespace  string
	Version    string
	Parameters map[string]string
}

// Target is the cluster a Mesh works on, with the way to report progress.
type Target struct {
	Name       string
	Kubeconfig []byte
	Config     *rest.Config
	// Emit records an event of this cluster (in order, never dropped).
	Emit func(sev adapterv1.Severity, summary, details string)
}

// Info is shorthand for an info event.
func (t Target) Info(format string, args ...any) {
	if t.Emit != nil {
		t.Emit(adapterv1.Severity_SEVERITY_INFO, fmt.Sprintf(format, args...), "")
	}
}

// Warn is shorthand for a warning event.
func (t Target) Warn(format string, args ...any) {
	if t.Emit != nil {
		t.Emit(adapterv1.Severity_SEVERITY_WARN, fmt.Sprintf(format, args...), "")
	}
}

// Failure is an error with its probable cause and a suggested remedy.
type Failure struct {
	Summary string
	Cause   string
	Remedy  string
	Err     error
	// Details are outputs worth keeping even though the cluster's part failed (a
	// validate operation's report).
	Details map[string]string
}

func (f *Failure) Error() string {
	if f.Err != nil {
		return f.Summary + ": " + f.Err.Error()
	}
	return f.Summary
}

func (f *Failure) Unwrap() error { return f.Err }

// Fail builds a Failure.
func Fail(err error, summary, cause, remedy string) error {
	return &Failure{Summary: summary, Cause: cause, Remedy: remedy, Err: err}
}

// explain turns any error of a cluster's work into summary, cause and remedy.
func explain(err error, cluster string) (summary, cause, remedy string) {
	var f *Failure
	if errors.As(err, &f) {
		summary, cause, remedy = f.Error(), f.Cause, f.Remedy
	} else {
		summary = err.Error()
	}
	if cause != "" {
		return summary, cause, remedy
	}
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		cause = "the cluster's deadline passed before the operation finished"
		remedy = "check that the cluster's API server answers and its workloads become ready; raise the per-cluster timeout"
	case errors.Is(err, context.Canceled):
		cause = "the operation was cancelled (the adapter is stopping)"
		remedy = "apply the operation again"
	case errors.As(err, &oe), errors.As(err, &ne), strings.Contains(summary, "connection refused"),
		strings.Contains(summary, "connection reset"), strings.Contains(summary, "EOF"):
		cause = "the API server of cluster " + cluster + " is unreachable"
		remedy = "check the cluster's connection (meshperf cluster check) and that its API server is up"
	default:
		cause = "the cluster refused or failed the operation"
		remedy = "read the events of this cluster for details"
	}
	return summary, cause, remedy
}
