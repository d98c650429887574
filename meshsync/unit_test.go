package meshsync

import (
	"bytes"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshperf/meshperf/bus"
)

func res(group, version, plural, kind string, namespaced bool) resource {
	return resource{GVR: schema.GroupVersionResource{Group: group, Version: version, Resource: plural}, Kind: kind, Namespaced: namespaced}
}

func TestScopeNamesKindsResourcesAndGroups(t *testing.T) {
	pods := res("", "v1", "pods", "Pod", true)
	deploy := res("apps", "v1", "deployments", "Deployment", true)
	secrets := res("", "v1", "secrets", "Secret", true)
	leases := res("coordination.k8s.io", "v1", "leases", "Lease", true)
	vs := res("networking.istio.io", "v1", "virtualservices", "VirtualService", true)
	cases := []struct {
		scope Scope
		r     resource
		in    bool
	}{
		{Scope{}, pods, true},
		{Scope{IncludeKinds: []string{"Pod"}}, pods, true},
		{Scope{IncludeKinds: []string{"pod"}}, deploy, false},
		{Scope{IncludeKinds: []string{"deployments.apps"}}, deploy, true},
		{Scope{IncludeKinds: []string{"deployments"}}, deploy, false}, // a grouped resource needs its group
		{Scope{ExcludeKinds: []string{"Deployment.apps"}}, deploy, false},
		{Scope{ExcludeKinds: []string{"virtualservices.networking.istio.io"}}, vs, false},
		{Scope{}, leases, false}, // quiet by default
		{Scope{IncludeKinds: []string{"leases.coordination.k8s.io"}}, leases, true},
	}
	for _, c := range cases {
		if got := c.scope.inScope(c.r); got != c.in {
			t.Errorf("%+v in scope %+v: %v, want %v", c.r.GVR, c.scope, got, c.in)
		}
	}
	if !(Scope{}).complete(pods).Full || (Scope{}).complete(vs).Full || !(Scope{FullKinds: []string{"VirtualService"}}).complete(vs).Full {
		t.Errorf("full tier: pods by default, virtual services only when asked")
	}
	if (Scope{FullKinds: []string{"Secret"}}).complete(secrets).Full {
		t.Errorf("a Secret was made a full kind")
	}
	if err := (Scope{ExcludeNamespaces: []string{"a,b"}}).Check(); err == nil || !strings.Contains(err.Error(), "exclude_namespaces[0]") {
		t.Errorf("scope check: %v", err)
	}
	if got := selectorFor(pods, Scope{ExcludeNamespaces: []string{"a", "b"}}); got != "metadata.namespace!=a,metadata.namespace!=b" {
		t.Errorf("selector %q", got)
	}
	if got := selectorFor(res("", "v1", "namespaces", "Namespace", false), Scope{ExcludeNamespaces: []string{"a"}}); got != "metadata.name!=a" {
		t.Errorf("namespaces selector %q", got)
	}
}

func TestTransformTrimsAndSlims(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "p", "namespace": "n", "uid": "u1", "resourceVersion": "7",
			"annotations":   map[string]any{lastApplied: "{...}", "keep": "me"},
			"managedFields": []any{map[string]any{"manager": "kubectl"}}},
		"spec": map[string]any{"nodeName": "n1", "containers": []any{map[string]any{"name": "app", "image": "a:1",
			"env": []any{map[string]any{"name": "X", "value": "secret-ish"}}}}},
		"status": map[string]any{"phase": "Running", "podIP": "10.0.0.1",
			"containerStatuses": []any{map[string]any{"name": "app", "image": "a:1", "ready": true, "restartCount": int64(3)}}},
	}}
	r := res("", "v1", "pods", "Pod", true)
	r.Full = true
	out, err := transformFor(r)(u)
	if err != nil {
		t.Fatal(err)
	}
	f := out.(*fullItem)
	for _, banned := range []string{"managedFields", lastApplied, "secret-ish", "podIP", "restartCount"} {
		if bytes.Contains(f.Body, []byte(banned)) {
			t.Errorf("slim pod keeps %q: %s", banned, f.Body)
		}
	}
	for _, kept := range []string{`"image":"a:1"`, `"nodeName":"n1"`, `"phase":"Running"`, `"ready":true`, `"keep":"me"`} {
		if !bytes.Contains(f.Body, []byte(kept)) {
			t.Errorf("slim pod lost %s: %s", kept, f.Body)
		}
	}
	again, _ := transformFor(r)(f)
	if again != any(f) {
		t.Errorf("the transform is not idempotent")
	}
	m := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "s", Annotations: map[string]string{lastApplied: "x"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "m"}}}}
	_, _ = transformFor(res("", "v1", "secrets", "Secret", true))(m)
	if m.ManagedFields != nil || m.Annotations != nil {
		t.Errorf("metadata kept managedFields or last-applied: %+v", m.ObjectMeta)
	}
}

func TestLargeObjectsTravelTruncated(t *testing.T) {
	p := &publisher{cluster: "c", boot: "b"}
	big := &bus.MeshSyncObject{Version: "v1", Resource: "configmaps", Kind: "ConfigMap", Name: "big", UID: "u",
		Object: []byte(`{"data":"` + strings.Repeat("x", bus.MeshSyncMaxMsgSize) + `"}`)}
	data, err := p.encode(1, &bus.MeshSyncEvent{Cluster: "c", Type: bus.EventAdded, Object: big})
	if err != nil {
		t.Fatal(err)
	}
	e, err := bus.DecodeMeshSync(data)
	if err != nil || len(data) > bus.MeshSyncMaxMsgSize || !e.MeshSyncEvent.Object.Truncated || e.MeshSyncEvent.Object.Object != nil {
		t.Errorf("a %d-byte event (err %v): want it under %d bytes, truncated", len(data), err, bus.MeshSyncMaxMsgSize)
	}
}
