package smp

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// SMPVersion is the version of the Service Mesh Performance specification meshperf writes.
const SMPVersion = "v0.6.1"

// TestConfig is an SMP PerformanceTestConfig with meshperf's extensions kept beside the
// SMP fields (never packed into additional_options), so any SMP config file is a valid
// meshperf config and meshperf's own fields survive a round trip through YAML or JSON.
type TestConfig struct {
	SMPVersion string            `yaml:"smp_version,omitempty" json:"smp_version,omitempty"`
	ID         string            `yaml:"id,omitempty" json:"id,omitempty"`
	Name       string            `yaml:"name,omitempty" json:"name,omitempty"`
	Labels     map[string]string `yaml:"labels,omitempty" json:"labels,omitempty"`
	Clients    []Client          `yaml:"clients" json:"clients"`
	// Duration of the measured part of the run (after warm-up).
	Duration Duration `yaml:"duration,omitempty" json:"duration,omitempty"`

	// Warmup runs the load before the measured window; its intervals are kept in the
	// result but excluded from the summary and the SMP export. (meshperf extension)
	Warmup Duration `yaml:"warmup,omitempty" json:"warmup,omitempty"`

	// Thresholds are SLO assertions on the merged result; a failed one fails the run's
	// verdict (and, with abort_on_fail, stops it early). (meshperf extension)
	Thresholds []Threshold `yaml:"thresholds,omitempty" json:"thresholds,omitempty"`

	// Agents runs the test on agents instead of locally (server runs only): Count
	// agents whose labels match Selector share the load. (meshperf extension)
	Agents *AgentPlacement `yaml:"agents,omitempty" json:"agents,omitempty"`

	// Cluster names the connected Kubernetes cluster under test (server runs only);
	// the result records its environment: version, nodes, cores and memory. Runs on
	// agents selected by meshperf.io/cluster target that cluster without it.
	// (meshperf extension)
	Cluster string `yaml:"cluster,omitempty" json:"cluster,omitempty"`

	// GrafanaPanels are panels of existing Grafana boards attached to the test: each
	// run links them with the run's window as their time range. (meshperf extension)
	GrafanaPanels []GrafanaPanel `yaml:"grafana_panels,omitempty" json:"grafana_panels,omitempty"`
	// Metrics queries Prometheus over the measured window after the run and keeps the
	// series with the result; a Prometheus that does not answer marks them missing
	// and the run still succeeds. (meshperf extension)
	Metrics *MetricsConfig `yaml:"metrics,omitempty" json:"metrics,omitempty"`
}

// GrafanaPanel is one panel of a Grafana board (by the board's uid and the panel's id).
type GrafanaPanel struct {
	BoardUID string `yaml:"board_uid" json:"board_uid"`
	PanelID  int    `yaml:"panel_id" json:"panel_id"`
	// Title is the panel's title when it was attached, for people.
	Title string `yaml:"title,omitempty" json:"title,omitempty"`
}

// MaxGrafanaPanels bounds the panels attached to one test.
const MaxGrafanaPanels = 50

// ClusterLabel labels agents deployed into a cluster with the cluster's connection name.
const ClusterLabel = "meshperf.io/cluster"

// TargetCluster is the cluster a run targets: Cluster, else the cluster its agents are
// selected from, else "".
func (t *TestConfig) TargetCluster() string {
	if t.Cluster != "" {
		return t.Cluster
	}
	if t.Agents != nil {
		return t.Agents.Selector[ClusterLabel]
	}
	return ""
}

// AgentPlacement chooses the agents of a distributed run.
type AgentPlacement struct {
	Selector map[string]string `yaml:"selector,omitempty" json:"selector,omitempty"`
	Count    int               `yaml:"count" json:"count"`
}

// Client is one load generator stream: an SMP Client plus meshperf's extensions.
// Several clients in one config run at the same time; every endpoint URL of a client
// receives its share of the requests (round robin).
type Client struct {
	Internal          bool              `yaml:"internal,omitempty" json:"internal,omitempty"`
	LoadGenerator     string            `yaml:"load_generator,omitempty" json:"load_generator,omitempty"`
	Protocol          Protocol          `yaml:"protocol,omitempty" json:"protocol,omitempty"`
	Connections       int32             `yaml:"connections,omitempty" json:"connections,omitempty"`
	RPS               int64             `yaml:"rps,omitempty" json:"rps,omitempty"`
	Headers           map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`
	Cookies           map[string]string `yaml:"cookies,omitempty" json:"cookies,omitempty"`
	Body              string            `yaml:"body,omitempty" json:"body,omitempty"`
	ContentType       string            `yaml:"content_type,omitempty" json:"content_type,omitempty"`
	EndpointURLs      []string          `yaml:"endpoint_urls,omitempty" json:"endpoint_urls,omitempty"`
	SSLCertificate    string            `yaml:"ssl_certificate,omitempty" json:"ssl_certificate,omitempty"`
	AdditionalOptions string            `yaml:"additional_options,omitempty" json:"additional_options,omitempty"`

	// meshperf extensions

	// Name identifies the client in per-client breakdowns (default "client-N").
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// Model is the load model: closed (connections as fast as possible, or at rps with
	// the rate slowing when the target slows) or open (constant arrival rate measured
	// from the intended send time).
	Model LoadModel `yaml:"model,omitempty" json:"model,omitempty"`
	// Method is the HTTP method (default GET, or POST when a body is set).
	Method string `yaml:"method,omitempty" json:"method,omitempty"`
	// Timeout bounds one request (default 3s).
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// HTTPVersion is "1.1" (default) or "2" (h2 over TLS for https URLs, h2c otherwise).
	HTTPVersion string `yaml:"http_version,omitempty" json:"http_version,omitempty"`
	// Stages ramp the rate linearly, starting from rps, to each stage's rps over its duration.
	Stages []Stage `yaml:"stages,omitempty" json:"stages,omitempty"`
	// GRPC selects the gRPC call for protocol GRPC.
	GRPC *GRPCOptions `yaml:"grpc,omitempty" json:"grpc,omitempty"`
	// PayloadBytes is the size of the echo payload for TCP and gRPC echo (default 24).
	PayloadBytes int `yaml:"payload_bytes,omitempty" json:"payload_bytes,omitempty"`
	// InsecureSkipVerify disables TLS certificate verification (test targets only).
	InsecureSkipVerify bool `yaml:"insecure_skip_verify,omitempty" json:"insecure_skip_verify,omitempty"`
}

// Stage ramps a client's rate linearly to RPS over Duration.
type Stage struct {
	Duration Duration `yaml:"duration" json:"duration"`
	RPS      int64    `yaml:"rps" json:"rps"`
}

// GRPC calls meshperf can make.
const (
	GRPCHealth = "health" // grpc.health.v1.Health/Check
	GRPCEcho   = "echo"   // meshperf.echo.v1.Echo/Echo
)

// GRPCOptions selects the gRPC call.
type GRPCOptions struct {
	// Call is "health" (default) or "echo".
	Call string `yaml:"call,omitempty" json:"call,omitempty"`
	// Service is the service name asked about by the health check ("" = the server).
	Service string `yaml:"service,omitempty" json:"service,omitempty"`
}

// Method is the full gRPC method the call invokes, as summaries name it: health and
// echo measure different things.
func (g *GRPCOptions) Method() string {
	if g == nil || g.Call == "" || g.Call == GRPCHealth {
		return "grpc.health.v1.Health/Check"
	}
	if g.Call == GRPCEcho {
		return "meshperf.echo.v1.Echo/Echo"
	}
	return g.Call
}

// Defaults applied where a field is left empty.
const (
	DefaultConnections  = 8
	DefaultTimeout      = 3 * time.Second
	DefaultDuration     = 10 * time.Second
	DefaultPayloadBytes = 24
	DefaultGenerator    = "fortio"
)

// ClientName is the client's name or "client-<index>".
func (c *Client) ClientName(index int) string {
	if c.Name != "" {
		return c.Name
	}
	return "client-" + strconv.Itoa(index)
}

// HTTPMethod is the method to send: the configured one, else POST with a body, else GET.
func (c *Client) HTTPMethod() string {
	if c.Method != "" {
		return strings.ToUpper(c.Method)
	}
	if c.Body != "" {
		return "POST"
	}
	return "GET"
}

// StagesDuration is the sum of the stage durations.
func (c *Client) StagesDuration() time.Duration {
	var d time.Duration
	for _, s := range c.Stages {
		d += s.Duration.D()
	}
	return d
}

// ApplyDefaults fills empty fields with their defaults, in place.
func (t *TestConfig) ApplyDefaults() {
	if t.SMPVersion == "" {
		t.SMPVersion = SMPVersion
	}
	var longestStages time.Duration
	for i := range t.Clients {
		c := &t.Clients[i]
		if c.LoadGenerator == "" {
			c.LoadGenerator = DefaultGenerator
		}
		c.LoadGenerator = strings.ToLower(c.LoadGenerator)
		if c.Protocol == ProtocolInvalid {
			c.Protocol = ProtocolHTTP
		}
		if c.Connections == 0 {
			c.Connections = DefaultConnections
		}
		if c.Model == "" {
			if c.RPS > 0 || len(c.Stages) > 0 {
				c.Model = ModelOpen
			} else {
				c.Model = ModelClosed
			}
		}
		if c.Timeout == 0 {
			c.Timeout = Duration(DefaultTimeout)
		}
		if c.HTTPVersion == "" {
			c.HTTPVersion = "1.1"
		}
		if c.Protocol == ProtocolGRPC && c.GRPC == nil {
			c.GRPC = &GRPCOptions{}
		}
		if c.GRPC != nil && c.GRPC.Call == "" {
			c.GRPC.Call = GRPCHealth
		}
		if c.PayloadBytes == 0 && (c.Protocol == ProtocolTCP || c.Protocol == ProtocolGRPC) {
			c.PayloadBytes = DefaultPayloadBytes
		}
		if d := c.StagesDuration(); d > longestStages {
			longestStages = d
		}
	}
	if t.Duration == 0 {
		if longestStages > 0 {
			t.Duration = Duration(longestStages)
		} else {
			t.Duration = Duration(DefaultDuration)
		}
	}
}

// Protocol is the SMP client protocol enum.
type Protocol int32

// The SMP protocol values (PerformanceTestConfig.Client.Protocol).
const (
	ProtocolInvalid Protocol = 0
	ProtocolHTTP    Protocol = 1
	ProtocolTCP     Protocol = 2
	ProtocolUDP     Protocol = 3
	ProtocolGRPC    Protocol = 4
)

var protocolNames = map[Protocol]string{
	ProtocolInvalid: "INVALID", ProtocolHTTP: "HTTP", ProtocolTCP: "TCP",
	ProtocolUDP: "UDP", ProtocolGRPC: "GRPC",
}

func (p Protocol) String() string {
	if s, ok := protocolNames[p]; ok {
		return s
	}
	return "Protocol(" + strconv.Itoa(int(p)) + ")"
}

// ParseProtocol accepts a name (any case) or the SMP number.
func ParseProtocol(s string) (Protocol, error) {
	s = strings.TrimSpace(s)
	if len(s) > len("PROTOCOL_") && strings.EqualFold(s[:len("PROTOCOL_")], "PROTOCOL_") {
		s = s[len("PROTOCOL_"):] // the proto enum's own names
	}
	if n, err := strconv.Atoi(s); err == nil {
		if _, ok := protocolNames[Protocol(n)]; ok {
			return Protocol(n), nil
		}
		return 0, fmt.Errorf("protocol %d is not one of 0..4 (INVALID, HTTP, TCP, UDP, GRPC)", n)
	}
	for p, name := range protocolNames {
		if strings.EqualFold(s, name) {
			return p, nil
		}
	}
	return 0, fmt.Errorf("protocol %q is not one of HTTP, TCP, UDP, GRPC", s)
}

func (p Protocol) MarshalJSON() ([]byte, error) { return json.Marshal(p.String()) }

func (p *Protocol) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		s = string(b)
	}
	v, err := ParseProtocol(s)
	if err != nil {
		return err
	}
	*p = v
	return nil
}

func (p Protocol) MarshalYAML() (any, error) { return p.String(), nil }

func (p *Protocol) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected a protocol name or number")
	}
	v, err := ParseProtocol(n.Value)
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// LoadModel says how requests are paced.
type LoadModel string

// Load models.
const (
	// ModelClosed: each connection sends its next request when the previous one is
	// answered (as fast as possible, or paced at rps). The rate drops when the target
	// slows down; latency is measured from the actual send.
	ModelClosed LoadModel = "closed"
	// ModelOpen: requests are due at a constant arrival rate whatever the target does;
	// latency is measured from the intended send time (coordinated omission corrected).
	ModelOpen LoadModel = "open"
)

// ParseLoadModel accepts "open" or "closed" in any case.
func ParseLoadModel(s string) (LoadModel, error) {
	switch m := LoadModel(strings.ToLower(strings.TrimSpace(s))); m {
	case ModelClosed, ModelOpen:
		return m, nil
	case "":
		return "", nil
	}
	return "", fmt.Errorf("model %q is not one of open, closed", s)
}

func (m *LoadModel) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected open or closed")
	}
	v, err := ParseLoadModel(n.Value)
	if err != nil {
		return err
	}
	*m = v
	return nil
}

func (m *LoadModel) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("expected open or closed")
	}
	v, err := ParseLoadModel(s)
	if err != nil {
		return err
	}
	*m = v
	return nil
}
