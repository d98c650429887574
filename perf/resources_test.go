package perf

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/meshperf/meshperf/smp"
)

func withProxyCPU(center float64, n int, seed uint64) *smp.Result {
	rng := rand.New(rand.NewPCG(seed, 7))
	s := smp.Series{}
	for i := range n {
		s.Points = append(s.Points, []float64{float64(1000 + 5*i), center * (1 + 0.05*(rng.Float64()-0.5))})
	}
	return &smp.Result{ID: "r", Metrics: &smp.MetricsResult{Queries: []smp.QueryResult{{
		MetricQuery: smp.MetricQuery{Name: "proxy_cpu", Role: smp.RoleProxyCPU, Unit: UnitCores}, Status: smp.MetricsOK, Series: []smp.Series{s}}}}}
}

// Resource figures are compared like latency: medians with intervals, a bootstrap
// interval of the ratio and the rank test; the stored-baseline gate judges them.
func TestCompareAndGateResources(t *testing.T) {
	base, same, more := withProxyCPU(0.5, 30, 1), withProxyCPU(0.5, 30, 2), withProxyCPU(0.7, 30, 3)
	ch := CompareResources(base, more)
	if len(ch) != 1 || ch[0].Metric != smp.RoleProxyCPU || ch[0].Verdict != Worse || ch[0].RatioLo <= 1.3 || ch[0].RatioHi >= 1.5 {
		t.Fatalf("0.5 -> 0.7 cores: %+v", ch)
	}
	if ch := CompareResources(base, same); len(ch) != 1 || ch[0].Verdict != NoChange {
		t.Errorf("the same load: %+v", ch)
	}
	if ch := CompareResources(base, &smp.Result{}); len(ch) != 0 {
		t.Errorf("a side without metrics compared: %+v", ch)
	}
	rep, err := GateAgainstResult(base, more, GateOptions{MaxRegression: 0.05, Metrics: []string{"proxy_cpu"}})
	if err != nil || rep.Verdict != GateFail || rep.Checks[0].Unit != UnitCores {
		t.Fatalf("gate 0.5 -> 0.7 cores at 5%%: %+v %v", rep, err)
	}
	if rep, _ := GateAgainstResult(base, same, GateOptions{MaxRegression: 0.10, Metrics: []string{"proxy_cpu"}}); rep.Verdict != GatePass {
		t.Errorf("gate the same load at 10%%: %+v", rep)
	}
	if rep, _ := GateAgainstResult(base, &smp.Result{}, GateOptions{MaxRegression: 0.05, Metrics: []string{"proxy_cpu"}}); rep.Verdict != GateInconclusive {
		t.Errorf("gate against a result without metrics: %+v", rep)
	}
	_, err = RunGate(t.Context(), GateSide{}, GateSide{}, GateOptions{Rounds: 3, MaxRegression: 0.05, Metrics: []string{"proxy_cpu"}})
	var fe smp.FieldErrors
	if !errors.As(err, &fe) || fe[0].Path != "--metric" {
		t.Errorf("an interleaved gate on proxy_cpu: %v", err)
	}
}
