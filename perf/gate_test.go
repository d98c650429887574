package perf

import (
	"strings"
	"testing"
)

func rounds(base, cand []float64) []GateRound {
	var out []GateRound
	for i := range base {
		out = append(out, GateRound{Round: i + 1, Baseline: map[string]float64{"p99": base[i], "rps": base[i]},
			Candidate: map[string]float64{"p99": cand[i], "rps": cand[i]}})
	}
	return out
}

func TestPairedCheckDecisions(t *testing.T) {
	cases := []struct {
		name       string
		base, cand []float64
		metric     string
		want       string
	}{
		{"same", []float64{10, 11, 10.5, 10.2, 10.8}, []float64{10.1, 10.9, 10.4, 10.3, 10.9}, "p99", GatePass},
		{"10% slower, steady", []float64{10, 11, 10.5, 10.2, 10.8}, []float64{11, 12.1, 11.5, 11.3, 11.8}, "p99", GateFail},
		{"6% slower, noisy", []float64{10, 12, 9, 11, 10}, []float64{11.5, 11.8, 9.3, 12.4, 10.4}, "p99", GateInconclusive},
		{"faster", []float64{10, 11, 10.5}, []float64{8, 9, 8.4}, "p99", GatePass},
		{"rate dropped 20%", []float64{1000, 1010, 995}, []float64{800, 805, 798}, "rps", GateFail},
		{"rate rose", []float64{1000, 1010, 995}, []float64{1200, 1190, 1205}, "rps", GatePass},
	}
	for _, c := range cases {
		got := pairedCheck(c.metric, rounds(c.base, c.cand), 0.05)
		if got.Verdict != c.want {
			t.Errorf("%s: %s (ratio %.3f [%.3f, %.3f]), want %s", c.name, got.Verdict, got.Ratio, got.Lo, got.Hi, c.want)
		}
		if got.Lo > got.Ratio || got.Hi < got.Ratio {
			t.Errorf("%s: the interval [%.3f, %.3f] does not hold the estimate %.3f", c.name, got.Lo, got.Hi, got.Ratio)
		}
	}
	one := pairedCheck("p99", rounds([]float64{10}, []float64{20}), 0.05)
	if one.Verdict != GateInconclusive || one.Note == "" {
		t.Errorf("one round: %+v", one)
	}
	zero := pairedCheck("p99", rounds([]float64{0, 0}, []float64{5, 5}), 0.05)
	if zero.Verdict != GateFail {
		t.Errorf("from zero: %+v", zero)
	}
}

func TestGateOptionsNameTheFlag(t *testing.T) {
	o := GateOptions{Rounds: 0, MaxRegression: 2, Metrics: []string{"p98"}}
	err := CheckGateOptions(&o)
	for _, f := range []string{"--rounds", "--max-regression", "--metric"} {
		if err == nil || !strings.Contains(err.Error(), f) {
			t.Errorf("%s not named: %v", f, err)
		}
	}
}
