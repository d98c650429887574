package broker_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/meshperf/meshperf/bus"
	"github.com/meshperf/meshperf/server/broker"
)

// connectMeshSync connects the way `meshperf meshsync` does: the credential as a
// token, replies on the cluster's own inbox.
func connectMeshSync(t *testing.T, url, cluster, token string, opts ...nats.Option) (*nats.Conn, error) {
	t.Helper()
	opts = append([]nats.Option{nats.Token(token), nats.CustomInboxPrefix(bus.MeshSyncInbox(cluster))}, opts...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, err
	}
	t.Cleanup(nc.Close)
	return nc, nil
}

// A MeshSync credential proves one cluster and is a distinct principal: it is no
// agent credential, an agent credential is no MeshSync credential, and a MAC under
// another key proves nothing.
func TestMeshSyncCredentialsProveOneCluster(t *testing.T) {
	b, creds := embedded(t, broker.Config{})
	ms, err := creds.IssueMeshSync("uid-1")
	if err != nil {
		t.Fatal(err)
	}
	agent, _ := creds.Issue("uid-1", false)
	other, _ := broker.NewCredentials(bytes.Repeat([]byte{8}, 32))
	forged, _ := other.IssueMeshSync("uid-1")
	if _, err := connectMeshSync(t, b.URL, "uid-1", ms); err != nil {
		t.Fatalf("the cluster's own credential refused: %v", err)
	}
	for what, token := range map[string]string{
		"an agent credential as a token":          agent,
		"a MAC under another key":                 forged,
		"another cluster named in the credential": "mpm1.uid-2." + ms[len("mpm1.uid-1."):],
		"a truncated credential":                  ms[:len(ms)-2],
	} {
		if _, err := connectMeshSync(t, b.URL, "uid-1", token); err == nil {
			t.Errorf("%s: connected", what)
		}
	}
	// The MeshSync credential as an agent's password, under the agent's name or the
	// cluster's: refused.
	for _, user := range []string{"uid-1", "meshsync:uid-1"} {
		if _, err := connectAgent(t, b.URL, user, ms); err == nil {
			t.Errorf("the MeshSync credential connected as agent %q", user)
		}
	}
	// A token beside a user name is neither kind.
	if _, err := nats.Connect(b.URL, nats.Token(ms), nats.UserInfo("uid-1", agent)); err == nil {
		t.Errorf("a token with a user and password connected")
	}
	for _, bad := range []string{"", "a.b", "a*", "a b"} {
		if _, err := creds.IssueMeshSync(bad); err == nil {
			t.Errorf("a MeshSync credential for %q was issued", bad)
		}
	}
}

// A cluster's MeshSync may publish its own events into JetStream and nothing else:
// not another cluster's events, not an agent's heartbeat or intervals, not
// JetStream's API; it hears its own control subject and no other.
func TestMeshSyncCredentialPublishesOnlyItsOwnCluster(t *testing.T) {
	b, creds := embedded(t, broker.Config{})
	ms, _ := creds.IssueMeshSync("uid-1")
	violations := make(chan error, 16)
	nc, err := connectMeshSync(t, b.URL, "uid-1", ms, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case violations <- err:
		default:
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	own, _ := bus.MeshSyncEvents("uid-1")
	if _, err := js.Publish(ctx, own, []byte(`{}`)); err != nil {
		t.Fatalf("publishing its own events: %v", err)
	}
	stream, err := b.JS.Stream(ctx, bus.MeshSyncStream)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.GetLastMsgForSubject(ctx, own); err != nil {
		t.Errorf("its own event is not in the stream: %v", err)
	}

	theirs, _ := bus.MeshSyncEvents("uid-2")
	short, cancelShort := context.WithTimeout(ctx, 2*time.Second)
	defer cancelShort()
	if _, err := js.Publish(short, theirs, []byte(`{}`)); err == nil {
		t.Errorf("published as another cluster")
	}
	if _, err := stream.GetLastMsgForSubject(ctx, theirs); err == nil {
		t.Errorf("another cluster's event from uid-1's MeshSync is in the stream")
	}
	select {
	case err := <-violations:
		t.Logf("refused as expected: %v", err)
	case <-time.After(10 * time.Second):
		t.Errorf("the broker reported no permission violation for another cluster's subject")
	}
	if _, err := nc.Subscribe(mustControl(t, "uid-2"), func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-violations:
		t.Logf("refused as expected: %v", err)
	case <-time.After(10 * time.Second):
		t.Errorf("subscribing to another cluster's control subject was not refused")
	}
	if _, err := nc.Subscribe(mustControl(t, "uid-1"), func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	apiCtx, cancelAPI := context.WithTimeout(ctx, 2*time.Second)
	defer cancelAPI()
	if _, err := js.Stream(apiCtx, bus.MeshSyncStream); err == nil {
		t.Errorf("the MeshSync reached JetStream's API")
	}
}

func mustControl(t *testing.T, cluster string) string {
	t.Helper()
	s, err := bus.MeshSyncControl(cluster)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// FuzzMeshSyncCluster: whatever a client sends as its token, reading it never
// panics, and only a credential this key issued proves a cluster (the very one it
// was issued for).
func FuzzMeshSyncCluster(f *testing.F) {
	creds, err := broker.NewCredentials(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		f.Fatal(err)
	}
	issued, _ := creds.IssueMeshSync("uid-1")
	agent, _ := creds.Issue("uid-1", false)
	for _, seed := range []string{issued, agent, "", "mpm1", "mpm1..", "mpm1.uid-1.", "mpm1.a.b.c", issued + "0", "mpm1.*." + issued[len("mpm1.uid-1."):]} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		cluster, ok := creds.MeshSyncCluster(token)
		if !ok {
			if cluster != "" {
				t.Errorf("refused %q but named cluster %q", token, cluster)
			}
			return
		}
		if again, err := creds.IssueMeshSync(cluster); err != nil || again != token {
			t.Errorf("%q accepted for cluster %q, which is issued %q (%v)", token, cluster, again, err)
		}
	})
}
