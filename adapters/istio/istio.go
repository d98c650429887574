// Package istio is meshperf's Istio adapter: Istio's official Helm charts (base, then
// istiod) in istio-system, injection by the istio-injection namespace label, mesh-wide
// mTLS by a PeerAuthentication.
package istio

import (
	"context"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshperf/meshperf/adapters/adapter"
	"github.com/meshperf/meshperf/adapters/charts"
	"github.com/meshperf/meshperf/adapters/helmmesh"
)

// DefaultRepo is Istio's official chart repository.
const DefaultRepo = "https://istio-release.storage.googleapis.com/charts"

// New returns the Istio mesh reading charts from repoURL ("" = DefaultRepo).
func New(repoURL, sampleImage string) *helmmesh.Mesh {
	if repoURL == "" {
		repoURL = DefaultRepo
	}
	return &helmmesh.Mesh{Repo: charts.NewRepo(repoURL), SampleImage: sampleImage, Spec: Spec()}
}

func ptr(s string) *string { return &s }

// values point both charts at the install's namespace (the charts default to
// istio-system).
func values(_ context.Context, _ *charts.Cluster, op adapter.Operation) (map[string]any, error) {
	return map[string]any{"global": map[string]any{"istioNamespace": op.Namespace}}, nil
}

// Spec is Istio's knowledge.
func Spec() helmmesh.Spec {
	return helmmesh.Spec{
		Mesh:             "istio",
		DefaultNamespace: "istio-system",
		Charts:           []helmmesh.Chart{{Name: "base", Release: "istio-base", Values: values}, {Name: "istiod", Release: "istiod", Values: values}},
		VersionChart:     "istiod",
		Injection: func(enabled bool) (map[string]*string, map[string]*string) {
			if enabled {
				return map[string]*string{"istio-injection": ptr("enabled")}, nil
			}
			return map[string]*string{"istio-injection": ptr("disabled")}, nil
		},
		PodInjection: func(inject bool) (map[string]string, map[string]string) {
			if inject {
				return map[string]string{"sidecar.istio.io/inject": "true"}, nil
			}
			return map[string]string{"sidecar.istio.io/inject": "false"}, nil
		},
		MTLS: func(mode, ns string) ([]*unstructured.Unstructured, map[string]*string) {
			return []*unstructured.Unstructured{{Object: map[string]any{
				"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
				"metadata": map[string]any{"name": "default", "namespace": ns},
				"spec":     map[string]any{"mtls": map[string]any{"mode": strings.ToUpper(mode)}},
			}}}, nil
		},
	}
}
