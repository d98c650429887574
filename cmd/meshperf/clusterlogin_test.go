package main_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/meshperf/meshperf/internal/k8stest"
)

// loginAndAddC1 points the CLI at srv as admin (a config file of the test's own) and
// adds test cluster c1 from merged, with extra `cluster add` flags; it returns the
// kubeconfig file it added c1 from.
func loginAndAddC1(t *testing.T, srv *serverProc, merged []byte, addFlags ...string) string {
	t.Helper()
	t.Setenv("MESHPERF_CONFIG", filepath.Join(t.TempDir(), "config.yaml"))
	if r := meshperf(t, "login", "--server", srv.url, "--token", adminToken); r.code != 0 {
		t.Fatalf("login: %s", r.stderr)
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, k8stest.Contexts(t, merged, []string{"c1"}, nil), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := meshperf(t, append([]string{"cluster", "add", "--kubeconfig", kc}, addFlags...)...); r.code != 0 {
		t.Fatalf("cluster add: %d %s %s", r.code, r.stdout, r.stderr)
	}
	return kc
}
