package connections

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/meshperf/meshperf/internal/k8stest"
	"github.com/meshperf/meshperf/kube"
	"github.com/meshperf/meshperf/server/storetest"
)

// The least-privilege role docs/clusters.md documents, applied to c2 as written: a
// connection with that token is added, checked, deploys and removes agents, and can do
// little else.
func TestDocumentedLeastPrivilegeRole(t *testing.T) {
	merged := k8stest.Require(t, 2)
	ctx := context.Background()
	admin := k8stest.Clientset(t, merged, "c2")
	doc, err := os.ReadFile("../../docs/clusters.md")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindSubmatch(doc)
	if block == nil {
		t.Fatal("docs/clusters.md has no yaml block")
	}
	for _, part := range strings.Split(string(block[1]), "\n---\n") {
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode([]byte(part), nil, nil)
		if err != nil {
			t.Fatalf("docs/clusters.md: %v\n%s", err, part)
		}
		apply(t, ctx, admin, obj)
	}
	t.Cleanup(func() {
		bg := context.Background()
		admin.CoreV1().ServiceAccounts("kube-system").Delete(bg, "meshperf", metav1.DeleteOptions{})
		admin.CoreV1().Secrets("kube-system").Delete(bg, "meshperf-token", metav1.DeleteOptions{})
		for _, n := range []string{"meshperf-observer", "meshperf-agents"} {
			admin.RbacV1().ClusterRoles().Delete(bg, n, metav1.DeleteOptions{})
			admin.RbacV1().ClusterRoleBindings().Delete(bg, n, metav1.DeleteOptions{})
		}
	})
	var token []byte
	for deadline := time.Now().Add(30 * time.Second); len(token) == 0; time.Sleep(200 * time.Millisecond) {
		s, err := admin.CoreV1().Secrets("kube-system").Get(ctx, "meshperf-token", metav1.GetOptions{})
		if err == nil {
			token = s.Data["token"]
		}
		if time.Now().After(deadline) {
			t.Fatal("the token controller did not fill the service-account token")
		}
	}
	full, _ := clientcmd.Load(merged)
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c2"] = full.Clusters[full.Contexts["c2"].Cluster]
	cfg.AuthInfos["meshperf"] = &clientcmdapi.AuthInfo{Token: string(token)}
	cfg.Contexts["c2-meshperf"] = &clientcmdapi.Context{Cluster: "c2", AuthInfo: "meshperf"}
	kc, _ := clientcmd.Write(*cfg)

	m, _ := newManager(t, storetest.Open(t, "sqlite"), Options{Agents: AgentDefaults{BrokerUser: "agent", AgentToken: "t0123456789", Image: "meshperf:test"}})
	res, err := m.Add(ctx, kc, nil, false, "ops")
	if err != nil || res[0].Outcome != "added" || res[0].Connection.NodeCount != 1 {
		t.Fatalf("add with the documented role: %+v %v", res, err)
	}
	ns := k8stest.Namespace("mp-rbac")
	t.Cleanup(func() { admin.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	r := m.DeployAgents(ctx, DeployRequest{Clusters: []string{"c2-meshperf"}, Replicas: 1, Namespace: ns, BrokerEndpoint: "nats://198.18.0.7:4222", Wait: 60 * time.Second}, "ops")[0]
	if !r.OK || r.Ready != 1 {
		t.Fatalf("deploy with the documented role: %+v", r)
	}
	if r := m.UndeployAgents(ctx, []string{"c2-meshperf"}, ns, "ops")[0]; !r.OK {
		t.Fatalf("undeploy with the documented role: %+v", r)
	}
	// And no more: it cannot read secrets elsewhere.
	rc, _ := kube.RESTConfig(mustContext(t, kc))
	cs := kubernetes.NewForConfigOrDie(rc)
	// What mesh fingerprints list (server/meshes.LiveSource) it may list.
	md := metadata.NewForConfigOrDie(rc)
	for _, gvr := range []schema.GroupVersionResource{
		{Version: "v1", Resource: "pods"}, {Version: "v1", Resource: "services"},
		{Group: "apps", Version: "v1", Resource: "deployments"}, {Group: "apps", Version: "v1", Resource: "daemonsets"},
		{Group: "apps", Version: "v1", Resource: "statefulsets"},
		{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"},
		{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "mutatingwebhookconfigurations"},
		{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingwebhookconfigurations"},
	} {
		if _, err := md.Resource(gvr).List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
			t.Errorf("the documented role cannot list %s, which fingerprints read: %v", gvr.Resource, err)
		}
	}
	if _, err := cs.CoreV1().Secrets("kube-system").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("the documented role reads kube-system's secrets: %v", err)
	}
}

func mustContext(t *testing.T, kc []byte) []byte {
	cs, err := kube.ParseKubeconfig(kc, nil)
	if err != nil || len(cs) != 1 {
		t.Fatal(err)
	}
	return cs[0].Kubeconfig
}

func apply(t *testing.T, ctx context.Context, cs kubernetes.Interface, obj any) {
	t.Helper()
	var err error
	switch o := obj.(type) {
	case *corev1.ServiceAccount:
		_, err = cs.CoreV1().ServiceAccounts(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	case *corev1.Secret:
		_, err = cs.CoreV1().Secrets(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	case *rbacv1.ClusterRole:
		_, err = cs.RbacV1().ClusterRoles().Create(ctx, o, metav1.CreateOptions{})
	case *rbacv1.ClusterRoleBinding:
		_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, o, metav1.CreateOptions{})
	default:
		t.Fatalf("docs/clusters.md: unexpected %T", obj)
	}
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}
