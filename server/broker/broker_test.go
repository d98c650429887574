package broker_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/meshperf/meshperf/bus"
	"github.com/meshperf/meshperf/server/broker"
)

const agentToken = "agent-token-0123456789"

func embedded(t *testing.T) *broker.Broker {
	t.Helper()
	b, err := broker.Start(context.Background(), broker.Config{Addr: "127.0.0.1:0", StoreDir: t.TempDir(), AgentToken: agentToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// Agents authenticate with the agent token and may only do what agents do; an
// interval re-published with the same message id is stored once.
func TestEmbeddedAuthPermissionsAndDedup(t *testing.T) {
	b := embedded(t)
	if _, err := nats.Connect(b.URL, nats.UserInfo(bus.AgentUser, "wrong-token-0000000")); err == nil {
		t.Fatalf("a wrong agent token connected")
	}
	if _, err := nats.Connect(b.URL); err == nil {
		t.Fatalf("an anonymous client connected")
	}
	var mu sync.Mutex
	var violations []string
	nc, err := nats.Connect(b.URL, nats.UserInfo(bus.AgentUser, agentToken), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		mu.Lock()
		violations = append(violations, err.Error())
		mu.Unlock()
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 2 {
		if _, err := js.Publish(ctx, "meshperf.v1.runs.r1.intervals", []byte(`{}`), jetstream.WithMsgID("r1/agent-a/client-0/7")); err != nil {
			t.Fatalf("agent publishing an interval: %v", err)
		}
	}
	info, err := b.Stream.Info(ctx)
	if err != nil || info.State.Msgs != 1 {
		t.Errorf("stream holds %d messages, want 1 (duplicates dropped): %v", info.State.Msgs, err)
	}
	// What an agent must not do: read intervals, or touch JetStream's API.
	if _, err := nc.SubscribeSync("meshperf.v1.runs.r1.intervals"); err != nil {
		t.Fatal(err)
	}
	_ = nc.Publish("$JS.API.STREAM.DELETE.RUNS", nil)
	nc.Flush()
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	got := strings.Join(violations, " | ")
	mu.Unlock()
	if strings.Count(got, "Permissions Violation") < 2 {
		t.Errorf("permission violations not reported: %q", got)
	}
	if info, _ := b.Stream.Info(ctx); info == nil {
		t.Errorf("the stream is gone")
	}
	if _, err := broker.Start(ctx, broker.Config{Addr: "127.0.0.1:0", StoreDir: t.TempDir(), AgentToken: "short"}); err == nil {
		t.Errorf("a short agent token was accepted")
	}
}

// The same broker code against the external NATS server of this machine
// (127.0.0.1:4222, JetStream), with a stream and subjects of its own.
func TestExternalNATS(t *testing.T) {
	suffix := make([]byte, 4)
	rand.Read(suffix)
	id := hex.EncodeToString(suffix)
	ctx := context.Background()
	b, err := broker.Start(ctx, broker.Config{ExternalURL: "nats://127.0.0.1:4222", Stream: "RUNS_TEST_" + id,
		Subjects: []string{"meshperf.test" + id + ".runs.*.intervals"}})
	if err != nil {
		t.Fatalf("the external NATS (127.0.0.1:4222, with JetStream) is required: %v", err)
	}
	defer b.Close()
	defer b.JS.DeleteStream(ctx, "RUNS_TEST_"+id)
	if _, err := b.JS.Publish(ctx, "meshperf.test"+id+".runs.r.intervals", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if info, err := b.Stream.Info(ctx); err != nil || info.State.Msgs != 1 {
		t.Errorf("external stream: %v %v", info, err)
	}
}
