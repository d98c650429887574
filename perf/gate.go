package perf

import (
	"context"
	"fmt"
	"math"

	"github.com/aclements/go-moremath/stats"

	"github.com/meshperf/meshperf/smp"
)

// Gate verdicts.
const (
	GatePass         = "pass"
	GateFail         = "fail"
	GateInconclusive = "inconclusive"
)

// GateOptions tune a regression gate.
type GateOptions struct {
	// Rounds of baseline+candidate, interleaved (A B, B A, ...), so drift hits both: the
	// fewest the gate runs.
	Rounds int
	// MaxRounds caps adaptive rounds: while a gated metric is inconclusive after Rounds,
	// the gate runs more rounds, up to MaxRounds. 0 means Rounds (no adaptive rounds).
	MaxRounds int
	// MaxRegression is the allowed change for the worse (0.05 = 5%).
	MaxRegression float64
	// Metrics gated, names of the metric registry (default p50, p90, p99).
	Metrics []string
	// OnRun is told of every finished run (for progress).
	OnRun func(round int, side string, r *smp.Result)
	Run   Options
}

// GateSide is what one side runs.
type GateSide struct {
	Name   string
	Config *smp.TestConfig
}

// GateCheck is one metric's verdict.
type GateCheck struct {
	Metric string  `json:"metric"`
	Unit   string  `json:"unit"`
	Better string  `json:"better"`
	Base   float64 `json:"baseline"`  // median over rounds
	Cand   float64 `json:"candidate"` // median over rounds
	// Ratio is candidate ÷ baseline with its 95% interval.
	Ratio float64 `json:"ratio"`
	Lo    float64 `json:"ratio_lo"`
	Hi    float64 `json:"ratio_hi"`
	// Limit is the ratio past which a change is a regression (1.05 for latency at 5%).
	Limit   float64 `json:"limit"`
	Verdict string  `json:"verdict"`
	Note    string  `json:"note,omitempty"`
	// RoundsToDecide estimates, for an inconclusive check, how many rounds in all would
	// likely decide it at the spread observed (0: unknown or not needed).
	RoundsToDecide int `json:"rounds_to_decide,omitempty"`
}

// GateRound is one round's main figures.
type GateRound struct {
	Round     int                `json:"round"`
	Baseline  map[string]float64 `json:"baseline"`
	Candidate map[string]float64 `json:"candidate"`
}

// GateReport is a gate's outcome.
type GateReport struct {
	Mode      string `json:"mode"` // interleaved, or stored-baseline
	Baseline  string `json:"baseline"`
	Candidate string `json:"candidate"`
	// Rounds is how many rounds ran; MinRounds and MaxRounds the bounds asked for.
	Rounds        int         `json:"rounds"`
	MinRounds     int         `json:"min_rounds,omitempty"`
	MaxRounds     int         `json:"max_rounds,omitempty"`
	MaxRegression float64     `json:"max_regression"`
	Checks        []GateCheck `json:"checks"`
	RoundFigures  []GateRound `json:"round_figures,omitempty"`
	Verdict       string      `json:"verdict"`
}

// DefaultGateMetrics are gated when none are named.
var DefaultGateMetrics = []string{"p50", "p90", "p99"}

// MinDecidingRounds is the fewest rounds for a pass or a fail. Two rounds that happen
// to agree give a narrow interval from a spread that says little: in simulation,
// allowing verdicts at 2 rounds raised adaptive A/A false alarms by half.
const MinDecidingRounds = 3

// MaxGateRounds bounds --rounds and --max-rounds.
const MaxGateRounds = 100

// roundsToDecideCap bounds the search for the rounds likely to decide.
const roundsToDecideCap = 10 * MaxGateRounds

// CheckGateOptions validates options, naming the flag at fault.
func CheckGateOptions(o *GateOptions) error {
	var errs smp.FieldErrors
	if o.Rounds < 1 || o.Rounds > MaxGateRounds {
		errs.Add("--rounds", 0, "must be between 1 and %d", MaxGateRounds)
	}
	if o.MaxRounds == 0 {
		o.MaxRounds = o.Rounds
	}
	if o.MaxRounds < o.Rounds || o.MaxRounds > MaxGateRounds {
		errs.Add("--max-rounds", 0, "must be between --rounds (%d) and %d", o.Rounds, MaxGateRounds)
	}
	if o.MaxRegression <= 0 || o.MaxRegression >= 1 {
		errs.Add("--max-regression", 0, "must be between 0%% and 100%%, e.g. 5%%")
	}
	if len(o.Metrics) == 0 {
		o.Metrics = DefaultGateMetrics
	}
	for _, m := range o.Metrics {
		if _, ok := LookupResource(m); ok {
			continue // stored-baseline gates only: RunGate refuses them
		}
		if _, err := LookupMetric(m); err != nil {
			errs.Add("--metric", 0, "%v", err)
		}
	}
	return errs.Err()
}

// RunGate runs baseline and candidate interleaved (the order alternates, A B, B A ...,
// so neither side always runs second) and decides from the per-round paired ratios.
// After opt.Rounds it stops as soon as every gated metric is decided (pass or fail),
// else runs on up to opt.MaxRounds.
func RunGate(ctx context.Context, base, cand GateSide, opt GateOptions) (*GateReport, error) {
	if err := CheckGateOptions(&opt); err != nil {
		return nil, err
	}
	for _, m := range opt.Metrics {
		if _, ok := LookupResource(m); ok {
			return nil, smp.FieldErrors{{Path: "--metric", Msg: m + " comes from Prometheus over a stored run's window: gate it against a stored baseline whose runs carry metrics"}}
		}
	}
	rep := &GateReport{Mode: "interleaved", Baseline: base.Name, Candidate: cand.Name}
	err := gateRounds(rep, opt, func(round int) (GateRound, error) { return runGateRound(ctx, round, base, cand, opt) })
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// gateRounds runs rounds (from next) into rep until the checks are decided after at
// least opt.Rounds, or opt.MaxRounds have run.
func gateRounds(rep *GateReport, opt GateOptions, next func(round int) (GateRound, error)) error {
	rep.MinRounds, rep.MaxRounds, rep.MaxRegression = opt.Rounds, opt.MaxRounds, opt.MaxRegression
	for round := 1; round <= opt.MaxRounds; round++ {
		gr, err := next(round)
		if err != nil {
			return err
		}
		rep.RoundFigures = append(rep.RoundFigures, gr)
		rep.Rounds = round
		if round < opt.Rounds {
			continue
		}
		rep.Checks = rep.Checks[:0]
		for _, name := range opt.Metrics {
			rep.Checks = append(rep.Checks, pairedCheck(name, rep.RoundFigures, opt.MaxRegression))
		}
		rep.Verdict = overall(rep.Checks)
		if decided(rep.Checks) {
			break
		}
	}
	return nil
}

// runGateRound runs both sides once, in the round's order, and records every
// registered metric of each.
func runGateRound(ctx context.Context, round int, base, cand GateSide, opt GateOptions) (GateRound, error) {
	order := []string{"baseline", "candidate"}
	if round%2 == 0 {
		order = []string{"candidate", "baseline"}
	}
	gr := GateRound{Round: round, Baseline: map[string]float64{}, Candidate: map[string]float64{}}
	for _, side := range order {
		s, figs := base, gr.Baseline
		if side == "candidate" {
			s, figs = cand, gr.Candidate
		}
		cfg := *s.Config
		res, err := Run(ctx, &cfg, opt.Run)
		if err != nil {
			return gr, fmt.Errorf("round %d, %s: %w", round, side, err)
		}
		if ctx.Err() != nil {
			return gr, fmt.Errorf("round %d, %s: %w", round, side, context.Cause(ctx))
		}
		if opt.OnRun != nil {
			opt.OnRun(round, side, res)
		}
		for _, m := range metricRegistry {
			figs[m.Name] = m.FromSummary(&res.Summary)
		}
	}
	return gr, nil
}

// pairedCheck decides one metric from per-round ratios: a 95% t-interval on the mean
// of their logarithms (the ratios of one machine's runs are roughly log-normal).
func pairedCheck(name string, rounds []GateRound, maxReg float64) GateCheck {
	m, _ := LookupMetric(name) // validated by CheckGateOptions
	c := GateCheck{Metric: m.Name, Unit: m.Unit, Better: m.Better, Limit: limit(m.Better, maxReg)}
	var logs, bs, cs []float64
	for _, r := range rounds {
		b, x := r.Baseline[m.Name], r.Candidate[m.Name]
		bs, cs = append(bs, b), append(cs, x)
		switch {
		case b > 0 && x > 0:
			logs = append(logs, math.Log(x/b))
		case b == 0 && x == 0:
			logs = append(logs, 0)
		}
	}
	c.Base, c.Cand = median(bs), median(cs)
	if len(logs) < len(rounds) {
		c.Verdict, c.Note = GateInconclusive, "a side measured zero in some round; no ratio there"
		if c.Base == 0 && c.Cand > 0 && m.Better == LowerIsBetter {
			c.Verdict, c.Note = GateFail, fmt.Sprintf("from 0 to %g", c.Cand)
		}
		return c
	}
	mean, sd := meanSD(logs)
	c.Ratio = math.Exp(mean)
	if len(logs) < 2 {
		c.Lo, c.Hi = c.Ratio, c.Ratio
		c.Verdict, c.Note = GateInconclusive, fmt.Sprintf("one round gives no interval: a verdict needs at least %d rounds", MinDecidingRounds)
		return c
	}
	half := tQuantile975(len(logs)-1) * sd / math.Sqrt(float64(len(logs)))
	c.Lo, c.Hi = math.Exp(mean-half), math.Exp(mean+half)
	if len(logs) < MinDecidingRounds {
		c.Verdict, c.Note = GateInconclusive, fmt.Sprintf("%d rounds: a verdict needs at least %d (the spread of 2 rounds says little)", len(logs), MinDecidingRounds)
		return c
	}
	c.Verdict = decide(c)
	if c.Verdict == GateInconclusive {
		c.RoundsToDecide = roundsToDecide(mean, sd, math.Log(c.Limit))
		c.Note = "the interval straddles the limit"
		if c.RoundsToDecide > 0 {
			c.Note += fmt.Sprintf(": about %d rounds would likely decide (spread ±%.1f%% per round)", c.RoundsToDecide, (math.Exp(sd)-1)*100)
		} else {
			c.Note += fmt.Sprintf(": even %d rounds would likely not decide (spread ±%.1f%% per round)", roundsToDecideCap, (math.Exp(sd)-1)*100)
		}
	}
	return c
}

// roundsToDecide is the fewest rounds n whose 95% interval, at the observed mean and
// spread of the log ratios, would keep clear of the limit: t(n-1)·sd/√n < |mean−limit|.
// 0 when even roundsToDecideCap would not do (or the estimate sits on the limit).
func roundsToDecide(mean, sd, logLimit float64) int {
	gap := math.Abs(mean - logLimit)
	if gap == 0 {
		return 0
	}
	for n := 2; n <= roundsToDecideCap; n++ {
		if tQuantile975(n-1)*sd/math.Sqrt(float64(n)) < gap {
			return n
		}
	}
	return 0
}

func limit(better string, maxReg float64) float64 {
	if better == HigherIsBetter {
		return 1 - maxReg
	}
	return 1 + maxReg
}

// decide: pass when the whole interval is within the limit, fail when the whole
// interval is past it, inconclusive when it straddles the limit.
func decide(c GateCheck) string {
	past := func(v float64) bool {
		if c.Better == HigherIsBetter {
			return v < c.Limit
		}
		return v > c.Limit
	}
	switch {
	case past(c.Lo) && past(c.Hi):
		return GateFail
	case past(c.Lo) || past(c.Hi):
		return GateInconclusive
	}
	return GatePass
}

// decided reports whether every check has a pass or a fail: a fail elsewhere does not
// end the rounds while another metric is still undecided.
func decided(cs []GateCheck) bool {
	for _, c := range cs {
		if c.Verdict == GateInconclusive {
			return false
		}
	}
	return true
}

func overall(cs []GateCheck) string {
	v := GatePass
	for _, c := range cs {
		switch c.Verdict {
		case GateFail:
			return GateFail
		case GateInconclusive:
			v = GateInconclusive
		}
	}
	return v
}

// GateAgainstResult decides candidates' runs against one stored baseline result, from
// the per-second values (bootstrap interval of the ratio of medians).
func GateAgainstResult(baseline *smp.Result, candidate *smp.Result, opt GateOptions) (*GateReport, error) {
	opt.Rounds, opt.MaxRounds = 1, 1 // one candidate run, judged on its seconds
	if err := CheckGateOptions(&opt); err != nil {
		return nil, err
	}
	rep := &GateReport{Mode: "stored-baseline", Baseline: baseline.ID, Candidate: candidate.ID, Rounds: 1, MaxRegression: opt.MaxRegression}
	changes := map[string]Change{}
	for _, ch := range Compare(baseline, candidate) {
		changes[ch.Metric] = ch
	}
	for _, name := range opt.Metrics {
		m, isResource := LookupResource(name)
		if !isResource {
			m, _ = LookupMetric(name) // validated by CheckGateOptions
		}
		ch, compared := changes[m.Name]
		c := GateCheck{Metric: m.Name, Unit: m.Unit, Better: m.Better, Limit: limit(m.Better, opt.MaxRegression),
			Base: ch.Baseline.Center, Cand: ch.Candidate.Center, Ratio: ch.Ratio, Lo: ch.RatioLo, Hi: ch.RatioHi}
		switch {
		case !compared && isResource:
			c.Verdict, c.Note = GateInconclusive, "both results need this role's Prometheus series (config.metrics, status ok)"
		case !compared:
			c.Verdict, c.Note = GateInconclusive, "not compared per second against a stored result (gate it with --baseline)"
		case ch.Verdict == NotEnoughData:
			c.Verdict, c.Note = GateInconclusive, "not enough whole seconds for an interval"
		case !ch.HasRatio:
			c.Verdict, c.Note = GateInconclusive, "the baseline's median is zero"
			if ch.Verdict == Worse {
				c.Verdict = GateFail
			}
		default:
			c.Verdict = decide(c)
			if c.Verdict == GateInconclusive {
				c.Note = "the interval straddles the limit: a longer candidate run would narrow it"
			}
		}
		rep.Checks = append(rep.Checks, c)
	}
	rep.Verdict = overall(rep.Checks)
	return rep, nil
}

func meanSD(v []float64) (mean, sd float64) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	if len(v) < 2 {
		return mean, 0
	}
	for _, x := range v {
		sd += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(sd / float64(len(v)-1))
}

// tQuantile975 is Student's t at 0.975 for df degrees of freedom (go-moremath, the
// statistics library under benchstat).
func tQuantile975(df int) float64 {
	return stats.InvCDF(stats.TDist{V: float64(df)})(0.975)
}
