package smp

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	smpspec "github.com/layer5io/service-mesh-performance/spec"
	"google.golang.org/protobuf/proto"
)

func sampleResult(t *testing.T) *Result {
	t.Helper()
	h := NewHistogram()
	for i := int64(1); i <= 1000; i++ {
		h.RecordMicros(i * 1000) // 1 ms .. 1 s
	}
	start := time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
	iv := Interval{Source: "client-0", Index: 0, Start: start, End: start.Add(time.Second), Requests: 1000, Successes: 990,
		StatusCodes: map[string]int64{"200": 990, "503": 10}, Latency: h, SendLag: NewHistogram()}
	iv.SendLag.RecordMicros(40)
	r := &Result{
		SMPVersion: SMPVersion, ID: "0b5c5f1e-7a4f-4e8e-9f3a-1f4b2c3d4e5f", TestID: "7d1e2c3b-0000-4000-8000-000000000001",
		Name: "rt", Labels: map[string]string{"team": "x"}, Status: StatusCompleted,
		StartTime: start, MeasureStart: start, EndTime: start.Add(time.Second),
		Latency: h, Intervals: []Interval{iv},
		Summary: Summary{Requests: 1000, Successes: 990, ErrorRate: 0.01, DurationSeconds: 1, ActualRPS: 1000,
			Latency: Summarize(h), StatusCodes: iv.StatusCodes},
		Environment: Environment{ID: "e0e0e0e0-1111-4222-8333-444455556666", Machine: Machine{Hostname: "h"}},
		DetailsURI:  "file:///tmp/rt.json",
	}
	return r
}

func TestExportResultIsMillisecondsWithRealIDs(t *testing.T) {
	r := sampleResult(t)
	p := ExportResult(r)
	l := p.GetLatenciesMs()
	// 1..1000 ms recorded: p50 is 500 ms (HDR's highest equivalent value, within 0.1%).
	if l.P50 < 499 || l.P50 > 501 || l.Max < 999 || l.Max > 1001 || l.Min != 1 {
		t.Errorf("latencies_ms = %+v, want milliseconds (p50≈500, max≈1000, min=1)", l)
	}
	if p.GetId() != r.ID || p.GetTestId() != r.TestID || p.GetEnvId() != r.Environment.ID {
		t.Errorf("ids not carried: %v %v %v", p.GetId(), p.GetTestId(), p.GetEnvId())
	}
	for _, id := range []string{p.GetId(), p.GetTestId(), p.GetEnvId()} {
		if id == "" || strings.Contains(id, "test_") {
			t.Errorf("placeholder id %q", id)
		}
	}
	if p.GetDetailsUri() == "" || p.GetActualQps() != 1000 {
		t.Errorf("details_uri %q actual_qps %v", p.GetDetailsUri(), p.GetActualQps())
	}
}

func TestSMPResultRoundTrip(t *testing.T) {
	r := sampleResult(t)
	first := ExportResult(r)
	for _, format := range []string{"json", "yaml"} {
		b, err := MarshalSMP(first, format)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("latencies_ms")) {
			t.Errorf("%s: not snake_case:\n%s", format, b)
		}
		var back smpspec.PerformanceTestResult
		if err := UnmarshalSMP(b, &back); err != nil {
			t.Fatalf("%s: %v\n%s", format, err, b)
		}
		if !proto.Equal(first, &back) {
			t.Errorf("%s: SMP result changed in a round trip", format)
		}
		imported := ImportResult(&back)
		if !proto.Equal(ExportResult(imported), first) {
			t.Errorf("%s: export(import(smp)) != smp", format)
		}
	}
}

func TestSMPConfigRoundTripKeepsEveryClientAndEndpoint(t *testing.T) {
	cfg, err := DecodeConfig([]byte(goodYAML))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ID = "c0ffee00-0000-4000-8000-000000000000"
	p := ExportConfig(cfg)
	if len(p.GetClients()) != 2 || len(p.GetClients()[0].GetEndpointUrls()) != 2 {
		t.Fatalf("export dropped clients or endpoints: %v", p)
	}
	b, err := MarshalSMP(p, "yaml")
	if err != nil {
		t.Fatal(err)
	}
	var back smpspec.PerformanceTestConfig
	if err := UnmarshalSMP(b, &back); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(p, &back) {
		t.Errorf("SMP config changed in a round trip")
	}
	imported, err := ImportConfig(&back)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(ExportConfig(imported), p) {
		t.Errorf("export(import(smp config)) differs")
	}
	// meshperf's own format keeps the extensions too.
	var buf bytes.Buffer
	if err := WriteConfig(&buf, cfg); err != nil {
		t.Fatal(err)
	}
	again, err := DecodeConfig(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if again.Warmup != cfg.Warmup || len(again.Clients[0].Stages) != 1 || again.Clients[0].Model != ModelOpen ||
		again.Clients[1].GRPC.Call != GRPCEcho {
		t.Errorf("extensions lost in a YAML round trip:\n%s", buf.String())
	}
}

func TestPublishedSMPExampleWithNumericEnums(t *testing.T) {
	doc := `{"smpVersion":"v0.0.1","id":"x1","clients":[{"protocol":1,"connections":2,"rps":10,"endpointUrls":["http://a/"],"loadGenerator":"fortio"}],"duration":"30s"}`
	var p smpspec.PerformanceTestConfig
	if err := UnmarshalSMP([]byte(doc), &p); err != nil {
		t.Fatal(err)
	}
	cfg, err := ImportConfig(&p)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Clients[0].Protocol != ProtocolHTTP || cfg.Duration.D() != 30*time.Second {
		t.Errorf("imported %+v", cfg)
	}
	if err := UnmarshalSMP([]byte(`{"nope": 1}`), &p); err == nil {
		t.Errorf("unknown SMP field accepted")
	}
}

func TestFullResultRoundTripJSONAndYAML(t *testing.T) {
	r := sampleResult(t)
	for _, f := range []string{FormatJSON, FormatYAML} {
		var buf bytes.Buffer
		if err := WriteResult(&buf, r, f); err != nil {
			t.Fatal(err)
		}
		back, err := DecodeResult(buf.Bytes())
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !back.Latency.Equal(r.Latency) || !back.Intervals[0].Latency.Equal(r.Intervals[0].Latency) {
			t.Errorf("%s: histograms changed", f)
		}
		if back.Summary.Requests != r.Summary.Requests || !back.StartTime.Equal(r.StartTime) || back.Summary.StatusCodes["503"] != 10 {
			t.Errorf("%s: summary changed: %+v", f, back.Summary)
		}
	}
}

func TestCSVHasOneRowPerInterval(t *testing.T) {
	r := sampleResult(t)
	var buf bytes.Buffer
	if err := WriteResult(&buf, r, FormatCSV); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1+len(r.Intervals) {
		t.Fatalf("csv has %d lines, want %d", len(lines), 1+len(r.Intervals))
	}
	if !strings.HasPrefix(lines[0], "source,second,") || !strings.Contains(lines[1], ",1000,990,10,") {
		t.Errorf("csv:\n%s", buf.String())
	}
}

func FuzzUnmarshalSMP(f *testing.F) {
	b, _ := json.Marshal(map[string]any{"id": "a", "latencies_ms": map[string]float64{"p50": 1}})
	f.Add(b)
	f.Add([]byte("smp_version: v1\nclients: [{protocol: PROTOCOL_HTTP}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r smpspec.PerformanceTestResult
		_ = UnmarshalSMP(data, &r)
		var c smpspec.PerformanceTestConfig
		if err := UnmarshalSMP(data, &c); err == nil {
			if _, err := ImportConfig(&c); err != nil && !IsInputError(err) {
				t.Fatalf("import error is not an input error: %v", err)
			}
		}
	})
}

func FuzzDecodeResult(f *testing.F) {
	var buf bytes.Buffer
	r := &Result{ID: "x", Status: StatusCompleted, Latency: NewHistogram()}
	_ = WriteResult(&buf, r, FormatJSON)
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := DecodeResult(data)
		if err != nil {
			if !IsInputError(err) {
				t.Fatalf("not an input error: %v", err)
			}
			return
		}
		var out bytes.Buffer
		if err := WriteResult(&out, res, FormatJSON); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
	})
}
