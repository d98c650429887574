package main_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/meshperf/meshperf/smp"
)

// runOnAgents submits a config through the API and returns its finished result.
func runOnAgents(t *testing.T, serverURL string, cfg map[string]any, limit time.Duration) (*smp.Result, time.Duration) {
	t.Helper()
	var run struct{ ID string }
	start := time.Now()
	if code := api(t, "POST", serverURL+"/api/v1/runs", adminToken, map[string]any{"config": cfg}, &run); code != 202 {
		t.Fatalf("submitting the run: %d", code)
	}
	st := waitRun(t, serverURL, run.ID, limit)
	took := time.Since(start)
	if st.ResultID == "" {
		t.Fatalf("run %s ended %+v without a result", run.ID, st)
	}
	return fetchResult(t, serverURL, st.ResultID), took
}

func perAgent(res *smp.Result) map[string]int64 {
	out := map[string]int64{}
	for _, s := range res.Sources {
		ag, _, _ := strings.Cut(s.Source, "/")
		out[ag] += s.Summary.Requests
	}
	return out
}

// Abort thresholds are judged on the merged run, never on one agent's share: at
// 400 req/s on two agents, "rps >= 300" holds (each share alone, 200/s, would fail it)
// and the run completes; "rps >= 800" fails on the merged figures and stops both
// agents after its abort_after, the run partial and naming the threshold.
func TestDistributedAbortJudgesTheMergedRun(t *testing.T) {
	tgt := startTarget(t)
	dir := t.TempDir()
	srv := startServer(t, freeAddr(t), dir, "", "MESHPERF_ADMIN_TOKEN="+adminToken)
	startAgents(t, brokerURL(t, srv), srv.url, []string{"--labels", "pool=abort"}, "ab-1", "ab-2")
	cfg := func(d string, th map[string]any) map[string]any {
		return map[string]any{"duration": d, "agents": map[string]any{"count": 2, "selector": map[string]string{"pool": "abort"}},
			"clients":    []map[string]any{{"endpoint_urls": []string{tgt + "/abort"}, "rps": 400}},
			"thresholds": []map[string]any{th}}
	}

	res, _ := runOnAgents(t, srv.url, cfg("3s", map[string]any{"expr": "rps >= 300", "abort_on_fail": true, "abort_after": "1s"}), 30*time.Second)
	if res.Status != smp.StatusCompleted || len(res.Thresholds) != 1 || !res.Thresholds[0].OK || res.Thresholds[0].Aborted {
		t.Errorf("a threshold only a share would fail: status %s (%s), verdicts %+v", res.Status, res.StatusReason, res.Thresholds)
	}
	if res.Summary.Requests < 1100 || res.Summary.DurationSeconds != 3 {
		t.Errorf("the unaborted run measured %d requests over %.1fs, want 1200 over 3s", res.Summary.Requests, res.Summary.DurationSeconds)
	}

	// At 1 req/s per agent the agents finish their last request well before the
	// window ends: the window is still the asked one, and so is the rate.
	slow := cfg("3s", map[string]any{"expr": "requests >= 1"})
	slow["clients"] = []map[string]any{{"endpoint_urls": []string{tgt + "/slow"}, "rps": 2}}
	res, _ = runOnAgents(t, srv.url, slow, 30*time.Second)
	if s := res.Summary; s.DurationSeconds != 3 || s.Requests != 6 || s.ActualRPS != 2 || res.Status != smp.StatusCompleted {
		t.Errorf("2 req/s on two agents: %s, measured %.3fs, %d requests, %.3f/s; want 3s, 6, 2/s", res.Status, s.DurationSeconds, s.Requests, s.ActualRPS)
	}

	res, took := runOnAgents(t, srv.url, cfg("20s", map[string]any{"expr": "rps >= 800", "abort_on_fail": true, "abort_after": "2s"}), 40*time.Second)
	if res.Status != smp.StatusPartial || !strings.Contains(res.StatusReason, `threshold "rps >= 800" failed at 2s`) {
		t.Errorf("merged breach: status %s (%s)", res.Status, res.StatusReason)
	}
	if len(res.Thresholds) != 1 || res.Thresholds[0].OK || !res.Thresholds[0].Aborted {
		t.Errorf("merged breach verdicts %+v", res.Thresholds)
	}
	got := perAgent(res)
	for _, ag := range []string{"ab-1", "ab-2"} {
		// 200/s each: the 20 s share is 4000; stopped at ~2-3 s it is well under 2000.
		if got[ag] < 200 || got[ag] > 2000 {
			t.Errorf("agent %s sent %d requests: not stopped with the run (sources %v)", ag, got[ag], got)
		}
	}
	if took > 15*time.Second {
		t.Errorf("the aborted run took %v", took)
	}
	t.Logf("aborted after %v: %s; per agent %v", took.Round(100*time.Millisecond), res.StatusReason, got)
}

// A starved agent (one usable core, and a goroutine spinning on it) flags the run as
// saturated, naming the agent; a run on healthy agents is not flagged. A distributed
// result's environment lists the agents, not the server's machine.
func TestDistributedRunFlagsAStarvedAgent(t *testing.T) {
	tgt := startTarget(t)
	dir := t.TempDir()
	srv := startServer(t, freeAddr(t), dir, "", "MESHPERF_ADMIN_TOKEN="+adminToken)
	nats := brokerURL(t, srv)
	startAgents(t, nats, srv.url, []string{"--labels", "healthy=yes,mixed=yes"}, "fit-a")
	startAgents(t, nats, srv.url, []string{"--labels", "healthy=yes"}, "fit-b")
	cfg := func(sel string) map[string]any {
		return map[string]any{"duration": "3s", "agents": map[string]any{"count": 2, "selector": map[string]string{sel: "yes"}},
			"clients": []map[string]any{{"endpoint_urls": []string{tgt + "/health"}, "rps": 100}}}
	}

	res, _ := runOnAgents(t, srv.url, cfg("healthy"), 30*time.Second)
	g := res.Generator
	healthy := g.Generators
	if !g.Measured || len(g.Generators) != 2 {
		t.Errorf("healthy agents: measured %v, %d generators", g.Measured, len(g.Generators))
	}
	// On a crowded 2-core machine healthy agents run a few ms late too, and saying so
	// is right: whether they cross the 5 ms line is a measurement of the machine. What
	// must hold is below: a starved agent is far worse than a healthy one.
	t.Logf("healthy run: saturated %v (%s)", g.Saturated, g.Reason)
	for _, ag := range g.Generators {
		if !ag.Measured || ag.UsableCores < 1 || ag.CPUSeconds <= 0 {
			t.Errorf("agent %s health %+v", ag.Name, ag)
		}
		// Busy machine or not, 50 req/s never keeps a healthy agent's cores busy.
		if strings.Contains(ag.Reason, "usable cores") {
			t.Errorf("healthy agent %s flagged for its CPU: %s", ag.Name, ag.Reason)
		}
	}
	env := res.Environment
	if env.Hostname != "" || len(env.Generators) != 2 {
		t.Errorf("environment: host %q, generators %+v", env.Hostname, env.Generators)
	}
	for _, ge := range env.Generators {
		if ge.Hostname == "" || ge.CPUs < 1 || ge.Kernel == "" || ge.MeshperfVersion == "" || len(ge.Engines) == 0 {
			t.Errorf("generator environment %+v", ge)
		}
	}

	starved := exec.Command(bin, "agent", "--nats", nats, "--name", "starved-c", "--labels", "mixed=yes",
		"--token-file", credentialFile(t, srv.url, "starved-c"), "--burn-cpu")
	starved.Env = append(os.Environ(), "GOMAXPROCS=1")
	if err := starved.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { starved.Process.Kill(); starved.Wait() })
	waitAgents(t, srv.url, "fit-a", "fit-b", "starved-c")

	res, _ = runOnAgents(t, srv.url, cfg("mixed"), 30*time.Second)
	g = res.Generator
	if !g.Saturated || !strings.Contains(g.Reason, "agent starved-c") {
		t.Errorf("starved agent: saturated %v (%s)", g.Saturated, g.Reason)
	}
	var flagged []string
	for _, ag := range g.Generators {
		if ag.Saturated {
			flagged = append(flagged, fmt.Sprintf("%s (%d usable cores)", ag.Name, ag.UsableCores))
		}
	}
	if !contains(flagged, "starved-c (1 usable cores)") {
		t.Errorf("flagged generators %v", flagged)
	}
	// The starved agent's own delays are at least twice a healthy agent's, in this run
	// and in the healthy one, however busy the machine.
	worst := func(r smp.GeneratorReport) float64 { return max(r.BehindP99Ms, r.SchedLatencyP99Ms) }
	var starvedWorst float64
	for _, ag := range g.Generators {
		if ag.Name == "starved-c" {
			starvedWorst = worst(ag)
		}
	}
	for _, ag := range append(healthy, g.Generators...) {
		if ag.Name != "starved-c" && 2*worst(ag) >= starvedWorst {
			t.Errorf("healthy agent %s late %.1f ms (p99), the starved one only %.1f ms", ag.Name, worst(ag), starvedWorst)
		}
	}
	if !strings.Contains(strings.Join(res.Warnings, " "), "agent starved-c") {
		t.Errorf("warnings %q", res.Warnings)
	}
	t.Logf("mixed run flagged %v: %s", flagged, g.Reason)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
