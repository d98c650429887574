package operatordeploy

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/meshperf/meshperf/internal/k8stest"
	"github.com/meshperf/meshperf/meshsync"
	"github.com/meshperf/meshperf/operator/api/v1alpha1"
)

func c1(t *testing.T) *rest.Config {
	t.Helper()
	merged := k8stest.Require(t, 1)
	cc, err := clientcmd.NewClientConfigFromBytes(merged)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := cc.RawConfig()
	cfg, err := clientcmd.NewDefaultClientConfig(raw, &clientcmd.ConfigOverrides{CurrentContext: "c1"}).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Apply installs everything (twice changes nothing), the operator's grant is enough
// for its job and reads no Secret, and Remove takes out exactly meshperf's objects:
// someone else's object in the namespace keeps the namespace.
func TestApplyAndRemove(t *testing.T) {
	cfg := c1(t)
	cs := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	ns := k8stest.Namespace("mp-opdeploy")
	t.Cleanup(func() {
		_, _ = Remove(context.Background(), cfg, ns)
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	spec := Spec{Namespace: ns, Image: "meshperf:test", LeafURL: "nats-leaf://127.0.0.1:7422", Credential: "mpm1.uid-x.mac",
		Scope: meshsync.Scope{IncludeNamespaces: []string{ns}}}
	if _, err := Apply(ctx, cfg, Spec{Namespace: ns}); err == nil || !strings.Contains(err.Error(), "image") || !strings.Contains(err.Error(), "leaf URL") {
		t.Errorf("an empty spec: %v", err)
	}
	applied, err := Apply(ctx, cfg, spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"deployment/" + OperatorName, "broker/" + ResourceName, "meshsync/" + ResourceName, "secret/" + SecretName} {
		if !slices.Contains(applied.Objects, want) {
			t.Errorf("not applied: %s (%v)", want, applied.Objects)
		}
	}
	d1, err := cs.AppsV1().Deployments(ns).Get(ctx, OperatorName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(ctx, cfg, spec); err != nil {
		t.Fatal(err)
	}
	d2, _ := cs.AppsV1().Deployments(ns).Get(ctx, OperatorName, metav1.GetOptions{})
	if d1.Generation != d2.Generation {
		t.Errorf("a second apply changed the Deployment (generation %d -> %d)", d1.Generation, d2.Generation)
	}
	st := Status(ctx, cfg, ns)
	if st.Error != "" || st.Operator.State == "absent" || st.Broker.State == "absent" || st.MeshSync.State == "absent" {
		t.Errorf("status after install: %+v", st)
	}

	// The operator's own grant, asked of the API server as the operator.
	imp := rest.CopyConfig(cfg)
	imp.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + ns + ":" + OperatorName}
	op := kubernetes.NewForConfigOrDie(imp)
	forbidden := func(err error) bool { return apierrors.IsForbidden(err) }
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := op.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the operator cannot list deployments: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := op.CoreV1().Secrets(ns).Get(ctx, SecretName, metav1.GetOptions{}); !forbidden(err) {
		t.Errorf("the operator reads Secrets: %v", err)
	}
	if _, err := op.CoreV1().ConfigMaps("kube-system").List(ctx, metav1.ListOptions{}); !forbidden(err) {
		t.Errorf("the operator lists config maps: %v", err)
	}
	if _, err := op.CoreV1().Pods("").List(ctx, metav1.ListOptions{}); !forbidden(err) {
		t.Errorf("the operator lists pods: %v", err)
	}
	// What the MeshSync grant needs: creating a ClusterRole with reads it does not
	// hold itself (escalate).
	if _, err := op.RbacV1().ClusterRoles().Create(ctx, clusterRole("mp-op-probe-"+ns), metav1.CreateOptions{DryRun: []string{"All"}}); err != nil {
		t.Errorf("the operator cannot create MeshSync's ClusterRole: %v", err)
	}

	// Someone else's ConfigMap in the namespace: Remove leaves it and the namespace.
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "not-ours"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	removed, err := Remove(ctx, cfg, ns)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"deployment/" + OperatorName, "meshsync/" + ResourceName, "broker/" + ResourceName, "secret/" + SecretName,
		"clusterrole/" + OperatorName + "-" + ns} {
		if !slices.Contains(removed, want) {
			t.Errorf("not removed: %s (%v)", want, removed)
		}
	}
	if _, err := cs.AppsV1().Deployments(ns).Get(ctx, OperatorName, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("operator deployment: %v", err)
	}
	if _, err := cs.RbacV1().ClusterRoles().Get(ctx, OperatorName+"-"+ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("operator clusterrole: %v", err)
	}
	c, _ := crClient(cfg)
	deadline = time.Now().Add(20 * time.Second)
	for {
		var l v1alpha1.MeshSyncList
		if err := c.List(ctx, &l); err != nil {
			t.Fatal(err)
		}
		left := 0
		for _, m := range l.Items {
			if m.Namespace == ns {
				left++
			}
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d MeshSync left in %s (finalizer?)", left, ns)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "not-ours", metav1.GetOptions{}); err != nil {
		t.Errorf("someone else's config map: %v", err)
	}
	st = Status(ctx, cfg, ns)
	if st.Operator.State != "absent" || st.Broker.State != "absent" || st.MeshSync.State != "absent" {
		t.Errorf("status after removal: %+v", st)
	}
	// Removing again is no error.
	if _, err := Remove(ctx, cfg, ns); err != nil {
		t.Errorf("second removal: %v", err)
	}
}

func clusterRole(name string) *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"configmaps", "pods"}, Verbs: []string{"get", "list", "watch"}}}}
}
