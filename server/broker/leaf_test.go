package broker_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/meshperf/meshperf/bus"
	"github.com/meshperf/meshperf/internal/natstest"
	"github.com/meshperf/meshperf/operator"
	"github.com/meshperf/meshperf/server/broker"
)

func waitUntil(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A cluster's in-cluster broker dials the server's leaf listener with the cluster's
// credential; MeshSync's JetStream publish through it lands in the MESHSYNC stream and
// its ack comes back; control messages for the cluster reach it.
func TestLeafBrokerCarriesMeshSyncToTheStream(t *testing.T) {
	b, creds := embedded(t, broker.Config{LeafAddr: "127.0.0.1:0"})
	if b.LeafURL == "" {
		t.Fatal("no leaf URL")
	}
	ms, _ := creds.IssueMeshSync("uid-1")
	lb, err := operator.StartBroker(operator.BrokerOptions{ServerURL: b.LeafURL, Token: ms, Addr: "127.0.0.1:0", MonitorAddr: "127.0.0.1:0", Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(lb.Close)
	waitUntil(t, "leaf connected", 10*time.Second, lb.Connected)

	ctl := make(chan *nats.Msg, 4)
	nc, err := connectMeshSync(t, lb.URL, "uid-1", ms)
	if err != nil {
		t.Fatalf("MeshSync refused by the in-cluster broker: %v", err)
	}
	if _, err := nc.ChanSubscribe(mustControl(t, "uid-1"), ctl); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	js, _ := jetstream.New(nc)
	own, _ := bus.MeshSyncEvents("uid-1")
	// Interest crosses the leaf asynchronously: retry until the ack comes back.
	var ack *jetstream.PubAck
	waitUntil(t, "a JetStream ack through the leaf", 15*time.Second, func() bool {
		c, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		ack, err = js.Publish(c, own, []byte(`{"through":"leaf"}`))
		return err == nil
	})
	if ack.Stream != bus.MeshSyncStream {
		t.Errorf("acked by stream %q", ack.Stream)
	}
	stream, _ := b.JS.Stream(ctx, bus.MeshSyncStream)
	m, err := stream.GetLastMsgForSubject(ctx, own)
	if err != nil || string(m.Data) != `{"through":"leaf"}` {
		t.Fatalf("the event is not in the server's stream: %v", err)
	}
	waitUntil(t, "control reaching the cluster", 10*time.Second, func() bool {
		_ = b.NC.Publish(mustControl(t, "uid-1"), []byte("resync"))
		select {
		case <-ctl:
			return true
		case <-time.After(200 * time.Millisecond):
			return false
		}
	})
	// A wrong token on the in-cluster side is refused there.
	if _, err := connectMeshSync(t, lb.URL, "uid-1", ms[:len(ms)-1]+"x"); err == nil {
		t.Error("the in-cluster broker took a wrong token")
	}
}

// A leaf proves one cluster: a forged credential never connects, and a leaf whose
// own side lets anything through (not meshperf's broker) still gets nothing past
// the server but its own cluster's MeshSync subjects.
func TestLeafIsLimitedToItsCluster(t *testing.T) {
	b, creds := embedded(t, broker.Config{LeafAddr: "127.0.0.1:0"})
	ms, _ := creds.IssueMeshSync("uid-1")
	forged := ms[:len(ms)-4] + "0000"
	if forged == ms {
		forged = ms[:len(ms)-4] + "1111"
	}
	bad := rawLeaf(t, b.LeafURL, forged)
	good := rawLeaf(t, b.LeafURL, ms)
	waitUntil(t, "the good leaf connected", 10*time.Second, func() bool { return good.NumLeafNodes() == 1 })
	time.Sleep(500 * time.Millisecond) // the forged leaf had as long to try
	if bad.NumLeafNodes() != 0 {
		t.Fatal("a leaf with a forged credential connected")
	}

	// What the server hears.
	heard := make(chan *nats.Msg, 64)
	for _, s := range []string{">"} {
		if _, err := b.NC.ChanSubscribe(s, heard); err != nil {
			t.Fatal(err)
		}
	}
	_ = b.NC.Flush()
	local, err := nats.Connect(good.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	// The leaf hears only its own control subject from the server.
	got := make(chan *nats.Msg, 16)
	for _, s := range []string{mustControl(t, "uid-1"), mustControl(t, "uid-2"), "meshperf.v1.runs.>"} {
		if _, err := local.ChanSubscribe(s, got); err != nil {
			t.Fatal(err)
		}
	}
	_ = local.Flush()
	own, _ := bus.MeshSyncEvents("uid-1")
	theirs, _ := bus.MeshSyncEvents("uid-2")
	hb, _ := bus.HeartbeatSubject("agent-x")
	waitUntil(t, "its own events reaching the server", 10*time.Second, func() bool {
		_ = local.Publish(own, []byte("mine"))
		_ = local.Flush()
		for {
			select {
			case m := <-heard:
				if m.Subject == own {
					return true
				}
			case <-time.After(200 * time.Millisecond):
				return false
			}
		}
	})
	for _, s := range []string{theirs, hb, "$JS.API.STREAM.LIST", "meshperf.v1.runs.r1.intervals.a"} {
		_ = local.Publish(s, []byte("not mine"))
	}
	_ = local.Flush()
	waitUntil(t, "own control reaching the leaf", 10*time.Second, func() bool {
		_ = b.NC.Publish(mustControl(t, "uid-1"), []byte("c1"))
		select {
		case m := <-got:
			return m.Subject == mustControl(t, "uid-1")
		case <-time.After(200 * time.Millisecond):
			return false
		}
	})
	_ = b.NC.Publish(mustControl(t, "uid-2"), []byte("c2"))
	_ = b.NC.Publish("meshperf.v1.runs.r1.assign.a", []byte("assign"))
	_ = b.NC.Flush()
	deadline := time.After(time.Second)
	for {
		select {
		case m := <-heard:
			if m.Subject != own && m.Subject != mustControl(t, "uid-1") && m.Subject != mustControl(t, "uid-2") && m.Subject != "meshperf.v1.runs.r1.assign.a" {
				t.Errorf("the server heard %s from the leaf", m.Subject)
			}
		case m := <-got:
			if m.Subject != mustControl(t, "uid-1") {
				t.Errorf("the leaf heard %s", m.Subject)
			}
		case <-deadline:
			return
		}
	}
}

// rawLeaf is a plain nats-server leaf with no rules of its own (what an attacker
// holding a cluster's credential could run), dialing the server with token.
func rawLeaf(t *testing.T, leafURL, token string) *server.Server {
	t.Helper()
	u, err := url.Parse(leafURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(token)
	return natstest.Start(t, server.Options{
		LeafNode: server.LeafNodeOpts{ReconnectInterval: 100 * time.Millisecond, Remotes: []*server.RemoteLeafOpts{{URLs: []*url.URL{u}}}}})
}
