package perf_test

import (
	"testing"
	"time"

	"github.com/meshperf/meshperf/perf"
	"github.com/meshperf/meshperf/smp"
)

// Each second's progress carries every source's own figures (an agent's rate, its
// failures and percentiles) beside the merged ones, sorted by source.
func TestProgressPerSource(t *testing.T) {
	var got []perf.Progress
	a := perf.NewAggregator([]string{"agent-b", "agent-a"}, 2*time.Second, func(p perf.Progress) { got = append(got, p) })
	second := func(source string, index int, requests, successes int64, latencyUs int64) *smp.Interval {
		h := smp.NewHistogram()
		h.RecordMicrosN(latencyUs, requests)
		start := time.Unix(1_700_000_000, 0).Add(time.Duration(index) * time.Second)
		return &smp.Interval{Source: source, Index: index, Start: start, End: start.Add(time.Second), Requests: requests, Successes: successes, Latency: h}
	}
	a.Interval(second("agent-b", 0, 30, 27, 4000))
	if len(got) != 0 {
		t.Fatalf("a second reported before every source sent it: %+v", got)
	}
	a.Interval(second("agent-a", 0, 10, 10, 1000))
	if len(got) != 1 {
		t.Fatalf("%d seconds reported, want 1", len(got))
	}
	p := got[0]
	if p.Requests != 40 || p.Failures != 3 || len(p.Sources) != 2 {
		t.Fatalf("merged second: %+v", p)
	}
	a0, b0 := p.Sources[0], p.Sources[1]
	if a0.Source != "agent-a" || a0.Requests != 10 || a0.Failures != 0 || a0.RPS != 10 || a0.P99Ms < 0.99 || a0.P99Ms > 1.01 {
		t.Errorf("agent-a's second: %+v", a0)
	}
	if b0.Source != "agent-b" || b0.Requests != 30 || b0.Failures != 3 || b0.RPS != 30 || b0.P50Ms < 3.99 || b0.P50Ms > 4.01 {
		t.Errorf("agent-b's second: %+v", b0)
	}
}
