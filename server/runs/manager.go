// Package runs executes runs inside the server: a queue with bounded concurrency, each
// run through perf with its intervals stored as they arrive, live events for
// subscribers, and recovery of runs a previous process left unfinished.
package runs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/meshperf/meshperf/loadgen"
	"github.com/meshperf/meshperf/perf"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/smp"
)

// Event is what subscribers of a run receive.
type Event struct {
	Type string `json:"type"` // status, progress, result, end
	Data any    `json:"data"`
}

// Options configure a Manager.
type Options struct {
	// Owner names this server instance in the runs it executes; a restarted instance
	// recovers the runs it owned.
	Owner string
	// Concurrency is how many runs execute at once (default 1: runs on one machine
	// would otherwise measure each other).
	Concurrency int
	Version     string
	Logger      *slog.Logger
	// Distributed runs configs that place their load on agents (nil: such runs fail).
	Distributed Distributor
	// Clusters gives the environment of the cluster a run targets (nil: runs that
	// name a cluster fail).
	Clusters ClusterEnvironments
	// Targets is the server's --allow-target policy, checked again when a run starts
	// (whichever path queued it: API, schedule, recovery) so that a run queued or
	// scheduled before the policy changed cannot reach a refused target. Nil allows
	// any target.
	Targets TargetChecker
	// MaxQueued bounds the runs waiting in the queue (default DefaultMaxQueued), and
	// MaxQueuedPerUser those one user (or schedule) queued (default
	// DefaultMaxQueuedPerUser). Submit refuses beyond them with ErrQueueFull.
	MaxQueued        int
	MaxQueuedPerUser int
	// Metrics, if set, attaches the config's Prometheus metrics to a finished run's
	// result (res.Metrics); it never fails the run.
	Metrics func(ctx context.Context, cfg *smp.TestConfig, res *smp.Result)
}

// ClusterEnvironments describes connected clusters for results.
type ClusterEnvironments interface {
	// Environment returns a connected cluster's SMP environment, or why it cannot.
	Environment(ctx context.Context, ref string) (*smp.KubernetesEnv, error)
}

// Distributor runs a config on agents. Run calls placed with where the run went (to be
// recorded) before any agent gets its share; Resume picks up a run a previous
// process started there, given the intervals it had stored.
type Distributor interface {
	Run(ctx context.Context, runID string, cfg *smp.TestConfig, sink loadgen.Sink, progress func(perf.Progress), placed func(string)) (*smp.Result, error)
	Resume(ctx context.Context, runID string, cfg *smp.TestConfig, placement string, prior []smp.Interval, sink loadgen.Sink, progress func(perf.Progress)) (*smp.Result, error)
}

// Manager executes runs.
//
// Queued runs live in the store only: workers take the oldest one when woken by Submit
// or by a periodic look, so no number of queued runs can block start-up or Submit.
type Manager struct {
	st   *store.Store
	opt  Options
	log  *slog.Logger
	wake chan struct{}

	mu     sync.Mutex
	active map[string]*active
	wg     sync.WaitGroup
}

type active struct {
	cancel context.CancelCauseFunc
	subs   map[chan Event]struct{}
	last   *perf.Progress
}

// ErrCancelled is the cause given to a run a user cancelled.
var ErrCancelled = errors.New("cancelled by a user")

// New returns a manager; call Start to begin executing.
func New(st *store.Store, opt Options) *Manager {
	if opt.Concurrency < 1 {
		opt.Concurrency = 1
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Owner == "" {
		opt.Owner = uuid.NewString()
	}
	if opt.MaxQueued <= 0 {
		opt.MaxQueued = DefaultMaxQueued
	}
	if opt.MaxQueuedPerUser <= 0 {
		opt.MaxQueuedPerUser = DefaultMaxQueuedPerUser
	}
	return &Manager{st: st, opt: opt, log: opt.Logger, wake: make(chan struct{}, 1), active: map[string]*active{}}
}

// Start recovers what a previous process of this owner left unfinished, re-queues
// runs that never started, and starts the workers. They stop when ctx is cancelled;
// Wait waits for them.
func (m *Manager) Start(ctx context.Context) error {
	// Queued runs stay in the store, however many: the workers take them one by one.
	unfinished, err := m.st.RunningRuns(ctx, m.opt.Owner)
	if err != nil {
		return fmt.Errorf("looking for unfinished runs: %w", err)
	}
	for _, r := range unfinished {
		if r.Placement != "" && m.opt.Distributed != nil {
			// A distributed run goes on without us: its agents keep streaming to
			// JetStream. Pick the collection up again.
			m.wg.Add(1)
			go func() {
				defer m.wg.Done()
				m.resume(ctx, &r)
			}()
			continue
		}
		if err := m.recover(ctx, &r); err != nil {
			m.log.Error("recovering an interrupted run", "run", r.ID, "err", err)
		}
	}
	for range m.opt.Concurrency {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.work(ctx)
		}()
	}
	m.poke()
	return nil
}

// Wait waits for the workers after Start's ctx is cancelled.
func (m *Manager) Wait() { m.wg.Wait() }

// Submit stores a new queued run and wakes a worker. Beyond the queue limits it
// returns *ErrQueueFull and stores nothing. (Two submits at the same instant may both
// pass a limit by one: the limits bound growth, they are not quotas to the unit.)
func (m *Manager) Submit(ctx context.Context, r *store.Run) error {
	total, mine, err := m.st.CountQueuedRuns(ctx, r.TriggeredBy)
	if err != nil {
		return err
	}
	if total >= int64(m.opt.MaxQueued) {
		return &ErrQueueFull{Msg: fmt.Sprintf("the server has %d runs queued, its limit; retry when some have run", total)}
	}
	if mine >= int64(m.opt.MaxQueuedPerUser) {
		return &ErrQueueFull{Msg: fmt.Sprintf("%s has %d runs queued, the limit per user; retry when some have run", r.TriggeredBy, mine)}
	}
	r.Status = store.RunQueued
	if err := m.st.CreateRun(ctx, r); err != nil {
		return err
	}
	m.poke()
	return nil
}

// Cancel stops a running run (its partial result is kept) or cancels a queued one.
func (m *Manager) Cancel(ctx context.Context, id string) error {
	m.mu.Lock()
	a := m.active[id]
	m.mu.Unlock()
	if a != nil {
		a.cancel(ErrCancelled)
		return nil
	}
	r, err := m.st.GetRun(ctx, id)
	if err != nil {
		return err
	}
	if store.RunDone(r.Status) {
		return fmt.Errorf("run %s is already %s", id, r.Status)
	}
	if r.Status == store.RunQueued {
		return m.st.FinishRun(ctx, id, store.RunCancelled, ErrCancelled.Error(), nil)
	}
	return fmt.Errorf("run %s is running on another server (%s)", id, r.Owner)
}

// Subscribe returns a channel of the run's events (closed after "end") and a function
// to stop listening. A run that is not executing here yields no live events.
func (m *Manager) Subscribe(id string) (<-chan Event, func(), bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.active[id]
	if a == nil {
		return nil, func() {}, false
	}
	ch := make(chan Event, 64)
	a.subs[ch] = struct{}{}
	if a.last != nil {
		ch <- Event{Type: "progress", Data: a.last}
	}
	return ch, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if _, ok := a.subs[ch]; ok {
			delete(a.subs, ch)
			close(ch)
		}
	}, true
}

func (m *Manager) publish(id string, ev Event, final bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.active[id]
	if a == nil {
		return
	}
	if p, ok := ev.Data.(perf.Progress); ok {
		a.last = &p
	}
	for ch := range a.subs {
		select {
		case ch <- ev:
		default: // a subscriber that cannot keep up misses a progress line, not the run
		}
		if final {
			delete(a.subs, ch)
			close(ch)
		}
	}
}

// storeSink writes each interval as it closes. A failed write is logged and the run
// goes on: the result written at the end still holds every interval.
type storeSink struct {
	m  *Manager
	id string
	// closed drops what a load abandoned after a cancel still reports: its run is
	// already final.
	closed *atomic.Bool
}

func (s storeSink) Interval(iv *smp.Interval) {
	if s.closed != nil && s.closed.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.m.st.AddInterval(ctx, s.id, iv); err != nil {
		s.m.log.Warn("storing an interval", "run", s.id, "source", iv.Source, "second", iv.Index, "err", err)
	}
}

// execute claims a queued run and runs it; false when the store failed (the caller
// waits before looking again rather than spinning on a failing database).
func (m *Manager) execute(parent context.Context, id string) bool {
	ok, err := m.st.ClaimRun(parent, id, m.opt.Owner)
	if err != nil {
		m.log.Error("claiming a run", "run", id, "err", err)
		return false
	}
	if !ok {
		return true // cancelled while queued, or another replica took it
	}
	run, err := m.st.GetRun(parent, id)
	if err != nil {
		m.log.Error("loading a run", "run", id, "err", err)
		return false
	}
	m.runActive(parent, run, func(ctx context.Context, cfg *smp.TestConfig, sink loadgen.Sink, progress func(perf.Progress)) (*smp.Result, error) {
		switch {
		case cfg.Agents != nil && m.opt.Distributed == nil:
			return nil, errors.New("this server has no broker for runs on agents")
		case cfg.Agents != nil:
			return m.opt.Distributed.Run(ctx, id, cfg, sink, progress, func(placement string) {
				if err := m.st.SetRunPlacement(context.WithoutCancel(ctx), id, placement); err != nil {
					m.log.Warn("recording a run's placement", "run", id, "err", err)
				}
			})
		}
		return perf.Run(ctx, cfg, perf.Options{Version: m.opt.Version, Sink: sink, OnProgress: progress})
	})
	return true
}

// resume goes on collecting a distributed run this instance owned before it restarted.
func (m *Manager) resume(parent context.Context, run *store.Run) {
	m.log.Warn("resuming a distributed run after a restart", "run", run.ID)
	m.runActive(parent, run, func(ctx context.Context, cfg *smp.TestConfig, sink loadgen.Sink, progress func(perf.Progress)) (*smp.Result, error) {
		prior, err := m.st.Intervals(ctx, run.ID)
		if err != nil {
			return nil, err
		}
		return m.opt.Distributed.Resume(ctx, run.ID, cfg, run.Placement, prior, sink, progress)
	})
}

type runFunc func(ctx context.Context, cfg *smp.TestConfig, sink loadgen.Sink, progress func(perf.Progress)) (*smp.Result, error)

// runActive executes a run (registered for cancel and live events) and records how it
// ended.
func (m *Manager) runActive(parent context.Context, run *store.Run, do runFunc) {
	id := run.ID
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	m.mu.Lock()
	m.active[id] = &active{cancel: cancel, subs: map[chan Event]struct{}{}}
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.active, id)
		m.mu.Unlock()
	}()
	m.publish(id, Event{Type: "status", Data: map[string]string{"status": store.RunRunning}}, false)
	log := m.log.With("run", id)
	log.Info("run started", "profile", run.ProfileName)

	var cfg smp.TestConfig
	err := json.Unmarshal([]byte(run.Config), &cfg)
	if err != nil {
		m.fail(parent, run, fmt.Errorf("the stored config is unreadable: %w", err))
		return
	}
	if m.opt.Targets != nil {
		// Checked here, as the load starts, whatever path queued the run.
		if refused := m.opt.Targets.Check(ctx, &cfg); len(refused) > 0 {
			m.fail(parent, run, fmt.Errorf("refused by the server's allowed targets: %w", refused))
			return
		}
	}
	var kube *smp.KubernetesEnv
	if ref := cfg.TargetCluster(); ref != "" {
		if m.opt.Clusters == nil {
			m.fail(parent, run, errors.New("this server has no cluster connections"))
			return
		}
		// Taken before the load, so the result describes the cluster it ran against.
		if kube, err = m.opt.Clusters.Environment(ctx, ref); err != nil {
			m.fail(parent, run, fmt.Errorf("cluster %s: %w", ref, err))
			return
		}
	}
	progress := func(p perf.Progress) { m.publish(id, Event{Type: "progress", Data: p}, false) }
	res, abandoned, err := m.runLoad(ctx, parent, run, &cfg, do, progress)
	if abandoned {
		return
	}
	if err != nil {
		m.fail(parent, run, err)
		return
	}
	if kube != nil {
		res.Environment.Kubernetes = kube
	}
	status := string(res.Status)
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, ErrCancelled):
		status = store.RunCancelled
	case parent.Err() != nil:
		// The server is shutting down: the run is interrupted, not finished. Its
		// intervals are stored; the next start of this instance recovers it.
		log.Warn("run interrupted by shutdown")
		return
	}
	if m.opt.Metrics != nil && cfg.Metrics != nil {
		m.opt.Metrics(context.WithoutCancel(parent), &cfg, res)
	}
	m.finish(context.WithoutCancel(parent), run, res, status, res.StatusReason)
	log.Info("run finished", "status", status, "requests", res.Summary.Requests)
}

func (m *Manager) finish(ctx context.Context, run *store.Run, res *smp.Result, status, reason string) {
	row, err := m.st.SaveResult(ctx, res, run)
	if err != nil {
		m.fail(ctx, run, fmt.Errorf("saving the result: %w", err))
		return
	}
	if err := m.st.FinishRun(ctx, run.ID, status, reason, &row.ID); err != nil {
		m.log.Error("finishing a run", "run", run.ID, "err", err)
	}
	m.publish(run.ID, Event{Type: "result", Data: res}, false)
	m.publish(run.ID, Event{Type: "end", Data: map[string]string{"status": status, "result_id": row.ID}}, true)
}

func (m *Manager) fail(ctx context.Context, run *store.Run, err error) {
	m.log.Error("run failed", "run", run.ID, "err", err)
	if ferr := m.st.FinishRun(context.WithoutCancel(ctx), run.ID, store.RunFailed, err.Error(), nil); ferr != nil {
		m.log.Error("finishing a run", "run", run.ID, "err", ferr)
	}
	m.publish(run.ID, Event{Type: "end", Data: map[string]string{"status": store.RunFailed, "error": err.Error()}}, true)
}

// recover turns a run a dead process left running into an interrupted run whose
// result holds every interval that was stored.
// storedResult finishes a partial result from the intervals stored for a run that
// ended without its own result (interrupted, or cancelled while its load lingered),
// through the same perf.Finish as every other result: summary, generator health and
// threshold verdicts included. A distributed run's plan and generators are its agents'.
func (m *Manager) storedResult(run *store.Run, cfg *smp.TestConfig, ivs []smp.Interval, reason string) (*smp.Result, error) {
	thresholds, err := perf.CompileThresholds(cfg.Thresholds)
	if err != nil {
		return nil, fmt.Errorf("thresholds unreadable: %w", err)
	}
	plan := perf.NewPlan(cfg, ivs[0].Start)
	end := perf.Ending{Plan: plan, Thresholds: thresholds, Status: smp.StatusPartial, Reason: reason,
		Environment: perf.LocalEnvironment(m.opt.Version, cfg)}
	var placed struct {
		Agents []string  `json:"agents"`
		Start  time.Time `json:"start"`
	}
	if cfg.Agents != nil && json.Unmarshal([]byte(run.Placement), &placed) == nil && len(placed.Agents) > 0 {
		// The load came from agents: the plan (sources agent/client) and the
		// environment are theirs, not this server's.
		if p, err := perf.SharesPlan(cfg, placed.Agents, placed.Start); err == nil {
			plan = p
			end.Plan, end.Generators, end.Environment = p, placed.Agents, smp.Environment{ID: uuid.NewString()}
			for _, g := range placed.Agents {
				end.Environment.Generators = append(end.Environment.Generators, smp.GeneratorEnv{Name: g})
			}
		}
	}
	res := perf.NewResult(cfg, plan)
	res.Intervals = ivs
	for _, iv := range ivs {
		if iv.End.After(res.EndTime) {
			res.EndTime = iv.End
		}
	}
	perf.Finish(res, end)
	return res, nil
}

func (m *Manager) recover(ctx context.Context, run *store.Run) error {
	ivs, err := m.st.Intervals(ctx, run.ID)
	if err != nil {
		return err
	}
	reason := "interrupted: the server stopped during the run"
	if len(ivs) == 0 {
		return m.st.FinishRun(ctx, run.ID, store.RunInterrupted, reason+"; nothing was measured", nil)
	}
	var cfg smp.TestConfig
	if err := json.Unmarshal([]byte(run.Config), &cfg); err != nil {
		return m.st.FinishRun(ctx, run.ID, store.RunInterrupted, reason+"; config unreadable", nil)
	}
	res, err := m.storedResult(run, &cfg, ivs, reason)
	if err != nil {
		return m.st.FinishRun(ctx, run.ID, store.RunInterrupted, reason+"; "+err.Error(), nil)
	}
	row, err := m.st.SaveResult(ctx, res, run)
	if err != nil {
		return err
	}
	m.log.Warn("recovered an interrupted run", "run", run.ID, "intervals", len(ivs), "requests", res.Summary.Requests)
	return m.st.FinishRun(ctx, run.ID, store.RunInterrupted, reason, &row.ID)
}
