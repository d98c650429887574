// Command distbench measures how distributed load scales on this machine: one server,
// one sample target, and 1, 2 and 4 agent processes running one closed-model run as
// fast as their connections allow. It reports the aggregate rate of each as a ratio
// of the single agent's. On a 2-core machine the target (and the machine) is the
// limit: the point is to see where it saturates, not a linear speed-up.
//
//	go run ./hack/distbench -meshperf bin/meshperf -duration 10s
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/meshperf/meshperf/hack/internal/harness"
)

const token = "mpt_distbench-admin-token-000"

func main() {
	bin := flag.String("meshperf", "bin/meshperf", "meshperf binary")
	dur := flag.Duration("duration", 10*time.Second, "each run's duration")
	conns := flag.Int("connections", 16, "connections in all (split among the agents)")
	flag.Parse()
	dir, err := os.MkdirTemp("", "distbench")
	harness.Check(err)
	defer os.RemoveAll(dir)

	tport, sport, nport := harness.FreePort(), harness.FreePort(), harness.FreePort()
	defer harness.Cleanup()
	start := func(env []string, args ...string) *exec.Cmd {
		c := exec.Command(*bin, args...)
		c.Env = append(os.Environ(), env...)
		harness.Check(c.Start())
		harness.OnExit(func() { harness.Stop(c) })
		return c
	}
	tgt := start(nil, "target", "--http-addr", "127.0.0.1:"+tport, "--grpc-addr", "", "--tcp-addr", "")
	srv := start([]string{"MESHPERF_ADMIN_TOKEN=" + token}, "server", "--addr", "127.0.0.1:"+sport, "--data-dir", dir, "--nats-addr", "127.0.0.1:"+nport)
	harness.WaitReady("http://127.0.0.1:"+tport+"/healthz", tgt)
	harness.WaitReady("http://127.0.0.1:"+sport+"/readyz", srv)
	for i := 1; i <= 4; i++ {
		// Each agent its own credential, issued by the server (an admin's CLI call).
		name := fmt.Sprintf("a%d", i)
		cred, err := exec.Command(*bin, "agent", "credential", "create", name, "--server", "http://127.0.0.1:"+sport, "--token", token).Output()
		harness.Check(err)
		credFile := filepath.Join(dir, name+".credential")
		harness.Check(os.WriteFile(credFile, cred, 0o600))
		start(nil, "agent", "--nats", "nats://127.0.0.1:"+nport, "--token-file", credFile, "--name", name)
	}
	time.Sleep(2500 * time.Millisecond)

	fmt.Printf("\nDistributed scaling: closed model, %d connections in all, %v per run, one target, this machine (%d cores)\n\n", *conns, *dur, nproc())
	fmt.Printf("%-8s %12s %10s %10s %10s\n", "agents", "req/s", "ratio", "p50", "p99")
	var base float64
	for _, n := range []int{1, 2, 4} {
		cfg := map[string]any{"duration": dur.String(), "warmup": "1s", "agents": map[string]any{"count": n},
			"clients": []map[string]any{{"endpoint_urls": []string{"http://127.0.0.1:" + tport + "/bench"}, "connections": *conns}}}
		var res result
		harness.API{URL: "http://127.0.0.1:" + sport, Token: token}.Run(cfg, &res)
		if base == 0 {
			base = res.Summary.ActualRPS
		}
		fmt.Printf("%-8d %12.0f %9.2fx %9.3fms %9.3fms\n", n, res.Summary.ActualRPS, res.Summary.ActualRPS/base,
			res.Summary.Latency.P50Ms, res.Summary.Latency.P99Ms)
	}
}

type result struct {
	Summary struct {
		ActualRPS float64 `json:"actual_rps"`
		Latency   struct {
			P50Ms float64 `json:"p50_ms"`
			P99Ms float64 `json:"p99_ms"`
		} `json:"latency"`
	} `json:"summary"`
}

func nproc() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "processor\t:")
}
