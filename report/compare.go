package report

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/meshperf/meshperf/perf"
)

// ComparedResult names one side of a comparison.
type ComparedResult struct {
	ID, Name string
}

func (r ComparedResult) label() string {
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

// Comparison writes a candidate's changes against a baseline: each figure's estimate
// with its 95% interval on both sides, the change with its interval, and the verdict.
// meshperf compare and meshperf result compare both write it, so one analysis looks the
// same however it is reached.
func Comparison(w io.Writer, base, cand ComparedResult, changes []perf.Change) {
	fmt.Fprintf(w, "\n  baseline  %s\n  candidate %s\n\n", base.label(), cand.label())
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
	if e.N == 0 {
		return "-"
	}
	f := func(v float64) string {
		switch unit {
		case perf.UnitMs:
			return fmt.Sprintf("%.3fms", v)
		case perf.UnitRatio:
			return fmt.Sprintf("%.2f%%", v*100)
		case perf.UnitCores, perf.UnitBytes:
			return resourceValue(v, unit)
		}
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%s [%s, %s] n=%d", f(e.Center), f(e.Lo), f(e.Hi), e.N)
}
