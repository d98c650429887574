package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	smpspec "github.com/layer5io/service-mesh-performance/spec"
	"github.com/spf13/cobra"

	"github.com/meshperf/meshperf/client"
	"github.com/meshperf/meshperf/perf"
	"github.com/meshperf/meshperf/report"
	"github.com/meshperf/meshperf/smp"
)

func newCompareCmd() *cobra.Command {
	var rf remoteFlags
	var output string
	cmd := &cobra.Command{
		Use:   "compare BASELINE CANDIDATE [CANDIDATE...]",
		Short: "Compare results with confidence intervals: what changed, and is it real",
		Long: `Compare results (full result files, or ids on the server of the current context): for
rate, p50, p90, p99, p99.9 and error rate, the change of each candidate against the
baseline with a 95% confidence interval and a verdict — better, worse, or no significant
change — computed from the per-second intervals (Mann-Whitney U test and a bootstrap
interval of the ratio of medians). Never a verdict from two single numbers: runs under
5 whole seconds get "not enough data".`,
		Example: `  meshperf compare before.json after.json
  meshperf compare 3ee75a83-... 8cfa4f73-...    # ids on the server`,
		Args: cobra.RangeArgs(2, 10),
		RunE: func(cmd *cobra.Command, args []string) error {
			results := make([]*smp.Result, len(args))
			for i, a := range args {
				r, err := loadResult(cmd, &rf, a)
				if err != nil {
					return err
				}
				results[i] = r
			}
			type pair struct {
				Baseline  string        `json:"baseline"`
				Candidate string        `json:"candidate"`
				Changes   []perf.Change `json:"changes"`
			}
			var pairs []pair
			for _, c := range results[1:] {
				pairs = append(pairs, pair{Baseline: results[0].ID, Candidate: c.ID, Changes: perf.Compare(results[0], c)})
			}
			if output == "json" {
				return smp.WriteJSON(cmd.OutOrStdout(), pairs)
			}
			if output != "" {
				return badInput(fmt.Errorf("--output must be json (or nothing, for the table)"))
			}
			for i, p := range pairs {
				writeComparison(cmd.OutOrStdout(), results[0], results[i+1], p.Changes)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "json for scripts")
	rf.add(cmd)
	return cmd
}

// loadResult reads a full result from a file, or fetches it from the server by id.
func loadResult(cmd *cobra.Command, rf *remoteFlags, arg string) (*smp.Result, error) {
	if data, err := os.ReadFile(arg); err == nil {
		if isSMPResult(data) {
			return nil, badInput(fmt.Errorf("%s is an SMP result: it holds the summary figures only, no per-second data, "+
				"so no intervals or verdicts can come from it; compare the full result JSON instead "+
				"(meshperf run --out result.json, meshperf run -o json, or meshperf result get ID -o json)", arg))
		}
		r, err := smp.DecodeResult(data)
		if err != nil {
			return nil, badInput(fmt.Errorf("%s is not a meshperf result: %w", arg, err))
		}
		if len(r.Intervals) == 0 {
			return nil, badInput(fmt.Errorf("%s has no per-second intervals: compare full results (meshperf run --out result.json, or result get ID -o json)", arg))
		}
		return r, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	c, err := rf.client()
	if err != nil {
		return nil, badInput(fmt.Errorf("%s is neither a file nor, without a server, a result id", arg))
	}
	r, err := c.Result(cmd.Context(), arg)
	if err != nil {
		return nil, remoteErr(fmt.Errorf("result %s: %w", arg, err))
	}
	return r, nil
}

func writeComparison(w io.Writer, base, cand *smp.Result, changes []perf.Change) {
	report.Comparison(w, report.ComparedResult{ID: base.ID, Name: base.Name}, report.ComparedResult{ID: cand.ID, Name: cand.Name}, changes)
}

// isSMPResult reports whether data is an SMP PerformanceTestResult (what
// --output smp writes) rather than a full meshperf result: SMP's own fields decode, and
// it carries its latencies_ms block, which full results have not.
func isSMPResult(data []byte) bool {
	var p smpspec.PerformanceTestResult
	return smp.UnmarshalSMP(data, &p) == nil && p.GetLatenciesMs() != nil
}

// writeServerComparison renders the server's comparison like meshperf compare.
func writeServerComparison(w io.Writer, cmpr *client.Comparison) error {
	side := func(id string) report.ComparedResult {
		for _, r := range cmpr.Results {
			if r.ID == id {
				return report.ComparedResult{ID: r.ID, Name: r.Name}
			}
		}
		return report.ComparedResult{ID: id}
	}
	if len(cmpr.Results) == 0 {
		return errors.New("the server's comparison holds no results")
	}
	base := side(cmpr.Results[0].ID)
	for _, c := range cmpr.Changes {
		report.Comparison(w, base, side(c.Candidate), c.Changes)
	}
	return nil
}
