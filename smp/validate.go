package smp

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/http/httpguts"
)

// Limits that keep a config from asking for something absurd by mistake (or on
// purpose: a server runs what its editors send). README "Limits and security" lists
// them.
const (
	MaxClients = 64
	// MaxConnections bounds one client's connections, and MaxRunConnections the sum
	// over a run's clients: a run never has more requests in flight than connections.
	MaxConnections    = 10000
	MaxRunConnections = 10000
	MaxPayloadBytes   = 1 << 20
	// MaxRPS bounds a client's (and a stage's) target rate.
	MaxRPS      = 1_000_000
	MaxDuration = 24 * time.Hour
	MaxTimeout  = 5 * time.Minute
	// Labels are stored and indexed: keys up to 128 bytes, values up to 256.
	MaxLabels          = 64
	MaxLabelKeyBytes   = 128
	MaxLabelValueBytes = 256
)

// checkGrafanaPanels: a board uid as Grafana allows them (1-40 letters, digits, - and
// _), a panel id, each panel once.
func checkGrafanaPanels(panels []GrafanaPanel, errs *FieldErrors) {
	if len(panels) > MaxGrafanaPanels {
		errs.Add("grafana_panels", 0, "at most %d panels, got %d", MaxGrafanaPanels, len(panels))
		return
	}
	seen := map[GrafanaPanel]int{}
	for i, p := range panels {
		path := "grafana_panels[" + itoa(i) + "]"
		if !grafanaUID(p.BoardUID) {
			errs.Add(path+".board_uid", 0, "%q is not a Grafana board uid (1 to 40 letters, digits, - or _)", p.BoardUID)
		}
		if p.PanelID < 1 {
			errs.Add(path+".panel_id", 0, "must be a panel id (1 or more), got %d", p.PanelID)
		}
		if len(p.Title) > 256 {
			errs.Add(path+".title", 0, "at most 256 bytes")
		}
		key := GrafanaPanel{BoardUID: p.BoardUID, PanelID: p.PanelID}
		if prev, dup := seen[key]; dup {
			errs.Add(path, 0, "the same panel as grafana_panels[%d]", prev)
		}
		seen[key] = i
	}
}

func grafanaUID(s string) bool {
	if len(s) < 1 || len(s) > 40 {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// Validate checks a config after ApplyDefaults and returns every problem at once.
func (t *TestConfig) Validate() error {
	var errs FieldErrors
	if len(t.Clients) == 0 {
		errs.Add("clients", 0, "at least one client is needed")
	}
	if t.Duration.D() <= 0 {
		errs.Add("duration", 0, "must be positive")
	} else if t.Duration.D() > MaxDuration {
		errs.Add("duration", 0, "must be at most %v, got %v", MaxDuration, t.Duration)
	}
	if t.Warmup.D() > MaxDuration {
		errs.Add("warmup", 0, "must be at most %v, got %v", MaxDuration, t.Warmup)
	}
	checkLabels("labels", t.Labels, &errs)
	if len(t.Clients) > MaxClients {
		errs.Add("clients", 0, "at most %d clients, got %d", MaxClients, len(t.Clients))
	}
	var conns int64
	for _, c := range t.Clients {
		conns += int64(c.Connections)
	}
	if conns > MaxRunConnections {
		errs.Add("clients", 0, "the clients ask for %d connections in all; a run may have at most %d", conns, MaxRunConnections)
	}
	if t.Agents != nil && (t.Agents.Count < 1 || t.Agents.Count > 1000) {
		errs.Add("agents.count", 0, "must be between 1 and 1000, got %d", t.Agents.Count)
	}
	if len(t.Cluster) > 128 || strings.TrimSpace(t.Cluster) != t.Cluster {
		errs.Add("cluster", 0, "not a cluster connection name")
	}
	checkGrafanaPanels(t.GrafanaPanels, &errs)
	names := map[string]int{}
	for i := range t.Clients {
		c := &t.Clients[i]
		p := "clients[" + itoa(i) + "]"
		if prev, dup := names[c.ClientName(i)]; dup {
			errs.Add(p+".name", 0, "name %q is already used by clients[%d]", c.ClientName(i), prev)
		}
		names[c.ClientName(i)] = i
		c.validate(p, t.Duration.D(), &errs)
	}
	return errs.Err()
}

func (c *Client) validate(p string, testDuration time.Duration, errs *FieldErrors) {
	switch c.Protocol {
	case ProtocolHTTP, ProtocolTCP, ProtocolGRPC:
	case ProtocolUDP:
		errs.Add(p+".protocol", 0, "UDP load is not supported; use HTTP, GRPC or TCP")
	default:
		errs.Add(p+".protocol", 0, "must be HTTP, GRPC or TCP")
	}
	if c.Connections < 1 || c.Connections > MaxConnections {
		errs.Add(p+".connections", 0, "must be between 1 and %d, got %d", MaxConnections, c.Connections)
	}
	if c.RPS < 0 || c.RPS > MaxRPS {
		errs.Add(p+".rps", 0, "must be between 0 and %d, got %d", MaxRPS, c.RPS)
	}
	switch c.Model {
	case ModelOpen:
		if c.RPS == 0 && len(c.Stages) == 0 {
			errs.Add(p+".rps", 0, "the open model needs a rate (rps > 0) or stages")
		}
	case ModelClosed:
	default:
		errs.Add(p+".model", 0, "must be open or closed")
	}
	if c.Timeout.D() <= 0 || c.Timeout.D() > MaxTimeout {
		errs.Add(p+".timeout", 0, "must be positive and at most %v, got %v", MaxTimeout, c.Timeout)
	}
	if len(c.EndpointURLs) == 0 {
		errs.Add(p+".endpoint_urls", 0, "at least one endpoint URL is needed")
	}
	for j, raw := range c.EndpointURLs {
		if msg := checkEndpoint(c.Protocol, raw); msg != "" {
			errs.Add(p+".endpoint_urls["+itoa(j)+"]", 0, "%s", msg)
		}
	}
	if c.Method != "" && !httpguts.ValidHeaderFieldName(c.Method) {
		errs.Add(p+".method", 0, "%q is not a valid HTTP method", c.Method)
	}
	for k, v := range c.Headers {
		if !httpguts.ValidHeaderFieldName(k) {
			errs.Add(p+".headers", 0, "%q is not a valid header name", k)
		} else if !httpguts.ValidHeaderFieldValue(v) {
			errs.Add(p+".headers."+k, 0, "value has characters not allowed in a header")
		}
	}
	for k, v := range c.Cookies {
		if (&http.Cookie{Name: k, Value: v}).Valid() != nil {
			errs.Add(p+".cookies."+k, 0, "not a valid cookie name or value")
		}
	}
	switch c.HTTPVersion {
	case "1.1", "2":
	default:
		errs.Add(p+".http_version", 0, "must be \"1.1\" or \"2\", got %q", c.HTTPVersion)
	}
	var stages time.Duration
	for j, s := range c.Stages {
		sp := p + ".stages[" + itoa(j) + "]"
		if s.Duration.D() <= 0 {
			errs.Add(sp+".duration", 0, "must be positive")
		}
		if s.RPS < 0 || s.RPS > MaxRPS {
			errs.Add(sp+".rps", 0, "must be between 0 and %d, got %d", MaxRPS, s.RPS)
		}
		stages += s.Duration.D()
	}
	if stages > testDuration && testDuration > 0 {
		errs.Add(p+".stages", 0, "stages last %v, longer than the test duration %v", stages, testDuration)
	}
	if c.GRPC != nil {
		if c.Protocol != ProtocolGRPC {
			errs.Add(p+".grpc", 0, "only applies to protocol GRPC")
		}
		switch c.GRPC.Call {
		case GRPCHealth, GRPCEcho:
		default:
			errs.Add(p+".grpc.call", 0, "must be health or echo, got %q", c.GRPC.Call)
		}
	}
	if c.PayloadBytes < 0 || c.PayloadBytes > MaxPayloadBytes {
		errs.Add(p+".payload_bytes", 0, "must be between 0 and %d", MaxPayloadBytes)
	}
}

// checkLabels refuses labels that cannot be stored and filtered on faithfully: empty
// or oversized keys, control characters (NUL, newline), invalid UTF-8.
func checkLabels(path string, labels map[string]string, errs *FieldErrors) {
	if len(labels) > MaxLabels {
		errs.Add(path, 0, "at most %d labels, got %d", MaxLabels, len(labels))
		return
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := path + "[" + strconv.Quote(k) + "]"
		switch {
		case k == "" || len(k) > MaxLabelKeyBytes:
			errs.Add(p, 0, "a label key must be 1 to %d bytes", MaxLabelKeyBytes)
		case !printable(k):
			errs.Add(p, 0, "a label key must be printable UTF-8 (no control characters)")
		case len(labels[k]) > MaxLabelValueBytes:
			errs.Add(p, 0, "a label value must be at most %d bytes", MaxLabelValueBytes)
		case !printable(labels[k]):
			errs.Add(p, 0, "a label value must be printable UTF-8 (no control characters)")
		}
	}
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// checkEndpoint returns what is wrong with an endpoint for a protocol, or "".
func checkEndpoint(proto Protocol, raw string) string {
	if strings.TrimSpace(raw) == "" {
		return "is empty"
	}
	switch proto {
	case ProtocolHTTP:
		u, err := url.Parse(raw)
		if err != nil {
			return "is not a URL: " + err.Error()
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return "an HTTP endpoint needs an http:// or https:// URL, got " + raw
		}
		if u.Host == "" {
			return "has no host"
		}
	case ProtocolGRPC, ProtocolTCP:
		if _, err := ParseEndpoint(proto, raw); err != nil {
			return err.Error()
		}
	}
	return ""
}

// Endpoint is a TCP or gRPC endpoint reduced to exactly what is dialled.
type Endpoint struct {
	Host, Port string
	// TLS: an https:// gRPC endpoint.
	TLS bool
}

// HostPort is the address dialled.
func (e Endpoint) HostPort() string { return net.JoinHostPort(e.Host, e.Port) }

// grpcResolverSchemes are names gRPC reads as a resolver when they stand before a
// colon: "unix:80" would dial a socket file, not host "unix".
var grpcResolverSchemes = map[string]bool{"dns": true, "passthrough": true, "unix": true, "unix-abstract": true, "xds": true, "google-c2p": true}

// ParseEndpoint is the one parser of TCP and gRPC endpoints, for the validator, the
// --allow-target check and the dialers alike, so that what is checked is what is
// dialled. It accepts host:port, optionally behind tcp:// (TCP), grpc://, http://,
// https:// or dns:/// (gRPC), with at most a trailing "/"; anything else (resolver
// schemes such as passthrough://a/b, authorities, paths, queries) is refused.
func ParseEndpoint(proto Protocol, raw string) (Endpoint, error) {
	usage := fmt.Errorf("needs host:port (optionally with a %s://, http:// or https:// prefix), got %q", strings.ToLower(proto.String()), raw)
	s := raw
	var e Endpoint
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		switch {
		case scheme == "http", scheme == "grpc" && proto == ProtocolGRPC, scheme == "tcp" && proto == ProtocolTCP:
		case scheme == "https" && proto == ProtocolGRPC:
			e.TLS = true
		case scheme == "dns" && proto == ProtocolGRPC && strings.HasPrefix(rest, "/"):
			rest = rest[1:] // dns:///host:port: no authority, the name resolved normally
		default:
			return Endpoint{}, usage
		}
		s = strings.TrimSuffix(rest, "/")
	}
	if strings.ContainsAny(s, "/?#@ \t") {
		return Endpoint{}, usage
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return Endpoint{}, usage
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return Endpoint{}, fmt.Errorf("port %q is not a port number (1-65535) in %q", port, raw)
	}
	if ip := net.ParseIP(host); ip == nil {
		if !validHostName(host) || grpcResolverSchemes[strings.ToLower(host)] {
			return Endpoint{}, fmt.Errorf("%q is not a host name or IP address in %q", host, raw)
		}
	} else if strings.Contains(host, "%") {
		return Endpoint{}, fmt.Errorf("zoned IPv6 addresses are not supported: %q", raw)
	}
	e.Host, e.Port = host, port
	return e, nil
}

func validHostName(h string) bool {
	if len(h) > 253 {
		return false
	}
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// EndpointHostPort is the address a TCP or gRPC endpoint dials (see ParseEndpoint),
// or "" for an endpoint that does not parse (validation refuses those).
func EndpointHostPort(raw string) string {
	e, err := ParseEndpoint(ProtocolGRPC, raw)
	if err != nil {
		if e, err = ParseEndpoint(ProtocolTCP, raw); err != nil {
			return ""
		}
	}
	return e.HostPort()
}

// GRPCDialTarget is what the gRPC dialler is given for an endpoint: exactly the
// checked host:port (https:// kept to select TLS), never a resolver URL.
func GRPCDialTarget(raw string) (string, error) {
	e, err := ParseEndpoint(ProtocolGRPC, raw)
	if err != nil {
		return "", err
	}
	if e.TLS {
		return "https://" + e.HostPort(), nil
	}
	return e.HostPort(), nil
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
