package perf

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"

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
	// Rounds of baseline+candidate, interleaved (A B A B ...), so drift hits both.
	Rounds int
	// MaxRegression is the allowed change for the worse (0.05 = 5%).
	MaxRegression float64
	// Metrics gated: p50, p90, p99, p99.9, rps, error_rate (default p50, p90, p99).
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
}

// GateRound is one round's main figures.
type GateRound struct {
	Round     int                `json:"round"`
	Baseline  map[string]float64 `json:"baseline"`
	Candidate map[string]float64 `json:"candidate"`
}

// GateReport is a gate's outcome.
type GateReport struct {
	Mode          string      `json:"mode"` // interleaved, or stored-baseline
	Baseline      string      `json:"baseline"`
	Candidate     string      `json:"candidate"`
	Rounds        int         `json:"rounds"`
	MaxRegression float64     `json:"max_regression"`
	Checks        []GateCheck `json:"checks"`
	RoundFigures  []GateRound `json:"round_figures,omitempty"`
	Verdict       string      `json:"verdict"`
}

type gateMetric struct {
	unit, better string
	get          func(s *smp.Summary) float64
}

var gateMetrics = map[string]gateMetric{
	"p50":        {"ms", "lower", func(s *smp.Summary) float64 { return s.Latency.P50Ms }},
	"p90":        {"ms", "lower", func(s *smp.Summary) float64 { return s.Latency.P90Ms }},
	"p99":        {"ms", "lower", func(s *smp.Summary) float64 { return s.Latency.P99Ms }},
	"p99.9":      {"ms", "lower", func(s *smp.Summary) float64 { return s.Latency.P999Ms }},
	"rps":        {"req/s", "higher", func(s *smp.Summary) float64 { return s.ActualRPS }},
	"error_rate": {"ratio", "lower", func(s *smp.Summary) float64 { return s.ErrorRate }},
}

// DefaultGateMetrics are gated when none are named.
var DefaultGateMetrics = []string{"p50", "p90", "p99"}

// CheckGateOptions validates options, naming the flag at fault.
func CheckGateOptions(o *GateOptions) error {
	var errs smp.FieldErrors
	if o.Rounds < 1 || o.Rounds > 100 {
		errs.Add("--rounds", 0, "must be between 1 and 100")
	}
	if o.MaxRegression <= 0 || o.MaxRegression >= 1 {
		errs.Add("--max-regression", 0, "must be between 0%% and 100%%, e.g. 5%%")
	}
	if len(o.Metrics) == 0 {
		o.Metrics = DefaultGateMetrics
	}
	for _, m := range o.Metrics {
		if _, ok := gateMetrics[m]; !ok {
			names := make([]string, 0, len(gateMetrics))
			for k := range gateMetrics {
				names = append(names, k)
			}
			sort.Strings(names)
			errs.Add("--metric", 0, "unknown metric %q (one of %s)", m, strings.Join(names, ", "))
		}
	}
	return errs.Err()
}

// RunGate runs baseline and candidate interleaved for opt.Rounds rounds (the order
// alternates, A B B A ..., so neither side always runs second) and decides from the
// per-round paired ratios.
func RunGate(ctx context.Context, base, cand GateSide, opt GateOptions) (*GateReport, error) {
	if err := CheckGateOptions(&opt); err != nil {
		return nil, err
	}
	rep := &GateReport{Mode: "interleaved", Baseline: base.Name, Candidate: cand.Name, Rounds: opt.Rounds, MaxRegression: opt.MaxRegression}
	for round := 1; round <= opt.Rounds; round++ {
		order := []string{"baseline", "candidate"}
		if round%2 == 0 {
			order = []string{"candidate", "baseline"}
		}
		gr := GateRound{Round: round, Baseline: map[string]float64{}, Candidate: map[string]float64{}}
		for _, side := range order {
			s := base
			if side == "candidate" {
				s = cand
			}
			cfg := *s.Config
			res, err := Run(ctx, &cfg, opt.Run)
			if err != nil {
				return nil, fmt.Errorf("round %d, %s: %w", round, side, err)
			}
			if ctx.Err() != nil {
				return nil, fmt.Errorf("round %d, %s: %w", round, side, context.Cause(ctx))
			}
			if opt.OnRun != nil {
				opt.OnRun(round, side, res)
			}
			figs := gr.Baseline
			if side == "candidate" {
				figs = gr.Candidate
			}
			for name, m := range gateMetrics {
				figs[name] = m.get(&res.Summary)
			}
		}
		rep.RoundFigures = append(rep.RoundFigures, gr)
	}
	for _, name := range opt.Metrics {
		rep.Checks = append(rep.Checks, pairedCheck(name, rep.RoundFigures, opt.MaxRegression))
	}
	rep.Verdict = overall(rep.Checks)
	return rep, nil
}

// pairedCheck decides one metric from per-round ratios: a 95% t-interval on the mean
// of their logarithms (the ratios of one machine's runs are roughly log-normal).
func pairedCheck(name string, rounds []GateRound, maxReg float64) GateCheck {
	m := gateMetrics[name]
	c := GateCheck{Metric: name, Unit: m.unit, Better: m.better, Limit: limit(m.better, maxReg)}
	var logs, bs, cs []float64
	for _, r := range rounds {
		b, x := r.Baseline[name], r.Candidate[name]
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
		if c.Base == 0 && c.Cand > 0 && m.better == "lower" {
			c.Verdict, c.Note = GateFail, fmt.Sprintf("from 0 to %g", c.Cand)
		}
		return c
	}
	mean, sd := meanSD(logs)
	c.Ratio = math.Exp(mean)
	if len(logs) < 2 {
		c.Lo, c.Hi = c.Ratio, c.Ratio
		c.Verdict, c.Note = decide(c, false), "one round: no interval; run more rounds for a verdict you can trust"
		return c
	}
	half := tQuantile975(len(logs)-1) * sd / math.Sqrt(float64(len(logs)))
	c.Lo, c.Hi = math.Exp(mean-half), math.Exp(mean+half)
	c.Verdict = decide(c, true)
	if c.Verdict == GateInconclusive {
		c.Note = "the interval reaches back inside the limit: more rounds would settle it"
	}
	return c
}

func limit(better string, maxReg float64) float64 {
	if better == "higher" {
		return 1 - maxReg
	}
	return 1 + maxReg
}

// decide: fail when the whole interval is past the limit; inconclusive when only the
// estimate is; pass otherwise.
func decide(c GateCheck, haveInterval bool) string {
	past := func(v float64) bool {
		if c.Better == "higher" {
			return v < c.Limit
		}
		return v > c.Limit
	}
	inner := c.Lo
	if c.Better == "higher" {
		inner = c.Hi
	}
	switch {
	case haveInterval && past(inner):
		return GateFail
	case past(c.Ratio):
		return GateInconclusive
	}
	return GatePass
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
	if opt.Rounds == 0 {
		opt.Rounds = 1
	}
	if err := CheckGateOptions(&opt); err != nil {
		return nil, err
	}
	rep := &GateReport{Mode: "stored-baseline", Baseline: baseline.ID, Candidate: candidate.ID, Rounds: opt.Rounds, MaxRegression: opt.MaxRegression}
	changes := map[string]Change{}
	for _, ch := range Compare(baseline, candidate) {
		changes[ch.Metric] = ch
	}
	for _, name := range opt.Metrics {
		m := gateMetrics[name]
		ch := changes[name]
		c := GateCheck{Metric: name, Unit: m.unit, Better: m.better, Limit: limit(m.better, opt.MaxRegression),
			Base: ch.Baseline.Center, Cand: ch.Candidate.Center, Ratio: ch.Ratio, Lo: ch.RatioLo, Hi: ch.RatioHi}
		switch {
		case ch.Verdict == NotEnoughData:
			c.Verdict, c.Note = GateInconclusive, "not enough whole seconds for an interval"
		case !ch.HasRatio:
			c.Verdict, c.Note = GateInconclusive, "the baseline's median is zero"
			if ch.Verdict == Worse {
				c.Verdict = GateFail
			}
		default:
			c.Verdict = decide(c, true)
			if c.Verdict == GateInconclusive {
				c.Note = "the interval reaches back inside the limit"
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
