package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshperf/meshperf/smp"
)

// A profile with Grafana panels attached, run on a real server: `result get` ends the
// summary with each panel linked over the run's measured window on the Grafana
// connection; naming an unknown connection says why the links are missing and the
// summary still prints.
func TestResultGetLinksGrafanaPanels(t *testing.T) {
	tgt := startTarget(t)
	srv := startServer(t, freeAddr(t), t.TempDir(), "", "MESHPERF_ADMIN_TOKEN="+adminToken)
	t.Setenv("MESHPERF_CONFIG", filepath.Join(t.TempDir(), "config.yaml"))
	meshperf(t, "login", "--server", srv.url, "--token", adminToken)
	if r := meshperf(t, "connection", "add", "grafana", "https://grafana.example", "--name", "g", "--discover-only"); r.code != 0 {
		t.Fatalf("connection add: %d %s %s", r.code, r.stdout, r.stderr)
	}
	prof := filepath.Join(t.TempDir(), "panels.yaml")
	os.WriteFile(prof, []byte("name: with-panels\nduration: 1s\nclients:\n  - endpoint_urls: ["+tgt+"/p]\n    rps: 20\n"+
		"grafana_panels:\n  - {board_uid: mesh-overview, panel_id: 4, title: proxy CPU}\n"), 0o600)
	if r := meshperf(t, "profile", "apply", "-f", prof); r.code != 0 {
		t.Fatalf("apply: %s", r.stderr)
	}
	r := meshperf(t, "run", "--profile", "with-panels", "-o", "json")
	if r.code != 0 {
		t.Fatalf("run: exit %d\n%s", r.code, r.stderr)
	}
	res, err := smp.DecodeResult([]byte(r.stdout))
	if err != nil {
		t.Fatal(err)
	}
	r = meshperf(t, "result", "get", res.ID)
	if r.code != 0 || !strings.Contains(r.stdout, "grafana panels (g, over the measured window)") ||
		!strings.Contains(r.stdout, "proxy CPU https://grafana.example/d/mesh-overview?from=") || !strings.Contains(r.stdout, "viewPanel=4") {
		t.Fatalf("result get: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = meshperf(t, "result", "get", res.ID, "--grafana", "nope")
	if r.code != 0 || !strings.Contains(r.stdout, "1 attached, not linked") || !strings.Contains(r.stdout, "nope") {
		t.Errorf("result get --grafana nope: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}
