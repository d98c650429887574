package main_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshperf/meshperf/bus"
	"github.com/meshperf/meshperf/internal/k8stest"
)

// Operator mode end to end: a real server with its embedded broker, a connection to
// c1 in operator mode (the server runs no discovery for it), the cluster's MeshSync
// credential issued by the CLI, and `meshperf meshsync` as its own process with the
// flags an in-cluster deployment uses (no --cluster: the ID comes from kube-system;
// the token from a mounted file). Only --kubeconfig/--context stand in for the
// pod's service account, which kwok clusters cannot give a process outside them.
// Its objects fill the inventory; the same credential cannot publish as another
// cluster, and an agent's credential is no MeshSync's.
func TestOperatorModeMeshSyncFillsTheInventory(t *testing.T) {
	merged := k8stest.Require(t, 2)
	cs := k8stest.Clientset(t, merged, "c1")
	ns := k8stest.Namespace("mp-ms-operator")
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })

	srv := startServer(t, freeAddr(t), t.TempDir(), "", "MESHPERF_ADMIN_TOKEN="+adminToken)
	kc := loginAndAddC1(t, srv, merged)
	if r := meshperf(t, "inventory", "scope", "c1", "--mode", "operator"); r.code != 0 {
		t.Fatalf("scope --mode operator: %d %s %s", r.code, r.stdout, r.stderr)
	}
	// The supervisor stops (or never starts) its own discovery of c1.
	var health struct {
		Mode, State string
		Embedded    *struct{ State string }
	}
	waitUntil(t, 30*time.Second, func() string { return "the server still discovers c1 itself" }, func() bool {
		health.Embedded = nil
		code := api(t, "GET", srv.url+"/api/v1/clusters/c1/discovery", adminToken, nil, &health)
		return code == 200 && health.Mode == "operator" && health.Embedded == nil
	})

	r := meshperf(t, "cluster", "meshsync-credential", "c1", "-o", "json")
	var issued struct {
		ClusterUID string `json:"cluster_uid"`
		Credential string
	}
	if err := json.Unmarshal([]byte(r.stdout), &issued); r.code != 0 || err != nil || issued.Credential == "" {
		t.Fatalf("meshsync-credential: %d %v %s %s", r.code, err, r.stdout, r.stderr)
	}
	kubeSystem, err := cs.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if issued.ClusterUID != string(kubeSystem.UID) {
		t.Fatalf("credential for cluster %q, c1 is %q", issued.ClusterUID, kubeSystem.UID)
	}
	if r := meshperf(t, "cluster", "meshsync-credential", "c1"); r.code != 0 || strings.TrimSpace(r.stdout) != issued.Credential {
		t.Errorf("plain output is not the credential alone: %d %q", r.code, r.stdout)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(issued.Credential+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	natsURL := brokerURL(t, srv)
	proc := exec.Command(bin, "meshsync", "--kubeconfig", kc, "--context", "c1", "--nats-url", natsURL,
		"--token-file", tokenFile, "--include-namespaces", ns, "--include-kinds", "ConfigMap")
	var stderr strings.Builder
	proc.Stderr = &stderr
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proc.Process.Signal(os.Interrupt); _ = proc.Wait() })

	// Created after the server stopped discovering c1: only the process can report it.
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "op-probe"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var page struct {
		Items []struct {
			Name       string
			ClusterUID string `json:"cluster_uid"`
		}
	}
	waitUntil(t, 90*time.Second, func() string { return "op-probe not in the inventory; the process said:\n" + stderr.String() }, func() bool {
		page.Items = nil
		code := api(t, "GET", srv.url+"/api/v1/inventory?cluster=c1&namespace="+ns+"&name=op-probe", adminToken, nil, &page)
		return code == 200 && len(page.Items) == 1
	})
	if page.Items[0].ClusterUID != issued.ClusterUID {
		t.Errorf("stored under cluster %q, want %q", page.Items[0].ClusterUID, issued.ClusterUID)
	}
	api(t, "GET", srv.url+"/api/v1/clusters/c1/discovery", adminToken, nil, &health)
	if health.Mode != "operator" || health.Embedded != nil || health.State == "silent" {
		t.Errorf("health after the process reported: %+v", health)
	}

	// The same credential, speaking for c2: the broker refuses, nothing is stored.
	c2System, err := k8stest.Clientset(t, merged, "c2").CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c2 := string(c2System.UID)
	nc, err := nats.Connect(natsURL, nats.Token(issued.Credential), nats.CustomInboxPrefix(bus.MeshSyncInbox(issued.ClusterUID)))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	theirs, _ := bus.MeshSyncEvents(c2)
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := js.Publish(pctx, theirs, []byte(`{"v":1}`)); err == nil {
		t.Errorf("c1's credential published c2's events")
	}
	// An agent's credential is refused as a MeshSync token.
	agent := meshperf(t, "agent", "credential", "create", issued.ClusterUID)
	if agent.code != 0 {
		t.Fatalf("agent credential: %d %s", agent.code, agent.stderr)
	}
	if nc, err := nats.Connect(natsURL, nats.Token(strings.TrimSpace(agent.stdout))); err == nil {
		nc.Close()
		t.Errorf("an agent's credential connected as a MeshSync")
	}
}

// waitUntil polls cond until it holds, failing with what() after within.
func waitUntil(t *testing.T, within time.Duration, what func() string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(within); !cond(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("after %v: %s", within, what())
		}
	}
}
