package operator

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshperf/meshperf/operator/api/v1alpha1"
)

// FuzzDesired: whatever spec reaches the operator (the schema is the API server's
// first line; a resource written under an older schema is not held to it), building
// its objects never panics, a refused spec is a SpecError naming a spec field, and an
// accepted one never grants Secrets, nor Nodes unless asked.
func FuzzDesired(f *testing.F) {
	for _, seed := range []string{
		`{"broker":"main","scope":{"includeNamespaces":["apps"]}}`,
		`{"broker":"main","scope":{"includeKinds":["secrets"]}}`,
		`{"broker":"main","watchNodes":true,"scope":{"includeKinds":["Node","Pod"]}}`,
		`{"broker":"","scope":{"excludeNamespaces":["a"],"includeNamespaces":["a"]}}`,
		`{"broker":"x","scope":{"fullKinds":["*"," "]}}`,
	} {
		f.Add([]byte(seed), "nats-leaf://h:7422")
	}
	resources := []schema.GroupVersionResource{{Version: "v1", Resource: "pods"}, {Version: "v1", Resource: "secrets"},
		{Version: "v1", Resource: "nodes"}, {Group: "apps", Version: "v1", Resource: "deployments"}}
	f.Fuzz(func(t *testing.T, spec []byte, serverURL string) {
		var ms v1alpha1.MeshSyncSpec
		if json.Unmarshal(spec, &ms) != nil {
			return
		}
		m := testMeshSync()
		m.Spec = ms
		b := testBroker()
		b.Spec.ServerURL = serverURL
		if _, err := desiredBroker(b, "img"); err != nil {
			var se *SpecError
			if !errors.As(err, &se) || !strings.HasPrefix(err.Error(), "spec.") {
				t.Fatalf("broker: not a SpecError: %v", err)
			}
		}
		var granted []schema.GroupVersionResource
		for _, r := range resources {
			if m.Spec.WatchNodes || r.Resource != "nodes" {
				granted = append(granted, r)
			}
		}
		objs, err := desiredMeshSync(m, b, MeshSyncRules(granted), "img")
		if err != nil {
			var se *SpecError
			if !errors.As(err, &se) || !strings.HasPrefix(err.Error(), "spec.") {
				t.Fatalf("meshsync: not a SpecError: %v", err)
			}
			return
		}
		for _, r := range objs.ClusterRole.Rules {
			for _, res := range r.Resources {
				if res == "secrets" || (res == "nodes" && !m.Spec.WatchNodes) {
					t.Fatalf("granted %s", res)
				}
			}
		}
		ex := argAfter(objs.Args, "--exclude-kinds")
		if !strings.Contains(ex, "secrets") || (!m.Spec.WatchNodes && !strings.Contains(ex, "nodes")) {
			t.Fatalf("exclude-kinds %q", ex)
		}
	})
}
