package distributed_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/meshperf/meshperf/bus"
	"github.com/meshperf/meshperf/perf/distributed"
	"github.com/meshperf/meshperf/smp"
)

// Three agents share 300 req/s for 3 s: 900 requests in all (what the target saw), the
// result's histogram is exactly the merge of every agent's intervals, and each agent
// has its own source.
func TestCoordinateThreeAgents(t *testing.T) {
	w := setup(t)
	names := []string{"a1", "a2", "a3"}
	for _, n := range names {
		w.agent(t, n)
	}
	cfg := shardConfig(w.tgt.URL()+"/three", 300, 3*time.Second)
	cfg.Thresholds = []smp.Threshold{{Expr: "rps >= 280"}}
	res, err := distributed.Coordinate(context.Background(), distributed.CoordinatorOptions{NC: w.b.NC, Stream: w.b.Stream, RunID: "three",
		Config: cfg, Agents: names, Lead: 500 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != smp.StatusCompleted || res.Summary.Requests != 900 || w.tgt.Stats().ByPath["/three"] != 900 {
		t.Fatalf("status %s, %d requests (target saw %d): %s", res.Status, res.Summary.Requests, w.tgt.Stats().ByPath["/three"], res.StatusReason)
	}
	union := smp.NewHistogram()
	for _, iv := range res.Intervals {
		union.Merge(iv.Latency)
	}
	if !union.Equal(res.Latency) {
		t.Errorf("the merged histogram is not the union of the agents' intervals")
	}
	if len(res.Sources) != 3 {
		t.Fatalf("sources %+v", res.Sources)
	}
	for _, s := range res.Sources {
		if !strings.HasSuffix(s.Source, "/client-0") || s.Summary.Requests != 300 || s.Summary.TargetRPS != 100 {
			t.Errorf("source %s: %d requests, target %v/s", s.Source, s.Summary.Requests, s.Summary.TargetRPS)
		}
	}
	if res.Summary.TargetRPS != 300 || len(res.Thresholds) != 1 || !res.Thresholds[0].OK {
		t.Errorf("target %v/s, thresholds %+v", res.Summary.TargetRPS, res.Thresholds)
	}
}

// An agent that never answers is dropped after the silence allowed; the run ends
// partial with everything the other agent sent, and says who dropped.
func TestCoordinateAgentLost(t *testing.T) {
	w := setup(t)
	w.agent(t, "alive")
	cfg := shardConfig(w.tgt.URL()+"/lost", 100, 2*time.Second)
	res, err := distributed.Coordinate(context.Background(), distributed.CoordinatorOptions{NC: w.b.NC, Stream: w.b.Stream, RunID: "lost",
		Config: cfg, Agents: []string{"alive", "ghost"}, Lead: 500 * time.Millisecond, Silence: 2 * time.Second, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != smp.StatusPartial || !strings.Contains(res.StatusReason, "agent ghost went silent") {
		t.Errorf("status %s: %s", res.Status, res.StatusReason)
	}
	if res.Summary.Requests != 100 || w.tgt.Stats().ByPath["/lost"] != 100 {
		t.Errorf("kept %d requests (target saw %d), want the live agent's 100", res.Summary.Requests, w.tgt.Stats().ByPath["/lost"])
	}
	var ghost *smp.SourceSummary
	for i := range res.Sources {
		if strings.HasPrefix(res.Sources[i].Source, "ghost/") {
			ghost = &res.Sources[i]
		}
	}
	if ghost == nil || !ghost.Dropped || ghost.DropNotes == "" {
		t.Errorf("the ghost's source: %+v", ghost)
	}
}

// Issue 12 item 5: intervals from an agent the run was not assigned, or published by
// one agent in another's name, never reach the result; they are counted and warned.
// (Publishing on another agent's subject is refused by the broker: server/broker.)
func TestCoordinatorRefusesForgedIntervals(t *testing.T) {
	w := setup(t)
	names := []string{"a1", "a2"}
	for _, n := range names {
		w.agent(t, n)
	}
	cfg := shardConfig(w.tgt.URL()+"/forged", 100, 2*time.Second)
	forge := func(as, onSubjectOf string) {
		cred, _ := w.creds.Issue(onSubjectOf, false)
		nc, err := nats.Connect(w.b.URL, nats.UserInfo(onSubjectOf, cred), nats.CustomInboxPrefix(bus.AgentInbox(onSubjectOf)))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		subj, _ := bus.IntervalSubject("forged", onSubjectOf)
		for i := range 3 {
			env := &bus.Envelope{Kind: bus.KindInterval, Sender: as, Boot: "evil", Seq: 1<<63 - 1 - uint64(i), Sent: time.Now(),
				Interval: &bus.IntervalMsg{Run: "forged", Agent: as, Interval: smp.Interval{Source: as + "/client-0", Index: i,
					Requests: 1_000_000, Successes: 1_000_000, Latency: smp.NewHistogram()}}}
			data, _ := bus.Encode(env)
			if _, err := js.Publish(context.Background(), subj, data); err != nil {
				t.Fatalf("publishing the forgery: %v", err)
			}
		}
	}
	forge("a2", "mallory")      // an agent not in the run, speaking as a2
	forge("mallory", "mallory") // an agent not in the run, as itself
	forge("a2", "a1")           // an agent of the run speaking as the other one
	res, err := distributed.Coordinate(context.Background(), distributed.CoordinatorOptions{NC: w.b.NC, Stream: w.b.Stream, RunID: "forged",
		Config: cfg, Agents: names, Lead: 500 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != smp.StatusCompleted || res.Summary.Requests != 200 || w.tgt.Stats().ByPath["/forged"] != 200 {
		t.Fatalf("status %s, %d requests (target saw %d): %s", res.Status, res.Summary.Requests, w.tgt.Stats().ByPath["/forged"], res.StatusReason)
	}
	if !strings.Contains(strings.Join(res.Warnings, " "), "9 messages on the run's stream were refused") {
		t.Errorf("warnings %q", res.Warnings)
	}
}
