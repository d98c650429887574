package api_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/meshperf/meshperf/apitypes"
	"github.com/meshperf/meshperf/internal/k8stest"
	"github.com/meshperf/meshperf/server/api"
	"github.com/meshperf/meshperf/smp"
)

type addResults struct {
	Results []struct {
		Context     string
		Outcome     string
		DuplicateOf string `json:"duplicate_of"`
		Error       string
		Connection  *struct {
			ID, Name, State string
			ClusterUID      string `json:"cluster_uid"`
		}
	}
}

// Cluster connections through the API against two real clusters: upload, roles, bad
// kubeconfigs named by field, states, a run targeting a cluster records its
// environment, removal flushes.
func TestClustersAPI(t *testing.T) {
	merged := k8stest.Require(t, 2)
	istioNS := istioOn(t, merged, "c1")
	each(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, api.Options{})
		kc := string(k8stest.Contexts(t, merged, []string{"c1", "c2"}, map[string]string{"c2-alias": "c2"}))

		if code, _ := h.do("POST", "/api/v1/clusters", h.editor, map[string]any{"kubeconfig": kc}); code != 403 {
			t.Fatalf("an editor added clusters: %d", code)
		}
		code, body := h.do("POST", "/api/v1/clusters", h.admin, map[string]any{"kubeconfig": kc})
		var added addResults
		json.Unmarshal(body, &added)
		if code != 201 || len(added.Results) != 3 {
			t.Fatalf("add: %d %s", code, body)
		}
		byCtx := map[string]int{}
		for i, r := range added.Results {
			byCtx[r.Context] = i
		}
		if r := added.Results[byCtx["c2-alias"]]; r.Outcome != "duplicate" || r.DuplicateOf != "c2" {
			t.Fatalf("alias: %+v", r)
		}
		if strings.Contains(string(body), "client-key") || strings.Contains(string(body), "BEGIN") {
			t.Fatal("the answer carries credentials")
		}
		// Adding the same again: 200, nothing new.
		if code, _ := h.do("POST", "/api/v1/clusters", h.admin, map[string]any{"kubeconfig": kc, "contexts": []string{"c1"}}); code != 200 {
			t.Fatalf("re-add: %d", code)
		}

		code, body = h.do("GET", "/api/v1/clusters", h.viewer, nil)
		var list struct {
			Items []struct {
				Name, State, Version string
				NodeCount            int `json:"node_count"`
			}
		}
		json.Unmarshal(body, &list)
		if code != 200 || len(list.Items) != 2 || list.Items[0].Name != "c1" || list.Items[0].State != "connected" || list.Items[0].Version != "v1.36.3" || list.Items[0].NodeCount != 1 {
			t.Fatalf("list: %d %s", code, body)
		}

		// Bad kubeconfigs: every problem named by its place.
		bad := clientcmdapi.NewConfig()
		bad.Clusters["x"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:6443", CertificateAuthority: "/etc/ca.crt"}
		bad.AuthInfos["u"] = &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{Command: "aws", APIVersion: "client.authentication.k8s.io/v1"}}
		bad.AuthInfos["nocreds"] = &clientcmdapi.AuthInfo{}
		bad.Contexts["plugin"] = &clientcmdapi.Context{Cluster: "x", AuthInfo: "u"}
		bad.Contexts["dangling"] = &clientcmdapi.Context{Cluster: "missing", AuthInfo: "nocreds"}
		raw, _ := clientcmd.Write(*bad)
		code, body = h.do("POST", "/api/v1/clusters", h.admin, map[string]any{"kubeconfig": string(raw)})
		fields := map[string]bool{}
		for _, f := range errorOf(t, body).Fields {
			fields[f.Path] = true
		}
		for _, want := range []string{"clusters[x].certificate-authority", "users[u].exec", "contexts[dangling].cluster"} {
			if !fields[want] {
				t.Errorf("bad kubeconfig: %s not named (%d %s)", want, code, body)
			}
		}
		if code != 400 {
			t.Fatalf("bad kubeconfig: %d", code)
		}
		for _, garbage := range []string{"", "{{{", "kind: Config\ncontexts: 7\n"} {
			if code, body := h.do("POST", "/api/v1/clusters", h.admin, map[string]any{"kubeconfig": garbage}); code != 400 || len(errorOf(t, body).Fields) == 0 {
				t.Errorf("kubeconfig %q: %d %s", garbage, code, body)
			}
		}
		if code, body := h.do("POST", "/api/v1/clusters", h.admin, map[string]any{"kubeconfig": kc, "contexts": []string{"nope"}}); code != 400 || !strings.Contains(string(body), "nope") {
			t.Errorf("unknown context: %d %s", code, body)
		}

		// States: a refused move is 409 naming what is allowed; a bad state is 400.
		if code, body := h.do("PUT", "/api/v1/clusters/c2/state", h.admin, map[string]any{"state": "paused"}); code != 400 || errorOf(t, body).Fields[0].Path != "state" {
			t.Errorf("bad state: %d %s", code, body)
		}
		if code, _ := h.do("PUT", "/api/v1/clusters/c2/state", h.admin, map[string]any{"state": "maintenance"}); code != 200 {
			t.Errorf("maintenance: %d", code)
		}
		if code, body := h.do("PUT", "/api/v1/clusters/c2/state", h.admin, map[string]any{"state": "discovered"}); code != 409 || !strings.Contains(string(body), "can become") {
			t.Errorf("maintenance -> discovered: %d %s", code, body)
		}
		if code, _ := h.do("PUT", "/api/v1/clusters/c2/state", h.editor, map[string]any{"state": "connected"}); code != 403 {
			t.Errorf("an editor changed a state: %d", code)
		}
		// A run cannot target a cluster in maintenance, nor an unknown one.
		cfg := h.config("/k8s", 50, 2*time.Second)
		cfg["cluster"] = "c2"
		if code, body := h.do("POST", "/api/v1/runs", h.editor, map[string]any{"config": cfg}); code != 400 || errorOf(t, body).Fields[0].Path != "config.cluster" {
			t.Errorf("run on a cluster in maintenance: %d %s", code, body)
		}
		cfg["cluster"] = "c9"
		if code, body := h.do("POST", "/api/v1/runs", h.editor, map[string]any{"config": cfg}); code != 400 || !strings.Contains(string(body), "no cluster connection named c9") {
			t.Errorf("run on an unknown cluster: %d %s", code, body)
		}

		// A run targeting c1 records c1's environment; the SMP environment says so too.
		cfg["cluster"] = "c1"
		code, body = h.do("POST", "/api/v1/runs", h.editor, map[string]any{"config": cfg})
		var run struct{ ID string }
		json.Unmarshal(body, &run)
		if code != 202 {
			t.Fatalf("run on c1: %d %s", code, body)
		}
		var result smp.Result
		for _, ev := range readEvents(t, h.url+"/api/v1/runs/"+run.ID+"/events", h.viewer, 30*time.Second) {
			if ev.typ == "result" {
				json.Unmarshal([]byte(ev.data), &result)
			}
		}
		k := result.Environment.Kubernetes
		if k == nil || k.Cluster != "c1" || k.Version != "v1.36.3" || len(k.Nodes) != 1 || k.Nodes[0].Cores != 8 || k.Nodes[0].MemMB != 32768 || k.ClusterUID == "" {
			t.Fatalf("environment: %+v", k)
		}
		if !hasMesh(k.Meshes, "istio", istioNS, "1.24.2") {
			t.Errorf("the run's environment lacks c1's Istio 1.24.2 in %s: %+v", istioNS, k.Meshes)
		}
		if result.Summary.Requests != 100 {
			t.Errorf("the run itself: %d requests", result.Summary.Requests)
		}
		_, body = h.do("GET", "/api/v1/runs/"+run.ID, h.viewer, nil)
		var done struct {
			ResultID string `json:"result_id"`
		}
		json.Unmarshal(body, &done)
		code, body = h.do("GET", "/api/v1/results/"+done.ResultID+"?format=smp-env", h.viewer, nil)
		for _, want := range []string{"kubernetes_version: v1.36.3", "cores: 8", "cluster: c1", `mem_mb: "32768"`} {
			if code != 200 || !strings.Contains(string(body), want) {
				t.Errorf("smp-env lacks %q: %d %s", want, code, body)
			}
		}

		// The meshes of every usable cluster (c2 is in maintenance), answered against
		// the OpenAPI document; one cluster's; a result's SMP mesh configs.
		code, body = h.do("GET", "/api/v1/meshes", h.viewer, nil)
		var meshList struct{ Items []apitypes.ClusterMeshes }
		json.Unmarshal(body, &meshList)
		if code != 200 || len(meshList.Items) != 1 || meshList.Items[0].Cluster != "c1" || meshList.Items[0].Error != "" || meshList.Items[0].ClusterUID != k.ClusterUID {
			t.Errorf("meshes: %d %s", code, body)
		}
		if code, body := h.do("GET", "/api/v1/clusters/c1/meshes", h.viewer, nil); code != 200 || !strings.Contains(string(body), `"cluster": "c1"`) {
			t.Errorf("c1's meshes: %d %s", code, body)
		}
		if code, body := h.do("GET", "/api/v1/clusters/c2/meshes", h.viewer, nil); code != 409 {
			t.Errorf("the meshes of a cluster in maintenance: %d %s", code, body)
		}
		if code, body := h.do("GET", "/api/v1/clusters/c9/meshes", h.viewer, nil); code != 404 {
			t.Errorf("the meshes of an unknown cluster: %d %s", code, body)
		}
		if code, body := h.do("GET", "/api/v1/results/"+done.ResultID+"?format=smp-mesh", h.viewer, nil); code != 200 ||
			!strings.Contains(string(body), "type: ISTIO") || !strings.Contains(string(body), "mesh_build: 1.24.2") {
			t.Errorf("smp-mesh: %d %s", code, body)
		}

		// Deploy bodies are checked field by field before anything happens.
		code, body = h.do("POST", "/api/v1/agents/deploy", h.admin, map[string]any{"clusters": []string{}, "replicas": 0, "namespace": "Bad_NS"})
		fields = map[string]bool{}
		for _, f := range errorOf(t, body).Fields {
			fields[f.Path] = true
		}
		if code != 400 || !fields["clusters"] || !fields["replicas"] || !fields["namespace"] {
			t.Errorf("deploy body: %d %s", code, body)
		}
		if code, _ := h.do("POST", "/api/v1/agents/deploy", h.editor, map[string]any{"clusters": []string{"c1"}, "replicas": 1}); code != 403 {
			t.Errorf("an editor deployed agents: %d", code)
		}

		// Remove c2: flushed, gone; c1 stays.
		code, body = h.do("DELETE", "/api/v1/clusters/c2", h.admin, nil)
		if code != 200 || !strings.Contains(string(body), `"nodes": 1`) {
			t.Fatalf("delete: %d %s", code, body)
		}
		if code, _ := h.do("GET", "/api/v1/clusters/c2", h.viewer, nil); code != 404 {
			t.Errorf("c2 after delete: %d", code)
		}
		if code, _ := h.do("GET", "/api/v1/clusters/c1", h.viewer, nil); code != 200 {
			t.Errorf("c1 after c2's delete: %d", code)
		}
	})
}

// istioOn lays out Istio 1.24.2's control plane on a cluster as istioctl does (istiod on
// the pilot image with its labels, the injector's webhook configuration, empty so it
// intercepts nothing) in a namespace of the test's own, and returns the namespace.
func istioOn(t *testing.T, merged []byte, cluster string) string {
	t.Helper()
	ctx := context.Background()
	cs := k8stest.Clientset(t, merged, cluster)
	ns := k8stest.Namespace("mp-api-istio")
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	hook := &admissionv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "istio-sidecar-injector-" + ns}}
	if _, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, hook, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(context.Background(), hook.Name, metav1.DeleteOptions{})
	})
	labels := map[string]string{"app": "istiod", "istio": "pilot"}
	one := int32(1)
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "istiod", Namespace: ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "discovery", Image: "docker.io/istio/pilot:1.24.2"}}}}}}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return ns
}

func hasMesh(ms []smp.MeshEnv, typ, ns, version string) bool {
	for _, m := range ms {
		if m.Type == typ && m.Namespace == ns && m.Version == version {
			return true
		}
	}
	return false
}
