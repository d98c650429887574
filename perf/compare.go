package perf

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"golang.org/x/perf/benchmath"

	"github.com/meshperf/meshperf/smp"
)

// Verdicts of a comparison.
const (
	Better        = "better"
	Worse         = "worse"
	NoChange      = "no significant change"
	NotEnoughData = "not enough data"
)

// MinSeconds is the fewest whole measured seconds per side for a verdict.
const MinSeconds = 5

// Estimate is one side's figure: the median of its per-second values with a 95%
// confidence interval.
type Estimate struct {
	Center float64 `json:"center"`
	Lo     float64 `json:"lo"`
	Hi     float64 `json:"hi"`
	N      int     `json:"n"` // seconds
}

// Change is how one figure moved from a baseline to a candidate.
type Change struct {
	Metric    string   `json:"metric"`
	Unit      string   `json:"unit"`
	Better    string   `json:"better"` // lower or higher
	Baseline  Estimate `json:"baseline"`
	Candidate Estimate `json:"candidate"`
	// Ratio is candidate ÷ baseline (medians) with a 95% bootstrap interval; it is
	// undefined (HasRatio false) when the baseline's median is zero.
	HasRatio bool    `json:"has_ratio"`
	Ratio    float64 `json:"ratio"`
	RatioLo  float64 `json:"ratio_lo"`
	RatioHi  float64 `json:"ratio_hi"`
	// P is the Mann-Whitney U test's p-value that both come from one distribution.
	P       float64 `json:"p"`
	Verdict string  `json:"verdict"`
}

// DeltaPct is the change in percent.
func (c Change) DeltaPct() float64 { return (c.Ratio - 1) * 100 }

// CompareMetrics are the figures a comparison reports, each a value per measured
// second.
var CompareMetrics = []string{"rps", "p50", "p90", "p99", "p99.9", "error_rate"}

func secs(iv *smp.Interval) float64 { return intervalSeconds(iv) }

// Seconds merges a result's measured intervals per second (all sources) and keeps the
// whole seconds: the last, partial one would skew every per-second figure.
func Seconds(r *smp.Result) []smp.Interval {
	by := map[int]*smp.Interval{}
	for i := range r.Intervals {
		iv := &r.Intervals[i]
		if iv.Warmup {
			continue
		}
		s := by[iv.Index]
		if s == nil {
			s = &smp.Interval{Index: iv.Index, Start: iv.Start, End: iv.End}
			by[iv.Index] = s
		}
		mergeInto(s, iv)
		if iv.End.After(s.End) {
			s.End = iv.End
		}
	}
	out := make([]smp.Interval, 0, len(by))
	for _, s := range by {
		if secs(s) >= 0.9 {
			out = append(out, *s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out
}

// Compare says, figure by figure, how the candidate differs from the baseline, from
// their per-second values: never from two single numbers.
func Compare(baseline, candidate *smp.Result) []Change {
	a, b := Seconds(baseline), Seconds(candidate)
	var out []Change
	for _, m := range mustMetrics(CompareMetrics...) {
		out = append(out, compareSeries(m, values(a, m), values(b, m)))
	}
	return append(out, CompareResources(baseline, candidate)...)
}

func values(ivs []smp.Interval, m Metric) []float64 {
	out := make([]float64, 0, len(ivs))
	for i := range ivs {
		if v, ok := m.FromInterval(&ivs[i]); ok {
			out = append(out, v)
		}
	}
	return out
}

func compareSeries(m Metric, a, b []float64) Change {
	c := Change{Metric: m.Name, Unit: m.Unit, Better: m.Better, Verdict: NotEnoughData}
	sa, sb := benchmath.NewSample(a, &benchmath.DefaultThresholds), benchmath.NewSample(b, &benchmath.DefaultThresholds)
	c.Baseline, c.Candidate = estimate(sa), estimate(sb)
	if len(a) == 0 || len(b) == 0 {
		return c
	}
	switch {
	case c.Baseline.Center != 0:
		c.HasRatio, c.Ratio = true, c.Candidate.Center/c.Baseline.Center
		c.RatioLo, c.RatioHi = bootstrapRatio(a, b, c.Ratio)
	case c.Candidate.Center == 0:
		c.HasRatio, c.Ratio, c.RatioLo, c.RatioHi = true, 1, 1, 1
	}
	if len(a) < MinSeconds || len(b) < MinSeconds {
		return c
	}
	cmp := benchmath.AssumeNothing.Compare(sa, sb)
	c.P = cmp.P
	moved := c.Candidate.Center - c.Baseline.Center
	significant := cmp.P < cmp.Alpha && moved != 0 && (!c.HasRatio || c.RatioLo > 1 || c.RatioHi < 1)
	switch {
	case !significant:
		c.Verdict = NoChange
	case (moved < 0) == (m.Better == LowerIsBetter):
		c.Verdict = Better
	default:
		c.Verdict = Worse
	}
	return c
}

func estimate(s *benchmath.Sample) Estimate {
	if len(s.Values) == 0 {
		return Estimate{}
	}
	sum := benchmath.AssumeNothing.Summary(s, 0.95)
	lo, hi := sum.Lo, sum.Hi
	if math.IsInf(lo, 0) || math.IsNaN(lo) {
		lo = sum.Center
	}
	if math.IsInf(hi, 0) || math.IsNaN(hi) {
		hi = sum.Center
	}
	return Estimate{Center: sum.Center, Lo: lo, Hi: hi, N: len(s.Values)}
}

// bootstrapRatio is a 95% interval of median(b) ÷ median(a), resampling the seconds of
// each side (resamples with a zero baseline median are left out; if all are, the
// interval collapses to the point estimate). The generator is seeded: the same inputs
// give the same interval.
func bootstrapRatio(a, b []float64, point float64) (lo, hi float64) {
	const rounds = 2000
	rng := rand.New(rand.NewPCG(uint64(len(a)), uint64(len(b))))
	ratios := make([]float64, 0, rounds)
	ra, rb := make([]float64, len(a)), make([]float64, len(b))
	for range rounds {
		for i := range ra {
			ra[i] = a[rng.IntN(len(a))]
		}
		for i := range rb {
			rb[i] = b[rng.IntN(len(b))]
		}
		ma, mb := median(ra), median(rb)
		switch {
		case ma != 0:
			ratios = append(ratios, mb/ma)
		case mb == 0:
			ratios = append(ratios, 1)
		}
	}
	if len(ratios) == 0 {
		return point, point
	}
	sort.Float64s(ratios)
	return ratios[int(0.025*float64(len(ratios)-1))], ratios[int(0.975*float64(len(ratios)-1))]
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// FormatChange writes a change for people: "+10.2% [+6.1%, +14.0%]".
func FormatChange(c Change) string {
	if !c.HasRatio {
		return fmt.Sprintf("from 0 to %g", c.Candidate.Center)
	}
	return fmt.Sprintf("%+.1f%% [%+.1f%%, %+.1f%%]", (c.Ratio-1)*100, (c.RatioLo-1)*100, (c.RatioHi-1)*100)
}
