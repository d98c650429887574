package perf

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/meshperf/meshperf/smp"
)

// Ending is what the runner of a result knows beyond its intervals: the plan, the
// thresholds (parsed once), how the run ended, where the load came from.
type Ending struct {
	Plan       *Plan
	Thresholds *Thresholds
	// Status and Reason are how the run ended as its runner saw it (empty status:
	// completed). An Abort overrides them: the run is partial, naming the threshold.
	Status smp.Status
	Reason string
	Abort  *ThresholdAbort
	// Environment describes the generators (for a distributed run: Generators).
	Environment smp.Environment
	// Generators names every generator expected to report health (agents); empty for
	// a local run, whose single generator is this process.
	Generators []string
	// Warnings the runner noticed (kept before the ones computed here).
	Warnings []string
}

// Finish turns a result holding its intervals, start, measure start and end into a
// finished result: merged summary, per-source breakdown, generator health (per
// generator and for the run), saturation, warnings, status and threshold verdicts.
// Local, distributed and recovered runs all end here, so they read the same way.
func Finish(r *smp.Result, e Ending) {
	r.Status, r.StatusReason = e.Status, e.Reason
	if r.Status == "" {
		r.Status = smp.StatusCompleted
	}
	if e.Abort != nil {
		r.Status = smp.StatusPartial
		r.StatusReason = "stopped: " + e.Abort.Error()
	}
	r.Environment = e.Environment
	r.Warnings = nil
	summarize(r, e.Plan)
	r.Generator = generatorHealth(r, e.Generators)
	r.Warnings = append(append([]string(nil), e.Warnings...), warnings(r, e.Plan)...)
	e.Thresholds.Evaluate(r, e.Abort)
}

// summarize computes the summary and per-source breakdown from the measured intervals.
func summarize(r *smp.Result, plan *Plan) {
	var all smp.Interval
	all.Latency = smp.NewHistogram()
	bySource := map[string]*smp.Interval{}
	for i := range r.Intervals {
		iv := &r.Intervals[i]
		if iv.Warmup {
			continue
		}
		mergeInto(&all, iv)
		s := bySource[iv.Source]
		if s == nil {
			s = &smp.Interval{Source: iv.Source, Latency: smp.NewHistogram()}
			bySource[iv.Source] = s
		}
		mergeInto(s, iv)
	}
	window := max(r.EndTime.Sub(r.MeasureStart).Seconds(), 0)
	var target float64
	for _, sh := range plan.Shards {
		target += plan.TargetRPS(sh.Source)
	}
	r.Latency = all.Latency
	r.Summary = summaryOf(&all, window, target)
	r.Sources = nil
	for _, src := range plan.Sources() {
		s := bySource[src]
		if s == nil {
			s = &smp.Interval{Source: src}
		}
		ss := smp.SourceSummary{Source: src, Summary: summaryOf(s, window, plan.TargetRPS(src))}
		for _, sh := range plan.Shards {
			if sh.Source == src {
				ss.Engine, ss.Model = sh.Client.LoadGenerator, sh.Client.Model
			}
		}
		r.Sources = append(r.Sources, ss)
	}
}

// generatorHealth merges each generator's health from its intervals (every interval,
// warm-up included, carries the CPU and scheduling of the process that measured it)
// and the run's from all of them. A run is saturated when any generator is.
func generatorHealth(r *smp.Result, expected []string) smp.GeneratorReport {
	byGen := map[string][]*smp.Interval{}
	names := append([]string(nil), expected...)
	for i := range r.Intervals {
		iv := &r.Intervals[i]
		gen := iv.Generator
		if agent, _, ok := strings.Cut(iv.Source, "/"); gen == "" && ok && contains(expected, agent) {
			gen = agent // an interval from before health was carried: its agent still counts
		}
		if _, ok := byGen[gen]; !ok && !contains(names, gen) {
			names = append(names, gen)
		}
		byGen[gen] = append(byGen[gen], iv)
	}
	sort.Strings(names)
	wall := r.EndTime.Sub(r.StartTime).Seconds()
	if len(names) == 0 {
		return smp.GeneratorReport{}
	}
	if len(names) == 1 && names[0] == "" {
		return healthOf("", byGen[""], wall)
	}
	var every []*smp.Interval
	run := smp.GeneratorReport{Measured: true}
	var saturated []string
	for _, n := range names {
		g := healthOf(n, byGen[n], wall)
		every = append(every, byGen[n]...)
		run.Measured = run.Measured && g.Measured
		if g.Saturated {
			saturated = append(saturated, fmt.Sprintf("agent %s: %s", n, g.Reason))
		}
		run.Generators = append(run.Generators, g)
	}
	whole := healthOf("", every, wall)
	whole.Measured, whole.Generators = run.Measured, run.Generators
	whole.Saturated, whole.Reason = len(saturated) > 0, strings.Join(saturated, "; ")
	whole.UsableCores = 0
	for _, g := range run.Generators {
		whole.UsableCores += g.UsableCores
	}
	return whole
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// healthOf is one generator's report from its intervals over wall seconds.
func healthOf(name string, ivs []*smp.Interval, wall float64) smp.GeneratorReport {
	var measured smp.Interval
	sched := smp.NewHistogram()
	g := smp.GeneratorReport{Name: name}
	var cpu float64
	for _, iv := range ivs {
		cpu += iv.CPUSeconds
		if iv.UsableCores > 0 {
			g.Measured = true
			g.UsableCores = max(g.UsableCores, iv.UsableCores)
		}
		if iv.SchedLatency != nil {
			sched.Merge(iv.SchedLatency)
		}
		if !iv.Warmup {
			mergeInto(&measured, iv)
		}
	}
	g.MissedSends = measured.MissedSends
	if measured.SendLag != nil {
		g.SendLag = smp.Summarize(measured.SendLag)
		if n := measured.SendLag.Count(); n > 0 {
			g.WaitedForConnection = round(float64(measured.WaitedForConnection)/float64(n), 4)
		}
	}
	if measured.GeneratorLag != nil && measured.GeneratorLag.Count() > 0 {
		g.BehindP99Ms = float64(measured.GeneratorLag.Quantile(99)) / 1000
		g.BehindMaxMs = float64(measured.GeneratorLag.Max()) / 1000
	}
	if g.Measured { // else CPU and scheduling are unknown: no verdict from them
		g.CPUSeconds = round(cpu, 3)
		if sched.Count() > 0 {
			g.SchedLatencyP99Ms = round(float64(sched.Quantile(99))/1000, 3)
		}
		if wall > 0 {
			g.CPUCores = round(cpu/wall, 3)
		}
	}
	var reasons []string
	lagMs := float64(SaturationLag) / float64(time.Millisecond)
	if g.SchedLatencyP99Ms > lagMs {
		reasons = append(reasons, fmt.Sprintf("its goroutines waited up to %.1f ms (p99) for a CPU, delaying sends and reads alike", g.SchedLatencyP99Ms))
	}
	if g.BehindP99Ms > lagMs { // from the requests' own timing: known either way
		reasons = append(reasons, fmt.Sprintf("requests left up to %.1f ms late (p99 %.1f ms) with a connection free: the generator could not keep its schedule", g.BehindMaxMs, g.BehindP99Ms))
	}
	// The open model's promise is that requests leave when due. When every connection is
	// busy they leave when one frees instead: past SaturationLag at p99 the pool, not the
	// schedule, set the arrival rate. Latencies stay honest (timed from the intended
	// instant) but they include that queue, which a runner timing from the actual send
	// (fortio's own, any closed model) leaves out.
	if g.SendLag.P99Ms > lagMs && g.WaitedForConnection > waitedShare {
		reasons = append(reasons, fmt.Sprintf("its connections ran out: %.1f%% of requests waited over 1 ms for a free one and left up to %.1f ms late (p99 %.1f ms); latencies count that wait from the intended send time, so more connections would show the target alone",
			100*g.WaitedForConnection, g.SendLag.MaxMs, g.SendLag.P99Ms))
	}
	if g.Measured && g.CPUCores >= SaturationCPU*float64(g.UsableCores) {
		reasons = append(reasons, fmt.Sprintf("the generator used %.2f of %d usable cores", g.CPUCores, g.UsableCores))
	}
	if len(reasons) > 0 {
		g.Saturated = true
		g.Reason = strings.Join(reasons, "; ")
	}
	return g
}

// waitedShare is the share of requests waiting for a connection worth a word.
const waitedShare = 0.01

func warnings(r *smp.Result, plan *Plan) []string {
	var out []string
	g := r.Generator
	if g.Saturated {
		advice := " The figures describe the generator as much as the target: lower the rate or add generators."
		if !plan.anyPaced() {
			advice = " At full speed the generator, not the target, set the rate: add generators or cores to find the target's limit."
		}
		out = append(out, "generator saturated: "+g.Reason+"."+advice)
	}
	if g.WaitedForConnection > waitedShare && !g.Saturated {
		w := fmt.Sprintf("%.1f%% of requests waited over 1 ms for a free connection: the target answered slower than rate ÷ connections allows.", 100*g.WaitedForConnection)
		if plan.anyModel(smp.ModelClosed) {
			w += " The closed model times requests from when they left, so that wait is missing from its latencies (coordinated omission); --model open includes it."
		} else {
			w += " Open-model latencies include that wait; more connections would show the target alone."
		}
		out = append(out, w)
	}
	if g.MissedSends > 0 {
		out = append(out, fmt.Sprintf("%d requests were due but never sent before the run ended.", g.MissedSends))
	}
	if target := r.Summary.TargetRPS; target > 0 && r.Summary.ActualRPS < 0.95*target && r.Status == smp.StatusCompleted {
		out = append(out, fmt.Sprintf("achieved %.1f req/s of the %.1f req/s asked for.", r.Summary.ActualRPS, target))
	}
	return out
}
