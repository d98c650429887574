package agents

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/meshperf/meshperf/loadgen"
	"github.com/meshperf/meshperf/perf"
	"github.com/meshperf/meshperf/perf/distributed"
	"github.com/meshperf/meshperf/smp"
)

// Distributor runs configs on agents chosen from the registry (runs.Distributor).
type Distributor struct {
	Registry *Registry
	NC       *nats.Conn
	Stream   jetstream.Stream
	Version  string
	Logger   *slog.Logger
	// OnIntervalLag observes the broker's lag (see distributed.CoordinatorOptions).
	OnIntervalLag func(time.Duration)
}

// Choose picks count alive, idle agents whose labels match the selector, by name.
func (r *Registry) Choose(p *smp.AgentPlacement) ([]string, error) {
	var match []string
	for _, a := range r.List() {
		if !a.Alive || a.Busy != "" {
			continue
		}
		ok := true
		for k, v := range p.Selector {
			ok = ok && a.Labels[k] == v
		}
		if ok {
			match = append(match, a.Name)
		}
	}
	sort.Strings(match)
	if len(match) < p.Count {
		sel := make([]string, 0, len(p.Selector))
		for k, v := range p.Selector {
			sel = append(sel, k+"="+v)
		}
		sort.Strings(sel)
		return nil, fmt.Errorf("the run needs %d agent(s) matching {%s}; %d alive and idle", p.Count, strings.Join(sel, ", "), len(match))
	}
	return match[:p.Count], nil
}

// Run implements runs.Distributor.
func (d *Distributor) Run(ctx context.Context, runID string, cfg *smp.TestConfig, sink loadgen.Sink, progress func(perf.Progress), placed func(string)) (*smp.Result, error) {
	chosen, err := d.Registry.Choose(cfg.Agents)
	if err != nil {
		return nil, err
	}
	return distributed.Coordinate(ctx, distributed.CoordinatorOptions{NC: d.NC, Stream: d.Stream, RunID: runID, Config: cfg, Agents: chosen,
		Sink: sink, OnProgress: progress, Version: d.Version, Logger: d.Logger, OnIntervalLag: d.OnIntervalLag,
		OnPlaced: func(p distributed.Placement) {
			b, _ := json.Marshal(p)
			placed(string(b))
		}})
}

// Resume implements runs.Distributor.
func (d *Distributor) Resume(ctx context.Context, runID string, cfg *smp.TestConfig, placement string, prior []smp.Interval, sink loadgen.Sink, progress func(perf.Progress)) (*smp.Result, error) {
	var p distributed.Placement
	if err := json.Unmarshal([]byte(placement), &p); err != nil || len(p.Agents) == 0 {
		return nil, fmt.Errorf("the run's recorded placement is unreadable")
	}
	return distributed.Resume(ctx, distributed.CoordinatorOptions{NC: d.NC, Stream: d.Stream, RunID: runID, Config: cfg,
		Sink: sink, OnProgress: progress, Version: d.Version, Logger: d.Logger, OnIntervalLag: d.OnIntervalLag}, p, prior)
}
