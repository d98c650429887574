package fingerprint

import (
	"reflect"
	"strings"
	"testing"
)

func TestFromTrimmed(t *testing.T) {
	deploy := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"istiod","namespace":"istio-system",
		"labels":{"app":"istiod"}},"spec":{"replicas":1,"template":{"metadata":{"labels":{"app":"istiod","istio.io/rev":"default"},
		"annotations":{"sidecar.istio.io/inject":"false"}},"spec":{"containers":[{"name":"discovery","image":"docker.io/istio/pilot:1.24.2","ports":[{"containerPort":15010}]}]}}}}`
	o, err := FromTrimmed("apps", "v1", "Deployment", []byte(deploy))
	if err != nil {
		t.Fatal(err)
	}
	want := Object{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "istio-system", Name: "istiod",
		Labels: l("app", "istiod"), PodLabels: l("app", "istiod", "istio.io/rev", "default"), PodAnnotations: l("sidecar.istio.io/inject", "false"),
		Containers: []Container{{Name: "discovery", Image: "docker.io/istio/pilot:1.24.2"}}}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("deployment:\n got %+v\nwant %+v", o, want)
	}

	// A pod with a native sidecar (an init container that keeps running).
	podJSON := `{"metadata":{"name":"web-1","namespace":"shop","labels":{"app":"web"}},"spec":{"initContainers":[
		{"name":"istio-proxy","image":"docker.io/istio/proxyv2:1.24.2","restartPolicy":"Always"}],
		"containers":[{"name":"web","image":"shop/web:1"}]},"status":{"phase":"Running"}}`
	o, err = FromTrimmed("", "v1", "Pod", []byte(podJSON))
	if err != nil {
		t.Fatal(err)
	}
	wantContainers := []Container{{Name: "istio-proxy", Image: "docker.io/istio/proxyv2:1.24.2", Init: true}, {Name: "web", Image: "shop/web:1"}}
	if !reflect.DeepEqual(o.Containers, wantContainers) || o.PodLabels["app"] != "web" {
		t.Errorf("pod: containers %+v pod labels %v", o.Containers, o.PodLabels)
	}

	svc := `{"metadata":{"name":"grafana","namespace":"monitoring"},"spec":{"clusterIP":"None","selector":{"app":"grafana"},
		"ports":[{"name":"http","port":80,"targetPort":3000},{"name":"named","port":81,"targetPort":"grafana"}]}}`
	o, err = FromTrimmed("", "v1", "Service", []byte(svc))
	if err != nil {
		t.Fatal(err)
	}
	wantSvc := &ServiceSpec{Selector: l("app", "grafana"), Headless: true,
		Ports: []ServicePort{{Name: "http", Port: 80, TargetPort: "3000"}, {Name: "named", Port: 81, TargetPort: "grafana"}}}
	if !reflect.DeepEqual(o.Service, wantSvc) {
		t.Errorf("service: got %+v want %+v", o.Service, wantSvc)
	}

	// Metadata only (how MeshSync ships most kinds): no spec, still an object.
	o, err = FromTrimmed("apiextensions.k8s.io", "v1", KindCRD, []byte(`{"metadata":{"name":"virtualservices.networking.istio.io"}}`))
	if err != nil || o.Name != "virtualservices.networking.istio.io" {
		t.Errorf("metadata only: %+v, %v", o, err)
	}
}

func TestFromTrimmedNamesTheField(t *testing.T) {
	cases := []struct{ kind, doc, field string }{
		{"Deployment", `{"metadata":{"name":"a"},"spec":{"template":{"spec":{"containers":[{"name":"x","image":7}]}}}}`, "spec.template.spec.containers.image"},
		{"Pod", `{"metadata":{"name":"a"},"spec":{"initContainers":{"name":"x"}}}`, "spec.initContainers"},
		{"Service", `{"metadata":{"name":"a"},"spec":{"ports":[{"port":80,"targetPort":true}]}}`, "spec.ports[0].targetPort"},
		{"Service", `{"metadata":{"name":"a"},"spec":{"selector":["x"]}}`, "spec.selector"},
		{"Pod", `{"metadata":{"labels":{"a":"b"}}}`, "metadata.name"},
		{"Pod", `{"metadata":{"name":"a","labels":{"a":1}}}`, "metadata.labels"},
		{"Pod", `[1,2]`, "must be"},
		{"Pod", `{"metadata":`, "not JSON"},
		{"", `{}`, "kind"},
	}
	for _, tc := range cases {
		_, err := FromTrimmed("", "v1", tc.kind, []byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s %s: error %v, want one naming %s", tc.kind, tc.doc, err, tc.field)
		}
	}
}

// FuzzFromTrimmed: any bytes give an object or an error, never a panic, and what
// decodes can be identified.
func FuzzFromTrimmed(f *testing.F) {
	f.Add("Deployment", `{"metadata":{"name":"istiod","namespace":"istio-system"},"spec":{"template":{"spec":{"containers":[{"name":"d","image":"istio/pilot:1.24.2"}]}}}}`)
	f.Add("Pod", `{"metadata":{"name":"p"},"spec":{"initContainers":[{"name":"istio-proxy","image":"istio/proxyv2@sha256:00"}]}}`)
	f.Add("Service", `{"metadata":{"name":"s"},"spec":{"ports":[{"port":80,"targetPort":"web"}]}}`)
	f.Add("CustomResourceDefinition", `{"metadata":{"name":"meshes.kuma.io"}}`)
	f.Fuzz(func(t *testing.T, kind, doc string) {
		o, err := FromTrimmed("", "v1", kind, []byte(doc))
		if err != nil {
			return
		}
		if o.Name == "" {
			t.Fatalf("decoded an object without a name: %+v", o)
		}
		Identify([]Object{o})
	})
}
