package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/meshperf/meshperf/internal/promtest"
	"github.com/meshperf/meshperf/sampleapp"
	"github.com/meshperf/meshperf/server"
)

const browserToken = "mpt_browser-test-admin-token-0123456789"

// lab is a real meshperf server (SQLite in a temporary directory, embedded NATS) and a
// real target.
type lab struct {
	url    string
	target string
	prom   *promtest.Prometheus
}

func startLab(t *testing.T) *lab {
	t.Helper()
	tgt, err := sampleapp.Start(sampleapp.Config{HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tgt.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, server.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), AdminToken: browserToken, NATSAddr: "127.0.0.1:0",
			InstanceID: "browser-test", Concurrency: 3, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Out: io.Discard,
			Ready: func(addr string) { ready <- addr }})
	}()
	l := &lab{target: tgt.URL()}
	select {
	case addr := <-ready:
		l.url = "http://" + addr
	case err := <-done:
		t.Fatalf("the server did not start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not start within 30 s")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
		}
	})
	return l
}

func (l *lab) call(t *testing.T, method, path string, body any) map[string]any {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, l.url+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+browserToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	json.Unmarshal(raw, &out)
	return out
}

func (l *lab) config(path string, seconds int) map[string]any {
	return map[string]any{"duration": fmt.Sprintf("%ds", seconds), "warmup": "0s", "labels": map[string]string{"suite": "browser"},
		"clients": []map[string]any{{"endpoint_urls": []string{l.target + path}, "rps": 40, "connections": 2}}}
}

// withMetrics asks the lab's Prometheus (connection "prom") for series over the run:
// the target's CPU and memory in the proxy roles, a control-plane query that matches
// nothing (missing, with its reason) and a query of the run's own.
func (l *lab) withMetrics(cfg map[string]any) map[string]any {
	cfg["metrics"] = map[string]any{"prometheus": "prom", "step": "1s", "queries": []map[string]any{
		{"name": "target_cpu", "query": `sum(rate(process_cpu_seconds_total{job="target"}[3s]))`, "unit": "cores", "role": "proxy_cpu"},
		{"name": "target_memory", "query": `sum(process_resident_memory_bytes{job="target"})`, "unit": "bytes", "role": "proxy_memory"},
		{"name": "control_plane_cpu", "query": `sum(rate(process_cpu_seconds_total{job="no-control-plane"}[3s]))`, "unit": "cores", "role": "control_plane_cpu"},
		{"name": "target_requests", "query": `sum by (path) (meshperf_target_requests_total)`, "unit": "requests"}}}
	return cfg
}

// waitResult waits for a run to complete and returns its result's id.
func (l *lab) waitResult(t *testing.T, runID string, d time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		run := l.call(t, "GET", "/api/v1/runs/"+runID, nil)
		if id, _ := run["result_id"].(string); id != "" && run["status"] == "completed" {
			return id
		}
		if s := run["status"]; s == "failed" || s == "cancelled" || time.Now().After(deadline) {
			t.Fatalf("run %s: %v after %v", runID, run, d)
		}
		time.Sleep(200 * time.Millisecond) // the run's API has no change to wait on
	}
}
