package operator

import (
	"errors"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshperf/meshperf/operator/api/v1alpha1"
)

func testBroker() *v1alpha1.Broker {
	return &v1alpha1.Broker{ObjectMeta: metav1.ObjectMeta{Name: "main", Namespace: "ns1", UID: "u1"},
		Spec: v1alpha1.BrokerSpec{ServerURL: "nats-leaf://meshperf.example:7422", CredentialsSecret: v1alpha1.SecretKeyRef{Name: "creds"}}}
}

func testMeshSync() *v1alpha1.MeshSync {
	return &v1alpha1.MeshSync{ObjectMeta: metav1.ObjectMeta{Name: "ms", Namespace: "ns1", UID: "u2"},
		Spec: v1alpha1.MeshSyncSpec{Broker: "main", Scope: v1alpha1.MeshSyncScope{IncludeNamespaces: []string{"apps"}, ExcludeKinds: []string{"events"}}}}
}

func argAfter(args []string, flag string) string {
	i := slices.Index(args, flag)
	if i < 0 || i+1 >= len(args) {
		return ""
	}
	return args[i+1]
}

// MeshSync's Deployment runs `meshperf meshsync` with the scope as flags, through
// the Broker's in-cluster endpoint, never reading Secrets and reading Nodes only
// when asked; a changed scope or grant changes the pod template's hash (a rollout).
func TestMeshSyncDeploymentCarriesItsScope(t *testing.T) {
	b, m := testBroker(), testMeshSync()
	rules := MeshSyncRules([]schema.GroupVersionResource{{Version: "v1", Resource: "pods"}, {Version: "v1", Resource: "secrets"}, {Group: "apps", Version: "v1", Resource: "deployments"}})
	objs, err := desiredMeshSync(m, b, rules, "img:1")
	if err != nil {
		t.Fatal(err)
	}
	args := objs.Args
	if args[0] != "meshsync" || argAfter(args, "--nats-url") != "nats://meshperf-broker-main.ns1.svc:4222" ||
		argAfter(args, "--include-namespaces") != "apps" || argAfter(args, "--exclude-kinds") != "events,secrets,nodes" {
		t.Errorf("args %q", args)
	}
	c := objs.Deployment.Spec.Template.Spec.Containers[0]
	if *c.Image != "img:1" || !slices.Equal(c.Args, args) {
		t.Errorf("container %v %q", *c.Image, c.Args)
	}
	for _, r := range rules {
		if slices.Contains(r.Resources, "secrets") || slices.Contains(r.Resources, "nodes") {
			t.Errorf("granted %v", r)
		}
		if len(r.ResourceNames) == 0 && !slices.Equal(r.Verbs, []string{"get", "list", "watch"}) {
			t.Errorf("not read-only: %v", r)
		}
	}
	hash1 := objs.Deployment.Spec.Template.Annotations[HashAnnotation]

	m.Spec.WatchNodes = true
	objs2, _ := desiredMeshSync(m, b, rules, "img:1")
	if strings.Contains(argAfter(objs2.Args, "--exclude-kinds"), "nodes") {
		t.Errorf("watchNodes still excludes nodes: %q", objs2.Args)
	}
	if objs2.Deployment.Spec.Template.Annotations[HashAnnotation] == hash1 {
		t.Error("a changed spec does not change the pod template")
	}
	objs3, _ := desiredMeshSync(testMeshSync(), b, MeshSyncRules(nil), "img:1")
	if objs3.Deployment.Spec.Template.Annotations[HashAnnotation] == hash1 {
		t.Error("a changed grant does not change the pod template")
	}
	again, _ := desiredMeshSync(testMeshSync(), b, rules, "img:1")
	if again.Deployment.Spec.Template.Annotations[HashAnnotation] != hash1 {
		t.Error("the same spec gives another hash")
	}
}

// Specs the operator cannot act on are SpecErrors naming the field.
func TestSpecErrorsNameTheField(t *testing.T) {
	for field, mutate := range map[string]func(*v1alpha1.MeshSync){
		"spec.scope.includeKinds[1]": func(m *v1alpha1.MeshSync) { m.Spec.Scope.IncludeKinds = []string{"Pod", "secrets"} },
		"spec.scope.includeKinds[0]": func(m *v1alpha1.MeshSync) { m.Spec.Scope.IncludeKinds = []string{"Node"} },
		"spec.scope:":                func(m *v1alpha1.MeshSync) { m.Spec.Scope.ExcludeNamespaces = []string{"apps"} },
		"spec.image":                 func(m *v1alpha1.MeshSync) {},
	} {
		m := testMeshSync()
		mutate(m)
		image := "img"
		if field == "spec.image" {
			image = ""
		}
		_, err := desiredMeshSync(m, testBroker(), nil, image)
		var se *SpecError
		if !errors.As(err, &se) || !strings.HasPrefix(err.Error(), field) {
			t.Errorf("%s: %v", field, err)
		}
	}
	for field, url := range map[string]string{"spec.serverURL": "http://x:1", "spec.serverURL:": "nats-leaf://user@x:1"} {
		b := testBroker()
		b.Spec.ServerURL = url
		_, err := desiredBroker(b, "img")
		if err == nil || !strings.HasPrefix(err.Error(), strings.TrimSuffix(field, ":")) {
			t.Errorf("%s %q: %v", field, url, err)
		}
	}
}

// The broker's pod has no API access, mounts only its credential, and probes
// endpoints the broker serves.
func TestBrokerDeployment(t *testing.T) {
	objs, err := desiredBroker(testBroker(), "img:1")
	if err != nil {
		t.Fatal(err)
	}
	pod := objs.Deployment.Spec.Template.Spec
	if *pod.AutomountServiceAccountToken || *objs.ServiceAccount.AutomountServiceAccountToken {
		t.Error("the broker gets an API token")
	}
	c := pod.Containers[0]
	if argAfter(c.Args, "--server-url") != "nats-leaf://meshperf.example:7422" || argAfter(c.Args, "--token-file") != "/etc/meshperf/broker/token" {
		t.Errorf("args %q", c.Args)
	}
	if *c.LivenessProbe.HTTPGet.Path != "/healthz" || *c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Error("probes")
	}
	if *objs.Deployment.Spec.Replicas != 1 {
		t.Error("replicas")
	}
	if !*objs.Service.Spec.PublishNotReadyAddresses {
		t.Error("MeshSync cannot reach a broker whose leaf is down")
	}
	// A rotated credential (its hash on the Broker) rolls the broker and MeshSync.
	rotated := testBroker()
	rotated.Annotations = map[string]string{CredentialHashAnnotation: "new"}
	again, _ := desiredBroker(rotated, "img:1")
	if again.Deployment.Spec.Template.Annotations[HashAnnotation] == objs.Deployment.Spec.Template.Annotations[HashAnnotation] {
		t.Error("a rotated credential does not roll the broker")
	}
	m1, _ := desiredMeshSync(testMeshSync(), testBroker(), nil, "img:1")
	m2, _ := desiredMeshSync(testMeshSync(), rotated, nil, "img:1")
	if m1.Deployment.Spec.Template.Annotations[HashAnnotation] == m2.Deployment.Spec.Template.Annotations[HashAnnotation] {
		t.Error("a rotated credential does not roll MeshSync")
	}
}
