package helmmesh

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/meshperf/meshperf/adapters/adapter"
	adapterv1 "github.com/meshperf/meshperf/adapters/proto/meshperf/adapter/v1"
	"github.com/meshperf/meshperf/conformance"
)

// Validation configures the validate operation, which runs meshperf's conformance
// suite (package conformance) on each cluster.
type Validation struct {
	// Reacher reaches the sample apps; the API server's service proxy when nil.
	Reacher conformance.Reacher
	// NamespaceLabels are added to the test namespaces, on top of the mesh's injection.
	NamespaceLabels map[string]string
	// ExtendedFeatures the mesh claims (tests needing others are skipped).
	ExtendedFeatures []conformance.Feature
	// StepTimeout bounds each check (the runner's default when zero).
	StepTimeout time.Duration
	// Image of the sample app (the runner's default when empty).
	Image string
}

// DefaultValidateProfiles are run when the operation names none: Gateway API's mesh
// profile, the successor of SMI, which both Istio and Linkerd implement.
const DefaultValidateProfiles = conformance.ProfileMeshHTTP

func (m *Mesh) validateDescriptor() *adapterv1.OperationDescriptor {
	return &adapterv1.OperationDescriptor{Kind: adapterv1.OperationKind_OPERATION_KIND_VALIDATE, Implemented: true,
		Description: "run meshperf's conformance suite (SMI, MESH-HTTP, MESH-GRPC) on the cluster; the report is in the cluster's details",
		Parameters: []*adapterv1.ParameterDescriptor{
			{Name: "profiles", Description: "comma-separated profiles: SMI, MESH-HTTP, MESH-GRPC", Default: DefaultValidateProfiles},
			{Name: "version", Description: "the mesh version the report names (the installed one, when known)"},
		}}
}

// validate runs the suite on one cluster. Each test's outcome is an event; the
// cluster's details carry each profile's result, the counts and the report (YAML,
// unsigned: the server signs what it keeps). A core failure fails the cluster's part,
// naming the failed tests, so a release pipeline can gate on it.
func (m *Mesh) validate(ctx context.Context, op adapter.Operation, t adapter.Target) (map[string]string, error) {
	profiles, err := conformance.ParseProfiles(orDefault(op.Parameters["profiles"], DefaultValidateProfiles))
	if err != nil {
		return nil, adapter.Fail(err, "parameter profiles", "the profiles parameter names an unknown profile", "use SMI, MESH-HTTP or MESH-GRPC")
	}
	v := m.Validation
	version := orDefault(op.Parameters["version"], op.Version)
	rep, err := conformance.Run(ctx, conformance.Options{Config: t.Config, Profiles: profiles,
		Mesh:    conformance.Mesh{Name: m.Spec.Mesh, Version: version, Cluster: t.Name},
		Reacher: v.Reacher, NamespaceLabels: v.NamespaceLabels, ExtendedFeatures: v.ExtendedFeatures,
		StepTimeout: v.StepTimeout, Image: v.Image, Log: func(f string, a ...any) { t.Info(f, a...) }})
	if err != nil {
		return nil, adapter.Fail(err, "running the conformance suite", "the suite could not run on cluster "+t.Name, "read the cluster's events; check the cluster's connection")
	}
	details := map[string]string{}
	var passed, failed, skipped int
	var failedNames []string
	for _, p := range rep.Profiles {
		details["profile."+p.Name] = p.Core.Result
		for _, tr := range p.Tests {
			switch tr.Outcome {
			case conformance.Pass:
				passed++
				t.Info("%s %s: pass", p.Name, tr.Name)
			case conformance.Fail:
				failed++
				failedNames = append(failedNames, tr.Name)
				t.Emit(adapterv1.Severity_SEVERITY_ERROR, fmt.Sprintf("%s %s: fail", p.Name, tr.Name), tr.Reason)
			case conformance.Skip:
				skipped++
				t.Warn("%s %s: skipped (%s)", p.Name, tr.Name, tr.Reason)
			}
		}
	}
	details["passed"], details["failed"], details["skipped"] = strconv.Itoa(passed), strconv.Itoa(failed), strconv.Itoa(skipped)
	var buf bytes.Buffer
	if err := rep.Write(&buf, conformance.FormatYAML); err != nil {
		return nil, fmt.Errorf("writing the report: %w", err)
	}
	details["report"] = buf.String()
	if !rep.Conformant() {
		return nil, &adapter.Failure{Summary: fmt.Sprintf("not conformant: %d of %d tests failed", failed, passed+failed),
			Cause:   "failed: " + strings.Join(failedNames, ", "),
			Remedy:  "read each failed test's event (observed vs expected) and the report in the details",
			Details: details}
	}
	return details, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
