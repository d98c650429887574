package main_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshperf/meshperf/internal/promtest"
)

// The connection commands against a real server and a real Prometheus: add, list
// (every kind, JSON for scripts), check after Prometheus stopped, remove.
func TestConnectionCLI(t *testing.T) {
	prom := promtest.Start(t)
	srv := startServer(t, freeAddr(t), t.TempDir(), "", "MESHPERF_ADMIN_TOKEN="+adminToken)
	t.Setenv("MESHPERF_CONFIG", filepath.Join(t.TempDir(), "config.yaml"))
	if r := meshperf(t, "login", "--server", srv.url, "--token", adminToken); r.code != 0 {
		t.Fatalf("login: %s", r.stderr)
	}
	r := meshperf(t, "connection", "add", "prometheus", prom.URL, "--name", "prom")
	if r.code != 0 || !strings.Contains(r.stdout, "added connected") {
		t.Fatalf("connection add: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := meshperf(t, "connection", "add", "kubernetes", prom.URL); r.code != 2 {
		t.Errorf("adding a kubernetes connection here: exit %d, want 2 (bad input)", r.code)
	}
	r = meshperf(t, "connection", "list", "--output", "json")
	var list []struct{ Name, Kind, State, Version string }
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) != 1 || list[0].Kind != "prometheus" ||
		list[0].State != "connected" || !strings.HasPrefix(list[0].Version, "2.") {
		t.Fatalf("connection list: %v %+v\n%s", err, list, r.stdout)
	}
	if r := meshperf(t, "cluster", "list"); strings.Contains(r.stdout, "prom") {
		t.Errorf("cluster list shows the prometheus connection:\n%s", r.stdout)
	}
	prom.Stop()
	r = meshperf(t, "connection", "check", "prom")
	if r.code == 0 || !strings.Contains(r.stdout, "disconnected") {
		t.Errorf("check after Prometheus stopped: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := meshperf(t, "connection", "remove", "prom"); r.code != 0 {
		t.Errorf("remove: %d %s", r.code, r.stderr)
	}
	if r := meshperf(t, "connection", "get", "prom"); r.code == 0 {
		t.Errorf("get after remove succeeded:\n%s", r.stdout)
	}
}
