// Command fortioref is the reference "fortio command" for benchmarks: fortio's own HTTP
// load runner, fhttp.RunHTTPTest, exactly what `fortio load` calls, built from the same
// fortio version as meshperf. (The fortio binary itself cannot be installed here: it
// needs grol.io/grol, which the module proxy refuses.)
//
//	fortioref -c 16 -qps -1 -t 10s http://127.0.0.1:8080/
//
// It prints one JSON line: {"requests": N, "actual_qps": Q, "codes": {...}, "p50_ms": ..,
// "p99_ms": .., "max_ms": ..} (latency as fortio's runner measures it: from when each
// request actually left).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"fortio.org/fortio/fhttp"
	"fortio.org/fortio/periodic"
	flog "fortio.org/log"
)

func main() {
	conns := flag.Int("c", 16, "connections")
	qps := flag.Float64("qps", -1, "requests per second (-1 = as fast as possible)")
	dur := flag.Duration("t", 10*time.Second, "duration")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: fortioref [-c N] [-qps Q] [-t D] URL")
		os.Exit(2)
	}
	flog.SetLogLevelQuiet(flog.Error)
	o := fhttp.HTTPRunnerOptions{
		RunnerOptions: periodic.RunnerOptions{QPS: *qps, NumThreads: *conns, Duration: *dur, Out: io.Discard,
			Percentiles: []float64{50, 99}},
	}
	o.HTTPOptions.Init(flag.Arg(0))
	res, err := fhttp.RunHTTPTest(&o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fortioref:", err)
		os.Exit(1)
	}
	h := res.DurationHistogram
	out := map[string]any{
		"requests":   h.Count,
		"actual_qps": res.ActualQPS,
		"codes":      res.RetCodes,
		"max_ms":     h.Max * 1000,
	}
	for _, p := range h.Percentiles {
		out[fmt.Sprintf("p%g_ms", p.Percentile)] = p.Value * 1000
	}
	_ = json.NewEncoder(os.Stdout).Encode(out)
}
