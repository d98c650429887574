package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshperf/meshperf/dashboards"
)

// meshperf dashboard: two real runs give a board that validates, with both runs on
// every panel; bad use is exit 2 naming the flag.
func TestDashboardCommand(t *testing.T) {
	url := startTarget(t)
	dir := t.TempDir()
	for _, name := range []string{"a.json", "b.json"} {
		if r := meshperf(t, "run", "--url", url+"/?latency=2ms", "--rate", "50", "--duration", "1s", "-q", "--out", filepath.Join(dir, name)); r.code != 0 {
			t.Fatalf("run: %d %s", r.code, r.stderr)
		}
	}
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	r := meshperf(t, "dashboard", a, b, "--prometheus-datasource", "prom")
	if r.code != 0 {
		t.Fatalf("dashboard: %d %s", r.code, r.stderr)
	}
	if err := dashboards.Validate([]byte(r.stdout)); err != nil {
		t.Fatalf("board from the CLI: %v", err)
	}
	var board struct {
		Panels []struct {
			Targets []json.RawMessage `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &board); err != nil || len(board.Panels) == 0 {
		t.Fatalf("%v %s", err, r.stdout)
	}
	for i, p := range board.Panels {
		if len(p.Targets) != 2 {
			t.Errorf("panel %d has %d queries for 2 results", i, len(p.Targets))
		}
	}
	out := filepath.Join(dir, "board.json")
	if r := meshperf(t, "dashboard", a, "--out", out); r.code != 0 || r.stdout != "" {
		t.Fatalf("--out: %d %q %s", r.code, r.stdout, r.stderr)
	}
	if data, err := os.ReadFile(out); err != nil || dashboards.Validate(data) != nil {
		t.Fatalf("--out file: %v", err)
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"dashboard", a, "--grafana", "http://127.0.0.1:1"}, "--grafana-token-file"},
		{[]string{"dashboard", a, a}, "given twice"},
		{[]string{"dashboard", a, "-o", "yaml"}, "--output"},
	} {
		if r := meshperf(t, bad.args...); r.code != 2 || !strings.Contains(r.stderr, bad.want) {
			t.Errorf("%v: exit %d %s, want 2 naming %s", bad.args, r.code, r.stderr, bad.want)
		}
	}
}

// meshperf grafana: bad use is exit 2 naming the flag, before any Grafana is asked
// (a Grafana runs only where GRAFANA_URL is set: dashboards.TestUploadToGrafana).
func TestGrafanaCommandsRefuseBadUse(t *testing.T) {
	token := filepath.Join(t.TempDir(), "token")
	os.WriteFile(token, []byte("glsa_x\n"), 0o600)
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"grafana", "boards"}, "--grafana"},
		{[]string{"grafana", "boards", "--grafana", "http://127.0.0.1:1", "--grafana-token-file", token, "-o", "xml"}, "-o"},
		{[]string{"grafana", "panels", "uid", "--grafana", "http://127.0.0.1:1", "--grafana-token-file", "/nonexistent"}, "--grafana-token-file"},
		{[]string{"grafana", "boards", "--grafana", "ftp://x", "--grafana-token-file", token}, "grafana_url"},
	} {
		r := meshperf(t, bad.args...)
		if r.code != 2 || !strings.Contains(r.stderr, bad.want) {
			t.Errorf("%v: exit %d %s, want 2 naming %s", bad.args, r.code, r.stderr, bad.want)
		}
	}
}
