package distributed_test

import (
	"context"
	"strings"
	"testing"
	"time"

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
