package meshes

import (
	"context"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// A cluster the test lays meshes out in, as their installers do, and cleans up.
type testCluster struct {
	t   *testing.T
	cs  kubernetes.Interface
	dyn dynamic.Interface
}

func openCluster(t *testing.T, merged []byte, context string) *testCluster {
	t.Helper()
	cc, err := clientcmd.NewClientConfigFromBytes(merged)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := cc.RawConfig()
	rc, err := clientcmd.NewDefaultClientConfig(raw, &clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	return &testCluster{t: t, cs: kubernetes.NewForConfigOrDie(rc), dyn: dynamic.NewForConfigOrDie(rc)}
}

func bg() context.Context { return context.Background() }

func (c *testCluster) namespace(name string) {
	c.t.Helper()
	if _, err := c.cs.CoreV1().Namespaces().Create(bg(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = c.cs.CoreV1().Namespaces().Delete(bg(), name, metav1.DeleteOptions{}) })
}

// container is a name and an image.
type container struct{ name, image string }

func podSpec(cs []container) corev1.PodSpec {
	var spec corev1.PodSpec
	for _, ct := range cs {
		spec.Containers = append(spec.Containers, corev1.Container{Name: ct.name, Image: ct.image})
	}
	return spec
}

func (c *testCluster) deployment(ns, name string, replicas int32, labels map[string]string, cs ...container) {
	c.t.Helper()
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"fp-app": name}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: with(labels, "fp-app", name)}, Spec: podSpec(cs)}}}
	if _, err := c.cs.AppsV1().Deployments(ns).Create(bg(), d, metav1.CreateOptions{}); err != nil {
		c.t.Fatal(err)
	}
}

func (c *testCluster) daemonSet(ns, name string, labels map[string]string, cs ...container) {
	c.t.Helper()
	d := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"fp-app": name}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: with(labels, "fp-app", name)}, Spec: podSpec(cs)}}}
	if _, err := c.cs.AppsV1().DaemonSets(ns).Create(bg(), d, metav1.CreateOptions{}); err != nil {
		c.t.Fatal(err)
	}
}

func (c *testCluster) statefulSet(ns, name string, labels map[string]string, cs ...container) {
	c.t.Helper()
	one := int32(1)
	d := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: appsv1.StatefulSetSpec{Replicas: &one, ServiceName: name, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"fp-app": name}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: with(labels, "fp-app", name)}, Spec: podSpec(cs)}}}
	if _, err := c.cs.AppsV1().StatefulSets(ns).Create(bg(), d, metav1.CreateOptions{}); err != nil {
		c.t.Fatal(err)
	}
}

func (c *testCluster) service(ns, name string, selector map[string]string, port, target int32) {
	c.t.Helper()
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: corev1.ServiceSpec{Selector: selector,
		Ports: []corev1.ServicePort{{Name: "http", Port: port, TargetPort: intstr.FromInt32(target)}}}}
	if _, err := c.cs.CoreV1().Services(ns).Create(bg(), s, metav1.CreateOptions{}); err != nil {
		c.t.Fatal(err)
	}
}

// crd creates a namespaced CRD plural.group (a group of the test's own under the
// mesh's API group, so tests never share one) and removes it at the end.
func (c *testCluster) crd(plural, group string) {
	c.t.Helper()
	gvr := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	name := plural + "." + group
	kind := "Fp" + plural[:len(plural)-1]
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": name},
		"spec": map[string]any{"group": group, "scope": "Namespaced",
			"names": map[string]any{"plural": plural, "singular": plural[:len(plural)-1], "kind": kind, "listKind": kind + "List"},
			"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}},
	}}
	if _, err := c.dyn.Resource(gvr).Create(bg(), obj, metav1.CreateOptions{}); err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = c.dyn.Resource(gvr).Delete(bg(), name, metav1.DeleteOptions{}) })
}

// mutatingWebhook creates an injector's webhook configuration by name, with no
// webhooks in it: the name is the signal, and an empty configuration intercepts
// nothing of the shared cluster.
func (c *testCluster) mutatingWebhook(name string) {
	c.t.Helper()
	w := &admissionv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := c.cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(bg(), w, metav1.CreateOptions{}); err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() {
		_ = c.cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(bg(), name, metav1.DeleteOptions{})
	})
}

// waitPods waits, bounded, until the namespace has n pods with the label.
func (c *testCluster) waitPods(ns, selector string, n int) {
	c.t.Helper()
	got := 0
	err := wait.PollUntilContextTimeout(bg(), 200*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		l, err := c.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, nil
		}
		got = len(l.Items)
		return got == n, nil
	})
	if err != nil {
		c.t.Fatalf("%s: %d pods %s, want %d: %v", ns, got, selector, n, err)
	}
}

func with(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}
