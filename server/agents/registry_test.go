package agents_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/meshperf/meshperf/perf/dist"
	"github.com/meshperf/meshperf/server/agents"
	"github.com/meshperf/meshperf/server/broker"
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
	a, err := dist.ConnectAgent(dist.AgentOptions{URL: b.URL, User: broker.AgentUser(), Token: "agent-token-0123456789",
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
	b.NC.Publish(dist.HeartbeatSubject(), []byte("garbage"))
	replay, _ := dist.Encode(&dist.Envelope{Kind: dist.KindHeartbeat, Sender: "eu-1", Seq: 1, Heartbeat: &dist.Heartbeat{Agent: "eu-1", Cores: 64}})
	b.NC.Publish(dist.HeartbeatSubject(), replay)
	b.NC.Flush()
	time.Sleep(200 * time.Millisecond)
	if reg.Rejected() != 2 {
		t.Errorf("rejected %d, want 2", reg.Rejected())
	}
	if l := reg.List(); l[0].Cores == 64 || !l[0].LastSeen.Equal(seen) {
		t.Errorf("a replay changed the registry: %+v", l[0])
	}
}
