// Command ratebench measures the open model at fixed rates: meshperf's fortio and
// vegeta engines against fortio's own periodic runner (hack/fortioref), one target,
// same rate and connections, as ratios of p99 latency, CPU per request and RSS.
//
// The target (`meshperf target`) is pinned to CPU 1 and every generator to CPU 0. Each
// case runs three ways: `meshperf run` free to use its Go default, the same with
// GOMAXPROCS=1 (a pod with a one-CPU limit), and on an agent with GOMAXPROCS=1 that a
// server (on CPU 1, beside the target) gives the run to. meshperf's engines run from
// the generator build, as agents' image has it. Tools run interleaved, in one process,
// so a machine shared with other work loads all of them alike: read the ratios, not the
// absolute figures. An agent's CPU and RSS cover its whole life (start, registration,
// the run), so its ratios lean against it.
//
//	go run ./hack/ratebench -meshperf bin/meshperf -generator bin/meshperf-generator -duration 3s -rounds 3
//
// -compare OLD adds another meshperf binary's engines to every case ("compare ..."),
// for before/after tables measured side by side.
//
// Goals (issue 11): meshperf's p99 within 1.5x of fortio's runner or the run flagged
// saturated naming the cause; RSS within 2x.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/meshperf/meshperf/hack/internal/harness"
)

type sample struct {
	requests   int64
	p99Ms      float64
	cpuSeconds float64
	rssMB      float64
	anonMB     float64 // peak RssAnon: the process's own memory, without its binary's pages
	saturated  string  // meshperf's verdict when it flagged the run, else ""
}

type tool struct {
	name    string
	measure func(url string, rate int) sample
}

// mode is a way of running the generators: each has its own tools, measured alike.
type mode struct {
	name  string
	tools []tool
}

func main() {
	meshperf := flag.String("meshperf", "bin/meshperf", "meshperf's full build: the target, and the server of the agent mode")
	generator := flag.String("generator", "bin/meshperf-generator", "meshperf's generator build (make build-generator): the engines measured, as agents run them")
	agents := flag.Bool("agents", true, "also run each case on an agent with GOMAXPROCS=1, through a server")
	compare := flag.String("compare", "", "another meshperf binary (say, before a change) to run side by side")
	duration := flag.Duration("duration", 3*time.Second, "each run's duration")
	rounds := flag.Int("rounds", 1, "rounds (medians are reported)")
	conns := flag.Int("connections", 64, "connections")
	ratesFlag := flag.String("rates", "5000,10000,20000", "rates to test (req/s)")
	p99Goal := flag.Float64("p99-goal", 1.5, "max p99 ratio to fortio's runner unless meshperf flags saturation")
	rssGoal := flag.Float64("rss-goal", 2, "max RSS ratio to fortio's runner")
	flag.Parse()
	var rates []int
	for _, r := range strings.Split(*ratesFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(r))
		if err != nil || n <= 0 {
			harness.Check(fmt.Errorf("-rates: %q is not a positive rate", r))
		}
		rates = append(rates, n)
	}

	tmp, err := os.MkdirTemp("", "ratebench")
	harness.Check(err)
	defer os.RemoveAll(tmp)
	refBin := filepath.Join(tmp, "fortioref")
	build := exec.Command("go", "build", "-o", refBin, "./hack/fortioref")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	harness.Check(build.Run())

	url := startTarget(*meshperf)
	dur := *duration
	ref := func(gomaxprocs string) tool {
		return tool{name: "fortio runner", measure: func(url string, rate int) sample {
			return measure([]string{refBin, "-c", strconv.Itoa(*conns), "-qps", strconv.Itoa(rate), "-t", dur.String(), url},
				gomaxprocs, parseFortioref)
		}}
	}
	local := func(gomaxprocs string) []tool {
		tools := []tool{ref(gomaxprocs), localTool("meshperf fortio", *generator, "fortio", *conns, dur, gomaxprocs),
			localTool("meshperf vegeta", *generator, "vegeta", *conns, dur, gomaxprocs)}
		if *compare != "" {
			tools = append(tools, localTool("compare fortio", *compare, "fortio", *conns, dur, gomaxprocs),
				localTool("compare vegeta", *compare, "vegeta", *conns, dur, gomaxprocs))
		}
		return tools
	}
	modes := []mode{{"pinned", local("")}, {"GOMAXPROCS=1", local("1")}}
	if *agents {
		ab := startAgentBench(*meshperf, *generator)
		agentTool := func(engine string) tool {
			return tool{name: "agent " + engine, measure: func(url string, rate int) sample {
				return ab.measure(engine, url, rate, *conns, dur)
			}}
		}
		modes = append(modes, mode{"agent GMP=1", []tool{ref("1"), agentTool("fortio"), agentTool("vegeta")}})
	}

	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("Open model at fixed rates: %d connections, %v runs, generator on CPU 0, target on CPU 1, median of %d\n",
		*conns, *duration, *rounds)
	fmt.Printf("machine load average at start: %s", load)
	fmt.Printf("\n%-13s %7s %-16s %9s %9s %7s %9s %7s %7s %7s %7s %7s  %s\n", "mode", "rate", "generator",
		"req/s", "p99 ms", "ratio", "CPU µs/r", "ratio", "RSS MB", "ratio", "anon MB", "ratio", "verdict")
	missed := 0
	var notes []string
	for _, m := range modes {
		for _, rate := range rates {
			results := make([][]sample, len(m.tools))
			for range *rounds {
				for i, t := range m.tools {
					results[i] = append(results[i], t.measure(url, rate))
				}
			}
			var base sample
			for i, t := range m.tools {
				s := medianSample(results[i])
				if i == 0 {
					base = s
				}
				cpuPerReq := s.cpuSeconds / float64(max(s.requests, 1)) * 1e6
				baseCPU := base.cpuSeconds / float64(max(base.requests, 1)) * 1e6
				verdict := ""
				if i > 0 {
					p99ok := s.p99Ms <= *p99Goal*base.p99Ms || s.saturated != ""
					rssok := s.rssMB <= *rssGoal*base.rssMB
					if !rssok {
						notes = append(notes, fmt.Sprintf("%s %s at %d/s: RSS %.1fx (anonymous memory %.1fx)", m.name, t.name,
							rate, s.rssMB/base.rssMB, s.anonMB/base.anonMB))
					}
					verdict = "MET"
					if !p99ok || !rssok {
						verdict = "MISSED"
						missed++
					}
					if s.saturated != "" {
						verdict += " (flagged saturated: " + s.saturated + ")"
					}
				}
				fmt.Printf("%-13s %7d %-16s %9.0f %9.2f %6.2fx %9.1f %6.2fx %7.1f %6.2fx %7.1f %6.2fx  %s\n", m.name, rate, t.name,
					float64(s.requests)/duration.Seconds(), s.p99Ms, s.p99Ms/base.p99Ms, cpuPerReq, cpuPerReq/baseCPU,
					s.rssMB, s.rssMB/base.rssMB, s.anonMB, s.anonMB/base.anonMB, verdict)
			}
		}
	}
	fmt.Printf("\ngoals: p99 <= %.1fx fortio's runner or flagged saturated, RSS <= %.1fx: %d missed\n", *p99Goal, *rssGoal, missed)
	for _, n := range notes {
		fmt.Println("  RSS missed:", n)
	}
	harness.Cleanup()
	if missed > 0 {
		os.Exit(1)
	}
}

// startTarget starts meshperf's target on CPU 1 and proves the server answering is the
// process it started (not something already on the port): it must still be running
// once the URL answers, and its request count must follow requests sent to it.
func startTarget(meshperf string) string {
	port := harness.FreePort()
	tgt := exec.Command("taskset", "-c", "1", meshperf, "target", "--http-addr", "127.0.0.1:"+port,
		"--grpc-addr", "", "--tcp-addr", "")
	tgt.Stderr = os.Stderr
	harness.Check(tgt.Start())
	harness.OnExit(func() { _ = tgt.Process.Kill() })
	url := "http://127.0.0.1:" + port + "/"
	harness.WaitReady(url+"healthz", tgt) // fails unless the process answering is ours
	return url
}

// localTool is `meshperf run` of one engine on CPU 0.
func localTool(name, bin, engine string, conns int, dur time.Duration, gomaxprocs string) tool {
	return tool{name: name, measure: func(url string, rate int) sample {
		return measure([]string{bin, "run", "--url", url, "-c", strconv.Itoa(conns), "--duration", dur.String(), "--rate",
			strconv.Itoa(rate), "--model", "open", "--engine", engine, "-o", "json", "-q"}, gomaxprocs, parseMeshperf)
	}}
}

// parseMeshperf reads the figures of a meshperf result (JSON).
func parseMeshperf(out []byte) (sample, error) {
	var r struct {
		Summary struct {
			Requests int64
			Latency  struct {
				P99Ms float64 `json:"p99_ms"`
			}
		} `json:"summary"`
		Generator struct {
			Saturated bool
			Reason    string
		} `json:"generator"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return sample{}, err
	}
	s := sample{requests: r.Summary.Requests, p99Ms: r.Summary.Latency.P99Ms}
	if r.Generator.Saturated {
		reason := r.Generator.Reason
		if strings.HasPrefix(reason, "agent ") { // a distributed run names its agent first
			_, reason, _ = strings.Cut(reason, ": ")
		}
		s.saturated = firstClause(reason)
	}
	return s, nil
}

func parseFortioref(out []byte) (sample, error) {
	var r struct {
		Requests int64
		P99Ms    float64 `json:"p99_ms"`
	}
	err := json.Unmarshal(out, &r)
	return sample{requests: r.Requests, p99Ms: r.P99Ms}, err
}

func firstClause(s string) string {
	if i := strings.IndexAny(s, ";,"); i > 0 {
		return s[:i]
	}
	return s
}

// measure runs a generator on CPU 0 to its end: its figures, CPU time and peak memory.
func measure(args []string, gomaxprocs string, parse func([]byte) (sample, error)) sample {
	cmd := exec.Command("taskset", append([]string{"-c", "0"}, args...)...)
	cmd.Env = os.Environ()
	if gomaxprocs != "" {
		cmd.Env = append(cmd.Env, "GOMAXPROCS="+gomaxprocs)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	harness.Check(cmd.Start())
	anon := make(chan float64, 1)
	stop := make(chan struct{})
	go func() { anon <- peakAnonMB(cmd.Process.Pid, stop) }()
	err := cmd.Wait()
	close(stop)
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 3 {
		err = nil // meshperf: a threshold failed; the figures stand
	}
	harness.Check(err)
	s, err := parse(out.Bytes())
	harness.Check(err)
	ps := cmd.ProcessState
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		s.rssMB = float64(ru.Maxrss) / 1024
	}
	s.cpuSeconds = (ps.UserTime() + ps.SystemTime()).Seconds()
	s.anonMB = <-anon
	return s
}

// peakAnonMB samples the process's RssAnon (taskset execs the tool, so the pid is the
// tool's) until stop: total RSS also counts the pages of the binary itself, which for
// meshperf (one binary with server, Kubernetes clients and both engines) is ~40 MB
// before it sends anything.
func peakAnonMB(pid int, stop <-chan struct{}) float64 {
	var peak float64
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if f := strings.Fields(line); len(f) >= 2 && f[0] == "RssAnon:" {
					if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
						peak = max(peak, kb/1024)
					}
				}
			}
		}
		select {
		case <-stop:
			return peak
		case <-t.C:
		}
	}
}

func medianSample(s []sample) sample {
	sort.Slice(s, func(i, j int) bool { return s[i].p99Ms < s[j].p99Ms })
	return s[len(s)/2]
}
