package meshsync

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"

	"github.com/meshperf/meshperf/bus"
)

// resource is one API resource MeshSync watches.
type resource struct {
	GVR        schema.GroupVersionResource
	Kind       string
	Namespaced bool
	// Full: the trimmed object travels (and is cached); otherwise metadata only.
	Full bool
}

// key names the resource as snapshot markers do ("pods.v1.", "deployments.v1.apps").
func (r resource) key() string { return bus.ResourceKey(r.GVR.Group, r.GVR.Version, r.GVR.Resource) }

// fullByDefault are the kinds that identify infrastructure (meshes, gateways,
// monitoring, workloads): kept whole, trimmed. Everything else is metadata only.
var fullByDefault = []string{
	"pods", "services", "namespaces",
	"deployments.apps", "daemonsets.apps", "statefulsets.apps",
	"customresourcedefinitions.apiextensions.k8s.io",
	"mutatingwebhookconfigurations.admissionregistration.k8s.io",
	"validatingwebhookconfigurations.admissionregistration.k8s.io",
}

// quietByDefault are never watched unless IncludeKinds names them: they change every
// few seconds (node leases, events) and describe no inventory; core Endpoints are
// deprecated for EndpointSlices, which are watched.
var quietByDefault = []string{"events", "events.events.k8s.io", "leases.coordination.k8s.io", "endpoints"}

// names reports whether any of names designates r: its kind ("Pod"), its resource
// ("pods", core group only), or either with its group ("deployments.apps",
// "Deployment.apps").
func (r resource) namedBy(names []string) bool {
	kind := strings.ToLower(r.Kind)
	for _, n := range names {
		n = strings.ToLower(strings.TrimSpace(n))
		switch {
		case n == kind, n == r.GVR.Resource && r.GVR.Group == "":
			return true
		case r.GVR.Group != "" && (n == r.GVR.Resource+"."+r.GVR.Group || n == kind+"."+r.GVR.Group):
			return true
		}
	}
	return false
}

// isSecret: Secrets are metadata only, always, whatever the scope says.
func (r resource) isSecret() bool { return r.GVR.Group == "" && r.GVR.Resource == "secrets" }

// inScope reports whether the scope lets r be watched at all.
func (s Scope) inScope(r resource) bool {
	if len(s.IncludeKinds) > 0 && !r.namedBy(s.IncludeKinds) {
		return false
	}
	if r.namedBy(s.ExcludeKinds) {
		return false
	}
	if r.namedBy(quietByDefault) && !r.namedBy(s.IncludeKinds) {
		return false
	}
	return true
}

// complete fills in whether r travels whole.
func (s Scope) complete(r resource) resource {
	r.Full = !r.isSecret() && (r.namedBy(fullByDefault) || r.namedBy(s.FullKinds))
	return r
}

// Check reports a scope that names nothing sensible (an empty or wildcard name).
func (s Scope) Check() error {
	for field, list := range map[string][]string{"include_kinds": s.IncludeKinds, "exclude_kinds": s.ExcludeKinds,
		"include_namespaces": s.IncludeNamespaces, "exclude_namespaces": s.ExcludeNamespaces, "full_kinds": s.FullKinds} {
		for i, n := range list {
			if strings.TrimSpace(n) == "" || strings.ContainsAny(n, "*,= \t") {
				return fmt.Errorf("scope.%s[%d]: %q is not a kind, resource or namespace name", field, i, n)
			}
		}
	}
	for _, n := range s.IncludeNamespaces {
		if slices.Contains(s.ExcludeNamespaces, n) {
			return fmt.Errorf("scope: namespace %q is both included and excluded", n)
		}
	}
	return nil
}

// discover lists the API resources that can be listed and watched, one version per
// resource (the group's preferred one), in scope. A group that fails discovery (an
// aggregated API that is down) is reported and the others are kept.
func discover(dc discovery.DiscoveryInterface, scope Scope) ([]resource, error) {
	lists, derr := discovery.ServerPreferredResources(dc)
	if len(lists) == 0 && derr != nil {
		return nil, fmt.Errorf("discovering the API resources: %w", derr)
	}
	var out []resource
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, ar := range l.APIResources {
			if strings.Contains(ar.Name, "/") || !canListWatch(ar) {
				continue
			}
			r := resource{GVR: gv.WithResource(ar.Name), Kind: ar.Kind, Namespaced: ar.Namespaced}
			if scope.inScope(r) {
				out = append(out, scope.complete(r))
			}
		}
	}
	slices.SortFunc(out, func(a, b resource) int { return strings.Compare(a.key(), b.key()) })
	if derr != nil {
		return out, fmt.Errorf("discovery was partial: %w", derr)
	}
	return out, nil
}

func canListWatch(ar metav1.APIResource) bool {
	return slices.Contains(ar.Verbs, "list") && slices.Contains(ar.Verbs, "watch")
}

// WatchedResources are the API resources MeshSync with scope would watch in the
// cluster dc describes (the operator grants MeshSync's service account exactly
// these, read-only). A partial discovery returns what it found with the error.
func WatchedResources(dc discovery.DiscoveryInterface, scope Scope) ([]schema.GroupVersionResource, error) {
	rs, err := discover(dc, scope)
	out := make([]schema.GroupVersionResource, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.GVR)
	}
	return out, err
}
