// Package perf runs performance tests: it turns a config into a plan of shards, runs
// them on loadgen's engines, merges their intervals exactly and builds the result with
// its summary, generator health and environment.
//
// perf knows no HTTP API and no database: intervals leave through loadgen.Sink and
// progress through a callback.
package perf

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/meshperf/meshperf/loadgen"
	"github.com/meshperf/meshperf/smp"
)

// leadTime lets every shard set up its connections before the schedule starts.
const leadTime = 100 * time.Millisecond

// Validate checks a config (after defaults) against the model and the engines, and
// returns every problem at once.
func Validate(cfg *smp.TestConfig) error {
	var errs smp.FieldErrors
	if err := cfg.Validate(); err != nil {
		var fe smp.FieldErrors
		if errors.As(err, &fe) {
			errs = append(errs, fe...)
		} else {
			return err
		}
	}
	loadgen.Check(cfg, &errs)
	_, terrs := ParseThresholds(cfg.Thresholds)
	errs = append(errs, terrs...)
	return errs.Err()
}

// Plan is how a run is laid out: one shard per client, all starting together.
type Plan struct {
	Config   *smp.TestConfig
	Shards   []*loadgen.Shard
	Start    time.Time
	Warmup   time.Duration
	Duration time.Duration
}

// NewPlan lays a validated config out from start. Warm-up is rounded up to whole
// seconds so that no interval mixes warm-up and measured requests.
func NewPlan(cfg *smp.TestConfig, start time.Time) *Plan {
	warm := cfg.Warmup.D()
	if rem := warm % time.Second; rem != 0 {
		warm += time.Second - rem
	}
	p := &Plan{Config: cfg, Start: start, Warmup: warm, Duration: cfg.Duration.D()}
	for i := range cfg.Clients {
		p.Shards = append(p.Shards, &loadgen.Shard{
			Source:   cfg.Clients[i].ClientName(i),
			Client:   cfg.Clients[i],
			Start:    start,
			Warmup:   warm,
			Duration: p.Duration,
		})
	}
	return p
}

// Total is warm-up plus duration.
func (p *Plan) Total() time.Duration { return p.Warmup + p.Duration }

// Sources lists the shards' names.
func (p *Plan) Sources() []string {
	out := make([]string, len(p.Shards))
	for i, s := range p.Shards {
		out[i] = s.Source
	}
	return out
}

// TargetRPS is the rate a source was asked for over the measured window (0 = as fast
// as possible).
func (p *Plan) TargetRPS(source string) float64 {
	for _, s := range p.Shards {
		if s.Source == source {
			if sch := s.Schedule(); sch != nil {
				return sch.MeanRate(s.Warmup, s.Total())
			}
		}
	}
	return 0
}

func (p *Plan) anyPaced() bool {
	for _, s := range p.Shards {
		if s.Paced() {
			return true
		}
	}
	return false
}

func (p *Plan) anyModel(m smp.LoadModel) bool {
	for _, s := range p.Shards {
		if s.Client.Model == m && s.Paced() {
			return true
		}
	}
	return false
}

// Options tune a local run.
type Options struct {
	// Version is meshperf's version, recorded in the environment.
	Version string
	// OnProgress is called once per second with the merged figures.
	OnProgress func(Progress)
	// Sink, when set, also receives every interval as it closes (to store it, or to
	// stream it elsewhere), before the run ends.
	Sink loadgen.Sink
	// StartAt, when set, is the instant the schedule starts (distributed runs start
	// every share together); by default it starts a moment from now.
	StartAt time.Time
}

// Run runs a test locally and returns its result. Cancelling ctx stops the load; the
// result then holds everything measured so far and is marked partial. An error means
// the test could not run (bad config: smp.FieldErrors; or no shard could start).
func Run(ctx context.Context, cfg *smp.TestConfig, opt Options) (*smp.Result, error) {
	if err := Validate(cfg); err != nil {
		return nil, err
	}
	if cfg.Agents != nil {
		return nil, smp.FieldErrors{{Path: "agents", Msg: "a run on agents goes through a server (meshperf profile apply, then run --profile); remove agents: to run here"}}
	}
	if cfg.ID == "" {
		cfg.ID = uuid.NewString()
	}
	start := time.Now().Add(leadTime)
	if !opt.StartAt.IsZero() {
		start = opt.StartAt
	}
	plan := NewPlan(cfg, start)
	res := &smp.Result{
		SMPVersion:   smp.SMPVersion,
		ID:           uuid.NewString(),
		TestID:       cfg.ID,
		Name:         cfg.Name,
		Labels:       cfg.Labels,
		Config:       cfg,
		StartTime:    plan.Start,
		MeasureStart: plan.Start.Add(plan.Warmup),
	}
	agg := NewAggregator(plan.Sources(), plan.Total(), opt.OnProgress)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watchAbortThresholds(agg, cfg.Thresholds, cancel)
	cpu0, sched0 := processCPU(), readSchedLatency()
	errs := make([]error, len(plan.Shards))
	var wg sync.WaitGroup
	for i, sh := range plan.Shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sink loadgen.Sink = agg
			if opt.Sink != nil {
				sink = teeSink{opt.Sink, agg}
			}
			errs[i] = loadgen.Run(ctx, sh, sink)
		}()
	}
	wg.Wait()
	agg.Flush()
	res.EndTime = minTime(time.Now(), plan.Start.Add(plan.Total()))
	res.Intervals = agg.Intervals()

	var failed []string
	for i, err := range errs {
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", plan.Shards[i].Source, err))
		}
	}
	switch {
	case len(failed) == len(plan.Shards):
		return nil, fmt.Errorf("no client could run: %s", strings.Join(failed, "; "))
	case len(failed) > 0:
		res.Status, res.StatusReason = smp.StatusPartial, "clients failed: "+strings.Join(failed, "; ")
	case ctx.Err() != nil:
		res.Status = smp.StatusPartial
		res.StatusReason = fmt.Sprintf("stopped after %.1fs of %v: %v", time.Since(plan.Start).Seconds(), plan.Total(), context.Cause(ctx))
	default:
		res.Status = smp.StatusCompleted
	}
	res.Environment = LocalEnvironment(opt.Version, cfg)
	Summarize(res, plan, Usage{CPUSeconds: processCPU() - cpu0, SchedLatencyP99Ms: readSchedLatency().quantileSince(sched0, 0.99)})
	addServerView(ctx, res)
	EvaluateThresholds(res, cfg.Thresholds)
	var abort *errThresholdAbort
	if errors.As(context.Cause(ctx), &abort) {
		for i := range res.Thresholds {
			if res.Thresholds[i].Expr == abort.expr {
				res.Thresholds[i].Aborted = true
			}
		}
	}
	return res, nil
}

// Usage is what the generator process spent during a run.
type Usage struct {
	CPUSeconds        float64
	SchedLatencyP99Ms float64
}

// watchAbortThresholds stops the run when an abort_on_fail threshold fails on the
// measured seconds so far (once its abort_after has passed).
func watchAbortThresholds(agg *Aggregator, ts []smp.Threshold, cancel context.CancelCauseFunc) {
	checks, _ := ParseThresholds(ts)
	var aborters []*Check
	for _, c := range checks {
		if c.AbortOnFail {
			aborters = append(aborters, c)
		}
	}
	if len(aborters) == 0 {
		return
	}
	agg.OnMeasured(func(cum *smp.Interval, seconds int) {
		elapsed := time.Duration(seconds) * time.Second
		s := summaryOf(cum, elapsed.Seconds(), 0)
		for _, c := range aborters {
			if elapsed < c.AbortAfter.D() {
				continue
			}
			if tr := c.Eval(&s); !tr.OK {
				cancel(&errThresholdAbort{expr: c.Expr, observed: tr.Observed, at: elapsed})
				return
			}
		}
	})
}

// teeSink gives each interval to the caller's sink first: the aggregator compacts the
// histograms it keeps.
type teeSink struct{ first, second loadgen.Sink }

func (t teeSink) Interval(iv *smp.Interval) {
	t.first.Interval(iv)
	t.second.Interval(iv)
}

// Saturation thresholds: past these the generator, not the target, limits the numbers.
const (
	// SaturationLag: p99 of the delay the generator itself added to sends, and of
	// the time its goroutines waited for a CPU.
	SaturationLag = 5 * time.Millisecond
	// SaturationCPU: share of the cores the process may use (GOMAXPROCS).
	SaturationCPU = 0.95
)

// Summarize computes the summary, per-source breakdown, generator report and warnings
// of r from its intervals. Warm-up intervals are excluded from every figure.
func Summarize(r *smp.Result, plan *Plan, use Usage) {
	cpuSeconds := use.CPUSeconds
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
	window := r.EndTime.Sub(r.MeasureStart).Seconds()
	if window < 0 {
		window = 0
	}
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

	g := smp.GeneratorReport{MissedSends: all.MissedSends, CPUSeconds: round(cpuSeconds, 3),
		SchedLatencyP99Ms: round(use.SchedLatencyP99Ms, 3)}
	if all.SendLag != nil {
		g.SendLag = smp.Summarize(all.SendLag)
		if n := all.SendLag.Count(); n > 0 {
			g.WaitedForConnection = round(float64(all.WaitedForConnection)/float64(n), 4)
		}
	}
	if all.GeneratorLag != nil && all.GeneratorLag.Count() > 0 {
		g.BehindP99Ms = float64(all.GeneratorLag.Quantile(99)) / 1000
		g.BehindMaxMs = float64(all.GeneratorLag.Max()) / 1000
	}
	if wall := r.EndTime.Sub(r.StartTime).Seconds(); wall > 0 {
		g.CPUCores = round(cpuSeconds/wall, 3)
	}
	var reasons []string
	lagMs := float64(SaturationLag) / float64(time.Millisecond)
	if g.SchedLatencyP99Ms > lagMs {
		reasons = append(reasons, fmt.Sprintf("its goroutines waited up to %.1f ms (p99) for a CPU, delaying sends and reads alike", g.SchedLatencyP99Ms))
	}
	if g.BehindP99Ms > lagMs {
		reasons = append(reasons, fmt.Sprintf("requests left up to %.1f ms late (p99 %.1f ms) with a connection free: the generator could not keep its schedule", g.BehindMaxMs, g.BehindP99Ms))
	}
	if procs := float64(runtime.GOMAXPROCS(0)); g.CPUCores >= SaturationCPU*procs {
		reasons = append(reasons, fmt.Sprintf("the generator used %.2f of %d usable cores", g.CPUCores, int(procs)))
	}
	if len(reasons) > 0 {
		g.Saturated = true
		g.Reason = strings.Join(reasons, "; ")
	}
	r.Generator = g

	r.Warnings = nil
	if g.Saturated {
		advice := " The figures describe the generator as much as the target: lower the rate or add generators."
		if !plan.anyPaced() {
			advice = " At full speed the generator, not the target, set the rate: add generators or cores to find the target's limit."
		}
		r.Warnings = append(r.Warnings, "generator saturated: "+g.Reason+"."+advice)
	}
	if g.WaitedForConnection > 0.01 && !g.Saturated {
		w := fmt.Sprintf("%.1f%% of requests waited over 1 ms for a free connection: the target answered slower than rate ÷ connections allows.", 100*g.WaitedForConnection)
		if plan.anyModel(smp.ModelClosed) {
			w += " The closed model times requests from when they left, so that wait is missing from its latencies (coordinated omission); --model open includes it."
		} else {
			w += " Open-model latencies include that wait; more connections would show the target alone."
		}
		r.Warnings = append(r.Warnings, w)
	}
	if g.MissedSends > 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%d requests were due but never sent before the run ended.", g.MissedSends))
	}
	if target > 0 && r.Summary.ActualRPS < 0.95*target && r.Status == smp.StatusCompleted {
		r.Warnings = append(r.Warnings, fmt.Sprintf("achieved %.1f req/s of the %.1f req/s asked for.", r.Summary.ActualRPS, target))
	}
}

func summaryOf(iv *smp.Interval, window, target float64) smp.Summary {
	s := smp.Summary{
		Requests:        iv.Requests,
		Successes:       iv.Successes,
		DurationSeconds: round(window, 3),
		TargetRPS:       round(target, 3),
		Latency:         smp.Summarize(iv.Latency),
		StatusCodes:     iv.StatusCodes,
		Errors:          iv.Errors,
		BytesSent:       iv.BytesSent,
		BytesReceived:   iv.BytesReceived,
	}
	if iv.Requests > 0 {
		s.ErrorRate = round(float64(iv.Requests-iv.Successes)/float64(iv.Requests), 6)
	}
	if window > 0 {
		s.ActualRPS = round(float64(iv.Requests)/window, 3)
	}
	return s
}

func round(v float64, digits int) float64 {
	p := math.Pow10(digits)
	return math.Round(v*p) / p
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}
