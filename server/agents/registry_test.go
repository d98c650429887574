package agents_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/meshperf/meshperf/bus"
	"github.com/meshperf/meshperf/perf/distributed"
	"github.com/meshperf/meshperf/server/agents"
	"github.com/meshperf/meshperf/server/broker"
	"github.com/meshperf/meshperf/smp"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type world struct {
	b     *broker.Broker
	creds *broker.Credentials
	reg   *agents.Registry
}

func setup(t *testing.T, opt agents.Options) *world {
	t.Helper()
	creds, err := broker.NewCredentials(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.Start(context.Background(), broker.Config{Addr: "127.0.0.1:0", StoreDir: t.TempDir(), Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	opt.Logger = quiet
	reg, err := agents.Listen(b.NC, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	return &world{b: b, creds: creds, reg: reg}
}

// startAgent runs a real agent under name until the returned stop is called.
func (w *world) startAgent(t *testing.T, name string, labels map[string]string) (stop func()) {
	t.Helper()
	cred, err := w.creds.Issue(name, false)
	if err != nil {
		t.Fatal(err)
	}
	a, err := distributed.ConnectAgent(distributed.AgentOptions{URL: w.b.URL, Credential: cred, Name: name, Labels: labels, Version: "test", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
			a.Close()
		}
	}
	t.Cleanup(stop)
	return stop
}

// connect connects as name with its credential, as a hand-driven client.
func (w *world) connect(t *testing.T, name string) *nats.Conn {
	t.Helper()
	cred, _ := w.creds.Issue(name, false)
	nc, err := nats.Connect(w.b.URL, nats.UserInfo(name, cred), nats.CustomInboxPrefix(bus.AgentInbox(name)), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func (w *world) find(name string) (agents.Agent, bool) {
	for _, a := range w.reg.List() {
		if a.Name == name {
			return a, true
		}
	}
	return agents.Agent{}, false
}

func heartbeat(t *testing.T, sender, boot string, seq uint64, labels map[string]string) []byte {
	t.Helper()
	b, err := bus.Encode(&bus.Envelope{Kind: bus.KindHeartbeat, Sender: sender, Boot: boot, Seq: seq, Sent: time.Now(),
		Heartbeat: &bus.Heartbeat{Agent: sender, Labels: labels, Cores: 64, Engines: []string{"fortio"}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitFor polls cond until it holds, or fails the test after within.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(within); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("after %v: %s", within, what)
		}
	}
}

func TestHeartbeatsMakeTheRegistry(t *testing.T) {
	w := setup(t, agents.Options{})
	w.startAgent(t, "eu-1", map[string]string{"region": "eu"})
	// The second heartbeat carries the offset measured on the first's round trip.
	waitFor(t, 10*time.Second, "no second heartbeat", func() bool { a, ok := w.find("eu-1"); return ok && a.RTT > 0 })
	got, _ := w.find("eu-1")
	if !got.Alive || got.Labels["region"] != "eu" || got.Cores == 0 || len(got.Engines) == 0 || got.Version != "test" {
		t.Errorf("agent %+v", got)
	}
	// Same machine: the clock offset is within the round trip.
	if got.ClockOffset > 50*time.Millisecond || got.ClockOffset < -50*time.Millisecond {
		t.Errorf("clock offset %v, rtt %v", got.ClockOffset, got.RTT)
	}
	// Garbage is refused and counted.
	subj, _ := bus.HeartbeatSubject("eu-1")
	w.b.NC.Publish(subj, []byte("garbage"))
	w.b.NC.Flush()
	waitFor(t, 5*time.Second, "garbage was not refused", func() bool { return w.reg.Rejected() >= 1 })
}

// Issue 12 item 9: another agent cannot speak as a1 (neither on a1's subject nor in
// a1's name on its own), so a forged heartbeat with sequence 2^63-1 changes nothing
// and a1's real heartbeats keep being taken.
func TestForgedHeartbeatCannotHideAnAgent(t *testing.T) {
	w := setup(t, agents.Options{})
	w.startAgent(t, "a1", map[string]string{"zone": "real"})
	waitFor(t, 10*time.Second, "a1 never appeared", func() bool { _, ok := w.find("a1"); return ok })
	m := w.connect(t, "mallory")
	forged := heartbeat(t, "a1", "evil", 1<<63-1, map[string]string{"zone": "forged"})
	a1Subject, _ := bus.HeartbeatSubject("a1")
	ownSubject, _ := bus.HeartbeatSubject("mallory")
	m.Publish(a1Subject, forged)  // refused by the broker
	m.Publish(ownSubject, forged) // refused by the registry: the subject says mallory
	m.Flush()
	forgedAt := time.Now()
	waitFor(t, 5*time.Second, "the forgery was not refused", func() bool { return w.reg.Rejected() >= 1 })
	waitFor(t, 3*distributed.HeartbeatEvery, "a1's real heartbeats stopped being taken", func() bool {
		a, _ := w.find("a1")
		return a.LastSeen.After(forgedAt)
	})
	if a, _ := w.find("a1"); a.Labels["zone"] != "real" || a.Cores == 64 || !a.Alive {
		t.Errorf("the forgery changed a1: %+v", a)
	}
	if _, ok := w.find("mallory"); ok {
		t.Errorf("the forgery registered mallory")
	}
}

// Issue 12 item 9: an agent restarted under its name (sequences from 1 again, a new
// boot id) is alive at its first heartbeat, not rejected as a replay.
func TestRestartedAgentIsAliveAtOnce(t *testing.T) {
	w := setup(t, agents.Options{})
	stop := w.startAgent(t, "a2", nil)
	waitFor(t, 10*time.Second, "no second heartbeat from a2", func() bool { a, ok := w.find("a2"); return ok && a.RTT > 0 })
	stop()
	before, _ := w.find("a2")
	restartedAt := time.Now()
	w.startAgent(t, "a2", map[string]string{"generation": "2"})
	// Its first heartbeat goes out at once; the next only after HeartbeatEvery.
	waitFor(t, distributed.HeartbeatEvery-200*time.Millisecond, "the restarted agent was not taken at its first heartbeat", func() bool {
		a, _ := w.find("a2")
		return a.LastSeen.After(restartedAt) && a.Labels["generation"] == "2"
	})
	if w.reg.Rejected() != 0 {
		t.Errorf("%d heartbeats refused; the restart was taken for a replay (before: %+v)", w.reg.Rejected(), before)
	}
}

// Issue 12 item 14: the server answers a heartbeat only on the sender's own inbox, not
// on a reply subject the sender picked (here another agent's assignment subject).
func TestHeartbeatReplyOnlyToTheAgentsInbox(t *testing.T) {
	w := setup(t, agents.Options{})
	m := w.connect(t, "mallory")
	target, _ := bus.AssignSubject("r1", "a1")
	watch, err := w.b.NC.SubscribeSync(target)
	if err != nil {
		t.Fatal(err)
	}
	w.b.NC.Flush()
	subj, _ := bus.HeartbeatSubject("mallory")
	m.PublishRequest(subj, target, heartbeat(t, "mallory", "b", 1, nil))
	m.Flush()
	waitFor(t, 5*time.Second, "the bad reply subject was not refused", func() bool { return w.reg.Rejected() >= 1 })
	if msg, err := watch.NextMsg(200 * time.Millisecond); err == nil {
		t.Fatalf("the server replied onto %s: %q", target, msg.Data)
	}
	// On its own inbox it is answered.
	if _, err := m.Request(subj, heartbeat(t, "mallory", "b", 2, nil), 5*time.Second); err != nil {
		t.Errorf("a heartbeat with the agent's own inbox was not answered: %v", err)
	}
}

// Issue 12 item 10: a flood of names is bounded: beyond MaxAgents new names are
// refused and counted while the known ones stay.
func TestRegistryIsBounded(t *testing.T) {
	const maxAgents = 20
	w := setup(t, agents.Options{MaxAgents: maxAgents})
	for i := range 500 {
		subj, _ := bus.HeartbeatSubject(fmt.Sprintf("fake-%d", i))
		w.b.NC.Publish(subj, heartbeat(t, fmt.Sprintf("fake-%d", i), "b", 1, nil))
	}
	w.b.NC.Flush()
	waitFor(t, 20*time.Second, "the flood was not all handled", func() bool { return w.reg.Rejected() >= 500-maxAgents })
	if n, r := len(w.reg.List()), w.reg.Rejected(); n != maxAgents || r != 500-maxAgents {
		t.Errorf("%d agents kept, %d refused; want %d and %d", n, r, maxAgents, 500-maxAgents)
	}
}

// Issue 12 item 10: agents silent for ForgetAfter are forgotten, making room again.
func TestRegistryForgetsTheSilent(t *testing.T) {
	const maxAgents = 20
	w := setup(t, agents.Options{MaxAgents: maxAgents, ForgetAfter: 300 * time.Millisecond})
	for i := range maxAgents {
		subj, _ := bus.HeartbeatSubject(fmt.Sprintf("fake-%d", i))
		w.b.NC.Publish(subj, heartbeat(t, fmt.Sprintf("fake-%d", i), "b", 1, nil))
	}
	w.b.NC.Flush()
	waitFor(t, 10*time.Second, "the fakes were not registered", func() bool { return len(w.reg.List()) == maxAgents })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.reg.Run(ctx)
	waitFor(t, 10*time.Second, "silent agents were not forgotten", func() bool { return len(w.reg.List()) == 0 })
	w.startAgent(t, "real", nil)
	waitFor(t, 10*time.Second, "a real agent found no room", func() bool { _, ok := w.find("real"); return ok })
}

// An agent is busy in the registry while it runs a shard, and idle as soon as the
// shard ends (it announces itself at once, not at the next tick).
func TestBusyClearsWhenTheShardEnds(t *testing.T) {
	w := setup(t, agents.Options{})
	w.startAgent(t, "w1", nil)
	waitFor(t, 10*time.Second, "w1 never appeared", func() bool { _, ok := w.find("w1"); return ok })
	cfg := &smp.TestConfig{Duration: smp.Duration(500 * time.Millisecond), Clients: []smp.Client{{RPS: 10, EndpointURLs: []string{"http://127.0.0.1:1/"}}}}
	cfg.ApplyDefaults()
	env, _ := bus.Encode(&bus.Envelope{Kind: bus.KindAssign, Sender: "server", Seq: 1,
		Assign: &bus.Assignment{Run: "busy", Agent: "w1", Of: 1, Config: cfg, StartAt: time.Now()}})
	subj, _ := bus.AssignSubject("busy", "w1")
	assigned := time.Now()
	w.b.NC.Publish(subj, env)
	// Both changes come from the agent's immediate announcements: well before the
	// regular tick (HeartbeatEvery) could explain them.
	waitFor(t, 1500*time.Millisecond, "not busy during the shard", func() bool { a, _ := w.find("w1"); return a.Busy == "busy" })
	waitFor(t, 1800*time.Millisecond, "still busy after the shard", func() bool { a, _ := w.find("w1"); return a.Busy == "" })
	if time.Since(assigned) > 3*time.Second {
		t.Errorf("busy cleared only after %v", time.Since(assigned))
	}
}
