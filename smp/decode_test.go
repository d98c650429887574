package smp

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const goodYAML = `
smp_version: v0.6.1
name: checkout
labels: {team: payments}
duration: 30s
warmup: 5s
clients:
  - load_generator: fortio
    protocol: HTTP
    connections: 16
    rps: 500
    endpoint_urls: [http://a:8080/x, http://b:8080/y]
    headers: {X-Test: "1"}
    model: open
    stages:
      - {duration: 10s, rps: 1000}
  - name: grpc
    protocol: 4
    endpoint_urls: ["127.0.0.1:8079"]
    grpc: {call: echo}
`

func TestDecodeConfigGood(t *testing.T) {
	cfg, err := DecodeConfig([]byte(goodYAML))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if got := len(cfg.Clients); got != 2 {
		t.Fatalf("clients = %d, want 2", got)
	}
	c0, c1 := cfg.Clients[0], cfg.Clients[1]
	if c0.Protocol != ProtocolHTTP || c1.Protocol != ProtocolGRPC {
		t.Errorf("protocols = %v, %v", c0.Protocol, c1.Protocol)
	}
	if len(c0.EndpointURLs) != 2 {
		t.Errorf("endpoints of client 0 = %v, want both", c0.EndpointURLs)
	}
	if cfg.Duration.D() != 30*time.Second || cfg.Warmup.D() != 5*time.Second {
		t.Errorf("duration %v warmup %v", cfg.Duration, cfg.Warmup)
	}
	if c0.Stages[0].RPS != 1000 || c0.Stages[0].Duration.D() != 10*time.Second {
		t.Errorf("stage = %+v", c0.Stages[0])
	}
	// defaults filled in
	if c1.Connections != DefaultConnections || c1.LoadGenerator != "fortio" || c1.Model != ModelClosed || c1.PayloadBytes != DefaultPayloadBytes {
		t.Errorf("defaults not applied: %+v", c1)
	}
}

func TestDecodeConfigJSONWithTabs(t *testing.T) {
	doc := "{\n\t\"duration\": \"5s\",\n\t\"clients\": [{\"protocol\": \"PROTOCOL_TCP\", \"endpoint_urls\": [\"tcp://127.0.0.1:9\"]}]\n}"
	cfg, err := DecodeConfig([]byte(doc))
	if err != nil {
		t.Fatalf("decode JSON: %v", err)
	}
	if cfg.Clients[0].Protocol != ProtocolTCP {
		t.Errorf("protocol = %v, want TCP", cfg.Clients[0].Protocol)
	}
}

func TestDecodeConfigNamesEveryBadField(t *testing.T) {
	doc := `duration: 10s
clients:
  - protocol: HTTP
    rsp: 100
    connections: lots
    endpoint_urls: [http://x/]
    model: sideways
  - protocol: SCTP
    endpoint_urls: [http://x/]
    endpoint_urls: [http://y/]
`
	_, err := DecodeConfig([]byte(doc))
	var fe FieldErrors
	if !errors.As(err, &fe) {
		t.Fatalf("want FieldErrors, got %v", err)
	}
	want := map[string]int{ // path -> line
		"clients[0].rsp":           4,
		"clients[0].connections":   5,
		"clients[0].model":         7,
		"clients[1].protocol":      8,
		"clients[1].endpoint_urls": 10,
	}
	got := map[string]FieldError{}
	for _, e := range fe {
		got[e.Path] = e
	}
	for path, line := range want {
		e, ok := got[path]
		if !ok {
			t.Errorf("no error for %s; got %v", path, err)
			continue
		}
		if e.Line != line {
			t.Errorf("%s: line %d, want %d", path, e.Line, line)
		}
	}
	if !strings.Contains(got["clients[0].rsp"].Msg, `did you mean "rps"`) {
		t.Errorf("no suggestion for the typo: %q", got["clients[0].rsp"].Msg)
	}
	if len(fe) != len(want) {
		t.Errorf("got %d problems, want %d: %v", len(fe), len(want), err)
	}
}

func TestValidateListsAllProblems(t *testing.T) {
	cfg := &TestConfig{Clients: []Client{
		{Protocol: ProtocolHTTP, Model: ModelOpen, EndpointURLs: []string{"ftp://x/"}, Connections: -1, HTTPVersion: "3"},
		{Protocol: ProtocolGRPC, EndpointURLs: []string{"no-port"}, GRPC: &GRPCOptions{Call: "stream"}},
	}}
	cfg.ApplyDefaults()
	cfg.Clients[0].Connections = -1
	err := cfg.Validate()
	var fe FieldErrors
	if !errors.As(err, &fe) {
		t.Fatalf("want FieldErrors, got %v", err)
	}
	for _, path := range []string{
		"clients[0].endpoint_urls[0]", "clients[0].connections", "clients[0].rps", "clients[0].http_version",
		"clients[1].endpoint_urls[0]", "clients[1].grpc.call",
	} {
		if !strings.Contains(err.Error(), path) {
			t.Errorf("missing %s in %v", path, err)
		}
	}
}

func TestStagesLongerThanDuration(t *testing.T) {
	doc := `duration: 5s
clients:
  - endpoint_urls: [http://x/]
    stages: [{duration: 4s, rps: 10}, {duration: 4s, rps: 20}]
`
	_, err := DecodeConfig([]byte(doc))
	if err == nil || !strings.Contains(err.Error(), "clients[0].stages") {
		t.Fatalf("want stages error, got %v", err)
	}
	// Without a duration the stages set it.
	cfg, err := DecodeConfig([]byte(strings.Replace(doc, "duration: 5s\n", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Duration.D() != 8*time.Second {
		t.Errorf("duration = %v, want 8s from the stages", cfg.Duration)
	}
}

func TestDecodeRejectsEmptyAndGarbage(t *testing.T) {
	for _, doc := range []string{"", "   \n", "clients: [", "- just a list", "42", "{\"clients\": 5}"} {
		if _, err := DecodeConfig([]byte(doc)); err == nil {
			t.Errorf("DecodeConfig(%q) accepted garbage", doc)
		} else if !IsInputError(err) {
			t.Errorf("DecodeConfig(%q): error %v is not an input error", doc, err)
		}
	}
}

// Aliases that multiply: 1000 clients × 1000 endpoints from a few lines. Refused with
// a clear error instead of being expanded.
func TestAliasExpansionIsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("u: &u [")
	for i := range 1000 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("http://x/")
	}
	b.WriteString("]\nc: &c {endpoint_urls: *u}\nclients: [")
	for i := range 1000 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("*c")
	}
	b.WriteString("]\n")
	var cfg struct {
		U       []string `yaml:"u"`
		C       Client   `yaml:"c"`
		Clients []Client `yaml:"clients"`
	}
	err := DecodeStrict([]byte(b.String()), &cfg)
	if err == nil || !strings.Contains(err.Error(), "expands to more than") {
		t.Fatalf("want the expansion refused, got %v", err)
	}
}

func TestProtocolNamesAndNumbers(t *testing.T) {
	for in, want := range map[string]Protocol{"1": ProtocolHTTP, "http": ProtocolHTTP, "GRPC": ProtocolGRPC, "PROTOCOL_TCP": ProtocolTCP, "4": ProtocolGRPC} {
		got, err := ParseProtocol(in)
		if err != nil || got != want {
			t.Errorf("ParseProtocol(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"9", "QUIC", ""} {
		if _, err := ParseProtocol(bad); err == nil {
			t.Errorf("ParseProtocol(%q) accepted", bad)
		}
	}
}

func TestDurationForms(t *testing.T) {
	for in, want := range map[string]time.Duration{"30s": 30 * time.Second, "1m30s": 90 * time.Second, "30": 30 * time.Second, "0.5": 500 * time.Millisecond} {
		got, err := ParseDuration(in)
		if err != nil || got.D() != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"-1s", "soon", "-3"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
}

// FuzzDecodeConfig: the decoder never panics, and whatever it accepts validates and
// survives a round trip through YAML.
func FuzzDecodeConfig(f *testing.F) {
	f.Add([]byte(goodYAML))
	f.Add([]byte(`{"clients":[{"protocol":1,"endpoint_urls":["http://x/"],"rps":5}],"duration":"1s"}`))
	f.Add([]byte("clients:\n  - &a {endpoint_urls: [http://x/]}\n  - *a\n"))
	f.Add([]byte("duration: [1, 2]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := DecodeConfig(data)
		if err != nil {
			if !IsInputError(err) {
				t.Fatalf("error is not an input error: %v", err)
			}
			return
		}
		var buf strings.Builder
		if err := writeYAML(&buf, cfg); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := DecodeConfig([]byte(buf.String()))
		if err != nil {
			t.Fatalf("round trip rejected: %v\n%s", err, buf.String())
		}
		if len(again.Clients) != len(cfg.Clients) || again.Duration != cfg.Duration {
			t.Fatalf("round trip changed the config")
		}
	})
}
