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

// At 1 req/s the last request completes long before the window ends: the measured
// window is still the asked one, and so is the rate.
func TestLowRateKeepsTheAskedWindow(t *testing.T) {
	srv := startTarget(t, sampleapp.Injection{})
	for _, d := range []time.Duration{2 * time.Second, 4 * time.Second} {
		cfg := config(d, smp.Client{RPS: 1, EndpointURLs: []string{srv.URL() + "/slow-rate"}})
		var live []float64
		res, err := perf.Run(context.Background(), cfg, perf.Options{OnProgress: func(p perf.Progress) { live = append(live, p.RPS) }})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range live {
			if r != 0 && r != 1 { // a second holds 1 request (or none, when it completed in the next)
				t.Errorf("%v at 1/s: live rates %v", d, live)
				break
			}
		}
		want := d.Seconds()
		s := res.Summary
		if s.DurationSeconds != want || s.Requests != int64(want) || s.ActualRPS != 1 {
			t.Errorf("%v at 1/s: measured %.3fs, %d requests, %.3f/s; want %.0fs, %.0f, 1/s", d, s.DurationSeconds, s.Requests, s.ActualRPS, want, want)
		}
		if res.Status != smp.StatusCompleted || strings.Contains(strings.Join(res.Warnings, " "), "achieved") {
			t.Errorf("%v: status %s, warnings %q", d, res.Status, res.Warnings)
		}
	}
}

// A local result's generator health is measured: the process's CPU and scheduling
// ride with the intervals and add up.
func TestLocalGeneratorHealthIsMeasured(t *testing.T) {
	srv := startTarget(t, sampleapp.Injection{})
	cfg := config(2*time.Second, smp.Client{RPS: 100, EndpointURLs: []string{srv.URL() + "/h"}},
		smp.Client{RPS: 100, EndpointURLs: []string{srv.URL() + "/h2"}})
	res, err := perf.Run(context.Background(), cfg, perf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := res.Generator
	var cpu float64
	for _, iv := range res.Intervals {
		cpu += iv.CPUSeconds
	}
	if !g.Measured || g.UsableCores < 1 || g.CPUSeconds <= 0 || len(g.Generators) != 0 {
		t.Errorf("generator %+v", g)
	}
	if diff := cpu - g.CPUSeconds; diff > 0.002 || diff < -0.002 {
		t.Errorf("intervals' CPU adds to %.3fs, the report says %.3fs", cpu, g.CPUSeconds)
	}
}

// Finish merges each agent's health from its intervals and flags the run when one
// agent saturated, naming it; with no health recorded it claims nothing.
func TestFinishMergesHealthPerAgent(t *testing.T) {
	cfg := config(2*time.Second, smp.Client{RPS: 100, EndpointURLs: []string{"http://127.0.0.1:1/"}})
	cfg.Thresholds = []smp.Threshold{{Expr: "requests >= 300"}}
	th, err := perf.CompileThresholds(cfg.Thresholds)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	plan, err := perf.SharesPlan(cfg, []string{"eu-1", "eu-2"}, start)
	if err != nil {
		t.Fatal(err)
	}
	interval := func(agent string, i int, schedUs int64, health bool) smp.Interval {
		lat, sched := smp.NewHistogram(), smp.NewHistogram()
		lat.RecordMicrosN(1000, 50)
		sched.RecordMicrosN(schedUs, 1000)
		iv := smp.Interval{Source: agent + "/client-0", Index: i, Start: start.Add(time.Duration(i) * time.Second),
			End: start.Add(time.Duration(i+1) * time.Second), Requests: 50, Successes: 50, Latency: lat}
		if health {
			iv.Generator, iv.CPUSeconds, iv.SchedLatency, iv.UsableCores = agent, 0.25, sched, 2
		}
		return iv
	}
	finish := func(health bool) *smp.Result {
		r := perf.NewResult(cfg, plan)
		r.EndTime = start.Add(2 * time.Second)
		for i := range 2 {
			r.Intervals = append(r.Intervals, interval("eu-1", i, 100, health), interval("eu-2", i, 20_000, health))
		}
		perf.Finish(r, perf.Ending{Plan: plan, Thresholds: th, Generators: []string{"eu-1", "eu-2"}})
		return r
	}

	r := finish(true)
	g := r.Generator
	if !g.Measured || !g.Saturated || !strings.HasPrefix(g.Reason, "agent eu-2: its goroutines waited") || strings.Contains(g.Reason, "eu-1") {
		t.Errorf("run health %+v", g)
	}
	if len(g.Generators) != 2 || g.Generators[0].Saturated || !g.Generators[1].Saturated || g.Generators[1].CPUSeconds != 0.5 ||
		g.Generators[0].CPUCores != 0.25 || g.CPUSeconds != 1 || g.UsableCores != 4 {
		t.Errorf("per agent %+v", g.Generators)
	}
	if r.Summary.Requests != 200 || r.Summary.DurationSeconds != 2 || len(r.Thresholds) != 1 || r.Thresholds[0].OK {
		t.Errorf("summary %d over %.1fs, verdicts %+v", r.Summary.Requests, r.Summary.DurationSeconds, r.Thresholds)
	}

	g = finish(false).Generator
	if g.Measured || g.Saturated || len(g.Generators) != 2 || g.Generators[0].Measured {
		t.Errorf("no health recorded, yet %+v", g)
	}
}

// An open-model run whose connections all stayed busy sent requests when one freed, not
// when they were due: past 5 ms at p99 that is flagged, naming the pool as the cause.
// Waits of a few milliseconds are only a warning; lateness of the generator's own is
// the other checks' business.
func TestFinishFlagsConnectionsThatRanOut(t *testing.T) {
	cfg := config(2*time.Second, smp.Client{RPS: 100, EndpointURLs: []string{"http://127.0.0.1:1/"}})
	start := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	plan, err := perf.SharesPlan(cfg, []string{"a1"}, start)
	if err != nil {
		t.Fatal(err)
	}
	finish := func(lagUs, late, waited int64) smp.GeneratorReport {
		r := perf.NewResult(cfg, plan)
		r.EndTime = start.Add(2 * time.Second)
		for i := range 2 {
			lat, lag := smp.NewHistogram(), smp.NewHistogram()
			lat.RecordMicrosN(1000, 100)
			lag.RecordMicrosN(100, 100-late)
			lag.RecordMicrosN(lagUs, late)
			r.Intervals = append(r.Intervals, smp.Interval{Source: "a1/client-0", Index: i, Start: start.Add(time.Duration(i) * time.Second),
				End: start.Add(time.Duration(i+1) * time.Second), Requests: 100, Successes: 100, Latency: lat, SendLag: lag,
				GeneratorLag: smp.NewHistogram(), WaitedForConnection: waited})
		}
		perf.Finish(r, perf.Ending{Plan: plan, Generators: []string{"a1"}})
		return r.Generator
	}
	if g := finish(20_000, 30, 30); !g.Saturated || !strings.Contains(g.Reason, "agent a1: its connections ran out: 30.0% of requests waited") {
		t.Errorf("30%% waited 20 ms: %+v", g)
	}
	if g := finish(3_000, 30, 30); g.Saturated {
		t.Errorf("30%% waited 3 ms (under the 5 ms line) flagged: %s", g.Reason)
	}
	if g := finish(20_000, 30, 0); strings.Contains(g.Reason, "connections ran out") {
		t.Errorf("late with a connection free (the generator's own lag), yet blamed on connections: %s", g.Reason)
	}
}
