package main_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshperf/meshperf/adapters/charts/chartstest"
	"github.com/meshperf/meshperf/internal/k8stest"
)

// The adapter and mesh commands against a real server and a real cluster: `meshperf
// adapter` registers itself (retrying until the server has it), `adapter list` shows
// it, the sample app goes out and back through `mesh sample`, operations are listed,
// read and their events printed; a version the adapter does not offer exits 2.
func TestAdapterCLI(t *testing.T) {
	merged := k8stest.Require(t, 1)
	repo := chartstest.Serve(t, chartstest.Linkerd("1.16.11", "stable-2.14.10")...)
	srv := startServer(t, freeAddr(t), t.TempDir(), "", "MESHPERF_ADMIN_TOKEN="+adminToken)
	t.Setenv("MESHPERF_CONFIG", filepath.Join(t.TempDir(), "config.yaml"))
	if r := meshperf(t, "login", "--server", srv.url, "--token", adminToken); r.code != 0 {
		t.Fatalf("login: %s", r.stderr)
	}
	kc := filepath.Join(t.TempDir(), "kc")
	if err := os.WriteFile(kc, k8stest.One(t, merged, "c1", ""), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := meshperf(t, "cluster", "add", "--kubeconfig", kc); r.code != 0 {
		t.Fatalf("cluster add: %d %s %s", r.code, r.stdout, r.stderr)
	}

	ad := exec.Command(bin, "adapter", "--mesh", "linkerd", "--listen", freeAddr(t), "--server", srv.url, "--chart-repo", repo.URL)
	ad.Env = append(os.Environ(), "MESHPERF_TOKEN="+adminToken)
	logs := &syncBuffer{}
	ad.Stdout, ad.Stderr = logs, logs
	if err := ad.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ad.Process.Kill(); _ = ad.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := meshperf(t, "adapter", "list", "-o", "json")
		var list []struct {
			Mesh         string
			Healthy      bool
			MeshVersions []string `json:"mesh_versions"`
		}
		_ = json.Unmarshal([]byte(r.stdout), &list)
		if r.code == 0 && len(list) == 1 && list[0].Mesh == "linkerd" && list[0].Healthy && list[0].MeshVersions[0] == "1.16.11" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the adapter never registered: %s %s\n%s", r.stdout, r.stderr, logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if r := meshperf(t, "adapter", "list"); r.code != 0 || !strings.Contains(r.stdout, "linkerd") || !strings.Contains(r.stdout, "install,uninstall") {
		t.Fatalf("adapter list: %d %s", r.code, r.stdout)
	}
	if r := meshperf(t, "mesh", "install", "linkerd", "--version", "9.9.9", "--cluster", "c1"); r.code != 2 || !strings.Contains(r.stderr, "version") {
		t.Fatalf("an unknown version: %d %s %s", r.code, r.stdout, r.stderr)
	}

	b := make([]byte, 3)
	_, _ = rand.Read(b)
	ns := "mp-cli-" + hex.EncodeToString(b)
	cs := k8stest.Clientset(t, merged, "c1")
	t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	r := meshperf(t, "mesh", "sample", "deploy", "linkerd", "--cluster", "c1", "-n", ns, "--no-inject")
	if r.code != 0 || !strings.Contains(r.stdout, "succeeded on cluster c1") || !strings.Contains(r.stdout, "inject=false") {
		t.Fatalf("sample deploy: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if _, err := cs.AppsV1().Deployments(ns).Get(context.Background(), "meshperf-target", metav1.GetOptions{}); err != nil {
		t.Fatalf("no sample app: %v", err)
	}
	r = meshperf(t, "operation", "list", "-o", "json")
	var ops []struct{ ID, Kind, State string }
	if err := json.Unmarshal([]byte(r.stdout), &ops); err != nil || len(ops) != 1 || ops[0].Kind != "sample-deploy" || ops[0].State != "succeeded" {
		t.Fatalf("operation list: %s %v", r.stdout, err)
	}
	if r := meshperf(t, "operation", "get", ops[0].ID); r.code != 0 || !strings.Contains(r.stdout, "c1") || !strings.Contains(r.stdout, "succeeded") {
		t.Fatalf("operation get: %d %s", r.code, r.stdout)
	}
	if r := meshperf(t, "operation", "events", ops[0].ID); r.code != 0 || !strings.Contains(r.stdout, "   1 ") || !strings.Contains(r.stdout, "Deployment "+ns+"/meshperf-target available") {
		t.Fatalf("operation events: %d %s", r.code, r.stdout)
	}
	if r := meshperf(t, "mesh", "sample", "remove", "linkerd", "--cluster", "c1", "-n", ns); r.code != 0 {
		t.Fatalf("sample remove: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if _, err := cs.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the sample's namespace is still there: %v", err)
	}
}
