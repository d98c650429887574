package broker_test

import (
	"bytes"
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

func testCredentials(t *testing.T) *broker.Credentials {
	t.Helper()
	c, err := broker.NewCredentials(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func embedded(t *testing.T, cfg broker.Config) (*broker.Broker, *broker.Credentials) {
	t.Helper()
	creds := testCredentials(t)
	cfg.Addr, cfg.StoreDir, cfg.Credentials = "127.0.0.1:0", t.TempDir(), creds
	b, err := broker.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b, creds
}

// agentConn connects as agent with credential, the way agents do (their own inbox
// prefix), and collects the permission violations the broker reports.
type agentConn struct {
	*nats.Conn
	mu         sync.Mutex
	violations []string
}

func connectAgent(t *testing.T, url, agent, credential string) (*agentConn, error) {
	t.Helper()
	ac := &agentConn{}
	nc, err := nats.Connect(url, nats.UserInfo(agent, credential), nats.CustomInboxPrefix(bus.AgentInbox(agent)),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			ac.mu.Lock()
			ac.violations = append(ac.violations, err.Error())
			ac.mu.Unlock()
		}))
	if err != nil {
		return nil, err
	}
	t.Cleanup(nc.Close)
	ac.Conn = nc
	return ac, nil
}

func (ac *agentConn) violationCount() int {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	return strings.Count(strings.Join(ac.violations, "|"), "Permissions Violation")
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(within); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("after %v: %s", within, what)
		}
	}
}

// Each credential proves one name (or the names under one prefix) and nothing else.
func TestCredentialsProveOneIdentity(t *testing.T) {
	b, creds := embedded(t, broker.Config{})
	a1, _ := creds.Issue("a1", false)
	c1, _ := creds.Issue("c1", true)
	other, _ := broker.NewCredentials(bytes.Repeat([]byte{8}, 32))
	forged, _ := other.Issue("a1", false)
	refused := map[string][2]string{
		"another agent's name":         {"a2", a1},
		"a MAC under another key":      {"a1", forged},
		"a prefix credential's prefix": {"c1", c1},
		"a name merely starting alike": {"c1x", c1},
		"another prefix":               {"c2:x", c1},
		"the old shared user":          {"agent", a1},
		"no credential":                {"a1", ""},
		"the server's own user":        {"meshperf-server", a1},
	}
	for what, tc := range refused {
		if _, err := connectAgent(t, b.URL, tc[0], tc[1]); err == nil {
			t.Errorf("%s: connected as %s", what, tc[0])
		}
	}
	if _, err := nats.Connect(b.URL); err == nil {
		t.Errorf("an anonymous client connected")
	}
	for name, cred := range map[string]string{"a1": a1, "c1:replica-0": c1, "c1:replica-1": c1} {
		if _, err := connectAgent(t, b.URL, name, cred); err != nil {
			t.Errorf("%s refused: %v", name, err)
		}
	}
	for _, bad := range []string{"", "a.b", "a:b", strings.Repeat("x", 64)} {
		if _, err := creds.Issue(bad, false); err == nil {
			t.Errorf("a credential for %q was issued", bad)
		}
	}
}

// Issue 12 item 5: an agent cannot read another agent's assignments (where headers
// with secrets travel), publish intervals or heartbeats as another agent, or touch
// JetStream's API; its own intervals are stored once per message id.
func TestAgentMayOnlyActAsItself(t *testing.T) {
	b, creds := embedded(t, broker.Config{})
	cred, _ := creds.Issue("mallory", false)
	m, err := connectAgent(t, b.URL, "mallory", cred)
	if err != nil {
		t.Fatal(err)
	}
	// Reading every assignment: refused by the broker, and nothing arrives.
	spy, err := m.SubscribeSync("meshperf.v1.runs.*.assign.*")
	if err != nil {
		t.Fatal(err)
	}
	m.Flush()
	waitFor(t, 5*time.Second, "subscribing to others' assignments was not refused", func() bool { return m.violationCount() >= 1 })
	toA1, _ := bus.AssignSubject("r1", "a1")
	b.NC.Publish(toA1, []byte(`Authorization: Bearer target-secret-xyz`))
	b.NC.Flush()
	if msg, err := spy.NextMsg(300 * time.Millisecond); err == nil {
		t.Fatalf("mallory read a1's assignment: %q", msg.Data)
	}
	// Speaking as a1: heartbeat and intervals on a1's subjects are refused.
	hbA1, _ := bus.HeartbeatSubject("a1")
	m.Publish(hbA1, []byte("{}"))
	js, _ := jetstream.New(m.Conn)
	ctx := context.Background()
	ivA1, _ := bus.IntervalSubject("r1", "a1")
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	_, err = js.Publish(pctx, ivA1, []byte("{}"))
	cancel()
	if err == nil {
		t.Errorf("mallory published an interval as a1")
	}
	m.Publish("$JS.API.STREAM.DELETE.RUNS", nil)
	m.Flush()
	waitFor(t, 5*time.Second, "publishing as a1 or to JetStream's API was not refused", func() bool { return m.violationCount() >= 4 })
	// Its own intervals: stored, a retry with the same id once.
	own, _ := bus.IntervalSubject("r1", "mallory")
	for range 2 {
		if _, err := js.Publish(ctx, own, []byte(`{}`), jetstream.WithMsgID("r1/mallory/client-0/7")); err != nil {
			t.Fatalf("publishing its own interval: %v", err)
		}
	}
	info, err := b.Stream.Info(ctx)
	if err != nil || info.State.Msgs != 1 {
		t.Errorf("stream holds %d messages, want 1 (mallory's, once): %v", info.State.Msgs, err)
	}
}

// Issue 12 item 10: junk published to made-up runs is bounded: a message larger than
// an interval can be is refused, and the stream never outgrows its byte bound.
func TestStreamIsBounded(t *testing.T) {
	const maxBytes = 2 << 20
	b, creds := embedded(t, broker.Config{StreamMaxBytes: maxBytes})
	cred, _ := creds.Issue("junk", false)
	m, err := connectAgent(t, b.URL, "junk", cred)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(m.Conn)
	ctx := context.Background()
	big := bytes.Repeat([]byte("x"), 1_000_000)
	subj, _ := bus.IntervalSubject("junk0", "junk")
	if _, err := js.Publish(ctx, subj, big); err == nil {
		t.Errorf("a 1 MB message was stored")
	}
	chunk := bytes.Repeat([]byte("x"), 200_000)
	for i := range 40 {
		subj, _ := bus.IntervalSubject("junk"+string(rune('a'+i%26))+string(rune('a'+i/26)), "junk")
		if _, err := js.Publish(ctx, subj, chunk); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	info, err := b.Stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Bytes > maxBytes || info.Config.MaxMsgsPerSubject <= 0 || info.Config.MaxMsgSize <= 0 {
		t.Errorf("stream holds %d bytes (bound %d), config %+v", info.State.Bytes, maxBytes, info.Config)
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
