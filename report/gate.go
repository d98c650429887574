package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/meshperf/meshperf/perf"
)

func gateHeadline(v string) string {
	switch v {
	case perf.GatePass:
		return "✅ pass"
	case perf.GateFail:
		return "❌ regression"
	}
	return "⚠️ inconclusive"
}

func checkChange(c perf.GateCheck) string {
	if c.Ratio == 0 && c.Lo == 0 && c.Hi == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%+.1f%% [%+.1f%%, %+.1f%%]", (c.Ratio-1)*100, (c.Lo-1)*100, (c.Hi-1)*100)
}

func checkValue(v float64, unit string) string {
	switch unit {
	case perf.UnitMs:
		return ms(v)
	case perf.UnitRatio:
		return pct(v)
	case perf.UnitRate:
		return fmtFloat(v) + "/s"
	}
	return fmtFloat(v)
}

func limitText(c perf.GateCheck) string {
	return fmt.Sprintf("%+.0f%%", (c.Limit-1)*100)
}

// GateMarkdown writes a gate's outcome as a Markdown section (for GitHub job summaries).
func GateMarkdown(w io.Writer, r *perf.GateReport) {
	fmt.Fprintf(w, "### meshperf gate: %s\n\n", gateHeadline(r.Verdict))
	fmt.Fprintf(w, "Baseline `%s` — candidate `%s` — %s, %s — allowed regression %.1f%%\n\n",
		r.Baseline, r.Candidate, r.Mode, roundsText(r), r.MaxRegression*100)
	fmt.Fprintln(w, "| metric | baseline | candidate | change [95% CI] | limit | verdict |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---|")
	for _, c := range r.Checks {
		v := map[string]string{perf.GatePass: "✅ pass", perf.GateFail: "❌ fail", perf.GateInconclusive: "⚠️ inconclusive"}[c.Verdict]
		if c.Note != "" {
			v += " — " + c.Note
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", c.Metric, checkValue(c.Base, c.Unit), checkValue(c.Cand, c.Unit), checkChange(c), limitText(c), v)
	}
	fmt.Fprintln(w, "\nA metric passes only when its whole 95% interval lies within the limit and fails only when "+
		"the whole interval lies past it; an interval that straddles the limit is inconclusive (more rounds would decide).")
}

// roundsText says how many rounds ran, and between which bounds when they adapted.
func roundsText(r *perf.GateReport) string {
	if r.MaxRounds > r.MinRounds && r.MinRounds > 0 {
		return fmt.Sprintf("%d round(s) (adaptive, %d to %d)", r.Rounds, r.MinRounds, r.MaxRounds)
	}
	return fmt.Sprintf("%d round(s)", r.Rounds)
}

// GateText writes a gate's outcome for a terminal. The table is aligned by
// text/tabwriter on the plain text; colour is added to the verdict column only, after
// the last tab, so escape codes never shift a column.
func GateText(w io.Writer, r *perf.GateReport, st Style) {
	head := gateHeadline(r.Verdict)
	fmt.Fprintf(w, "\n  gate: %s — %s vs %s, %s, %s, allowed regression %.1f%%\n\n",
		st.paint("1", head), r.Baseline, r.Candidate, r.Mode, roundsText(r), r.MaxRegression*100)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  METRIC\tBASELINE\tCANDIDATE\tCHANGE [95% CI]\tLIMIT\tVERDICT")
	for _, c := range r.Checks {
		v := c.Verdict
		switch c.Verdict {
		case perf.GateFail:
			v = st.paint("31", v)
		case perf.GateInconclusive:
			v = st.paint("33", v)
		default:
			v = st.paint("32", v)
		}
		if c.Note != "" {
			v += " (" + c.Note + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", c.Metric, checkValue(c.Base, c.Unit), checkValue(c.Cand, c.Unit), checkChange(c), limitText(c), v)
	}
	tw.Flush()
	fmt.Fprintln(w)
}

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	Output    string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// GateJUnit writes a gate as JUnit XML: one test case per metric; a failed check is a
// failure, an inconclusive one is skipped (with why).
func GateJUnit(w io.Writer, r *perf.GateReport) error {
	s := junitSuite{Name: "meshperf gate " + r.Baseline + " vs " + r.Candidate}
	for _, c := range r.Checks {
		detail := fmt.Sprintf("%s: baseline %s, candidate %s, change %s, limit %s", c.Metric,
			checkValue(c.Base, c.Unit), checkValue(c.Cand, c.Unit), checkChange(c), limitText(c))
		tc := junitCase{Name: fmt.Sprintf("%s regression within %.1f%%", c.Metric, r.MaxRegression*100), Classname: "meshperf.gate", Output: detail}
		switch c.Verdict {
		case perf.GateFail:
			tc.Failure = &junitMessage{Message: "regression: " + checkChange(c), Text: strings.TrimSpace(detail + "\n" + c.Note)}
			s.Failures++
		case perf.GateInconclusive:
			tc.Skipped = &junitMessage{Message: "inconclusive: " + c.Note, Text: detail}
			s.Skipped++
		}
		s.Cases = append(s.Cases, tc)
		s.Tests++
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(junitSuites{Suites: []junitSuite{s}}); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// GateAnnotations are GitHub Actions workflow commands for failed and inconclusive
// checks.
func GateAnnotations(r *perf.GateReport) []string {
	var out []string
	for _, c := range r.Checks {
		msg := fmt.Sprintf("%s changed %s (limit %s)", c.Metric, checkChange(c), limitText(c))
		switch c.Verdict {
		case perf.GateFail:
			out = append(out, "::error title=meshperf gate::"+msg)
		case perf.GateInconclusive:
			out = append(out, "::warning title=meshperf gate::"+msg+": inconclusive")
		}
	}
	return out
}
