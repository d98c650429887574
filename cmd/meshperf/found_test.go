package main_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/meshperf/meshperf/internal/k8stest"
)

// A Prometheus laid out on a real cluster as its chart installs it, discovered by the
// server's embedded MeshSync: once the meshes are listed, `connection list --kind
// prometheus` shows it discovered, reached through the cluster's API server; the
// server's /metrics reports the cluster's discovery (objects, snapshots, events).
func TestFoundPrometheusListedAndDiscoveryMetrics(t *testing.T) {
	merged := k8stest.Require(t, 1)
	cs := k8stest.Clientset(t, merged, "c1")
	ns := k8stest.Namespace("mp-found-cli")
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	one := int32(1)
	labels := map[string]string{"app.kubernetes.io/name": "prometheus", "app.kubernetes.io/instance": "mon"}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "mon-prometheus", Labels: labels},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "prometheus", Image: "quay.io/prometheus/prometheus:v2.54.1", Ports: []corev1.ContainerPort{{Name: "web", ContainerPort: 9090}}}}}}}},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "mon-prometheus"},
		Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Name: "http-web", Port: 9090, TargetPort: intstr.FromString("web")}}}},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	srv := startServer(t, freeAddr(t), t.TempDir(), "", "MESHPERF_ADMIN_TOKEN="+adminToken)
	loginAndAddC1(t, srv, merged)
	// Only this test's namespace: the cluster is shared.
	if r := meshperf(t, "inventory", "scope", "c1", "--include-namespace", ns); r.code != 0 {
		t.Fatalf("scope: %d %s %s", r.code, r.stdout, r.stderr)
	}

	type conn struct {
		Name, Kind, State, Server string
		CreatedBy                 string `json:"created_by"`
	}
	// The cluster is shared: other tests' Prometheus are found too.
	mine := func() []conn {
		r := meshperf(t, "connection", "list", "--kind", "prometheus", "-o", "json")
		var all, out []conn
		_ = json.Unmarshal([]byte(r.stdout), &all)
		for _, c := range all {
			if strings.Contains(c.Server, "/namespaces/"+ns+"/") {
				out = append(out, c)
			}
		}
		return out
	}
	var found []conn
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		if r := meshperf(t, "mesh", "list", "--cluster", "c1"); r.code != 0 {
			t.Fatalf("mesh list: %d %s", r.code, r.stderr)
		}
		found = mine()
		if len(found) > 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(found) != 1 || found[0].State != "discovered" || found[0].Kind != "prometheus" || found[0].CreatedBy != "meshsync" ||
		!strings.HasSuffix(found[0].Server, "/api/v1/namespaces/"+ns+"/services/mon-prometheus:9090/proxy") {
		t.Fatalf("found prometheus connections: %+v\n%s", found, srv.logs.String())
	}
	meshperf(t, "mesh", "list", "--cluster", "c1")
	if again := mine(); len(again) != 1 {
		t.Errorf("listing the meshes again duplicated the connection: %+v", again)
	}
	if r := meshperf(t, "connection", "list", "--kind", "prometheus"); r.code != 0 || !strings.Contains(r.stdout, found[0].Name) || !strings.Contains(r.stdout, "discovered") {
		t.Errorf("connection list table:\n%s", r.stdout)
	}

	// The server's own metrics report c1's discovery.
	sample := func(body, name, labels string) (float64, bool) {
		m := regexp.MustCompile(`(?m)^` + name + regexp.QuoteMeta(labels) + ` (\S+)$`).FindStringSubmatch(body)
		if m == nil {
			return 0, false
		}
		v, err := strconv.ParseFloat(m[1], 64)
		return v, err == nil
	}
	var body string
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		req, _ := http.NewRequest("GET", srv.url+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		objects, ok1 := sample(body, "meshperf_server_meshsync_objects", `{cluster="c1"}`)
		snaps, ok2 := sample(body, "meshperf_server_meshsync_snapshots_total", "")
		if ok1 && ok2 && objects >= 2 && snaps >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no discovery of c1 in /metrics after 90 s:\n%s", grepLines(body, "meshsync"))
		}
	}
	if v, ok := sample(body, "meshperf_server_meshsync_events_applied_total", ""); !ok || v < 2 {
		t.Errorf("events applied: %v %v", v, ok)
	}
	if _, ok := sample(body, "meshperf_server_meshsync_last_snapshot_timestamp_seconds", `{cluster="c1"}`); !ok {
		t.Errorf("no last snapshot time for c1:\n%s", grepLines(body, "meshsync"))
	}
}

func grepLines(s, word string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
