package distributed_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/meshperf/meshperf/bus"
	"github.com/meshperf/meshperf/perf/distributed"
	"github.com/meshperf/meshperf/sampleapp"
	"github.com/meshperf/meshperf/server/broker"
	"github.com/meshperf/meshperf/smp"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type world struct {
	b     *broker.Broker
	creds *broker.Credentials
	tgt   *sampleapp.Server
	seq   uint64
}

func setup(t *testing.T) *world {
	t.Helper()
	creds, err := broker.NewCredentials(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.Start(context.Background(), broker.Config{Addr: "127.0.0.1:0", StoreDir: t.TempDir(), Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	tgt, err := sampleapp.Start(sampleapp.Config{HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tgt.Close)
	return &world{b: b, creds: creds, tgt: tgt}
}

func (w *world) agent(t *testing.T, name string) {
	cred, err := w.creds.Issue(name, false)
	if err != nil {
		t.Fatal(err)
	}
	a, err := distributed.ConnectAgent(distributed.AgentOptions{URL: w.b.URL, Credential: cred, Name: name, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; a.Close() })
}

// send publishes a server message to an agent, as the coordinator will.
func (w *world) send(t *testing.T, run, agent string, env *bus.Envelope) {
	w.seq++
	env.Sender, env.Seq, env.Sent = "server", w.seq, time.Now()
	data, err := bus.Encode(env)
	if err != nil {
		t.Fatal(err)
	}
	subj, _ := bus.AssignSubject(run, agent)
	if err := w.b.NC.Publish(subj, data); err != nil {
		t.Fatal(err)
	}
}

// collect reads a run's intervals from the stream until every agent's final message.
func (w *world) collect(t *testing.T, run string, agents int, timeout time.Duration) []bus.IntervalMsg {
	t.Helper()
	subj, _ := bus.RunIntervals(run)
	cons, err := w.b.Stream.OrderedConsumer(context.Background(), jetstream.OrderedConsumerConfig{FilterSubjects: []string{subj}})
	if err != nil {
		t.Fatal(err)
	}
	var out []bus.IntervalMsg
	finals := 0
	deadline := time.Now().Add(timeout)
	for finals < agents && time.Now().Before(deadline) {
		batch, err := cons.Fetch(100, jetstream.FetchMaxWait(500*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			env, err := bus.Decode(m.Data())
			if err != nil {
				t.Fatalf("the agent sent an undecodable message: %v", err)
			}
			if env.Interval.Final {
				finals++
				continue
			}
			out = append(out, *env.Interval)
		}
	}
	if finals < agents {
		t.Fatalf("%d of %d final messages after %v", finals, agents, timeout)
	}
	return out
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

func shardConfig(url string, rps int64, d time.Duration) *smp.TestConfig {
	cfg := &smp.TestConfig{Duration: smp.Duration(d), Clients: []smp.Client{{RPS: rps, Connections: 4, EndpointURLs: []string{url}}}}
	cfg.ApplyDefaults()
	return cfg
}

// An agent takes an assignment, starts at the agreed instant, and streams every
// interval to JetStream, then a final message: the counts add up to what the target saw.
func TestAgentRunsAnAssignment(t *testing.T) {
	w := setup(t)
	w.agent(t, "a1")
	startAt := time.Now().Add(time.Second).Truncate(time.Millisecond)
	w.send(t, "r1", "a1", &bus.Envelope{Kind: bus.KindAssign, Assign: &bus.Assignment{Run: "r1", Agent: "a1", Shard: 0, Of: 1,
		Config: shardConfig(w.tgt.URL()+"/dist", 100, 2*time.Second), StartAt: startAt}})
	ivs := w.collect(t, "r1", 1, 15*time.Second)
	var total int64
	for _, m := range ivs {
		total += m.Interval.Requests
		if m.Agent != "a1" || m.Interval.Source != "a1/client-0" {
			t.Errorf("interval from %q, source %q", m.Agent, m.Interval.Source)
		}
	}
	if total != 200 || w.tgt.Stats().ByPath["/dist"] != 200 {
		t.Errorf("streamed %d requests, the target saw %d; want 200", total, w.tgt.Stats().ByPath["/dist"])
	}
	if d := ivs[0].Interval.Start.Sub(startAt); d < -50*time.Millisecond || d > 50*time.Millisecond {
		t.Errorf("the shard started %v from the agreed instant", d)
	}
}

// A cancel stops the shard; what it measured is still streamed, then the final message.
func TestAgentObeysCancel(t *testing.T) {
	w := setup(t)
	w.agent(t, "a2")
	w.send(t, "r2", "a2", &bus.Envelope{Kind: bus.KindAssign, Assign: &bus.Assignment{Run: "r2", Agent: "a2", Of: 1,
		Config: shardConfig(w.tgt.URL()+"/cancel", 100, 30*time.Second), StartAt: time.Now().Add(200 * time.Millisecond)}})
	waitFor(t, 10*time.Second, "the shard never got going", func() bool { return w.tgt.Stats().ByPath["/cancel"] >= 100 })
	w.send(t, "r2", "a2", &bus.Envelope{Kind: bus.KindCancel, Cancel: &bus.Cancel{Run: "r2", Reason: "test"}})
	start := time.Now()
	ivs := w.collect(t, "r2", 1, 10*time.Second)
	var total int64
	for _, m := range ivs {
		total += m.Interval.Requests
	}
	if time.Since(start) > 5*time.Second || total < 100 || total > 200 {
		t.Errorf("after cancel: %d requests, final after %v", total, time.Since(start))
	}
}
