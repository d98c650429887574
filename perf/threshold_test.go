package perf_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/meshperf/meshperf/perf"
	"github.com/meshperf/meshperf/sampleapp"
	"github.com/meshperf/meshperf/smp"
)

func TestParseAndEvalThresholds(t *testing.T) {
	s := &smp.Summary{Requests: 1000, ErrorRate: 0.02, ActualRPS: 950,
		Latency: smp.LatencySummary{P50Ms: 2, P99Ms: 300, P999Ms: 900, MaxMs: 1200, MeanMs: 5}}
	cases := map[string]bool{
		"p99 < 250ms":       false,
		"p99 <= 300ms":      true,
		"p50<2.5ms":         true,
		"p99.9 < 1s":        true,
		"max < 1s":          false,
		"mean > 1ms":        true,
		"error_rate < 1%":   false,
		"error_rate < 0.05": true,
		"rps >= 950":        true,
		"rps > 950/s":       false,
		"requests == 1000":  true,
		"requests != 1000":  false,
	}
	for expr, want := range cases {
		c, err := perf.ParseThreshold(smp.Threshold{Expr: expr})
		if err != nil {
			t.Errorf("%q: %v", expr, err)
			continue
		}
		if got := c.Eval(s); got.OK != want {
			t.Errorf("%q on the summary: ok=%v (observed %s), want %v", expr, got.OK, got.Observed, want)
		}
	}
	for expr, wantMsg := range map[string]string{
		"p99 < 250":         "give a unit",
		"p98 < 1s":          "unknown metric",
		"error_rate < 150%": "percentage",
		"error_rate < 2":    "ratio",
		"rps >= lots":       "not a non-negative number",
		"p99 ~ 1s":          "METRIC OP VALUE",
		"":                  "METRIC OP VALUE",
	} {
		_, err := perf.ParseThreshold(smp.Threshold{Expr: expr})
		if err == nil || !strings.Contains(err.Error(), wantMsg) {
			t.Errorf("%q: error %v, want it to mention %q", expr, err, wantMsg)
		}
	}
}

func TestThresholdsInConfigFiles(t *testing.T) {
	doc := `duration: 1s
thresholds:
  - p99 < 250ms
  - {expr: "error_rate < 1%", abort_on_fail: true, abort_after: 5s}
  - {expr: "rps > 1", abort: yes}
  - p42 < 1s
clients: [{endpoint_urls: ["http://127.0.0.1:1/"]}]
`
	var cfg smp.TestConfig
	err := smp.DecodeStrict([]byte(doc), &cfg)
	if err == nil || !strings.Contains(err.Error(), "thresholds[2]") || !strings.Contains(err.Error(), `unknown field "abort"`) {
		t.Fatalf("want thresholds[2] named, got %v", err)
	}
	doc = strings.Replace(doc, `  - {expr: "rps > 1", abort: yes}`+"\n", "", 1)
	if err := smp.DecodeStrict([]byte(doc), &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Thresholds) != 3 || !cfg.Thresholds[1].AbortOnFail || cfg.Thresholds[1].AbortAfter.D() != 5*time.Second {
		t.Fatalf("thresholds %+v", cfg.Thresholds)
	}
	cfg.ApplyDefaults()
	err = perf.Validate(&cfg)
	if err == nil || !strings.Contains(err.Error(), "thresholds[2]") || !strings.Contains(err.Error(), "unknown metric") {
		t.Errorf("validation: %v", err)
	}
}

// A run whose threshold fails with abort_on_fail stops early, keeps what it measured,
// and says which threshold stopped it; the others are still evaluated.
func TestAbortOnFailStopsTheRun(t *testing.T) {
	srv := startTarget(t, sampleapp.Injection{Latency: sampleapp.Latency{Kind: "fixed", A: 30 * time.Millisecond}})
	cfg := config(20*time.Second, smp.Client{RPS: 100, Connections: 16, EndpointURLs: []string{srv.URL() + "/abort"}})
	cfg.Thresholds = []smp.Threshold{
		{Expr: "p99 < 10ms", AbortOnFail: true, AbortAfter: smp.Duration(2 * time.Second)},
		{Expr: "error_rate < 1%"},
	}
	start := time.Now()
	res, err := perf.Run(context.Background(), cfg, perf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if took > 5*time.Second {
		t.Errorf("the run went on for %v", took)
	}
	if res.Status != smp.StatusPartial || !strings.Contains(res.StatusReason, `threshold "p99 < 10ms" failed at 2s`) {
		t.Errorf("status %s: %s", res.Status, res.StatusReason)
	}
	if len(res.Thresholds) != 2 || res.Thresholds[0].OK || !res.Thresholds[0].Aborted || !res.Thresholds[1].OK {
		t.Errorf("verdicts %+v", res.Thresholds)
	}
	if res.Summary.Requests < 150 || perf.ThresholdsPassed(res) || !perf.AbortedByThreshold(res) {
		t.Errorf("kept %d requests", res.Summary.Requests)
	}
}
