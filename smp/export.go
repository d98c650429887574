package smp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	smpspec "github.com/layer5io/service-mesh-performance/spec"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"gopkg.in/yaml.v3"
)

// ExportResult builds the official SMP PerformanceTestResult from a result: the
// measured window only (warm-up excluded), latencies in milliseconds, real ids and
// details_uri pointing back at the full result (histograms, intervals, errors).
func ExportResult(r *Result) *smpspec.PerformanceTestResult {
	l := r.Summary.Latency
	out := &smpspec.PerformanceTestResult{
		SmpVersion: SMPVersion,
		Id:         r.ID,
		Labels:     copyLabels(r.Labels),
		LatenciesMs: &smpspec.PerformanceTestResult_Latency{
			Min: l.MinMs, Average: l.MeanMs, P50: l.P50Ms, P90: l.P90Ms, P99: l.P99Ms, Max: l.MaxMs,
		},
		ActualQps:  r.Summary.ActualRPS,
		DetailsUri: r.DetailsURI,
		TestId:     r.TestID,
		EnvId:      r.Environment.ID,
	}
	if k := r.Environment.Kubernetes; k != nil && len(k.Meshes) > 0 {
		out.MeshConfigId = MeshConfigID(r.Environment.ID, k.Meshes[0])
	}
	if !r.MeasureStart.IsZero() {
		out.StartTime = timestamppb.New(r.MeasureStart.UTC())
	}
	if !r.EndTime.IsZero() {
		out.EndTime = timestamppb.New(r.EndTime.UTC())
	}
	return out
}

// ImportResult reads an SMP result back into a meshperf result. SMP carries no
// histogram, status codes or errors, so only the summary figures come back.
func ImportResult(p *smpspec.PerformanceTestResult) *Result {
	r := &Result{
		SMPVersion: p.GetSmpVersion(),
		ID:         p.GetId(),
		TestID:     p.GetTestId(),
		Labels:     copyLabels(p.GetLabels()),
		Status:     StatusCompleted,
		DetailsURI: p.GetDetailsUri(),
	}
	r.Environment.ID = p.GetEnvId()
	if p.StartTime != nil {
		r.MeasureStart = p.StartTime.AsTime()
		r.StartTime = r.MeasureStart
	}
	if p.EndTime != nil {
		r.EndTime = p.EndTime.AsTime()
	}
	if l := p.GetLatenciesMs(); l != nil {
		r.Summary.Latency = LatencySummary{MinMs: l.Min, MeanMs: l.Average, P50Ms: l.P50, P90Ms: l.P90, P99Ms: l.P99, MaxMs: l.Max}
	}
	r.Summary.ActualRPS = p.GetActualQps()
	if !r.EndTime.IsZero() && r.EndTime.After(r.MeasureStart) {
		r.Summary.DurationSeconds = r.EndTime.Sub(r.MeasureStart).Seconds()
	}
	return r
}

// ExportConfig builds the SMP PerformanceTestConfig: every client and every endpoint.
// meshperf's extensions (model, stages, warm-up ...) have no SMP field and stay in
// meshperf's own config documents.
func ExportConfig(c *TestConfig) *smpspec.PerformanceTestConfig {
	out := &smpspec.PerformanceTestConfig{
		SmpVersion: SMPVersion,
		Id:         c.ID,
		Name:       c.Name,
		Labels:     copyLabels(c.Labels),
		Duration:   c.Duration.String(),
	}
	for _, cl := range c.Clients {
		out.Clients = append(out.Clients, &smpspec.PerformanceTestConfig_Client{
			Internal:          cl.Internal,
			LoadGenerator:     cl.LoadGenerator,
			Protocol:          smpspec.PerformanceTestConfig_Client_Protocol(cl.Protocol),
			Connections:       cl.Connections,
			Rps:               cl.RPS,
			Headers:           copyLabels(cl.Headers),
			Cookies:           copyLabels(cl.Cookies),
			Body:              cl.Body,
			ContentType:       cl.ContentType,
			EndpointUrls:      append([]string(nil), cl.EndpointURLs...),
			SslCertificate:    cl.SSLCertificate,
			AdditionalOptions: cl.AdditionalOptions,
		})
	}
	return out
}

// ImportConfig reads an SMP config into a meshperf config (extensions left empty).
func ImportConfig(p *smpspec.PerformanceTestConfig) (*TestConfig, error) {
	c := &TestConfig{
		SMPVersion: p.GetSmpVersion(),
		ID:         p.GetId(),
		Name:       p.GetName(),
		Labels:     copyLabels(p.GetLabels()),
	}
	var errs FieldErrors
	if p.GetDuration() != "" {
		d, err := ParseDuration(p.GetDuration())
		if err != nil {
			errs.Add("duration", 0, "%s", err.Error())
		}
		c.Duration = d
	}
	for _, pc := range p.GetClients() {
		c.Clients = append(c.Clients, Client{
			Internal:          pc.GetInternal(),
			LoadGenerator:     pc.GetLoadGenerator(),
			Protocol:          Protocol(pc.GetProtocol()),
			Connections:       pc.GetConnections(),
			RPS:               pc.GetRps(),
			Headers:           copyLabels(pc.GetHeaders()),
			Cookies:           copyLabels(pc.GetCookies()),
			Body:              pc.GetBody(),
			ContentType:       pc.GetContentType(),
			EndpointURLs:      append([]string(nil), pc.GetEndpointUrls()...),
			SSLCertificate:    pc.GetSslCertificate(),
			AdditionalOptions: pc.GetAdditionalOptions(),
		})
	}
	return c, errs.Err()
}

// ExportEnvironment builds the SMP EnvironmentConfig (Kubernetes part when known).
func ExportEnvironment(e *Environment) *smpspec.EnvironmentConfig {
	out := &smpspec.EnvironmentConfig{SmpVersion: SMPVersion, Id: e.ID}
	if e.Hostname != "" {
		out.Labels = map[string]string{"hostname": e.Hostname}
	}
	if k := e.Kubernetes; k != nil {
		if k.Cluster != "" {
			if out.Labels == nil {
				out.Labels = map[string]string{}
			}
			out.Labels["cluster"], out.Labels["cluster_uid"] = k.Cluster, k.ClusterUID
		}
		out.KubernetesVersion = k.Version
		for _, n := range k.Nodes {
			out.Nodes = append(out.Nodes, &smpspec.EnvironmentConfig_Node{Type: n.Type, Cores: n.Cores, MemMb: n.MemMB})
		}
	}
	return out
}

// MarshalSMP writes an SMP message as JSON or YAML with the proto's snake_case field
// names (as published SMP documents use) and enum names.
func MarshalSMP(m proto.Message, format string) ([]byte, error) {
	js, err := protojson.MarshalOptions{UseProtoNames: true, Multiline: true, Indent: "  "}.Marshal(m)
	if err != nil {
		return nil, err
	}
	switch format {
	case "json", "":
		return append(js, '\n'), nil
	case "yaml":
		var n yaml.Node
		if err := yaml.Unmarshal(js, &n); err != nil {
			return nil, err
		}
		blockStyle(&n)
		var buf bytes.Buffer
		if err := writeYAML(&buf, &n); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	return nil, fmt.Errorf("unknown SMP format %q (json or yaml)", format)
}

// UnmarshalSMP reads an SMP message from JSON or YAML; field names may be snake_case
// or lowerCamelCase and enums names or numbers. Unknown fields are refused.
func UnmarshalSMP(data []byte, m proto.Message) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return FieldErrors{{Msg: "document is empty"}}
	}
	if len(data) > MaxDocumentBytes {
		return FieldErrors{{Msg: "document is too large"}}
	}
	js := trimmed
	if trimmed[0] != '{' {
		var v any
		if err := yaml.Unmarshal(data, &v); err != nil {
			return FieldErrors{{Msg: strings.TrimPrefix(err.Error(), "yaml: ")}}
		}
		b, err := json.Marshal(v)
		if err != nil {
			return FieldErrors{{Msg: "document is not an SMP message: " + err.Error()}}
		}
		js = b
	}
	if err := (protojson.UnmarshalOptions{}).Unmarshal(js, m); err != nil {
		return FieldErrors{{Msg: "not a valid SMP " + string(m.ProtoReflect().Descriptor().Name()) + ": " + err.Error()}}
	}
	return nil
}

func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}

func copyLabels(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// MeasuredDuration is the length of the measured window.
func (r *Result) MeasuredDuration() time.Duration {
	if r.EndTime.IsZero() || r.MeasureStart.IsZero() {
		return 0
	}
	return r.EndTime.Sub(r.MeasureStart)
}
