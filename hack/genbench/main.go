// Command genbench measures load generator efficiency: requests per generator
// CPU-second for meshperf's fortio and vegeta engines and for the fortio command
// (fortio's own runner, built from the same fortio version: hack/fortioref), against
// one sample target, same connections and duration, as ratios.
//
// The target is pinned to CPU 1 and each generator to CPU 0 (taskset), so they do not
// compete; tools run interleaved (A B C A B C ...) so drift hits all of them, and each
// figure is the median of the rounds. A loopback target saturates before a good
// generator does, so the comparison is CPU per request, not the rate.
//
//	go run ./hack/genbench -meshperf bin/meshperf -duration 10s -rounds 3
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
	"syscall"
	"time"

	"github.com/meshperf/meshperf/hack/internal/harness"
)

type tool struct {
	name string
	args func(url string) []string
	// requests parses the tool's output.
	requests func(out []byte) (int64, error)
}

type sample struct {
	requests   int64
	cpuSeconds float64
	rssMB      float64
}

func main() {
	meshperf := flag.String("meshperf", "bin/meshperf", "meshperf binary")
	duration := flag.Duration("duration", 10*time.Second, "each run's duration")
	rounds := flag.Int("rounds", 3, "rounds (medians are reported)")
	conns := flag.Int("connections", 16, "connections")
	goal := flag.Float64("goal", 0.95, "required ratio of meshperf's fortio engine to the fortio command")
	flag.Parse()

	tmp, err := os.MkdirTemp("", "genbench")
	harness.Check(err)
	defer os.RemoveAll(tmp)
	ref := filepath.Join(tmp, "fortioref")
	run("go", "build", "-o", ref, "./hack/fortioref")

	port := harness.FreePort()
	tgt := exec.Command("taskset", "-c", "1", *meshperf, "target", "--http-addr", "127.0.0.1:"+port, "--grpc-addr", "", "--tcp-addr", "")
	harness.Check(tgt.Start())
	harness.OnExit(func() { harness.Stop(tgt) })
	defer harness.Cleanup()
	url := "http://127.0.0.1:" + port + "/"
	harness.WaitReady(url+"healthz", tgt)

	meshperfTool := func(engine string) tool {
		return tool{
			name: "meshperf " + engine + " engine",
			args: func(url string) []string {
				return []string{*meshperf, "run", "--url", url, "-c", strconv.Itoa(*conns), "--duration", duration.String(),
					"--engine", engine, "-o", "json", "-q"}
			},
			requests: func(out []byte) (int64, error) {
				var r struct {
					Summary struct{ Requests int64 } `json:"summary"`
				}
				err := json.Unmarshal(out, &r)
				return r.Summary.Requests, err
			},
		}
	}
	tools := []tool{
		{
			name: "fortio command (fhttp.RunHTTPTest)",
			args: func(url string) []string {
				return []string{ref, "-c", strconv.Itoa(*conns), "-qps", "-1", "-t", duration.String(), url}
			},
			requests: func(out []byte) (int64, error) {
				var r struct{ Requests int64 }
				err := json.Unmarshal(out, &r)
				return r.Requests, err
			},
		},
		meshperfTool("fortio"),
		meshperfTool("vegeta"),
	}
	results := make([][]sample, len(tools))
	for round := 1; round <= *rounds; round++ {
		for i, t := range tools {
			s := measure(t, url)
			results[i] = append(results[i], s)
			fmt.Fprintf(os.Stderr, "round %d  %-36s %9d requests  %6.2f CPU-s  %8.0f req/CPU-s\n",
				round, t.name, s.requests, s.cpuSeconds, float64(s.requests)/s.cpuSeconds)
		}
	}

	fmt.Printf("\nGenerator efficiency: %d connections, %v runs, max rate, generator on CPU 0, target on CPU 1, median of %d\n\n",
		*conns, *duration, *rounds)
	fmt.Printf("%-36s %12s %14s %10s %8s\n", "generator", "req/s", "req/CPU-s", "ratio", "RSS MB")
	var base, fortioEngine float64
	for i, t := range tools {
		eff := median(results[i], func(s sample) float64 { return float64(s.requests) / s.cpuSeconds })
		rate := median(results[i], func(s sample) float64 { return float64(s.requests) / duration.Seconds() })
		rss := median(results[i], func(s sample) float64 { return s.rssMB })
		if i == 0 {
			base = eff
		}
		if i == 1 {
			fortioEngine = eff
		}
		fmt.Printf("%-36s %12.0f %14.0f %9.2fx %8.1f\n", t.name, rate, eff, eff/base, rss)
	}
	ratio := fortioEngine / base
	verdict := "MET"
	if ratio < *goal {
		verdict = "MISSED"
	}
	fmt.Printf("\ngoal: meshperf fortio engine >= %.2fx the fortio command: %.3fx, %s\n", *goal, ratio, verdict)
	if verdict == "MISSED" {
		os.Exit(1)
	}
}

func measure(t tool, url string) sample {
	args := append([]string{"-c", "0"}, t.args(url)...)
	cmd := exec.Command("taskset", args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	harness.Check(cmd.Run())
	n, err := t.requests(out.Bytes())
	harness.Check(err)
	ps := cmd.ProcessState
	ru, _ := ps.SysUsage().(*syscall.Rusage)
	var rss float64
	if ru != nil {
		rss = float64(ru.Maxrss) / 1024
	}
	return sample{requests: n, cpuSeconds: (ps.UserTime() + ps.SystemTime()).Seconds(), rssMB: rss}
}

func median(s []sample, f func(sample) float64) float64 {
	v := make([]float64, len(s))
	for i, x := range s {
		v[i] = f(x)
	}
	sort.Float64s(v)
	return v[len(v)/2]
}

func run(name string, args ...string) {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	harness.Check(cmd.Run())
}
