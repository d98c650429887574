package perf

import (
	"errors"
	"math"
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
		// Like the A/A gate of the issue (2 rounds, [-89%, +547%]): the estimate is within
		// the limit, but the interval reaches far past it: that is no pass.
		{"A/A, wild rounds", []float64{10, 40, 20}, []float64{30, 12, 21}, "p99", GateInconclusive},
		// Same centre as "same", but noisy enough that the upper end crosses +5%.
		{"no change, noisy", []float64{10, 12, 9, 11, 10}, []float64{10.6, 11.4, 9.5, 10.5, 10.1}, "p99", GateInconclusive},
		{"faster", []float64{10, 11, 10.5}, []float64{8, 9, 8.4}, "p99", GatePass},
		{"rate dropped 20%", []float64{1000, 1010, 995}, []float64{800, 805, 798}, "rps", GateFail},
		{"rate rose", []float64{1000, 1010, 995}, []float64{1200, 1190, 1205}, "rps", GatePass},
		{"rate unsure", []float64{1000, 1010, 995}, []float64{990, 900, 1000}, "rps", GateInconclusive},
	}
	for _, c := range cases {
		got := pairedCheck(c.metric, rounds(c.base, c.cand), 0.05)
		if got.Verdict != c.want {
			t.Errorf("%s: %s (ratio %.3f [%.3f, %.3f]), want %s", c.name, got.Verdict, got.Ratio, got.Lo, got.Hi, c.want)
		}
		if got.Lo > got.Ratio || got.Hi < got.Ratio {
			t.Errorf("%s: the interval [%.3f, %.3f] does not hold the estimate %.3f", c.name, got.Lo, got.Hi, got.Ratio)
		}
		// A pass is the whole interval within the limit; a fail the whole interval past it.
		switch {
		case got.Verdict == GatePass && got.Better == "lower" && got.Hi > got.Limit,
			got.Verdict == GatePass && got.Better == "higher" && got.Lo < got.Limit,
			got.Verdict == GateFail && got.Better == "lower" && got.Lo <= got.Limit:
			t.Errorf("%s: %s with [%.3f, %.3f] against the limit %.3f", c.name, got.Verdict, got.Lo, got.Hi, got.Limit)
		}
		estimated := got.RoundsToDecide > len(c.base) && strings.Contains(got.Note, "rounds would likely decide")
		hopeless := got.RoundsToDecide == 0 && strings.Contains(got.Note, "rounds would likely not decide")
		if got.Verdict == GateInconclusive && len(c.base) >= MinDecidingRounds && !estimated && !hopeless {
			t.Errorf("%s: inconclusive without the rounds likely to decide: %d, %q", c.name, got.RoundsToDecide, got.Note)
		}
	}
	one := pairedCheck("p99", rounds([]float64{10}, []float64{10}), 0.05)
	if one.Verdict != GateInconclusive || one.Note == "" {
		t.Errorf("one round passed or had no note: %+v", one)
	}
	two := pairedCheck("p99", rounds([]float64{10, 10}, []float64{20, 20.1}), 0.05)
	if two.Verdict != GateInconclusive || !strings.Contains(two.Note, "at least 3") {
		t.Errorf("two rounds decided: %+v", two)
	}
	zero := pairedCheck("p99", rounds([]float64{0, 0}, []float64{5, 5}), 0.05)
	if zero.Verdict != GateFail {
		t.Errorf("from zero: %+v", zero)
	}
}

// The rounds estimate, fed back, decides: rounds with the observed mean and spread at
// that count give an interval clear of the limit.
func TestRoundsToDecideIsEnough(t *testing.T) {
	mean, sd, lim := math.Log(1.10), 0.06, math.Log(1.05)
	n := roundsToDecide(mean, sd, lim)
	if n < 3 || n > 30 {
		t.Fatalf("rounds to decide a 10%% change at 6%% spread: %d", n)
	}
	if half := tQuantile975(n-1) * sd / math.Sqrt(float64(n)); mean-half <= lim {
		t.Errorf("%d rounds: lower end %.4f not past the limit %.4f", n, mean-half, lim)
	}
	if half := tQuantile975(n-2) * sd / math.Sqrt(float64(n-1)); mean-half > lim {
		t.Errorf("%d rounds would already do; the estimate is not the fewest", n-1)
	}
	if roundsToDecide(lim, sd, lim) != 0 {
		t.Errorf("an estimate on the limit cannot be decided")
	}
}

// roundSeq hands out constructed rounds: p99 of the baseline and candidate per round.
func roundSeq(t *testing.T, base, cand []float64) func(int) (GateRound, error) {
	return func(round int) (GateRound, error) {
		if round > len(base) {
			t.Fatalf("round %d asked, only %d constructed", round, len(base))
		}
		return rounds(base, cand)[round-1], nil
	}
}

func TestAdaptiveRounds(t *testing.T) {
	noisyBase := []float64{10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11}
	tenPctSlower := []float64{11.9, 11.2, 12.4, 11.3, 10.4, 13.0, 10.9, 12.2, 11.0, 12.1, 11.1, 12.0}
	cases := []struct {
		name                 string
		base, cand           []float64
		min, max             int
		wantRounds           int
		wantVerdict          string
		wantDecidedAtMinimum bool
	}{
		{"decided at the minimum", []float64{10, 10.2, 10.1}, []float64{10, 10.1, 10.2}, 3, 10, 3, GatePass, true},
		{"undecided at the minimum, decided later", noisyBase, tenPctSlower, 3, 12, 0, GateFail, false},
		{"never decided: stops at the cap", noisyBase, []float64{9, 13, 9.5, 12.5, 9, 13, 9.5, 12.5, 9, 13, 9.5, 12.5}, 3, 8, 8, GateInconclusive, false},
		{"no adaptive rounds without a cap", noisyBase, tenPctSlower, 3, 0, 3, GateInconclusive, false},
	}
	for _, c := range cases {
		opt := GateOptions{Rounds: c.min, MaxRounds: c.max, MaxRegression: 0.05, Metrics: []string{"p99"}}
		if err := CheckGateOptions(&opt); err != nil {
			t.Fatal(err)
		}
		rep := &GateReport{}
		if err := gateRounds(rep, opt, roundSeq(t, c.base, c.cand)); err != nil {
			t.Fatal(err)
		}
		if rep.Verdict != c.wantVerdict || (c.wantRounds != 0 && rep.Rounds != c.wantRounds) || len(rep.RoundFigures) != rep.Rounds {
			t.Errorf("%s: %s after %d rounds (%d figures), want %s after %d; %+v", c.name, rep.Verdict, rep.Rounds, len(rep.RoundFigures), c.wantVerdict, c.wantRounds, rep.Checks)
		}
		if !c.wantDecidedAtMinimum && rep.Rounds == c.min && c.max > c.min {
			t.Errorf("%s: decided at the minimum, the test does not exercise adaptive rounds", c.name)
		}
		if c.max > 0 && (rep.MinRounds != c.min || rep.MaxRounds != c.max) {
			t.Errorf("%s: bounds %d..%d not reported", c.name, rep.MinRounds, rep.MaxRounds)
		}
	}
	// A failed metric does not end the rounds while another is undecided.
	mixed := func(round int) (GateRound, error) {
		p99 := []float64{10, 11, 10, 11, 10, 11}
		return GateRound{Round: round, Baseline: map[string]float64{"p99": p99[round-1], "p50": 5},
			Candidate: map[string]float64{"p99": p99[round-1] * []float64{1.3, 0.8, 1.2, 0.9, 1.0, 1.0}[round-1], "p50": 6}}, nil
	}
	opt := GateOptions{Rounds: 3, MaxRounds: 6, MaxRegression: 0.05, Metrics: []string{"p50", "p99"}}
	rep := &GateReport{}
	if err := gateRounds(rep, opt, mixed); err != nil || rep.Rounds != 6 || rep.Verdict != GateFail || rep.Checks[0].Verdict != GateFail {
		t.Errorf("p50 failed, p99 undecided: %v, %s after %d rounds: %+v", err, rep.Verdict, rep.Rounds, rep.Checks)
	}
	boom := errors.New("boom")
	opt = GateOptions{Rounds: 2, MaxRounds: 4, MaxRegression: 0.05, Metrics: []string{"p99"}}
	if err := gateRounds(&GateReport{}, opt, func(int) (GateRound, error) { return GateRound{}, boom }); !errors.Is(err, boom) {
		t.Errorf("a failed round: %v", err)
	}
}

func TestGateOptionsNameTheFlag(t *testing.T) {
	o := GateOptions{Rounds: 0, MaxRegression: 2, Metrics: []string{"p98"}}
	err := CheckGateOptions(&o)
	for _, f := range []string{"--rounds", "--max-regression", "--metric", "one of p50,"} {
		if err == nil || !strings.Contains(err.Error(), f) {
			t.Errorf("%s not named: %v", f, err)
		}
	}
	o = GateOptions{Rounds: 5, MaxRounds: 3, MaxRegression: 0.05}
	if err := CheckGateOptions(&o); err == nil || !strings.Contains(err.Error(), "--max-rounds") {
		t.Errorf("max below min: %v", err)
	}
}
