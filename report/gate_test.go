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
