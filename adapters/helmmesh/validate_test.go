package helmmesh_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/meshperf/meshperf/adapters/charts/chartstest"
	"github.com/meshperf/meshperf/adapters/helmmesh"
	"github.com/meshperf/meshperf/adapters/istio"
	adapterv1 "github.com/meshperf/meshperf/adapters/proto/meshperf/adapter/v1"
	"github.com/meshperf/meshperf/conformance"
	"github.com/meshperf/meshperf/conformance/testmesh"
	"github.com/meshperf/meshperf/internal/k8stest"
	"github.com/meshperf/meshperf/kube"
)

// The validate operation runs the conformance suite on each cluster through the
// adapter's contract. No real mesh runs here, so the Istio adapter validates the
// test mesh (conformance/testmesh, a stand-in that enforces routes on loopback): with
// no defect the cluster's part succeeds with the report in its details; with routes
// dropped it fails naming the failed tests, and the report is still kept.
func TestValidateRunsTheConformanceSuite(t *testing.T) {
	merged := k8stest.Require(t, 1)
	cfg, err := kube.RESTConfig(k8stest.One(t, merged, "c1", ""))
	if err != nil {
		t.Fatal(err)
	}
	repo := chartstest.Serve(t, chartstest.Istio("1.24.2")...)
	for _, c := range []struct {
		name    string
		defects testmesh.Defects
		ok      bool
	}{{"no defect", testmesh.Defects{}, true}, {"routes dropped", testmesh.Defects{DropHTTPRoutes: true}, false}} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			tm, err := testmesh.Start(ctx, testmesh.Options{Config: cfg, Defects: c.defects})
			if err != nil {
				t.Fatal(err)
			}
			defer tm.Close()
			m := istio.New(repo.URL, "ghcr.io/meshperf/meshperf:test")
			m.Validation = helmmesh.Validation{Reacher: tm.Reacher(), NamespaceLabels: testmesh.Labels(), StepTimeout: 3 * time.Second,
				ExtendedFeatures: []conformance.Feature{conformance.FeatureHTTPRouteQueryParamMatch, conformance.FeatureHTTPRouteMethodMatch, conformance.FeatureHTTPRoutePathRedirect}}
			cl := serve(t, m)
			os, evs := run(t, cl, &adapterv1.ApplyRequest{OperationId: "validate-" + suffix(), Kind: adapterv1.OperationKind_OPERATION_KIND_VALIDATE,
				Clusters:   []*adapterv1.Cluster{{Name: "c1", Kubeconfig: k8stest.One(t, merged, "c1", "")}},
				Parameters: map[string]string{"profiles": conformance.ProfileMeshHTTP, "version": "1.24.2"}})
			r := result(os, "c1")
			rep, err := conformance.Decode([]byte(r.GetDetails()["report"]))
			if err != nil {
				t.Fatalf("the report in the details: %v (%v)", err, r)
			}
			if rep.Mesh.Name != "istio" || rep.Mesh.Version != "1.24.2" || rep.Mesh.Cluster != "c1" || len(rep.Profiles) != 1 {
				t.Errorf("report names %+v with %d profiles", rep.Mesh, len(rep.Profiles))
			}
			var testEvents int
			for _, e := range evs {
				if strings.HasPrefix(e.GetSummary(), conformance.ProfileMeshHTTP+" mesh-") {
					testEvents++
				}
			}
			if testEvents != len(rep.Profiles[0].Tests) {
				t.Errorf("%d test events for %d tests", testEvents, len(rep.Profiles[0].Tests))
			}
			if c.ok {
				if r.GetState() != adapterv1.State_STATE_SUCCEEDED || r.GetDetails()["profile.MESH-HTTP"] != conformance.ResultSuccess || r.GetDetails()["failed"] != "0" {
					t.Fatalf("c1: %s %s %v", r.GetState(), r.GetError(), r.GetDetails()["profile.MESH-HTTP"])
				}
				return
			}
			if r.GetState() != adapterv1.State_STATE_FAILED || !strings.Contains(r.GetCause(), "mesh-httproute-path") ||
				r.GetDetails()["profile.MESH-HTTP"] != conformance.ResultFailure || rep.Conformant() {
				t.Fatalf("c1 with routes dropped: %s, cause %q, %v", r.GetState(), r.GetCause(), r.GetDetails()["profile.MESH-HTTP"])
			}
		})
	}
}
