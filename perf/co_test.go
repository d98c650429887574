package perf_test

import (
	"context"
	"testing"
	"time"

	"github.com/meshperf/meshperf/perf"
	"github.com/meshperf/meshperf/sampleapp"
	"github.com/meshperf/meshperf/smp"
)

// Coordinated omission. The target pauses every response for 1 s out of every 5 s.
// Two clients hit it at once for 15 s, 1000 req/s each over 16 connections:
//
//   - open: requests stay due at 1000/s through the stall; the ones that found every
//     connection busy are timed from their intended send time. About 20% of requests
//     fall in a stall and wait up to 1 s, so p99 is close to 1 s.
//   - closed: the same pacing, but each request is timed from when it actually left.
//     During a stall only the 16 requests in flight see the pause; the ~1000 that were
//     due meanwhile leave late, in a burst, and look fast. p99 stays around a
//     millisecond: the stall is hidden from every percentile below the max.
func TestCoordinatedOmission(t *testing.T) {
	if testing.Short() {
		t.Skip("15 s load test; run without -short")
	}
	srv, err := sampleapp.Start(sampleapp.Config{HTTPAddr: "127.0.0.1:0", Injection: sampleapp.Injection{
		Stall: sampleapp.Stall{Pause: time.Second, Every: 5 * time.Second}}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	client := func(name string, m smp.LoadModel) smp.Client {
		return smp.Client{Name: name, Model: m, RPS: 1000, Connections: 16, EndpointURLs: []string{srv.URL() + "/" + name}}
	}
	cfg := &smp.TestConfig{Duration: smp.Duration(15 * time.Second),
		Clients: []smp.Client{client("open", smp.ModelOpen), client("closed", smp.ModelClosed)}}
	cfg.ApplyDefaults()
	res, err := perf.Run(context.Background(), cfg, perf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	src := map[string]smp.Summary{}
	for _, s := range res.Sources {
		src[s.Source] = s.Summary
	}
	open, closed := src["open"], src["closed"]
	t.Logf("open:   %d requests, p50 %.2f ms, p75 %.2f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms",
		open.Requests, open.Latency.P50Ms, open.Latency.P75Ms, open.Latency.P90Ms, open.Latency.P99Ms, open.Latency.MaxMs)
	t.Logf("closed: %d requests, p50 %.2f ms, p75 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.1f ms",
		closed.Requests, closed.Latency.P50Ms, closed.Latency.P75Ms, closed.Latency.P90Ms, closed.Latency.P99Ms, closed.Latency.MaxMs)
	t.Logf("waited for a connection: %.1f%% of requests; generator lag p99 %.2f ms; saturated %v",
		100*res.Generator.WaitedForConnection, res.Generator.BehindP99Ms, res.Generator.Saturated)

	// The assertions hold on a loaded machine (a 2-core box shared by several builds):
	// contention adds tens of milliseconds of lag, the stall adds a second, so every
	// bound below keeps a wide margin on both sides. Whether the generator kept its
	// schedule on a busy machine is a measurement (make bench-generators), not a
	// behaviour: it is logged, not asserted.
	for name, s := range src {
		if s.Requests < 14250 || s.Requests > 15000 {
			t.Errorf("%s sent %d requests, want 15000 (within 5%%)", name, s.Requests)
		}
	}
	if open.Latency.P99Ms < 800 {
		t.Errorf("open model p99 = %.1f ms, want >= 800 ms: the stall must show", open.Latency.P99Ms)
	}
	// About 20% of requests wait up to 1 s: p75 is outside the stall, p90 sits mid-stall.
	if open.Latency.P75Ms > 150 || open.Latency.P90Ms < 200 || open.Latency.P90Ms > 900 {
		t.Errorf("open model p75 %.1f ms / p90 %.1f ms: not the shape of a 20%% stall", open.Latency.P75Ms, open.Latency.P90Ms)
	}
	if closed.Latency.P99Ms > 250 || closed.Latency.P99Ms > open.Latency.P99Ms/4 {
		t.Errorf("closed model p99 = %.1f ms (open %.1f ms); expected the stall to be hidden (coordinated omission)", closed.Latency.P99Ms, open.Latency.P99Ms)
	}
	if closed.Latency.MaxMs < 800 {
		t.Errorf("closed model max = %.1f ms; the requests in flight during a stall wait ~1 s", closed.Latency.MaxMs)
	}
	// The stall is the target's doing: requests held up by it count as waiting for a
	// connection, not as the generator falling behind (which would be ~1 s, not ms).
	if res.Generator.WaitedForConnection < 0.08 {
		t.Errorf("only %.1f%% of requests waited for a connection; the stall holds up ~20%%", 100*res.Generator.WaitedForConnection)
	}
	if res.Generator.BehindP99Ms > 500 {
		t.Errorf("generator lag p99 %.1f ms: the target's stall was counted as the generator's lag", res.Generator.BehindP99Ms)
	}
	if res.Generator.Saturated {
		t.Logf("the generator was flagged saturated (a busy machine?): %s", res.Generator.Reason)
	}
}
