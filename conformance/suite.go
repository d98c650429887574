// Package conformance runs mesh conformance suites against a Kubernetes cluster and
// reports, signs and verifies their results.
//
// The structure is Gateway API's conformance suite: a test has a short name, a
// description, the features it needs and manifests, and registers itself; features
// belong to profiles as core or extended; a profile's result is failure (anything
// failed), partial (something skipped) or success, core and extended apart. Profiles:
// SMI (SMI v0.6.0, archived by the CNCF on 2023-10-03; Meshery's assertions done
// right, plus what Meshery never tested), and GAMMA's MESH-HTTP and MESH-GRPC.
//
// Every test deploys meshperf's own sample application (`meshperf target` in its
// conformance role) as app-a, app-b and app-c, and asks one app to call another
// (POST /call), reaching the apps through a Reacher (the API server's service proxy
// in production). Run is the one entry point (CLI, server, adapters' validate).
package conformance

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Feature is a capability a test needs.
type Feature string

// Features of the SMI profile.
const (
	FeatureSMITrafficAccess  Feature = "SMITrafficAccess"
	FeatureSMITrafficSpecs   Feature = "SMITrafficSpecsHTTP"
	FeatureSMITrafficSplit   Feature = "SMITrafficSplit"
	FeatureSMIHeaderMatches  Feature = "SMITrafficSpecsHeaders"
	FeatureSMIPortRestrict   Feature = "SMITrafficAccessPorts"
	FeatureSMITrafficMetrics Feature = "SMITrafficMetrics"
)

// Features of the GAMMA mesh profiles (Gateway API's names).
const (
	FeatureMesh                       Feature = "Mesh"
	FeatureHTTPRoute                  Feature = "HTTPRoute"
	FeatureGRPCRoute                  Feature = "GRPCRoute"
	FeatureHTTPRouteQueryParamMatch   Feature = "HTTPRouteQueryParamMatching"
	FeatureHTTPRouteMethodMatch       Feature = "HTTPRouteMethodMatching"
	FeatureHTTPRoutePathRedirect      Feature = "HTTPRoutePathRedirect"
	FeatureHTTPRouteBackendRequestHdr Feature = "HTTPRouteBackendRequestHeaderModification"
)

// Profile groups features.
type Profile struct {
	Name     string
	Core     []Feature
	Extended []Feature
	// Specification names what the profile checks, for reports.
	Specification string
	// Namespace is the prefix of the namespaces its runs use.
	namespace string
}

// Profile names.
const (
	ProfileSMI      = "SMI"
	ProfileMeshHTTP = "MESH-HTTP"
	ProfileMeshGRPC = "MESH-GRPC"
)

// SMIArchived is said wherever SMI results are shown.
const SMIArchived = "SMI v0.6.0 (access v1alpha3, specs v1alpha4, split v1alpha4, metrics v1alpha1); the specification was archived by the CNCF on 2023-10-03"

// Profiles are the known profiles.
var Profiles = []Profile{
	{Name: ProfileSMI, Specification: SMIArchived, namespace: "mpconf-smi",
		Core:     []Feature{FeatureSMITrafficAccess, FeatureSMITrafficSpecs, FeatureSMITrafficSplit},
		Extended: []Feature{FeatureSMIHeaderMatches, FeatureSMIPortRestrict, FeatureSMITrafficMetrics}},
	{Name: ProfileMeshHTTP, Specification: "Gateway API " + GatewayAPIVersion + " GAMMA mesh profile MESH-HTTP", namespace: "mpconf-mhttp",
		Core:     []Feature{FeatureMesh, FeatureHTTPRoute},
		Extended: []Feature{FeatureHTTPRouteQueryParamMatch, FeatureHTTPRouteMethodMatch, FeatureHTTPRoutePathRedirect, FeatureHTTPRouteBackendRequestHdr}},
	{Name: ProfileMeshGRPC, Specification: "Gateway API " + GatewayAPIVersion + " GAMMA mesh profile MESH-GRPC", namespace: "mpconf-mgrpc",
		Core: []Feature{FeatureMesh, FeatureGRPCRoute}},
}

// GatewayAPIVersion is the Gateway API release whose mesh profiles the suite follows.
const GatewayAPIVersion = "v1.6.3"

// ProfileByName finds a profile, case-insensitively.
func ProfileByName(name string) (Profile, bool) {
	for _, p := range Profiles {
		if strings.EqualFold(p.Name, strings.TrimSpace(name)) {
			return p, true
		}
	}
	return Profile{}, false
}

// ParseProfiles splits a comma-separated list of profile names; an unknown name is
// an error naming it and the known ones.
func ParseProfiles(list string) ([]string, error) {
	var out []string
	for _, n := range strings.Split(list, ",") {
		if strings.TrimSpace(n) == "" {
			continue
		}
		p, ok := ProfileByName(n)
		if !ok {
			names := make([]string, len(Profiles))
			for i, p := range Profiles {
				names[i] = p.Name
			}
			return nil, fmt.Errorf("profile %q is not known (known: %s)", strings.TrimSpace(n), strings.Join(names, ", "))
		}
		out = append(out, p.Name)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("profile: none given")
	}
	return out, nil
}

func (p Profile) isCore(f Feature) bool {
	for _, c := range p.Core {
		if c == f {
			return true
		}
	}
	return false
}

// Test is one conformance test.
type Test struct {
	ShortName   string
	Description string
	Profile     string
	// Spec is the SMI specification the test belongs to (traffic-access,
	// traffic-specs, traffic-split, traffic-metrics), for the Meshery-compatible view.
	Spec     string
	Features []Feature
	// Manifests are applied (server-side) into the profile's namespace before Test
	// runs and deleted after it; namespace is filled in.
	Manifests func(ns string) []*unstructured.Unstructured
	Test      func(t *T)
}

var registry []Test

// Register adds tests to the suite; a short name used twice panics at init.
func Register(tests ...Test) {
	for _, t := range tests {
		for _, have := range registry {
			if have.ShortName == t.ShortName {
				panic("conformance: test " + t.ShortName + " registered twice")
			}
		}
		registry = append(registry, t)
	}
}

// Tests returns the registered tests of a profile (all when profile is ""), in
// registration order.
func Tests(profile string) []Test {
	var out []Test
	for _, t := range registry {
		if profile == "" || t.Profile == profile {
			out = append(out, t)
		}
	}
	return out
}

// extended says whether the test needs an extended feature of its profile.
func (t Test) extended(p Profile) bool {
	for _, f := range t.Features {
		if !p.isCore(f) {
			return true
		}
	}
	return false
}

// Outcome of a test.
type Outcome string

// Outcomes.
const (
	Pass Outcome = "pass"
	Fail Outcome = "fail"
	Skip Outcome = "skip"
)

// Result rule: failure > partial > success.
const (
	ResultSuccess = "success"
	ResultPartial = "partial"
	ResultFailure = "failure"
)

// Assertion is one check of a test: what was expected and what was observed.
type Assertion struct {
	Description string `json:"description" yaml:"description"`
	Expected    string `json:"expected" yaml:"expected"`
	Observed    string `json:"observed" yaml:"observed"`
	Passed      bool   `json:"passed" yaml:"passed"`
}

// T is what a test function works with.
type T struct {
	ctx        context.Context
	r          *run
	Namespace  string
	assertions []Assertion
	setupErr   error
	stopped    bool
}

// Context of the test.
func (t *T) Context() context.Context { return t.ctx }

type stop struct{}

// Setupf records that the test could not set up what it checks and stops it; it
// fails, but no assertion is counted.
func (t *T) Setupf(format string, args ...any) {
	t.setupErr = fmt.Errorf(format, args...)
	t.stopped = true
	panic(stop{})
}

func (t *T) record(a Assertion) bool {
	t.assertions = append(t.assertions, a)
	return a.Passed
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
