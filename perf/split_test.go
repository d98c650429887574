package perf_test

import (
	"strings"
	"testing"
	"time"

	"github.com/meshperf/meshperf/perf"
	"github.com/meshperf/meshperf/smp"
)

func TestSplitAddsUpExactly(t *testing.T) {
	cfg := &smp.TestConfig{Duration: smp.Duration(10 * time.Second), Clients: []smp.Client{
		{RPS: 1000, Connections: 16, EndpointURLs: []string{"http://a/", "http://b/"}},
		{Name: "grpc", Protocol: smp.ProtocolGRPC, RPS: 7, Connections: 2, EndpointURLs: []string{"127.0.0.1:1"},
			Stages: []smp.Stage{{Duration: smp.Duration(5 * time.Second), RPS: 11}}},
		{Name: "max", Connections: 5, EndpointURLs: []string{"http://c/"}}, // closed, as fast as possible
	}}
	cfg.ApplyDefaults()
	cfg.Agents = &smp.AgentPlacement{Count: 3}
	cfg.Thresholds = []smp.Threshold{{Expr: "rps >= 950", AbortOnFail: true}}
	shards, err := perf.Split(cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	rps := map[string]int64{}
	stage := map[string]int64{}
	conns := map[string]int32{}
	for _, sh := range shards {
		if len(sh.Thresholds) != 0 {
			t.Errorf("a share carries thresholds %v: only the merged run may be judged", sh.Thresholds)
		}
		if err := perf.Validate(sh); err != nil || sh.Agents != nil {
			t.Errorf("a shard does not validate or is still placed on agents: %v", err)
		}
		for _, c := range sh.Clients {
			rps[c.Name] += c.RPS
			conns[c.Name] += c.Connections
			for _, s := range c.Stages {
				stage[c.Name] += s.RPS
			}
			if c.Name == "client-0" && len(c.EndpointURLs) != 2 {
				t.Errorf("endpoints lost: %v", c.EndpointURLs)
			}
		}
	}
	if rps["client-0"] != 1000 || rps["grpc"] != 7 || stage["grpc"] != 11 || rps["max"] != 0 {
		t.Errorf("rates %v stages %v", rps, stage)
	}
	if conns["client-0"] != 16 || conns["max"] != 5 || conns["grpc"] < 2 {
		t.Errorf("connections %v", conns)
	}
	if cfg.Clients[0].RPS != 1000 || cfg.Clients[0].Name != "" {
		t.Errorf("Split changed its input")
	}
	if len(shards[0].Clients) != 3 || len(shards[2].Clients) != 3 {
		t.Errorf("every share has the three clients: %d, %d", len(shards[0].Clients), len(shards[2].Clients))
	}
}

func TestSplitRefusesIdleShares(t *testing.T) {
	cfg := &smp.TestConfig{Duration: smp.Duration(time.Second), Clients: []smp.Client{{RPS: 2, EndpointURLs: []string{"http://a/"}}}}
	cfg.ApplyDefaults()
	if _, err := perf.Split(cfg, 3); err == nil || !strings.Contains(err.Error(), "too low") {
		t.Errorf("want too low, got %v", err)
	}
	one, err := perf.Split(cfg, 1)
	if err != nil || len(one) != 1 || one[0].Clients[0].RPS != 2 {
		t.Errorf("n=1: %v %+v", err, one)
	}
	if _, err := perf.Split(cfg, 0); err == nil {
		t.Errorf("n=0 accepted")
	}
}
