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
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/meshperf/meshperf/loadgen"
	"github.com/meshperf/meshperf/promquery"
	"github.com/meshperf/meshperf/smp"
)

// leadTime lets every shard set up its connections before the schedule starts.
const leadTime = 100 * time.Millisecond

// Validate checks a config (after defaults) against the model and the engines, and
// returns every problem at once.
func Validate(cfg *smp.TestConfig) error {
	_, err := validate(cfg)
	return err
}

// validate checks a config and returns its thresholds, parsed once for the run.
func validate(cfg *smp.TestConfig) (*Thresholds, error) {
	var errs smp.FieldErrors
	if err := cfg.Validate(); err != nil {
		var fe smp.FieldErrors
		if errors.As(err, &fe) {
			errs = append(errs, fe...)
		} else {
			return nil, err
		}
	}
	loadgen.Check(cfg, &errs)
	promquery.Check(cfg.Metrics, &errs)
	checks, terrs := ParseThresholds(cfg.Thresholds)
	errs = append(errs, terrs...)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return &Thresholds{checks: checks}, nil
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
	// Generator names this process in its intervals' health (an agent's name); empty
	// for a local run.
	Generator string
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
	thresholds, err := validate(cfg)
	if err != nil {
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
	res := NewResult(cfg, plan)
	agg := NewAggregator(plan.Sources(), plan.Total(), opt.OnProgress)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	thresholds.WatchAbort(agg, func(a *ThresholdAbort) { cancel(a) })
	var sink loadgen.Sink = agg
	if opt.Sink != nil {
		sink = teeSink{opt.Sink, agg}
	}
	health := newHealthStamper(opt.Generator, plan.Start, sink)
	defer health.stop()
	sink = health
	errs := make([]error, len(plan.Shards))
	var wg sync.WaitGroup
	for i, sh := range plan.Shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = loadgen.Run(ctx, sh, sink)
		}()
	}
	wg.Wait()
	agg.Flush()
	planEnd := plan.Start.Add(plan.Total())
	// The measured window is the asked one unless the run was cut short: at low rates
	// the last request completes long before the window ends, and the window must not
	// shrink to it.
	res.EndTime = planEnd
	if ctx.Err() != nil {
		res.EndTime = minTime(time.Now(), planEnd)
	}
	res.Intervals = agg.Intervals()

	var abort *ThresholdAbort
	errors.As(context.Cause(ctx), &abort)
	end := Ending{Plan: plan, Thresholds: thresholds, Environment: LocalEnvironment(opt.Version, cfg)}
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
		end.Status, end.Reason = smp.StatusPartial, "clients failed: "+strings.Join(failed, "; ")
	case abort != nil:
		end.Abort = abort
	case ctx.Err() != nil:
		end.Status = smp.StatusPartial
		end.Reason = fmt.Sprintf("stopped after %.1fs of %v: %v", time.Since(plan.Start).Seconds(), plan.Total(), context.Cause(ctx))
	}
	Finish(res, end)
	addServerView(ctx, res)
	return res, nil
}

// NewResult is the empty result of a run laid out by plan.
func NewResult(cfg *smp.TestConfig, plan *Plan) *smp.Result {
	return &smp.Result{
		SMPVersion:   smp.SMPVersion,
		ID:           uuid.NewString(),
		TestID:       cfg.ID,
		Name:         cfg.Name,
		Labels:       cfg.Labels,
		Config:       cfg,
		StartTime:    plan.Start,
		MeasureStart: plan.Start.Add(plan.Warmup),
	}
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
