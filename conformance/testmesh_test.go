package conformance_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/meshperf/meshperf/conformance"
	"github.com/meshperf/meshperf/conformance/testmesh"
	"github.com/meshperf/meshperf/internal/k8stest"
)

func restConfig(t *testing.T, merged []byte, name string) *rest.Config {
	t.Helper()
	cc, err := clientcmd.NewClientConfigFromBytes(merged)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := cc.RawConfig()
	cfg, err := clientcmd.NewDefaultClientConfig(raw, &clientcmd.ConfigOverrides{CurrentContext: name}).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	return cfg
}

// Every extended feature but TrafficMetrics (the test mesh serves no metrics API).
var claimed = []conformance.Feature{conformance.FeatureSMIHeaderMatches, conformance.FeatureSMIPortRestrict,
	conformance.FeatureHTTPRouteQueryParamMatch, conformance.FeatureHTTPRouteMethodMatch, conformance.FeatureHTTPRoutePathRedirect}

// runSuite runs every profile against a test mesh with the defects: SMI with access
// control on (deny by default), the GAMMA profiles without.
func runSuite(t *testing.T, cfg *rest.Config, d testmesh.Defects, name string) ([]*conformance.Report, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var reps []*conformance.Report
	for _, part := range []struct {
		deny     bool
		profiles []string
	}{{true, []string{conformance.ProfileSMI}}, {false, []string{conformance.ProfileMeshHTTP, conformance.ProfileMeshGRPC}}} {
		mesh, err := testmesh.Start(ctx, testmesh.Options{Config: cfg, DenyByDefault: part.deny, Defects: d})
		if err != nil {
			return nil, err
		}
		rep, err := conformance.Run(ctx, conformance.Options{Config: cfg, Profiles: part.profiles,
			Mesh: conformance.Mesh{Name: testmesh.Name, Version: "test", Cluster: "c1"}, ExtendedFeatures: claimed,
			NamespaceLabels: testmesh.Labels(), Reacher: mesh.Reacher(), StepTimeout: 3 * time.Second,
			Log: func(f string, a ...any) { t.Logf(name+": "+f, a...) }})
		mesh.Close()
		if err != nil {
			return nil, err
		}
		reps = append(reps, rep)
	}
	return reps, nil
}

func outcomes(reps []*conformance.Report) (failed, skipped []string, detail map[string]string) {
	detail = map[string]string{}
	for _, rep := range reps {
		for _, p := range rep.Profiles {
			for _, tr := range p.Tests {
				switch tr.Outcome {
				case conformance.Fail:
					failed = append(failed, tr.Name)
					detail[tr.Name] = tr.Reason
				case conformance.Skip:
					skipped = append(skipped, tr.Name)
				}
			}
		}
	}
	sort.Strings(failed)
	sort.Strings(skipped)
	return failed, skipped, detail
}

// The honest proof that the suite can fail: against the test mesh on a real API
// server, with no defect every test passes (the metrics test is skipped: not
// claimed), and with each defect exactly the tests covering it fail.
func TestSuiteAgainstTestMesh(t *testing.T) {
	if testing.Short() {
		// Six suites at once, judged by step timeouts of 3 s: under the race detector
		// (the -short pass) a check takes seconds and the cases time out. The full
		// pass runs it; TestCancelledRunCleansUp keeps the runner in the race pass.
		t.Skip("timing test: six suites against 3 s step timeouts; run without -short")
	}
	merged := k8stest.Require(t, 1)
	cfg := restConfig(t, merged, "c1")
	cases := []struct {
		name    string
		defects testmesh.Defects
		fails   []string
	}{
		{"no defect", testmesh.Defects{}, nil},
		{"ignore TrafficTarget", testmesh.Defects{IgnoreTrafficTarget: true}, []string{"smi-access-default-deny", "smi-access-deny-after-removal",
			"smi-access-port", "smi-access-unlisted-source", "smi-specs-headers", "smi-specs-method", "smi-specs-path"}},
		{"skew split weights", testmesh.Defects{SkewSplitWeights: true}, []string{"mesh-grpcroute-weight", "mesh-httproute-weight", "smi-split-weighted"}},
		{"ignore method matches", testmesh.Defects{IgnoreMethodMatches: true}, []string{"mesh-httproute-method", "smi-specs-method"}},
		{"ignore header matches", testmesh.Defects{IgnoreHeaderMatches: true}, []string{"mesh-grpcroute-header-match", "mesh-httproute-header", "smi-specs-headers"}},
		{"drop HTTPRoutes", testmesh.Defects{DropHTTPRoutes: true}, []string{"mesh-httproute-header", "mesh-httproute-header-modifier", "mesh-httproute-method",
			"mesh-httproute-path", "mesh-httproute-path-redirect", "mesh-httproute-query", "mesh-httproute-redirect", "mesh-httproute-weight"}},
	}
	// The cases run at once (their time is mostly waiting for checks to time out),
	// whatever -parallel says; then each is judged in its subtest.
	reps := make([][]*conformance.Report, len(cases))
	errs := make([]error, len(cases))
	var wg sync.WaitGroup
	for i, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reps[i], errs[i] = runSuite(t, cfg, c.defects, c.name)
		}()
	}
	wg.Wait()
	first := map[string][]*conformance.Report{}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			first[c.name] = reps[i]
			failed, skipped, detail := outcomes(reps[i])
			if fmt.Sprint(failed) != fmt.Sprint(c.fails) {
				var why []string
				for _, f := range failed {
					why = append(why, f+": "+detail[f])
				}
				t.Errorf("failed %v\nwant   %v\n%s", failed, c.fails, strings.Join(why, "\n"))
			}
			if fmt.Sprint(skipped) != "[smi-metrics]" {
				t.Errorf("skipped %v, want [smi-metrics]", skipped)
			}
			for _, f := range failed {
				if !strings.Contains(detail[f], "expected") || !strings.Contains(detail[f], "observed") {
					t.Errorf("%s fails without observed vs expected: %s", f, detail[f])
				}
			}
		})
	}
	t.Run("no defect: results", func(t *testing.T) {
		reps := first["no defect"]
		if len(reps) != 2 {
			t.Fatal("no reports of the run without defects")
		}
		smi := reps[0].Profiles[0]
		if smi.Core.Result != conformance.ResultSuccess || smi.Extended.Result != conformance.ResultPartial {
			t.Errorf("no defect: SMI core %s extended %s, want success and partial (metrics skipped)", smi.Core.Result, smi.Extended.Result)
		}
		for _, v := range smi.SMISpecs {
			if v.Spec != conformance.SpecMetrics && (v.Capability != "FULL" || v.Percentage != 100) {
				t.Errorf("no defect: SMI view %+v", v)
			}
		}
		if !reps[1].Conformant() {
			for _, p := range reps[1].Profiles {
				t.Errorf("no defect: %s core %s, failed %v", p.Name, p.Core.Result, p.Core.FailedTests)
			}
		}
	})
}

// Cancelled mid-run (Ctrl-C), the runner still deletes its namespace and returns
// the report so far, the tests it did not run skipped.
func TestCancelledRunCleansUp(t *testing.T) {
	merged := k8stest.Require(t, 1)
	cfg := restConfig(t, merged, "c1")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	mesh, err := testmesh.Start(ctx, testmesh.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer mesh.Close()
	runCtx, stop := context.WithCancel(ctx)
	var ns string
	rep, err := conformance.Run(runCtx, conformance.Options{Config: cfg, Profiles: []string{conformance.ProfileMeshHTTP},
		Mesh: conformance.Mesh{Name: testmesh.Name}, NamespaceLabels: testmesh.Labels(), Reacher: mesh.Reacher(), StepTimeout: 3 * time.Second,
		Log: func(f string, a ...any) {
			line := fmt.Sprintf(f, a...)
			if n, ok := strings.CutPrefix(line, "MESH-HTTP: namespace "); ok {
				ns = n
			}
			if strings.Contains(line, "mesh-basic pass") {
				stop() // as Ctrl-C would
			}
		}})
	if err == nil || rep == nil || ns == "" {
		t.Fatalf("cancelled run: report %v, error %v, namespace %q", rep != nil, err, ns)
	}
	byName := map[string]conformance.TestResult{}
	for _, tr := range rep.Profiles[0].Tests {
		byName[tr.Name] = tr
	}
	if byName["mesh-basic"].Outcome != conformance.Pass || byName["mesh-httproute-redirect"].Reason != "run cancelled" ||
		byName["mesh-httproute-redirect"].Outcome != conformance.Skip || rep.Profiles[0].Core.Result == conformance.ResultSuccess {
		t.Errorf("report of the cancelled run: %+v", rep.Profiles[0].Core)
	}
	cs := k8stest.Clientset(t, merged, "c1")
	got, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err == nil && got.DeletionTimestamp == nil {
		t.Errorf("namespace %s left behind after the cancelled run", ns)
	} else if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
}
