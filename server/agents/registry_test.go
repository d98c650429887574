package agents_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/meshperf/meshperf/bus"
	"github.com/meshperf/meshperf/perf/distributed"
	"github.com/meshperf/meshperf/server/agents"
	"github.com/meshperf/meshperf/server/broker"
	"github.com/meshperf/meshperf/smp"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestHeartbeatsMakeTheRegistry(t *testing.T) {
	b, err := broker.Start(context.Background(), broker.Config{Addr: "127.0.0.1:0", StoreDir: t.TempDir(), AgentToken: "agent-token-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	reg, err := agents.Listen(b.NC, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	a, err := distributed.ConnectAgent(distributed.AgentOptions{URL: b.URL, User: bus.AgentUser, Token: "agent-token-0123456789",
		Name: "eu-1", Labels: map[string]string{"region": "eu"}, Version: "test", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond) // two heartbeats
	a.Run(ctx)
	cancel()
	a.Close()
	list := reg.List()
	if len(list) != 1 {
		t.Fatalf("agents %+v", list)
	}
	got := list[0]
	if !got.Alive || got.Labels["region"] != "eu" || got.Cores == 0 || len(got.Engines) == 0 || got.Version != "test" {
		t.Errorf("agent %+v", got)
	}
	// Same machine: the clock offset is within the round trip.
	if got.RTT <= 0 || got.ClockOffset > 50*time.Millisecond || got.ClockOffset < -50*time.Millisecond {
		t.Errorf("clock offset %v, rtt %v", got.ClockOffset, got.RTT)
	}
	seen := got.LastSeen

	// Garbage and a replayed heartbeat are refused and counted; nothing changes.
	b.NC.Publish(bus.HeartbeatSubject(), []byte("garbage"))
	replay, _ := bus.Encode(&bus.Envelope{Kind: bus.KindHeartbeat, Sender: "eu-1", Seq: 1, Heartbeat: &bus.Heartbeat{Agent: "eu-1", Cores: 64}})
	b.NC.Publish(bus.HeartbeatSubject(), replay)
	b.NC.Flush()
	time.Sleep(200 * time.Millisecond)
	if reg.Rejected() != 2 {
		t.Errorf("rejected %d, want 2", reg.Rejected())
	}
	if l := reg.List(); l[0].Cores == 64 || !l[0].LastSeen.Equal(seen) {
		t.Errorf("a replay changed the registry: %+v", l[0])
	}
}

// An agent is busy in the registry while it runs a shard, and idle as soon as the
// shard ends (it announces itself at once, not at the next tick).
func TestBusyClearsWhenTheShardEnds(t *testing.T) {
	b, err := broker.Start(context.Background(), broker.Config{Addr: "127.0.0.1:0", StoreDir: t.TempDir(), AgentToken: "agent-token-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	reg, _ := agents.Listen(b.NC, quiet)
	defer reg.Close()
	a, err := distributed.ConnectAgent(distributed.AgentOptions{URL: b.URL, User: bus.AgentUser, Token: "agent-token-0123456789", Name: "w1", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }() // heartbeats now, then every 2 s
	defer func() { cancel(); <-done; a.Close() }()
	time.Sleep(200 * time.Millisecond)
	cfg := &smp.TestConfig{Duration: smp.Duration(500 * time.Millisecond), Clients: []smp.Client{{RPS: 10, EndpointURLs: []string{"http://127.0.0.1:1/"}}}}
	cfg.ApplyDefaults()
	env, _ := bus.Encode(&bus.Envelope{Kind: bus.KindAssign, Sender: "server", Seq: 1,
		Assign: &bus.Assignment{Run: "busy", Agent: "w1", Of: 1, Config: cfg, StartAt: time.Now()}})
	subj, _ := bus.AssignSubject("busy", "w1")
	b.NC.Publish(subj, env)
	time.Sleep(250 * time.Millisecond) // the shard has started; no regular tick since
	if l := reg.List(); len(l) != 1 || l[0].Busy != "busy" {
		t.Errorf("not busy during the shard: %+v", l)
	}
	time.Sleep(1100 * time.Millisecond) // the shard has ended; the next regular tick is at 2 s
	if l := reg.List(); len(l) != 1 || l[0].Busy != "" {
		t.Errorf("still busy after the shard: %+v", l)
	}
}
