package perf_test

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/meshperf/meshperf/perf"
	"github.com/meshperf/meshperf/smp"
)

// synthetic builds a result of n whole seconds at rate req/s whose latencies are
// log-normal around median ms, scaled by slow; errRate of requests fail.
func synthetic(rng *rand.Rand, n, rate int, median, slow, errRate float64) *smp.Result {
	start := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	r := &smp.Result{ID: "r"}
	for s := range n {
		h := smp.NewHistogram()
		var ok int64
		for range rate {
			v := median * slow * (0.5 + rng.ExpFloat64()) // skewed, like latencies
			h.RecordMicros(int64(v * 1000))
			if rng.Float64() >= errRate {
				ok++
			}
		}
		r.Intervals = append(r.Intervals, smp.Interval{Source: "c", Index: s, Start: start.Add(time.Duration(s) * time.Second),
			End: start.Add(time.Duration(s+1) * time.Second), Requests: int64(rate), Successes: ok, Latency: h})
	}
	// a partial last second and a warm-up second are left out of the series
	r.Intervals = append(r.Intervals, smp.Interval{Source: "c", Index: n, Start: start.Add(time.Duration(n) * time.Second),
		End: start.Add(time.Duration(n)*time.Second + 10*time.Millisecond), Requests: 1, Latency: smp.NewHistogram()})
	return r
}

func byMetric(cs []perf.Change) map[string]perf.Change {
	m := map[string]perf.Change{}
	for _, c := range cs {
		m[c.Metric] = c
	}
	return m
}

func TestCompareAAHasFewFalseAlarms(t *testing.T) {
	alarms, total := 0, 0
	for seed := range 100 {
		rng := rand.New(rand.NewPCG(uint64(seed), 7))
		a, b := synthetic(rng, 20, 200, 5, 1, 0), synthetic(rng, 20, 200, 5, 1, 0)
		for _, c := range perf.Compare(a, b) {
			if c.Metric == "error_rate" || c.Metric == "rps" {
				continue
			}
			total++
			if c.Verdict == perf.Better || c.Verdict == perf.Worse {
				alarms++
			}
		}
	}
	t.Logf("A/A: %d verdicts in %d latency comparisons (%.1f%%)", alarms, total, 100*float64(alarms)/float64(total))
	if float64(alarms)/float64(total) > 0.05 {
		t.Errorf("%d false alarms in %d comparisons: more than alpha", alarms, total)
	}
}

func TestCompareDetectsASlowdown(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	a, b := synthetic(rng, 20, 300, 5, 1, 0), synthetic(rng, 20, 300, 5, 1.10, 0)
	m := byMetric(perf.Compare(a, b))
	for _, name := range []string{"p50", "p90"} {
		c := m[name]
		if c.Verdict != perf.Worse || c.RatioLo <= 1 || c.Ratio < 1.05 || c.Ratio > 1.15 {
			t.Errorf("%s: %s, ratio %.3f [%.3f, %.3f], p=%.4f", name, c.Verdict, c.Ratio, c.RatioLo, c.RatioHi, c.P)
		}
	}
	if v := m["rps"].Verdict; v != perf.NoChange {
		t.Errorf("rps: %s", v)
	}
	if m["p50"].Baseline.N != 20 {
		t.Errorf("the partial last second was counted: n=%d", m["p50"].Baseline.N)
	}
	faster := byMetric(perf.Compare(b, a))
	if faster["p50"].Verdict != perf.Better {
		t.Errorf("the reverse is not better: %s", faster["p50"].Verdict)
	}
}

func TestCompareNeedsEnoughSecondsAndHandlesZeroBaselines(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	short := perf.Compare(synthetic(rng, 3, 100, 5, 1, 0), synthetic(rng, 3, 100, 5, 2, 0))
	for _, c := range short {
		if c.Verdict != perf.NotEnoughData {
			t.Errorf("%s from 3 seconds: %s", c.Metric, c.Verdict)
		}
	}
	m := byMetric(perf.Compare(synthetic(rng, 15, 200, 5, 1, 0), synthetic(rng, 15, 200, 5, 1, 0.05)))
	e := m["error_rate"]
	if e.Verdict != perf.Worse || e.HasRatio {
		t.Errorf("errors appearing: %+v", e)
	}
	if _, err := json.Marshal(m); err != nil {
		t.Errorf("not JSON-able: %v", err)
	}
}

// A gate against a stored result judges the candidate's seconds: a 50% slowdown fails,
// the same distribution passes (its interval well inside 5%), and a metric the
// per-second comparison does not cover is inconclusive, saying why.
func TestGateAgainstResult(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	base := synthetic(rng, 20, 400, 5, 1, 0)
	opt := perf.GateOptions{Rounds: 5, MaxRegression: 0.05, Metrics: []string{"p50", "mean"}}
	slow, err := perf.GateAgainstResult(base, synthetic(rng, 20, 400, 5, 1.5, 0), opt)
	if err != nil {
		t.Fatal(err)
	}
	if slow.Checks[0].Verdict != perf.GateFail || slow.Rounds != 1 {
		t.Errorf("50%% slower: %+v", slow)
	}
	if c := slow.Checks[1]; c.Verdict != perf.GateInconclusive || !strings.Contains(c.Note, "not compared per second") {
		t.Errorf("mean: %+v", c)
	}
	same, err := perf.GateAgainstResult(base, synthetic(rng, 20, 400, 5, 1, 0), perf.GateOptions{MaxRegression: 0.05, Metrics: []string{"p50"}})
	if err != nil {
		t.Fatal(err)
	}
	if c := same.Checks[0]; c.Verdict != perf.GatePass || c.Hi > c.Limit {
		t.Errorf("same: %+v", c)
	}
}
