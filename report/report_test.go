package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/meshperf/meshperf/perf"
	"github.com/meshperf/meshperf/smp"
)

func TestSummaryShowsTheFiguresFirst(t *testing.T) {
	start := time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
	r := &smp.Result{
		Name: "checkout", Status: smp.StatusPartial, StatusReason: "stopped after 3.0s",
		StartTime: start, MeasureStart: start.Add(time.Second), EndTime: start.Add(3 * time.Second),
		Config: &smp.TestConfig{Clients: []smp.Client{{LoadGenerator: "fortio", Protocol: smp.ProtocolHTTP, RPS: 500,
			Model: smp.ModelOpen, Connections: 16, EndpointURLs: []string{"http://t/"}}}},
		Summary: smp.Summary{Requests: 12345, Successes: 12000, ErrorRate: 0.0279, DurationSeconds: 2, ActualRPS: 6172.5,
			TargetRPS: 500, StatusCodes: map[string]int64{"200": 12000, "503": 300}, Errors: map[string]int64{"timeout": 45},
			Latency: smp.LatencySummary{Count: 12300, MinMs: 0.05, P50Ms: 0.8, P90Ms: 12.5, P99Ms: 250, P999Ms: 1500, MaxMs: 2000}},
		Generator: smp.GeneratorReport{Saturated: true, Reason: "x", CPUCores: 1.9, MissedSends: 7},
		Warnings:  []string{"generator saturated: x"},
	}
	var buf bytes.Buffer
	Summary(&buf, r, Style{})
	out := buf.String()
	for _, want := range []string{"checkout — partial", "stopped after 3.0s", "12,345", "6,173/s (target 500/s)", "97.21%",
		"12,000 × 200, 300 × 503", "45 × timeout", "p50 800µs", "p99 250ms", "p99.9 1.50s", "SATURATED", "7 missed sends",
		"open model at 500 req/s · 16 connections", "! generator saturated"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if strings.ContainsAny(out, "\x1b") {
		t.Errorf("colour codes without a terminal")
	}
}

func TestProgressLine(t *testing.T) {
	p := perf.Progress{Index: 2, Elapsed: 3 * time.Second, Total: 10 * time.Second, Requests: 1000, RPS: 1000, P50Ms: 0.5, P99Ms: 2, Failures: 3}
	plain := Progress(p, false)
	if strings.ContainsAny(plain, "\x1b\r█") || !strings.Contains(plain, "3s/10s") || !strings.Contains(plain, "failures 3") {
		t.Errorf("plain progress %q", plain)
	}
	if tty := Progress(p, true); !strings.Contains(tty, "30%") || !strings.Contains(tty, "██████") {
		t.Errorf("tty progress %q", tty)
	}
}

func TestUnits(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 0.0421: "42µs", 1.234: "1.23ms", 12.34: "12.3ms", 123.4: "123ms", 1234: "1.23s"} {
		if got := ms(in); got != want {
			t.Errorf("ms(%v) = %q, want %q", in, got, want)
		}
	}
	if group(1234567) != "1,234,567" || bytesHuman(1536) != "1.5 KiB" {
		t.Errorf("group %q bytes %q", group(1234567), bytesHuman(1536))
	}
}

// "kept its schedule" is a claim only recorded health may make; a distributed run
// shows a line per agent.
func TestGeneratorHealthLine(t *testing.T) {
	start := time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
	base := smp.Result{Name: "h", Status: smp.StatusCompleted, StartTime: start, MeasureStart: start, EndTime: start.Add(2 * time.Second),
		Config: &smp.TestConfig{Clients: []smp.Client{{LoadGenerator: "fortio", Protocol: smp.ProtocolHTTP, RPS: 10}}}}
	summary := func(g smp.GeneratorReport) string {
		r := base
		r.Generator = g
		var buf bytes.Buffer
		Summary(&buf, &r, Style{})
		return buf.String()
	}
	out := summary(smp.GeneratorReport{})
	if !strings.Contains(out, "generator health unknown") || strings.Contains(out, "kept its schedule") {
		t.Errorf("no recorded health:\n%s", out)
	}
	out = summary(smp.GeneratorReport{Measured: true, CPUCores: 0.2, UsableCores: 4, SchedLatencyP99Ms: 0.5,
		Generators: []smp.GeneratorReport{
			{Name: "eu-1", Measured: true, CPUCores: 0.1, UsableCores: 2},
			{Name: "eu-2", Measured: true, Saturated: true, CPUCores: 0.98, UsableCores: 1, Reason: "x"},
		}})
	for _, want := range []string{"0.20 cores of 4, scheduling p99 500µs, kept its schedule", "eu-1", "0.10 cores of 2", "eu-2", "0.98 cores of 1", "SATURATED"} {
		if !strings.Contains(out, want) {
			t.Errorf("per-agent health lacks %q:\n%s", want, out)
		}
	}
}

// A gRPC run names the call it made: health checks and echoes measure different things.
func TestSummaryNamesTheGRPCCall(t *testing.T) {
	for call, want := range map[string]string{"": "grpc grpc.health.v1.Health/Check", smp.GRPCEcho: "grpc meshperf.echo.v1.Echo/Echo"} {
		c := smp.Client{LoadGenerator: "fortio", Protocol: smp.ProtocolGRPC, Connections: 4, EndpointURLs: []string{"127.0.0.1:8079"}}
		if call != "" {
			c.GRPC = &smp.GRPCOptions{Call: call}
		}
		r := &smp.Result{Name: "rpc", Status: smp.StatusCompleted, Config: &smp.TestConfig{Clients: []smp.Client{c}}}
		var buf bytes.Buffer
		Summary(&buf, r, Style{})
		if !strings.Contains(buf.String(), want) {
			t.Errorf("call %q: summary lacks %q:\n%s", call, want, buf.String())
		}
	}
}
