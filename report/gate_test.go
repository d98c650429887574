package report

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/meshperf/meshperf/perf"
)

func sampleGate() *perf.GateReport {
	return &perf.GateReport{Mode: "interleaved", Baseline: "a&b", Candidate: "c<d", Rounds: 5, MaxRegression: 0.05, Verdict: perf.GateFail,
		Checks: []perf.GateCheck{
			{Metric: "p50", Unit: "ms", Better: "lower", Base: 10, Cand: 10.1, Ratio: 1.01, Lo: 0.99, Hi: 1.03, Limit: 1.05, Verdict: perf.GatePass},
			{Metric: "p99", Unit: "ms", Better: "lower", Base: 20, Cand: 23, Ratio: 1.15, Lo: 1.08, Hi: 1.22, Limit: 1.05, Verdict: perf.GateFail},
			{Metric: "rps", Unit: "req/s", Better: "higher", Base: 100, Cand: 94, Ratio: 0.94, Lo: 0.90, Hi: 0.98, Limit: 0.95, Verdict: perf.GateInconclusive, Note: "more rounds"},
		}}
}

// The JUnit XML parses back (names escaped) with one case per metric: a failure for
// the failed check, skipped for the inconclusive one.
func TestGateJUnitIsValid(t *testing.T) {
	var buf bytes.Buffer
	if err := GateJUnit(&buf, sampleGate()); err != nil {
		t.Fatal(err)
	}
	var back junitSuites
	if err := xml.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatalf("not XML: %v\n%s", err, buf.String())
	}
	s := back.Suites[0]
	if s.Tests != 3 || s.Failures != 1 || s.Skipped != 1 || len(s.Cases) != 3 || s.Cases[1].Failure == nil || s.Cases[2].Skipped == nil {
		t.Errorf("suite %+v", s)
	}
	if !strings.Contains(s.Name, "a&b vs c<d") {
		t.Errorf("name %q", s.Name)
	}
}

func TestGateMarkdownAndAnnotations(t *testing.T) {
	var buf bytes.Buffer
	GateMarkdown(&buf, sampleGate())
	md := buf.String()
	for _, want := range []string{"### meshperf gate: ❌ regression", "| p99 | 20.0ms | 23.0ms | +15.0% [+8.0%, +22.0%] | +5% | ❌ fail |", "| rps |", "-5% | ⚠️ inconclusive — more rounds |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	ann := GateAnnotations(sampleGate())
	if len(ann) != 2 || !strings.HasPrefix(ann[0], "::error title=meshperf gate::p99") || !strings.HasPrefix(ann[1], "::warning") {
		t.Errorf("annotations %v", ann)
	}
}

// The text table stays aligned whatever the width of a cell: each row's LIMIT cell
// starts in the same column, even with a four-digit change and colour on.
func TestGateTextColumnsAlign(t *testing.T) {
	r := sampleGate()
	r.Checks[1].Cand, r.Checks[1].Ratio, r.Checks[1].Lo, r.Checks[1].Hi = 2.52, 11.148, 5.1, 20.3
	for _, color := range []bool{false, true} {
		var buf bytes.Buffer
		GateText(&buf, r, Style{Color: color})
		var at []int
		for _, line := range strings.Split(buf.String(), "\n") {
			if i := strings.Index(line, " +5% "); i >= 0 {
				at = append(at, i)
			} else if i := strings.Index(line, " -5% "); i >= 0 {
				at = append(at, i)
			} else if i := strings.Index(line, "LIMIT"); i >= 0 {
				at = append(at, i-1)
			}
		}
		if len(at) != 4 {
			t.Fatalf("color %v: %d rows with a limit:\n%s", color, len(at), buf.String())
		}
		for _, i := range at[1:] {
			if i != at[0] {
				t.Errorf("color %v: the LIMIT column starts at %v:\n%s", color, at, buf.String())
				break
			}
		}
		if !strings.Contains(buf.String(), "+1014.8% [+410.0%, +1930.0%]") {
			t.Errorf("the long change is missing:\n%s", buf.String())
		}
	}
}

func TestGateRoundsAreReported(t *testing.T) {
	r := sampleGate()
	r.Rounds, r.MinRounds, r.MaxRounds = 7, 3, 15
	var buf bytes.Buffer
	GateText(&buf, r, Style{})
	GateMarkdown(&buf, r)
	if strings.Count(buf.String(), "7 round(s) (adaptive, 3 to 15)") != 2 {
		t.Errorf("rounds not reported:\n%s", buf.String())
	}
}
