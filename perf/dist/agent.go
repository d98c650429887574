package dist

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/meshperf/meshperf/loadgen"
)

// HeartbeatEvery is how often an agent announces itself; the server counts an agent
// gone after three missed heartbeats.
const HeartbeatEvery = 2 * time.Second

// AgentOptions configure an agent.
type AgentOptions struct {
	URL     string // the broker
	User    string // the agents' user on an embedded broker ("" for token-less URLs)
	Token   string
	Name    string
	Labels  map[string]string
	Version string
	Logger  *slog.Logger
}

// Agent is a load generator that takes shards of runs from the server. (Executing
// shards comes with the coordinator; today an agent announces itself and keeps its
// clock offset.)
type Agent struct {
	opt    AgentOptions
	nc     *nats.Conn
	seq    uint64
	offset time.Duration
	rtt    time.Duration
}

// ConnectAgent connects to the broker; it reconnects by itself after broker loss.
func ConnectAgent(opt AgentOptions) (*Agent, error) {
	if err := checkToken("agent name", opt.Name); err != nil {
		return nil, err
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	opts := []nats.Option{nats.Name("meshperf-agent " + opt.Name), nats.MaxReconnects(-1), nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { opt.Logger.Warn("broker connection lost; reconnecting", "err", err) }),
		nats.ReconnectHandler(func(nc *nats.Conn) { opt.Logger.Info("broker connection back", "url", nc.ConnectedUrlRedacted()) })}
	if opt.User != "" {
		opts = append(opts, nats.UserInfo(opt.User, opt.Token))
	}
	nc, err := nats.Connect(opt.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to the broker: %w", err)
	}
	return &Agent{opt: opt, nc: nc}, nil
}

// Close disconnects.
func (a *Agent) Close() { a.nc.Close() }

// Run heartbeats until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	t := time.NewTicker(HeartbeatEvery)
	defer t.Stop()
	for {
		a.heartbeat(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// heartbeat announces the agent as a request: the server's reply carries its clock,
// from which the agent estimates its offset (NTP's midpoint rule).
func (a *Agent) heartbeat(ctx context.Context) {
	a.seq++
	env := &Envelope{Kind: KindHeartbeat, Sender: a.opt.Name, Seq: a.seq, Sent: time.Now(), Heartbeat: &Heartbeat{
		Agent: a.opt.Name, Labels: a.opt.Labels, Cores: runtime.NumCPU(), Engines: loadgen.Names(), Version: a.opt.Version,
		ClockOffsetNs: int64(a.offset), RTTNs: int64(a.rtt)}}
	data, err := Encode(env)
	if err != nil {
		a.opt.Logger.Error("encoding a heartbeat", "err", err)
		return
	}
	rctx, cancel := context.WithTimeout(ctx, HeartbeatEvery)
	defer cancel()
	sent := time.Now()
	msg, err := a.nc.RequestWithContext(rctx, HeartbeatSubject(), data)
	if err != nil {
		if ctx.Err() == nil {
			a.opt.Logger.Warn("heartbeat unanswered", "err", err)
		}
		return
	}
	got := time.Now()
	var reply HeartbeatReply
	if err := json.Unmarshal(msg.Data, &reply); err != nil || reply.ServerTime.IsZero() {
		a.opt.Logger.Warn("heartbeat reply unreadable")
		return
	}
	a.rtt = got.Sub(sent)
	a.offset = sent.Add(a.rtt / 2).Sub(reply.ServerTime)
}
