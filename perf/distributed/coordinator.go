package distributed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/meshperf/meshperf/bus"
	"github.com/meshperf/meshperf/loadgen"
	"github.com/meshperf/meshperf/perf"
	"github.com/meshperf/meshperf/smp"
)

// CoordinatorOptions describe one distributed run.
type CoordinatorOptions struct {
	NC     *nats.Conn
	Stream jetstream.Stream
	RunID  string
	Config *smp.TestConfig // validated, with defaults
	Agents []string        // the agents chosen for the run
	// Lead is how long before the agreed start the assignments go out (default 2 s).
	Lead time.Duration
	// Silence is how long an agent may send nothing during its shard before it counts
	// as lost (default 5 s).
	Silence time.Duration
	// Sink also receives every interval (to store it as it arrives).
	Sink loadgen.Sink
	// OnPlaced is told where the run goes before any assignment leaves, so that it can
	// be recorded and a restarted server can Resume.
	OnPlaced   func(Placement)
	OnProgress func(perf.Progress)
	// OnIntervalLag, if set, is told how long each interval took from its agent
	// sending it to the coordinator reading it (clock offsets included).
	OnIntervalLag func(time.Duration)
	Version       string
	Logger        *slog.Logger
}

// Placement is where a distributed run went: its agents and the agreed start.
type Placement struct {
	Agents []string  `json:"agents"`
	Start  time.Time `json:"start"`
}

func (o *CoordinatorOptions) defaults() {
	if o.Lead == 0 {
		o.Lead = 2 * time.Second
	}
	if o.Silence == 0 {
		o.Silence = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Coordinate runs a test on agents: it splits the config among them, assigns the
// shards with an agreed start, merges their intervals from the stream exactly, and
// returns the result with a per-agent breakdown. An agent that goes silent is
// recorded as dropped and the run ends partial, keeping everything it sent.
func Coordinate(ctx context.Context, o CoordinatorOptions) (*smp.Result, error) {
	o.defaults()
	if len(o.Agents) == 0 {
		return nil, errors.New("no agents to run on")
	}
	shares, err := perf.Split(o.Config, len(o.Agents))
	if err != nil {
		return nil, err
	}
	p := Placement{Agents: o.Agents, Start: time.Now().Add(o.Lead)}
	if o.OnPlaced != nil {
		o.OnPlaced(p)
	}
	var seq uint64
	for i, ag := range o.Agents {
		seq++
		env := &bus.Envelope{Kind: bus.KindAssign, Sender: "server", Seq: seq, Sent: time.Now(),
			Assign: &bus.Assignment{Run: o.RunID, Agent: ag, Shard: i, Of: len(o.Agents), Config: shares[i], StartAt: p.Start}}
		data, err := bus.Encode(env)
		if err != nil {
			return nil, err
		}
		to, err := bus.AssignSubject(o.RunID, ag)
		if err != nil {
			return nil, err
		}
		if err := o.NC.Publish(to, data); err != nil {
			return nil, fmt.Errorf("assigning %s: %w", ag, err)
		}
	}
	return collect(ctx, o, p, nil)
}

// Resume collects a run that a previous coordinator (a server since restarted)
// started: it replays the run's stream from the beginning, adds what prior holds (the
// intervals that server had stored), and goes on until every agent has finished or
// gone silent. Merging is idempotent, so nothing counts twice.
func Resume(ctx context.Context, o CoordinatorOptions, p Placement, prior []smp.Interval) (*smp.Result, error) {
	o.defaults()
	return collect(ctx, o, p, prior)
}

func collect(ctx context.Context, o CoordinatorOptions, p Placement, prior []smp.Interval) (*smp.Result, error) {
	plan, err := perf.SharesPlan(o.Config, p.Agents, p.Start)
	if err != nil {
		return nil, err
	}
	subj, err := bus.RunIntervals(o.RunID)
	if err != nil {
		return nil, err
	}
	// An ordered consumer replays the run's subject from its first message: a restarted
	// server sees everything again, final messages included.
	cons, err := o.Stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subj}})
	if err != nil {
		return nil, fmt.Errorf("reading the run's stream: %w", err)
	}
	thresholds, err := perf.CompileThresholds(o.Config.Thresholds)
	if err != nil {
		return nil, err
	}
	start := p.Start
	agg := perf.NewAggregator(plan.Sources(), plan.Total(), o.OnProgress)
	// Abort thresholds are judged here, on every agent's seconds merged: a share alone
	// carries no thresholds. A breach cancels every agent.
	var abort *perf.ThresholdAbort
	thresholds.WatchAbort(agg, func(a *perf.ThresholdAbort) {
		abort = a
		o.Logger.Warn("abort threshold failed on the merged figures; cancelling every agent", "run", o.RunID, "threshold", a.Expr, "observed", a.Observed, "at", a.At)
		for _, ag := range p.Agents {
			o.cancel(ag, a.Error())
		}
	})
	for i := range prior {
		agg.Interval(&prior[i])
	}
	res := perf.NewResult(o.Config, plan)
	envs := map[string]*smp.Environment{}
	lastHeard := map[string]time.Time{}
	finals := map[string]bool{}
	dropped := map[string]time.Time{}
	dedup := bus.Dedup{}
	var rejected int
	for _, ag := range p.Agents {
		lastHeard[ag] = later(start, time.Now().Add(-o.Lead)) // silence counts from the start, or from now on a resume
	}
	end := start.Add(plan.Total())
	for len(finals)+len(dropped) < len(p.Agents) {
		if ctx.Err() != nil {
			for _, ag := range p.Agents {
				if !finals[ag] {
					o.cancel(ag, "the run was cancelled")
				}
			}
			break
		}
		batch, err := cons.Fetch(256, jetstream.FetchMaxWait(500*time.Millisecond))
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("reading the run's stream: %w", err)
		}
		for m := range batch.Messages() {
			env, why := acceptInterval(m.Subject(), m.Data(), o.RunID, p.Agents)
			if why != "" {
				if rejected++; rejected <= 10 { // the result's warning counts the rest
					o.Logger.Warn("refused a message on the run's stream", "run", o.RunID, "subject", m.Subject(), "why", why)
				}
				continue
			}
			if !dedup.Fresh(env) {
				continue // redelivered: already merged
			}
			lastHeard[env.Sender] = time.Now()
			if env.Interval.Final {
				finals[env.Sender] = true
				envs[env.Sender] = env.Interval.Environment
				continue
			}
			if o.OnIntervalLag != nil {
				o.OnIntervalLag(time.Since(env.Sent))
			}
			iv := env.Interval.Interval
			if o.Sink != nil {
				o.Sink.Interval(&iv)
			}
			agg.Interval(&iv)
		}
		now := time.Now()
		for _, ag := range p.Agents {
			if finals[ag] || !dropped[ag].IsZero() {
				continue
			}
			quietSince := lastHeard[ag]
			if now.After(start) && now.Sub(quietSince) > o.Silence && (now.Before(end.Add(o.Silence)) || now.Sub(quietSince) > 2*o.Silence) {
				dropped[ag] = quietSince
				o.Logger.Warn("agent lost", "run", o.RunID, "agent", ag, "last_heard", quietSince)
			}
		}
	}
	agg.Flush()
	res.Intervals = agg.Intervals()
	// The measured window is the asked one unless the run was cut short: agents end
	// their shard when its last request completes, long before the window ends at low
	// rates.
	res.EndTime = end
	if ctx.Err() != nil || abort != nil || len(dropped) > 0 {
		res.EndTime = minTime(time.Now(), end)
	}
	end2 := perf.Ending{Plan: plan, Thresholds: thresholds, Abort: abort, Generators: p.Agents,
		Environment: generatorsEnvironment(p.Agents, envs)}
	var notes []string
	if len(dropped) > 0 {
		end2.Status = smp.StatusPartial
		names := make([]string, 0, len(dropped))
		for ag := range dropped {
			names = append(names, ag)
		}
		sort.Strings(names)
		for _, ag := range names {
			notes = append(notes, fmt.Sprintf("agent %s went silent at %s (%.1fs into the run)", ag,
				dropped[ag].UTC().Format(time.RFC3339), dropped[ag].Sub(start).Seconds()))
		}
		end2.Reason = strings.Join(notes, "; ")
	}
	if ctx.Err() != nil {
		end2.Status = smp.StatusPartial
		end2.Reason = strings.TrimPrefix(end2.Reason+"; stopped: "+context.Cause(ctx).Error(), "; ")
	}
	if rejected > 0 {
		end2.Warnings = append(end2.Warnings, fmt.Sprintf("%d messages on the run's stream were refused (from agents not assigned the run, speaking as another agent, or malformed)", rejected))
	}
	perf.Finish(res, end2)
	if abort != nil && len(notes) > 0 {
		res.StatusReason += "; " + strings.Join(notes, "; ")
	}
	for i := range res.Sources {
		ag, _, _ := strings.Cut(res.Sources[i].Source, "/")
		if t, ok := dropped[ag]; ok {
			res.Sources[i].Dropped, res.Sources[i].LastSeen = true, t
			res.Sources[i].DropNotes = fmt.Sprintf("silent from %.1fs into the run", t.Sub(start).Seconds())
		}
	}
	return res, nil
}

// generatorsEnvironment describes the agents that generated the load, as each said in
// its final message (an agent lost before it is named, nothing more).
func generatorsEnvironment(agents []string, envs map[string]*smp.Environment) smp.Environment {
	out := smp.Environment{ID: uuid.NewString()}
	for _, ag := range agents {
		g := smp.GeneratorEnv{Name: ag}
		if e := envs[ag]; e != nil {
			g.Machine = e.Machine
		}
		out.Generators = append(out.Generators, g)
	}
	return out
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (o CoordinatorOptions) cancel(agent, reason string) {
	env := &bus.Envelope{Kind: bus.KindCancel, Sender: "server", Seq: uint64(time.Now().UnixNano()), Sent: time.Now(),
		Cancel: &bus.Cancel{Run: o.RunID, Reason: reason}}
	if data, err := bus.Encode(env); err == nil {
		if to, err := bus.AssignSubject(o.RunID, agent); err == nil {
			_ = o.NC.Publish(to, data)
		}
	}
}

// acceptInterval decodes a message of the run's stream and says why it is refused
// ("" if accepted). The subject names the agent that published it (the broker lets
// each agent publish only on its own): the body must agree, and the agent must be one
// the run was assigned to.
func acceptInterval(subject string, data []byte, run string, agents []string) (*bus.Envelope, string) {
	from := bus.IntervalSender(subject)
	if !isAgent(agents, from) {
		return nil, fmt.Sprintf("agent %q was not assigned this run", from)
	}
	env, err := bus.Decode(data)
	switch {
	case err != nil:
		return nil, err.Error()
	case env.Kind != bus.KindInterval:
		return nil, "a " + env.Kind + " message"
	case env.Sender != from || env.Interval.Agent != from:
		return nil, fmt.Sprintf("published by %s as %s", from, env.Sender)
	case env.Interval.Run != run:
		return nil, fmt.Sprintf("an interval of run %q", env.Interval.Run)
	}
	return env, ""
}

func isAgent(agents []string, name string) bool {
	for _, a := range agents {
		if a == name {
			return true
		}
	}
	return false
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
