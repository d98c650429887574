package main_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/meshperf/meshperf/internal/k8stest"
)

// The inventory from the command line, against a real cluster discovered by the
// server's embedded MeshSync: scope, list (table, json, yaml), get, counts, health
// with the synthetic check, flush, and bad input exiting 2.
func TestInventoryCLI(t *testing.T) {
	merged := k8stest.Require(t, 1)
	cs := k8stest.Clientset(t, merged, "c1")
	ns := k8stest.Namespace("mp-inv-cli")
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "inv-probe",
		Labels: map[string]string{"team": "perf"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	addr := freeAddr(t)
	srv := startServer(t, addr, t.TempDir(), "", "MESHPERF_ADMIN_TOKEN="+adminToken)
	loginAndAddC1(t, srv, merged)
	// Only this test's namespace and kind: the cluster is shared.
	if r := meshperf(t, "inventory", "scope", "c1", "--include-namespace", ns, "--include-kind", "ConfigMap"); r.code != 0 || !strings.Contains(r.stdout, ns) {
		t.Fatalf("scope: %d %s %s", r.code, r.stdout, r.stderr)
	}
	var items []struct {
		UID, Name, Kind string
		Managed         bool
	}
	end := time.Now().Add(90 * time.Second)
	for {
		r := meshperf(t, "inventory", "list", "--cluster", "c1", "-n", ns, "--kind", "ConfigMap", "-l", "team=perf", "-o", "json")
		if r.code != 0 {
			t.Fatalf("list: %d %s", r.code, r.stderr)
		}
		_ = json.Unmarshal([]byte(r.stdout), &items)
		if len(items) == 1 {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("inv-probe not in the inventory after 90 s: %s\n%s", r.stdout, srv.logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if items[0].Name != "inv-probe" || items[0].Managed {
		t.Errorf("listed %+v", items[0])
	}
	r := meshperf(t, "inventory", "list", "--cluster", "c1", "-n", ns, "-o", "yaml")
	var asYAML []map[string]any
	if err := yaml.Unmarshal([]byte(r.stdout), &asYAML); r.code != 0 || err != nil || len(asYAML) == 0 || asYAML[0]["cluster_uid"] == nil {
		t.Errorf("list -o yaml: %d %v\n%s", r.code, err, r.stdout)
	}
	if r := meshperf(t, "inventory", "list", "--cluster", "c1", "-n", ns); r.code != 0 || !strings.HasPrefix(r.stdout, "CLUSTER ") || !strings.Contains(r.stdout, "inv-probe") {
		t.Errorf("list table: %d\n%s", r.code, r.stdout)
	}
	if r := meshperf(t, "inventory", "get", "c1", items[0].UID, "-o", "json"); r.code != 0 || !strings.Contains(r.stdout, `"name": "inv-probe"`) || !strings.Contains(r.stdout, `"resource_version"`) {
		t.Errorf("get: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := meshperf(t, "inventory", "counts", "--cluster", "c1"); r.code != 0 || !strings.Contains(r.stdout, "ConfigMap") {
		t.Errorf("counts: %d\n%s", r.code, r.stdout)
	}
	if r := meshperf(t, "inventory", "health", "c1", "--check", "--check-namespace", ns); r.code != 0 || !strings.Contains(r.stdout, "check     ok") ||
		!strings.Contains(r.stdout, "embedded  running") {
		t.Errorf("health: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, bad := range [][]string{{"inventory", "list", "-l", "team in ("}, {"inventory", "list", "--managed", "perhaps"}, {"inventory", "list", "-o", "wide"}} {
		if r := meshperf(t, bad...); r.code != 2 {
			t.Errorf("%v: exit %d, want 2: %s", bad, r.code, r.stderr)
		}
	}
	if r := meshperf(t, "inventory", "flush", "c1"); r.code != 0 || !strings.Contains(r.stdout, "flushed") {
		t.Errorf("flush: %d %s %s", r.code, r.stdout, r.stderr)
	}
	// The flush asked for a snapshot: the object comes back.
	end = time.Now().Add(90 * time.Second)
	for {
		r := meshperf(t, "inventory", "list", "--cluster", "c1", "-n", ns, "--name", "inv-probe", "-o", "json")
		if r.code == 0 && strings.Contains(r.stdout, "inv-probe") {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("not rediscovered after the flush: %s", r.stdout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
