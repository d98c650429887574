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
