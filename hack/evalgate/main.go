// Command evalgate measures how trustworthy meshperf's regression gate is on this
// machine: N A/A gates (the same target on both sides) and N gates whose candidate is
// 10% slower (the sample target's latency injection), each a few short interleaved
// rounds. It reports the false-alarm rate (A/A gates that fail) and the detection rate
// (10%-slower gates that fail), and the same for a naive gate — one run each, fail
// when any metric is 5% worse — computed from the first round of the same runs.
//
//	go run ./hack/evalgate -meshperf bin/meshperf -n 20
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/meshperf/meshperf/hack/internal/harness"
)

type report struct {
	Verdict      string `json:"verdict"`
	Rounds       int    `json:"rounds"`
	RoundFigures []struct {
		Baseline  map[string]float64 `json:"baseline"`
		Candidate map[string]float64 `json:"candidate"`
	} `json:"round_figures"`
}

type tally struct{ fail, inconclusive, naiveFail, n, rounds int }

func main() {
	bin := flag.String("meshperf", "bin/meshperf", "meshperf binary")
	n := flag.Int("n", 20, "gates of each kind")
	rounds := flag.Int("rounds", 3, "rounds per gate (the least)")
	maxRounds := flag.Int("max-rounds", 10, "adaptive rounds per gate, at most (= -rounds: no adaptive rounds)")
	dur := flag.String("duration", "2s", "duration of each run")
	rate := flag.Int("rate", 100, "requests per second")
	flag.Parse()

	port := harness.FreePort()
	tgt := exec.Command(*bin, "target", "--http-addr", "127.0.0.1:"+port, "--grpc-addr", "", "--tcp-addr", "")
	harness.Check(tgt.Start())
	harness.OnExit(func() { harness.Stop(tgt) })
	defer harness.Cleanup()
	url := "http://127.0.0.1:" + port
	harness.WaitReady(url+"/healthz", tgt)
	base := url + "/base?latency=normal:20ms,2ms"
	kinds := []struct {
		name, candidate string
		t               *tally
	}{
		{"A/A", url + "/same?latency=normal:20ms,2ms", &tally{}},
		{"10% slower", url + "/slow?latency=normal:22ms,2.2ms", &tally{}},
	}
	metrics := []string{"p50", "p90", "p99"}
	start := time.Now()
	for i := 1; i <= *n; i++ {
		for _, k := range kinds { // interleave the kinds too
			rep := gate(*bin, base, k.candidate, *rounds, *maxRounds, *dur, *rate)
			k.t.n++
			k.t.rounds += rep.Rounds
			switch rep.Verdict {
			case "fail":
				k.t.fail++
			case "inconclusive":
				k.t.inconclusive++
			}
			if naiveFails(rep, metrics) {
				k.t.naiveFail++
			}
			fmt.Fprintf(os.Stderr, "%2d/%d %-11s gate %-12s after %2d rounds  naive %s\n", i, *n, k.name, rep.Verdict, rep.Rounds, map[bool]string{true: "fail", false: "pass"}[naiveFails(rep, metrics)])
		}
	}
	aa, ab := kinds[0].t, kinds[1].t
	fmt.Printf("\nGate evaluation: %d A/A and %d 10%%-slower gates, %d to %d rounds of %s at %d req/s each, metrics %v, max regression 5%% (%v)\n\n",
		aa.n, ab.n, *rounds, *maxRounds, *dur, *rate, metrics, time.Since(start).Round(time.Second))
	fmt.Printf("%-34s %22s %22s\n", "", "A/A false alarms", "10% slower detected")
	fmt.Printf("%-34s %15d of %-4d %15d of %-4d\n", "meshperf gate (interval past 5%)", aa.fail, aa.n, ab.fail, ab.n)
	fmt.Printf("%-34s %15d of %-4d %15d of %-4d\n", "  of which inconclusive (warned)", aa.inconclusive, aa.n, ab.inconclusive, ab.n)
	fmt.Printf("%-34s %15d of %-4d %15d of %-4d\n", "naive gate (one run, 5% threshold)", aa.naiveFail, aa.n, ab.naiveFail, ab.n)
	fmt.Printf("%-34s %22.1f %22.1f\n", "mean rounds per gate", float64(aa.rounds)/float64(max(aa.n, 1)), float64(ab.rounds)/float64(max(ab.n, 1)))
	fmt.Printf("\ngoals: no A/A failure (%s), at least 19 of 20 detected (%s)\n",
		verdict(aa.fail == 0), verdict(float64(ab.fail) >= 0.95*float64(ab.n)))
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "missed"
}

func gate(bin, base, cand string, rounds, maxRounds int, dur string, rate int) report {
	cmd := exec.Command(bin, "gate", "--baseline", base, "--candidate", cand, "--rounds", strconv.Itoa(rounds), "--max-rounds", strconv.Itoa(maxRounds),
		"--duration", dur, "--warmup", "0s", "--rate", strconv.Itoa(rate), "-o", "json")
	cmd.Env = append(os.Environ(), "GITHUB_ACTIONS=", "GITHUB_STEP_SUMMARY=")
	var out bytes.Buffer
	cmd.Stdout = &out
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 4) {
		harness.Check(fmt.Errorf("gate: %w", err))
	}
	var r report
	harness.Check(json.Unmarshal(out.Bytes(), &r))
	return r
}

// naiveFails is the usual single-run gate: round 1 only, fail when any metric is more
// than 5% worse.
func naiveFails(r report, metrics []string) bool {
	if len(r.RoundFigures) == 0 {
		return false
	}
	f := r.RoundFigures[0]
	for _, m := range metrics {
		if b := f.Baseline[m]; b > 0 && f.Candidate[m]/b > 1.05 {
			return true
		}
	}
	return false
}
