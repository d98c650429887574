package main_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/meshperf/meshperf/internal/k8stest"
)

// kubeconfigWithFiles writes the test clusters' c1 and c2 as a kubeconfig whose c1
// credentials are files beside it, named relatively (as kubeadm and kind write them).
// It returns the path and c1's client key, which must never reach the server's disk
// or logs in clear.
func kubeconfigWithFiles(t *testing.T, merged []byte) (string, []byte) {
	dir := t.TempDir()
	cfg, err := clientcmd.Load(k8stest.Contexts(t, merged, []string{"c1", "c2"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	cl := cfg.Clusters[cfg.Contexts["c1"].Cluster]
	u := cfg.AuthInfos[cfg.Contexts["c1"].AuthInfo]
	key := u.ClientKeyData
	os.MkdirAll(filepath.Join(dir, "pki"), 0o700)
	os.WriteFile(filepath.Join(dir, "pki", "ca.crt"), cl.CertificateAuthorityData, 0o600)
	os.WriteFile(filepath.Join(dir, "pki", "admin.crt"), u.ClientCertificateData, 0o600)
	os.WriteFile(filepath.Join(dir, "pki", "admin.key"), u.ClientKeyData, 0o600)
	cl.CertificateAuthorityData, cl.CertificateAuthority = nil, "pki/ca.crt"
	u.ClientCertificateData, u.ClientCertificate = nil, "pki/admin.crt"
	u.ClientKeyData, u.ClientKey = nil, "pki/admin.key"
	path := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path, key
}

// The cluster and agent commands against a real server and two real clusters.
func TestClusterCLI(t *testing.T) {
	merged := k8stest.Require(t, 2)
	dataDir := t.TempDir()
	addr := freeAddr(t)
	srv := startServer(t, addr, dataDir, "", "MESHPERF_ADMIN_TOKEN="+adminToken)
	t.Setenv("MESHPERF_CONFIG", filepath.Join(t.TempDir(), "config.yaml"))
	if r := meshperf(t, "login", "--server", srv.url, "--token", adminToken); r.code != 0 {
		t.Fatalf("login: %s", r.stderr)
	}
	path, key := kubeconfigWithFiles(t, merged)

	r := meshperf(t, "cluster", "add", "--kubeconfig", path)
	if r.code != 0 || strings.Count(r.stdout, "added") != 2 || !strings.Contains(r.stdout, "connected") {
		t.Fatalf("cluster add: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = meshperf(t, "cluster", "list")
	if r.code != 0 || !strings.Contains(r.stdout, "c1") || !strings.Contains(r.stdout, "v1.36.3") || strings.Count(r.stdout, "connected") != 2 {
		t.Fatalf("cluster list: %d\n%s", r.code, r.stdout)
	}
	if r := meshperf(t, "cluster", "get", "c1"); r.code != 0 || !strings.Contains(r.stdout, "kwok-node-1") || !strings.Contains(r.stdout, "32768 MiB") {
		t.Fatalf("cluster get: %d\n%s", r.code, r.stdout)
	}

	// The meshes of both clusters: a table for people, JSON and YAML for scripts.
	if r := meshperf(t, "mesh", "list"); r.code != 0 || !strings.Contains(r.stdout, "CLUSTER") || !strings.Contains(r.stdout, "c1") || !strings.Contains(r.stdout, "c2") {
		t.Fatalf("mesh list: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = meshperf(t, "mesh", "list", "-o", "json")
	var found []struct {
		Cluster string
		Meshes  []any
		Error   string
	}
	if err := json.Unmarshal([]byte(r.stdout), &found); r.code != 0 || err != nil || len(found) != 2 || found[0].Cluster != "c1" || found[1].Error != "" || found[0].Meshes == nil {
		t.Fatalf("mesh list -o json: %d %v\n%s", r.code, err, r.stdout)
	}
	if r := meshperf(t, "mesh", "list", "--cluster", "c2", "-o", "yaml"); r.code != 0 || !strings.Contains(r.stdout, "cluster: c2") || strings.Contains(r.stdout, "cluster: c1") {
		t.Fatalf("mesh list --cluster c2 -o yaml: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := meshperf(t, "mesh", "list", "-o", "xml"); r.code != 2 {
		t.Fatalf("mesh list -o xml: exit %d, want 2\n%s", r.code, r.stderr)
	}

	// The client key is nowhere in clear: not in the database files, not in the logs.
	needles := [][]byte{key[40:100], []byte(base64.StdEncoding.EncodeToString(key)[:60])}
	files, _ := filepath.Glob(filepath.Join(dataDir, "meshperf.db*"))
	if len(files) == 0 {
		t.Fatal("no database files")
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, n := range needles {
			if bytes.Contains(b, n) {
				t.Fatalf("%s holds the client key in clear", f)
			}
		}
	}
	for _, n := range needles {
		if strings.Contains(srv.logs.String(), string(n)) {
			t.Fatal("the client key reached the server's log")
		}
	}

	// States from the command line.
	if r := meshperf(t, "cluster", "state", "c2", "maintenance"); r.code != 0 || !strings.Contains(r.stdout, "c2 is maintenance") {
		t.Fatalf("state: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := meshperf(t, "cluster", "state", "c2", "discovered"); r.code == 0 || !strings.Contains(r.stderr, "can become") {
		t.Errorf("maintenance -> discovered: %d %s", r.code, r.stderr)
	}
	if r := meshperf(t, "cluster", "state", "c2", "paused"); r.code != 2 {
		t.Errorf("unknown state: exit %d, want 2", r.code)
	}

	// Agents: c2 in maintenance fails alone; then both.
	ns := k8stest.Namespace("mp-cli")
	deploy := []string{"agent", "deploy", "--cluster", "c1", "--cluster", "c2", "--replicas", "2", "--namespace", ns,
		"--broker-endpoint", "nats://198.18.0.5:4222", "--wait", "90s"}
	r = meshperf(t, deploy...)
	if r.code != 1 || !strings.Contains(r.stdout, "c1       ok      2/2") || !strings.Contains(r.stdout, "c2 is maintenance") {
		t.Fatalf("deploy with c2 in maintenance: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	meshperf(t, "cluster", "state", "c2", "connected")
	if r = meshperf(t, deploy...); r.code != 0 || strings.Count(r.stdout, " ok ") != 2 {
		t.Fatalf("deploy: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := meshperf(t, "agent", "deployments"); r.code != 0 || strings.Count(r.stdout, ns) != 2 || strings.Count(r.stdout, "2/2") != 2 ||
		!strings.Contains(r.stdout, "nats://198.18.0.5:4222 (override)") {
		t.Fatalf("deployments: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r = meshperf(t, "agent", "undeploy", "--cluster", "c1", "--cluster", "c2", "--namespace", ns); r.code != 0 || !strings.Contains(r.stdout, "deployment/meshperf-agent") {
		t.Fatalf("undeploy: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	if r := meshperf(t, "agent", "deployments", "-o", "json"); r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("deployments after undeploy: %s", r.stdout)
	}

	// Remove c2: flushed; c1 stays.
	if r := meshperf(t, "cluster", "remove", "c2"); r.code != 0 || !strings.Contains(r.stdout, "flushed 1 node(s)") {
		t.Fatalf("remove: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := meshperf(t, "cluster", "list", "-o", "json"); r.code != 0 || strings.Contains(r.stdout, `"c2"`) || !strings.Contains(r.stdout, `"c1"`) {
		t.Fatalf("list after remove: %s", r.stdout)
	}

	// The key stays in the data directory: a restarted server opens the credential;
	// a server with another key says why it cannot.
	srv.cmd.Process.Kill()
	srv.cmd.Wait()
	srv = startServer(t, addr, dataDir, "", "MESHPERF_ADMIN_TOKEN="+adminToken)
	if r := meshperf(t, "cluster", "check", "c1"); r.code != 0 || !strings.Contains(r.stdout, "connected") {
		t.Fatalf("check after restart: %d %s %s", r.code, r.stdout, r.stderr)
	}
	srv.cmd.Process.Kill()
	srv.cmd.Wait()
	startServer(t, addr, dataDir, "", "MESHPERF_ADMIN_TOKEN="+adminToken, "MESHPERF_SECRET_KEY_FILE="+filepath.Join(t.TempDir(), "other.key"))
	if r := meshperf(t, "cluster", "check", "c1"); r.code == 0 || !strings.Contains(r.stderr, "secret key") {
		t.Fatalf("check with another key: %d %s %s", r.code, r.stdout, r.stderr)
	}
}
