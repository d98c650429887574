package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/meshperf/meshperf/hack/internal/harness"
)

// agentBench runs the open model through a server and one agent per case: the agent
// (the generator build, as agents' image runs it) pinned to CPU 0 with GOMAXPROCS=1,
// the way a pod with a one-CPU limit runs it; the server beside the target on CPU 1.
type agentBench struct {
	full, generator string // binaries: the server's, the agent's
	server, nats    string
	dir             string
	cases           int
}

const agentAdminToken = "mpt_ratebench-admin-token-0000"

func startAgentBench(full, generator string) *agentBench {
	dir, err := os.MkdirTemp("", "ratebench-agents")
	harness.Check(err)
	harness.OnExit(func() { os.RemoveAll(dir) })
	sport, nport := harness.FreePort(), harness.FreePort()
	srv := exec.Command("taskset", "-c", "1", full, "server", "--addr", "127.0.0.1:"+sport, "--data-dir", dir,
		"--nats-addr", "127.0.0.1:"+nport)
	srv.Env = append(os.Environ(), "MESHPERF_ADMIN_TOKEN="+agentAdminToken)
	harness.Check(srv.Start())
	harness.OnExit(func() { harness.Stop(srv) })
	b := &agentBench{full: full, generator: generator, server: "http://127.0.0.1:" + sport, nats: "nats://127.0.0.1:" + nport, dir: dir}
	harness.WaitReady(b.server+"/readyz", srv)
	return b
}

// measure runs one case on a new agent (its own process, so its CPU and peak RSS are
// the case's) and returns the run's figures from the server's result.
func (b *agentBench) measure(engine, url string, rate, conns int, dur time.Duration) sample {
	b.cases++
	name := fmt.Sprintf("ratebench-%d", b.cases)
	cred, err := exec.Command(b.full, "agent", "credential", "create", name, "--server", b.server, "--token", agentAdminToken).Output()
	harness.Check(err)
	credFile := filepath.Join(b.dir, name+".credential")
	harness.Check(os.WriteFile(credFile, cred, 0o600))
	agent := exec.Command("taskset", "-c", "0", b.generator, "agent", "--nats", b.nats, "--token-file", credFile,
		"--name", name, "--labels", "case="+name)
	agent.Env = append(os.Environ(), "GOMAXPROCS=1")
	agent.Stderr = io.Discard
	harness.Check(agent.Start())
	anon := make(chan float64, 1)
	stop := make(chan struct{})
	go func() { anon <- peakAnonMB(agent.Process.Pid, stop) }()
	b.waitAgent(name)

	cfg := map[string]any{"duration": dur.String(), "agents": map[string]any{"count": 1, "selector": map[string]string{"case": name}},
		"clients": []map[string]any{{"endpoint_urls": []string{url}, "connections": conns, "rps": rate, "model": "open", "load_generator": engine}}}
	var res json.RawMessage
	b.api().Run(cfg, &res)
	_ = agent.Process.Signal(syscall.SIGTERM)
	_ = agent.Wait()
	close(stop)

	s, err := parseMeshperf(res)
	harness.Check(err)
	ps := agent.ProcessState
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		s.rssMB = float64(ru.Maxrss) / 1024
	}
	s.cpuSeconds = (ps.UserTime() + ps.SystemTime()).Seconds()
	s.anonMB = <-anon
	return s
}

func (b *agentBench) waitAgent(name string) {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var list struct {
			Items []struct {
				Name  string `json:"name"`
				Alive bool   `json:"alive"`
			} `json:"items"`
		}
		b.api().Call("GET", "/api/v1/agents", nil, &list)
		for _, a := range list.Items {
			if a.Name == name && a.Alive {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	harness.Check(fmt.Errorf("agent %s did not register with %s in 20 s", name, b.server))
}

func (b *agentBench) api() harness.API { return harness.API{URL: b.server, Token: agentAdminToken} }
