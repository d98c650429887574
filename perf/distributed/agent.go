package distributed

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/meshperf/meshperf/bus"
	"github.com/meshperf/meshperf/internal/selfmetrics"
	"github.com/meshperf/meshperf/loadgen"
	"github.com/meshperf/meshperf/perf"
	"github.com/meshperf/meshperf/smp"
)

// HeartbeatEvery is how often an agent announces itself; the server counts an agent
// gone after three missed heartbeats.
const HeartbeatEvery = 2 * time.Second

// AgentOptions configure an agent.
type AgentOptions struct {
	URL string // the broker
	// Credential proves the agent's name to the broker (the user name is the agent's
	// name); "" for a broker that takes none or has them in the URL.
	Credential string
	Name       string
	Labels     map[string]string
	Version    string
	// Metrics records shards, intervals sent, the outbox and send lag (nil: nothing).
	Metrics *selfmetrics.Agent
	Logger  *slog.Logger
}

// Agent is a load generator that takes shards of runs from the server: it announces
// itself, starts each assignment at the agreed instant, streams its intervals to
// JetStream and obeys cancels.
type Agent struct {
	opt    AgentOptions
	boot   string // this process: sequences count per boot, so a restart is no replay
	nc     *nats.Conn
	js     jetstream.JetStream
	seq    atomic.Uint64
	offset atomic.Int64 // ns, local clock minus the server's
	rtt    time.Duration
	inbox  chan *bus.Envelope
	idle   chan struct{} // a shard started or ended: announce it now, not at the next tick

	mu      sync.Mutex
	running string // run id being executed
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// ConnectAgent connects to the broker; it reconnects by itself after broker loss.
func ConnectAgent(opt AgentOptions) (*Agent, error) {
	if err := bus.CheckToken("agent name", opt.Name); err != nil {
		return nil, err
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	opts := []nats.Option{nats.Name("meshperf-agent " + opt.Name), nats.MaxReconnects(-1), nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { opt.Logger.Warn("broker connection lost; reconnecting", "err", err) }),
		nats.ReconnectHandler(func(nc *nats.Conn) { opt.Logger.Info("broker connection back", "url", nc.ConnectedUrlRedacted()) }),
		// Replies (heartbeat answers, JetStream acks) come only below this agent's own
		// inbox: the broker lets it subscribe nowhere else, and the server answers
		// nowhere else.
		nats.CustomInboxPrefix(bus.AgentInbox(opt.Name))}
	if opt.Credential != "" {
		opts = append(opts, nats.UserInfo(opt.Name, opt.Credential))
	}
	nc, err := nats.Connect(opt.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to the broker: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	a := &Agent{opt: opt, boot: bus.NewBoot(), nc: nc, js: js, inbox: make(chan *bus.Envelope, 16), idle: make(chan struct{}, 1)}
	if _, err := nc.Subscribe(bus.AgentAssignments(opt.Name), a.receive); err != nil {
		nc.Close()
		return nil, fmt.Errorf("subscribing to assignments: %w", err)
	}
	if err := nc.Flush(); err != nil { // the subscription is in place before we say we are here
		nc.Close()
		return nil, err
	}
	return a, nil
}

// Close disconnects (after Run has returned).
func (a *Agent) Close() { a.nc.Close() }

func (a *Agent) receive(m *nats.Msg) {
	env, err := bus.Decode(m.Data)
	if err != nil || (env.Kind != bus.KindAssign && env.Kind != bus.KindCancel) {
		a.opt.Logger.Warn("refused a message on the assignment subject", "err", err)
		return
	}
	select {
	case a.inbox <- env:
	default:
		a.opt.Logger.Warn("assignment inbox full; message dropped", "kind", env.Kind)
	}
}

// Run heartbeats and executes assignments until ctx ends; a shard in progress is
// cancelled and its last intervals flushed before Run returns.
func (a *Agent) Run(ctx context.Context) error {
	t := time.NewTicker(HeartbeatEvery)
	defer t.Stop()
	defer a.wg.Wait()
	a.heartbeat(ctx)
	for {
		select {
		case <-ctx.Done():
			a.stopShard("")
			return nil
		case <-t.C:
			a.heartbeat(ctx)
		case <-a.idle:
			a.heartbeat(ctx)
		case env := <-a.inbox:
			switch env.Kind {
			case bus.KindAssign:
				a.startShard(ctx, env.Assign)
			case bus.KindCancel:
				a.stopShard(env.Cancel.Run)
			}
		}
	}
}

func (a *Agent) startShard(parent context.Context, as *bus.Assignment) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.running != "" {
		a.opt.Logger.Warn("busy: assignment refused", "run", as.Run, "running", a.running)
		return
	}
	ctx, cancel := context.WithCancel(parent)
	a.running, a.cancel = as.Run, cancel
	select { // announce being taken at once, so no other server picks this agent
	case a.idle <- struct{}{}:
	default:
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer func() {
			a.mu.Lock()
			a.running, a.cancel = "", nil
			a.mu.Unlock()
			cancel()
			select {
			case a.idle <- struct{}{}:
			default:
			}
		}()
		a.execute(ctx, as)
	}()
}

func (a *Agent) stopShard(run string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cancel != nil && (run == "" || run == a.running) {
		a.opt.Logger.Info("cancelling the shard", "run", a.running)
		a.cancel()
	}
}

// execute runs one shard: it starts at the agreed instant (the server's clock turned
// into this one's), streams every interval as it closes, then a final message.
func (a *Agent) execute(ctx context.Context, as *bus.Assignment) {
	log := a.opt.Logger.With("run", as.Run, "shard", fmt.Sprintf("%d/%d", as.Shard+1, as.Of))
	subj, err := bus.IntervalSubject(as.Run, a.opt.Name)
	if err != nil {
		log.Error("bad run id", "err", err)
		return
	}
	a.opt.Metrics.ShardStarted()
	defer a.opt.Metrics.ShardEnded()
	out := newOutbox(a.js, subj, log, a.opt.Metrics)
	offset := time.Duration(a.offset.Load())
	send := func(iv smp.Interval, final bool, machine *smp.Environment) {
		env := &bus.Envelope{Kind: bus.KindInterval, Sender: a.opt.Name, Boot: a.boot, Seq: a.seq.Add(1), Sent: time.Now(),
			Interval: &bus.IntervalMsg{Run: as.Run, Agent: a.opt.Name, Interval: iv, ClockOffsetNs: int64(offset), Final: final, Environment: machine}}
		data, err := bus.Encode(env)
		if err != nil {
			log.Error("encoding an interval", "err", err)
			return
		}
		id := fmt.Sprintf("%s/%s/%s/%d", as.Run, a.opt.Name, iv.Source, iv.Index)
		if final {
			id = as.Run + "/" + a.opt.Name + "/final"
		}
		out.add(data, id)
	}
	sink := loadgen.SinkFunc(func(iv *smp.Interval) {
		cp := *iv
		cp.Source = a.opt.Name + "/" + iv.Source // per-agent sources in the merged result
		send(cp, false, nil)
	})
	cfg := *as.Config
	log.Info("shard assigned", "start_at", as.StartAt)
	res, err := perf.Run(ctx, &cfg, perf.Options{Version: a.opt.Version, Generator: a.opt.Name, Sink: sink, StartAt: as.StartAt.Add(offset)})
	machine := perf.LocalEnvironment(a.opt.Version, &cfg)
	if err != nil {
		log.Error("the shard could not run", "err", err)
	} else {
		log.Info("shard done", "status", res.Status, "requests", res.Summary.Requests)
		machine = res.Environment
	}
	send(smp.Interval{Source: a.opt.Name}, true, &machine)
	out.close(60 * time.Second)
}

// outbox publishes intervals in order, each retried until JetStream acknowledges it:
// a broker that goes away loses nothing the agent measured. Message ids make a retry
// that did land harmless. Its queue grows with the backlog only: a channel sized for a
// long outage (100,000 items) was 6.4 MB of heap on every shard, which on a one-CPU
// agent doubled its GC goal and its RSS.
type outbox struct {
	js     jetstream.JetStream
	subj   string
	log    *slog.Logger
	mu     sync.Mutex
	queue  []outItem
	closed bool
	wake   chan struct{} // cap 1: something was queued, or the outbox closed
	done   chan struct{}
	stop   atomic.Int64 // unix ns after which unsent messages are given up
	m      *selfmetrics.Agent
}

type outItem struct {
	data   []byte
	id     string
	queued time.Time
}

func newOutbox(js jetstream.JetStream, subj string, log *slog.Logger, m *selfmetrics.Agent) *outbox {
	o := &outbox{js: js, subj: subj, log: log, wake: make(chan struct{}, 1), done: make(chan struct{}), m: m}
	go o.loop()
	return o
}

func (o *outbox) add(data []byte, id string) {
	o.m.Queued()
	o.mu.Lock()
	o.queue = append(o.queue, outItem{data, id, time.Now()})
	o.mu.Unlock()
	o.signal()
}

func (o *outbox) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// next waits for the oldest queued item; false once the outbox is closed and empty.
func (o *outbox) next() (outItem, bool) {
	for {
		o.mu.Lock()
		if len(o.queue) > 0 {
			it := o.queue[0]
			o.queue[0] = outItem{}
			o.queue = o.queue[1:]
			if len(o.queue) == 0 {
				o.queue = nil // let the backing array go
			}
			o.mu.Unlock()
			return it, true
		}
		closed := o.closed
		o.mu.Unlock()
		if closed {
			return outItem{}, false
		}
		<-o.wake
	}
}

func (o *outbox) loop() {
	defer close(o.done)
	for {
		it, ok := o.next()
		if !ok {
			return
		}
		for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := o.js.Publish(ctx, o.subj, it.data, jetstream.WithMsgID(it.id))
			cancel()
			if err == nil {
				o.m.Sent(time.Since(it.queued), true)
				break
			}
			if s := o.stop.Load(); s != 0 && time.Now().UnixNano() > s {
				o.log.Error("giving up an interval the broker never acknowledged", "id", it.id, "err", err)
				o.m.Sent(0, false)
				break
			}
			o.log.Warn("publishing an interval; retrying", "id", it.id, "err", err)
			time.Sleep(wait)
		}
	}
}

// close sends what is queued, retrying for up to grace, then returns.
func (o *outbox) close(grace time.Duration) {
	o.stop.Store(time.Now().Add(grace).UnixNano())
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	o.signal()
	<-o.done
}

// heartbeat announces the agent as a request: the server's reply carries its clock,
// from which the agent estimates its offset (NTP's midpoint rule).
func (a *Agent) heartbeat(ctx context.Context) {
	a.mu.Lock()
	busy := a.running
	a.mu.Unlock()
	env := &bus.Envelope{Kind: bus.KindHeartbeat, Sender: a.opt.Name, Boot: a.boot, Seq: a.seq.Add(1), Sent: time.Now(), Heartbeat: &bus.Heartbeat{
		Agent: a.opt.Name, Labels: a.opt.Labels, Cores: runtime.NumCPU(), Engines: loadgen.Names(), Version: a.opt.Version,
		Busy: busy, ClockOffsetNs: a.offset.Load(), RTTNs: int64(a.rtt)}}
	data, err := bus.Encode(env)
	if err != nil {
		a.opt.Logger.Error("encoding a heartbeat", "err", err)
		return
	}
	rctx, cancel := context.WithTimeout(ctx, HeartbeatEvery)
	defer cancel()
	sent := time.Now()
	subj, err := bus.HeartbeatSubject(a.opt.Name)
	if err != nil {
		a.opt.Logger.Error("heartbeat subject", "err", err)
		return
	}
	msg, err := a.nc.RequestWithContext(rctx, subj, data)
	if err != nil {
		if ctx.Err() == nil {
			a.opt.Logger.Warn("heartbeat unanswered", "err", err)
		}
		return
	}
	got := time.Now()
	var reply bus.HeartbeatReply
	if err := json.Unmarshal(msg.Data, &reply); err != nil || reply.ServerTime.IsZero() {
		a.opt.Logger.Warn("heartbeat reply unreadable")
		return
	}
	a.rtt = got.Sub(sent)
	a.offset.Store(int64(sent.Add(a.rtt / 2).Sub(reply.ServerTime)))
}
