package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshperf/meshperf/internal/promtest"
	"github.com/meshperf/meshperf/smp"
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

// A local run with a metrics section: a Prometheus that does not answer leaves the
// run's exit code alone and the metrics marked missing; bad PromQL is refused before
// any load, naming the field.
func TestRunPrometheusFlag(t *testing.T) {
	target := startTarget(t)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "m.yaml")
	write := func(query string) {
		y := "duration: 1s\nclients:\n  - endpoint_urls: [\"" + target + "/m\"]\n    rps: 10\nmetrics:\n  step: 1s\n  queries:\n    - name: q\n      query: '" + query + "'\n"
		if err := os.WriteFile(cfgFile, []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`sum(meshperf_target_requests_total)`)
	r := meshperf(t, "run", "-f", cfgFile, "--prometheus", "http://"+freeAddr(t), "-o", "json", "-q")
	var res struct {
		Status  string
		Metrics struct {
			Queries []struct{ Name, Status, Reason string }
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != 0 || res.Status != "completed" {
		t.Fatalf("run: exit %d, %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	if len(res.Metrics.Queries) != 1 || res.Metrics.Queries[0].Status != "missing" || !strings.Contains(res.Metrics.Queries[0].Reason, "did not answer") {
		t.Errorf("metrics: %+v", res.Metrics)
	}
	write(`sum(rate(x[1m])`)
	r = meshperf(t, "run", "-f", cfgFile, "--prometheus", "http://"+freeAddr(t), "--dry-run")
	if r.code != 2 || !strings.Contains(r.stderr, "metrics.queries[0].query") {
		t.Errorf("bad PromQL: exit %d\n%s", r.code, r.stderr)
	}
}

// A distributed run whose profile names a Prometheus connection: the real Prometheus
// scrapes the target and the agent process (its --metrics-addr); the result carries the
// target's counter over the window, and the agent's own counters show what it sent.
func TestDistributedRunCarriesPrometheusMetrics(t *testing.T) {
	tgt := startTarget(t)
	srv := startServer(t, freeAddr(t), t.TempDir(), "", "MESHPERF_ADMIN_TOKEN="+adminToken)
	agentMetrics := freeAddr(t)
	startAgents(t, brokerURL(t, srv), srv.url, []string{"--labels", "pool=m", "--metrics-addr", agentMetrics}, "m-a")
	prom := promtest.Start(t, promtest.Target{Job: "target", Addr: strings.TrimPrefix(tgt, "http://")}, promtest.Target{Job: "agent", Addr: agentMetrics})
	prom.WaitFor(t, `up`, "job", 30*time.Second, func(m map[string]float64) bool { return m["target"] == 1 && m["agent"] == 1 })
	t.Setenv("MESHPERF_CONFIG", filepath.Join(t.TempDir(), "config.yaml"))
	meshperf(t, "login", "--server", srv.url, "--token", adminToken)
	if r := meshperf(t, "connection", "add", "prometheus", prom.URL, "--name", "prom"); r.code != 0 {
		t.Fatalf("connection add: %s", r.stderr)
	}
	prof := filepath.Join(t.TempDir(), "dist.yaml")
	os.WriteFile(prof, []byte("name: dist-metrics\nduration: 3s\nagents: {count: 1, selector: {pool: m}}\nclients:\n  - endpoint_urls: ["+tgt+"/dm]\n    rps: 50\n"+
		"metrics:\n  prometheus: prom\n  step: 1s\n  queries:\n    - {name: target_requests, query: 'sum(meshperf_target_requests_total{path=\"/dm\"})', unit: requests}\n"), 0o600)
	if r := meshperf(t, "profile", "apply", "-f", prof); r.code != 0 {
		t.Fatalf("apply: %s", r.stderr)
	}
	r := meshperf(t, "run", "--profile", "dist-metrics", "-o", "json")
	if r.code != 0 {
		t.Fatalf("distributed run: exit %d\n%s", r.code, r.stderr)
	}
	res, err := smp.DecodeResult([]byte(r.stdout))
	if err != nil {
		t.Fatal(err)
	}
	if res.Metrics == nil || len(res.Metrics.Queries) != 1 || res.Metrics.Queries[0].Status != smp.MetricsOK || res.Metrics.Source != "prom" {
		t.Fatalf("metrics of a distributed run: %+v", res.Metrics)
	}
	prom.WaitFor(t, `meshperf_agent_shards_total`, "job", 20*time.Second, func(m map[string]float64) bool { return m["agent"] == 1 })
	prom.WaitFor(t, `meshperf_agent_intervals_sent_total`, "job", 20*time.Second, func(m map[string]float64) bool { return m["agent"] >= 3 })
}
