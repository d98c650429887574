package sampleapp

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meshperf/meshperf/internal/promtest"
)

// A real Prometheus scrapes the target's /metrics: its request counter by path and
// code equals what the target answered, and /metrics itself is not counted.
func TestTargetMetricsScrapedByPrometheus(t *testing.T) {
	s, err := Start(Config{HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	get := func(path string) {
		resp, err := http.Get(s.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	for range 7 {
		get("/ok")
	}
	for range 3 {
		get("/bad?status=503")
	}
	prom := promtest.Start(t, promtest.Target{Job: "target", Addr: strings.TrimPrefix(s.URL(), "http://")})
	got := prom.WaitFor(t, `sum by (code) (meshperf_target_requests_total{path=~"/ok|/bad"})`, "code", 20*time.Second,
		func(m map[string]float64) bool { return len(m) == 2 })
	if got["200"] != 7 || got["503"] != 3 {
		t.Errorf("prometheus saw %v, want 7 × 200 and 3 × 503", got)
	}
	if st := s.Stats(); st.ByPath["/metrics"] != 0 {
		t.Errorf("/metrics counted as traffic: %d", st.ByPath["/metrics"])
	}
	prom.WaitFor(t, `meshperf_target_request_duration_seconds_count{path="/ok"}`, "path", 10*time.Second,
		func(m map[string]float64) bool { return m["/ok"] == 7 })
}
