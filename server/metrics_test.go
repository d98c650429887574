package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meshperf/meshperf/internal/promtest"
	"github.com/meshperf/meshperf/sampleapp"
	"github.com/meshperf/meshperf/smp"
)

// A real Prometheus scrapes the server's /metrics with a token: API requests by route
// pattern, runs by state and database latency arrive; without a token (the server does
// not allow anonymous reading) /metrics is refused.
func TestServerMetricsScrapedByPrometheus(t *testing.T) {
	srv := start(t, t.TempDir())
	resp, err := http.Get(srv.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous /metrics: %d, want 401", resp.StatusCode)
	}
	tgt, err := sampleapp.Start(sampleapp.Config{HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	var run struct{ ID string }
	cfg := map[string]any{"duration": "1s", "clients": []map[string]any{{"endpoint_urls": []string{tgt.URL() + "/m"}, "rps": 20}}}
	if code := call(t, "POST", srv.url+"/api/v1/runs", map[string]any{"config": cfg}, &run); code != 202 {
		t.Fatalf("starting a run: %d", code)
	}
	waitStatus(t, srv.url, run.ID, 30*time.Second, func(s string) bool { return s == "completed" })

	prom := promtest.Start(t, promtest.Target{Job: "server", Addr: strings.TrimPrefix(srv.url, "http://"), Token: adminToken})
	prom.WaitFor(t, `up{job="server"}`, "job", 20*time.Second, func(m map[string]float64) bool { return m["server"] == 1 })
	got := prom.WaitFor(t, `sum by (route) (meshperf_server_http_requests_total{method="POST"})`, "route", 20*time.Second,
		func(m map[string]float64) bool { return m["/api/v1/runs"] >= 1 })
	for route := range got {
		if strings.Contains(route, run.ID) {
			t.Errorf("a route label holds a run id: %q", route)
		}
	}
	prom.WaitFor(t, `meshperf_server_runs`, "state", 20*time.Second, func(m map[string]float64) bool { return m["completed"] == 1 })
	prom.WaitFor(t, `sum(meshperf_server_db_query_duration_seconds_count)`, "", 20*time.Second, func(m map[string]float64) bool { return m[""] > 0 })
	prom.WaitFor(t, `meshperf_server_run_queue_depth`, "", 20*time.Second, func(m map[string]float64) bool { v, ok := m[""]; return ok && v == 0 })
	// MeshSync's counters are there before any cluster reports (no cluster here).
	prom.WaitFor(t, `meshperf_server_meshsync_events_applied_total`, "job", 20*time.Second, func(m map[string]float64) bool { v, ok := m["server"]; return ok && v == 0 })
	prom.WaitFor(t, `go_goroutines{job="server"}`, "job", 20*time.Second, func(m map[string]float64) bool { return m["server"] > 0 })
}

// A server run whose config names a Prometheus connection: its result carries the
// target's counter over the window; once Prometheus is down, the next run still
// completes and its metrics say missing, with the reason.
func TestServerRunAttachesPrometheusMetrics(t *testing.T) {
	srv := start(t, t.TempDir())
	tgt, err := sampleapp.Start(sampleapp.Config{HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	prom := promtest.Start(t, promtest.Target{Job: "target", Addr: strings.TrimPrefix(tgt.URL(), "http://")})
	prom.WaitFor(t, `up{job="target"}`, "job", 20*time.Second, func(m map[string]float64) bool { return m["target"] == 1 })
	if code := call(t, "POST", srv.url+"/api/v1/connections", map[string]any{"kind": "prometheus", "name": "prom", "url": prom.URL}, nil); code != 201 {
		t.Fatalf("adding the prometheus connection: %d", code)
	}
	runOnce := func(path string) smp.Result {
		cfg := map[string]any{"duration": "2s", "clients": []map[string]any{{"endpoint_urls": []string{tgt.URL() + path}, "rps": 50}},
			"metrics": map[string]any{"prometheus": "prom", "step": "1s", "queries": []map[string]any{
				{"name": "target_requests", "query": `sum(meshperf_target_requests_total{path="` + path + `"})`, "unit": "requests"}}}}
		var run struct{ ID string }
		if code := call(t, "POST", srv.url+"/api/v1/runs", map[string]any{"config": cfg}, &run); code != 202 {
			t.Fatalf("starting a run: %d", code)
		}
		st := waitStatus(t, srv.url, run.ID, 30*time.Second, func(s string) bool { return s != "queued" && s != "running" })
		if st.Status != "completed" {
			t.Fatalf("run %s", st.Status)
		}
		var res smp.Result
		if code := call(t, "GET", srv.url+"/api/v1/results/"+st.ResultID, nil, &res); code != 200 {
			t.Fatalf("result: %d", code)
		}
		return res
	}
	res := runOnce("/up")
	if res.Metrics == nil || len(res.Metrics.Queries) != 1 || res.Metrics.Queries[0].Status != smp.MetricsOK || res.Metrics.Source != "prom" {
		t.Fatalf("metrics with Prometheus up: %+v", res.Metrics)
	}
	prom.Stop()
	res = runOnce("/down")
	if res.Metrics == nil || len(res.Metrics.Queries) != 1 || res.Metrics.Queries[0].Status != smp.MetricsMissing || res.Metrics.Queries[0].Reason == "" {
		t.Fatalf("metrics with Prometheus down: %+v", res.Metrics)
	}
	t.Logf("missing: %s", res.Metrics.Queries[0].Reason)
}
