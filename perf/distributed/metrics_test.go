package distributed_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meshperf/meshperf/internal/promtest"
	"github.com/meshperf/meshperf/internal/selfmetrics"
	"github.com/meshperf/meshperf/perf/distributed"
)

// An agent's own metrics, scraped by a real Prometheus after a coordinated run: one
// shard, every interval plus the final message acknowledged, the outbox empty; the
// coordinator measured the broker's lag of each interval.
func TestAgentMetricsScrapedByPrometheus(t *testing.T) {
	w := setup(t)
	reg := selfmetrics.NewRegistry()
	am := selfmetrics.NewAgent(reg)
	ms := httptest.NewServer(selfmetrics.Handler(reg))
	defer ms.Close()
	cred, err := w.creds.Issue("m1", false)
	if err != nil {
		t.Fatal(err)
	}
	a, err := distributed.ConnectAgent(distributed.AgentOptions{URL: w.b.URL, Credential: cred, Name: "m1", Logger: quiet, Metrics: am})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	defer func() { cancel(); <-done; a.Close() }()

	var lags atomic.Int64
	res, err := distributed.Coordinate(context.Background(), distributed.CoordinatorOptions{NC: w.b.NC, Stream: w.b.Stream, RunID: "metrics",
		Config: shardConfig(w.tgt.URL()+"/metrics-run", 50, 2*time.Second), Agents: []string{"m1"}, Lead: 500 * time.Millisecond, Logger: quiet,
		OnIntervalLag: func(time.Duration) { lags.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	// Intervals of the measured window, plus the final message.
	want := float64(len(res.Intervals) + 1)
	if lags.Load() != int64(len(res.Intervals)) {
		t.Errorf("broker lag observed %d times, want one per interval (%d)", lags.Load(), len(res.Intervals))
	}
	// The final message may still be in flight when Coordinate returns: wait for it.
	for deadline := time.Now().Add(10 * time.Second); testutil.ToFloat64(am.IntervalsSent) < want && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	prom := promtest.Start(t, promtest.Target{Job: "agent", Addr: strings.TrimPrefix(ms.URL, "http://")})
	got := prom.WaitFor(t, `meshperf_agent_intervals_sent_total`, "job", 20*time.Second, func(m map[string]float64) bool { return m["agent"] > 0 })
	if got["agent"] != want {
		t.Errorf("intervals sent %v, want %v (%d intervals and the final message)", got["agent"], want, len(res.Intervals))
	}
	for q, v := range map[string]float64{"meshperf_agent_shards_total": 1, "meshperf_agent_shards_running": 0,
		"meshperf_agent_outbox_depth": 0, "meshperf_agent_send_lag_seconds_count": want} {
		prom.WaitFor(t, q, "job", 10*time.Second, func(m map[string]float64) bool { return m["agent"] == v })
	}
}
