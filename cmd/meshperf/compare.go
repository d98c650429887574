package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/meshperf/meshperf/perf"
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
		r, err := smp.DecodeResult(data)
		if err != nil {
			return nil, badInput(fmt.Errorf("%s is not a meshperf result: %w", arg, err))
		}
		if len(r.Intervals) == 0 {
			return nil, badInput(fmt.Errorf("%s has no per-second intervals (an SMP result has none): compare full results (meshperf run --out r.json, or result get -o json)", arg))
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
	name := func(r *smp.Result) string {
		n := r.Name
		if n == "" {
			n = "run"
		}
		id := r.ID
		if len(id) > 8 {
			id = id[:8]
		}
		return n + " " + id
	}
	fmt.Fprintf(w, "\n  baseline  %s\n  candidate %s\n\n", name(base), name(cand))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  METRIC\tBASELINE\tCANDIDATE\tCHANGE [95% CI]\tVERDICT")
	for _, c := range changes {
		verdict := c.Verdict
		if c.Verdict == perf.Better || c.Verdict == perf.Worse {
			verdict = fmt.Sprintf("%s (p=%.3f)", c.Verdict, c.P)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", c.Metric, estimateText(c.Baseline, c.Unit), estimateText(c.Candidate, c.Unit), perf.FormatChange(c), verdict)
	}
	tw.Flush()
	fmt.Fprintln(w)
}

func estimateText(e perf.Estimate, unit string) string {
	f := func(v float64) string {
		switch unit {
		case "ms":
			return fmt.Sprintf("%.3fms", v)
		case "ratio":
			return fmt.Sprintf("%.2f%%", v*100)
		}
		return fmt.Sprintf("%.1f", v)
	}
	if e.N == 0 {
		return "-"
	}
	return fmt.Sprintf("%s [%s, %s] n=%d", f(e.Center), f(e.Lo), f(e.Hi), e.N)
}
