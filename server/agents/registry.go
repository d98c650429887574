// Package agents keeps the server's view of its load-generating agents: who is alive,
// their labels, capacity, version, clock offset and when they were last seen, from
// their heartbeats on the broker. Every server replica listens, so each has the view.
package agents

import (
	"context"
	"encoding/json"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/meshperf/meshperf/apitypes"
	"github.com/meshperf/meshperf/bus"
	"github.com/meshperf/meshperf/perf/distributed"
)

// Agent is what the server knows of one agent.
type Agent = apitypes.Agent

// Registry collects heartbeats. Its size is bounded: agents silent for ForgetAfter
// are forgotten, and beyond MaxAgents a new name is refused until one is.
type Registry struct {
	mu       sync.Mutex
	agents   map[string]*Agent
	boots    map[string]string // agent -> the boot id of its current process
	dedup    bus.Dedup
	rejected atomic.Int64
	lastWarn atomic.Int64 // unix ns of the last refusal logged
	opt      Options
	sub      *nats.Subscription
}

// Options bound the registry.
type Options struct {
	Logger *slog.Logger
	// MaxAgents is how many agents are kept at most (default 5,000).
	MaxAgents int
	// ForgetAfter is how long a silent agent stays listed as gone (default 5 min).
	ForgetAfter time.Duration
}

// Listen subscribes to heartbeats and answers each with the server's clock.
func Listen(nc *nats.Conn, opt Options) (*Registry, error) {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.MaxAgents <= 0 {
		opt.MaxAgents = 5000
	}
	if opt.ForgetAfter <= 0 {
		opt.ForgetAfter = 5 * time.Minute
	}
	r := &Registry{agents: map[string]*Agent{}, boots: map[string]string{}, opt: opt}
	sub, err := nc.Subscribe(bus.AllHeartbeats(), r.handle)
	if err != nil {
		return nil, err
	}
	r.sub = sub
	return r, nil
}

// Close stops listening.
func (r *Registry) Close() { _ = r.sub.Unsubscribe() }

// Run forgets silent agents until ctx ends (the server runs it in its group).
func (r *Registry) Run(ctx context.Context) error {
	t := time.NewTicker(max(r.opt.ForgetAfter/4, 100*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			r.mu.Lock()
			r.forgetSilent(time.Now())
			r.mu.Unlock()
		}
	}
}

// forgetSilent drops agents not heard from for ForgetAfter. r.mu is held.
func (r *Registry) forgetSilent(now time.Time) {
	for name, a := range r.agents {
		if now.Sub(a.LastSeen) > r.opt.ForgetAfter {
			delete(r.agents, name)
			delete(r.boots, name)
			r.dedup.Forget(name)
		}
	}
}

// refuse counts a refused heartbeat and logs it, at most once a second: a flood
// must not become a flood of log lines.
func (r *Registry) refuse(why string, args ...any) {
	n := r.rejected.Add(1)
	now := time.Now().UnixNano()
	last := r.lastWarn.Load()
	if now-last < int64(time.Second) || !r.lastWarn.CompareAndSwap(last, now) {
		return
	}
	r.opt.Logger.Warn("refused a heartbeat: "+why, append(args, "refused_so_far", n)...)
}

// handle takes a heartbeat. The subject names the agent (the broker lets each agent
// publish only on its own), the body must agree, and the answer goes only to that
// agent's own inbox, never to a subject the caller picked.
func (r *Registry) handle(m *nats.Msg) {
	now := time.Now()
	from := bus.HeartbeatSender(m.Subject)
	env, err := bus.Decode(m.Data)
	switch {
	case err != nil:
		r.refuse("undecodable", "agent", from, "err", err)
		return
	case env.Kind != bus.KindHeartbeat:
		r.refuse("a "+env.Kind+" message", "agent", from)
		return
	case env.Sender != from:
		r.refuse("sent by one agent in another's name", "agent", from, "as", env.Sender)
		return
	}
	r.mu.Lock()
	_, known := r.agents[from]
	if !known && len(r.agents) >= r.opt.MaxAgents {
		r.forgetSilent(now)
	}
	if !known && len(r.agents) >= r.opt.MaxAgents {
		r.mu.Unlock()
		r.refuse("the registry is full", "agent", from, "max_agents", r.opt.MaxAgents)
		return
	}
	if r.boots[from] != env.Boot {
		// A new process under this name (a restart): its sequences start again.
		r.dedup.Forget(from)
		r.boots[from] = env.Boot
	}
	fresh := r.dedup.Fresh(env)
	if fresh {
		hb := env.Heartbeat
		r.agents[from] = &Agent{Name: from, Labels: hb.Labels, Cores: hb.Cores, Engines: hb.Engines, Version: hb.Version,
			Busy: hb.Busy, ClockOffset: time.Duration(hb.ClockOffsetNs), RTT: time.Duration(hb.RTTNs), LastSeen: now}
	}
	r.mu.Unlock()
	if !fresh {
		r.refuse("a replay", "agent", from, "seq", env.Seq)
		return
	}
	if m.Reply == "" {
		return
	}
	if !bus.IsAgentInbox(from, m.Reply) {
		r.refuse("its reply subject is not the agent's inbox", "agent", from, "reply", m.Reply)
		return
	}
	b, _ := json.Marshal(bus.HeartbeatReply{ServerTime: time.Now()})
	_ = m.Respond(b)
}

// List returns every agent heard from, alive or not (three heartbeats missed), by name.
func (r *Registry) List() []Agent {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Agent, 0, len(r.agents))
	for _, a := range r.agents {
		cp := *a
		cp.Alive = time.Since(a.LastSeen) < 3*distributed.HeartbeatEvery
		out = append(out, cp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Rejected counts refused heartbeat messages (garbage, other versions, replays).
func (r *Registry) Rejected() int64 { return r.rejected.Load() }
