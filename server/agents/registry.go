// Package agents keeps the server's view of its load-generating agents: who is alive,
// their labels, capacity, version, clock offset and when they were last seen, from
// their heartbeats on the broker. Every server replica listens, so each has the view.
package agents

import (
	"encoding/json"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/meshperf/meshperf/bus"
	"github.com/meshperf/meshperf/perf/distributed"
)

// Agent is what the server knows of one agent.
type Agent struct {
	Name        string            `json:"name"`
	Labels      map[string]string `json:"labels,omitempty"`
	Cores       int               `json:"cores"`
	Engines     []string          `json:"engines"`
	Version     string            `json:"version"`
	Busy        string            `json:"busy,omitempty"`
	ClockOffset time.Duration     `json:"clock_offset_ns"`
	RTT         time.Duration     `json:"rtt_ns"`
	LastSeen    time.Time         `json:"last_seen"`
	Alive       bool              `json:"alive"`
}

// Registry collects heartbeats.
type Registry struct {
	mu       sync.Mutex
	agents   map[string]*Agent
	dedup    bus.Dedup
	rejected atomic.Int64
	log      *slog.Logger
	sub      *nats.Subscription
}

// Listen subscribes to heartbeats and answers each with the server's clock.
func Listen(nc *nats.Conn, log *slog.Logger) (*Registry, error) {
	if log == nil {
		log = slog.Default()
	}
	r := &Registry{agents: map[string]*Agent{}, log: log}
	sub, err := nc.Subscribe(bus.HeartbeatSubject(), r.handle)
	if err != nil {
		return nil, err
	}
	r.sub = sub
	return r, nil
}

// Close stops listening.
func (r *Registry) Close() { _ = r.sub.Unsubscribe() }

func (r *Registry) handle(m *nats.Msg) {
	now := time.Now()
	env, err := bus.Decode(m.Data)
	if err != nil || env.Kind != bus.KindHeartbeat {
		r.rejected.Add(1)
		r.log.Warn("refused a message on the heartbeat subject", "err", err)
		return
	}
	r.mu.Lock()
	fresh := r.dedup.Fresh(env)
	if fresh {
		hb := env.Heartbeat
		r.agents[hb.Agent] = &Agent{Name: hb.Agent, Labels: hb.Labels, Cores: hb.Cores, Engines: hb.Engines, Version: hb.Version,
			Busy: hb.Busy, ClockOffset: time.Duration(hb.ClockOffsetNs), RTT: time.Duration(hb.RTTNs), LastSeen: now}
	}
	r.mu.Unlock()
	if !fresh {
		r.rejected.Add(1)
		return
	}
	if m.Reply != "" {
		b, _ := json.Marshal(bus.HeartbeatReply{ServerTime: time.Now()})
		_ = m.Respond(b)
	}
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
