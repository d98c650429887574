// Queue and cancel: queued runs live in the store and workers take them one by one;
// a cancelled run ends within a second whatever its load is doing.

package runs

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/meshperf/meshperf/perf"
	"github.com/meshperf/meshperf/server/store"
	"github.com/meshperf/meshperf/smp"
)

// TargetChecker names the endpoints of a config the server may not load.
type TargetChecker interface {
	Check(ctx context.Context, cfg *smp.TestConfig) smp.FieldErrors
}

// Queue limits.
const (
	DefaultMaxQueued        = 1000
	DefaultMaxQueuedPerUser = 100
)

// ErrQueueFull is returned by Submit when a queue limit is reached; the API answers 429.
type ErrQueueFull struct {
	Msg string
}

func (e *ErrQueueFull) Error() string { return e.Msg }

// pollQueue is how often an idle worker looks for queued runs without being woken
// (runs another replica queued, or left by a previous process).
const pollQueue = 2 * time.Second

// work executes queued runs, oldest first, until ctx ends.
func (m *Manager) work(ctx context.Context) {
	tick := time.NewTicker(pollQueue)
	defer tick.Stop()
	for ctx.Err() == nil {
		id, err := m.st.NextQueuedRun(ctx)
		switch {
		case err == nil:
			if m.execute(ctx, id) {
				m.poke() // there may be more: let an idle worker look too
				continue
			}
		case !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil:
			m.log.Warn("looking for queued runs", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-m.wake:
		case <-tick.C:
		}
	}
}

// poke wakes one idle worker.
func (m *Manager) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// runLoad runs do, and on a user's cancel gives the load CancelGrace to stop. A load
// still busy by then is abandoned: the run ends cancelled at once (abandoned true)
// and runLoad returns when the load is gone.
func (m *Manager) runLoad(ctx, parent context.Context, run *store.Run, cfg *smp.TestConfig, do runFunc, progress func(perf.Progress)) (res *smp.Result, abandoned bool, err error) {
	sink := storeSink{m: m, id: run.ID, closed: new(atomic.Bool)}
	type outcome struct {
		res *smp.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := do(ctx, cfg, sink, progress)
		done <- outcome{res, err}
	}()
	select {
	case out := <-done:
		return out.res, false, out.err
	case <-ctx.Done():
	}
	select {
	case out := <-done:
		return out.res, false, out.err
	case <-time.After(CancelGrace):
	}
	if !errors.Is(context.Cause(ctx), ErrCancelled) {
		out := <-done // shutting down: wait, the next start recovers the run
		return out.res, false, out.err
	}
	// The load sends nothing new once cancelled, but a worker waiting on a slow
	// target's answer holds on until its request times out (minutes with a long
	// timeout, and for thousands of connections). The user asked to stop: the run ends
	// now with what was stored, and the worker waits for the stragglers before taking
	// the next run, so runs never overlap.
	sink.closed.Store(true)
	m.cancelNow(parent, run, cfg)
	m.mu.Lock()
	delete(m.active, run.ID)
	m.mu.Unlock()
	<-done
	m.log.Info("the load of a cancelled run has wound down", "run", run.ID)
	return nil, true, nil
}

// CancelGrace is how long a cancelled run's load has to stop by itself before the run
// is ended without it.
const CancelGrace = 500 * time.Millisecond

// cancelNow ends a cancelled run whose load has not stopped yet: its result holds the
// intervals stored so far.
func (m *Manager) cancelNow(parent context.Context, run *store.Run, cfg *smp.TestConfig) {
	ctx := context.WithoutCancel(parent)
	reason := ErrCancelled.Error()
	ivs, err := m.st.Intervals(ctx, run.ID)
	if err != nil || len(ivs) == 0 {
		if err != nil {
			m.log.Warn("reading a cancelled run's intervals", "run", run.ID, "err", err)
		}
		if err := m.st.FinishRun(ctx, run.ID, store.RunCancelled, reason+"; nothing was measured", nil); err != nil {
			m.log.Error("finishing a run", "run", run.ID, "err", err)
		}
		m.publish(run.ID, Event{Type: "end", Data: map[string]string{"status": store.RunCancelled}}, true)
		return
	}
	res, err := m.storedResult(run, cfg, ivs, reason)
	if err != nil {
		m.fail(ctx, run, err)
		return
	}
	m.finish(ctx, run, res, store.RunCancelled, reason)
}
