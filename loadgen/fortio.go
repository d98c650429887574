package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"fortio.org/fortio/fgrpc"
	"fortio.org/fortio/fhttp"
	"fortio.org/fortio/tcprunner"
	flog "fortio.org/log"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/meshperf/meshperf/grpcecho"
	"github.com/meshperf/meshperf/smp"
)

// UserAgent is sent with every HTTP request meshperf makes.
var UserAgent = "meshperf"

// fortioEngine drives load with fortio's clients: its fast HTTP/1.1 client, its
// net/http-based client for HTTP/2 (h2 and h2c), fgrpc's dialer for gRPC and the
// tcprunner echo client. Pacing is meshperf's own (Drive): fortio's periodic runner
// times each request from when it actually left and keeps one schedule per thread, so
// it cannot measure an open model from the intended send time.
type fortioEngine struct{}

func init() {
	// fortio logs every failed request; meshperf counts them instead.
	flog.SetLogLevelQuiet(flog.Critical)
	Register(fortioEngine{})
}

func (fortioEngine) Name() string    { return "fortio" }
func (fortioEngine) Version() string { return moduleVersion("fortio.org/fortio") }

func (fortioEngine) Check(c *smp.Client, p string, errs *smp.FieldErrors) {
	switch c.Protocol {
	case smp.ProtocolHTTP, smp.ProtocolGRPC, smp.ProtocolTCP:
	default:
		errs.Add(p+".protocol", 0, "the fortio engine does HTTP, GRPC and TCP, not %s", c.Protocol)
	}
	checkCertificate(c, p, errs)
}

func checkCertificate(c *smp.Client, p string, errs *smp.FieldErrors) {
	if c.SSLCertificate == "" {
		return
	}
	if _, err := os.Stat(c.SSLCertificate); err != nil {
		errs.Add(p+".ssl_certificate", 0, "must be the path of a PEM CA bundle: %v", err)
	}
}

func (e fortioEngine) Run(ctx context.Context, s *Shard, col *Collector) error {
	c := &s.Client
	var newDoer func(int) (Doer, error)
	switch c.Protocol {
	case smp.ProtocolHTTP:
		newDoer = func(w int) (Doer, error) { return newFortioHTTP(c, w) }
	case smp.ProtocolGRPC:
		newDoer = func(int) (Doer, error) { return newFortioGRPC(c) }
	case smp.ProtocolTCP:
		newDoer = func(int) (Doer, error) { return newFortioTCP(c) }
	default:
		return fmt.Errorf("fortio engine: protocol %s not supported", c.Protocol)
	}
	return Drive(ctx, s, col, newDoer)
}

// fortioHTTP holds one fortio client per endpoint URL for one worker.
//
// Bytes: with fortio's fast HTTP/1.1 client both directions are counted as on the
// wire (request line, headers and body; status line, headers and body). Its HTTP/2
// client (net/http) exposes neither the frames nor the compressed headers: there only
// the bodies are counted.
type fortioHTTP struct {
	clients []fhttp.Fetcher
	fast    bool
	timeout time.Duration
	sent    []int64 // bytes one request to clients[i] puts on the wire
}

func newFortioHTTP(c *smp.Client, worker int) (*fortioHTTP, error) {
	d := &fortioHTTP{timeout: c.Timeout.D(), fast: c.HTTPVersion != "2"}
	for _, u := range c.EndpointURLs {
		o := &fhttp.HTTPOptions{
			HTTPReqTimeOut:    c.Timeout.D(),
			DisableFastClient: c.HTTPVersion == "2",
			H2:                c.HTTPVersion == "2",
			ContentType:       c.ContentType,
			MethodOverride:    c.HTTPMethod(),
			ID:                worker,
		}
		o.Insecure = c.InsecureSkipVerify
		o.CACert = c.SSLCertificate
		if c.Body != "" {
			o.Payload = []byte(c.Body)
		}
		o.Init(u)
		if err := o.AddAndValidateExtraHeader("User-Agent: " + UserAgent); err != nil {
			return nil, err
		}
		for _, h := range sortedKeys(c.Headers) {
			if err := o.AddAndValidateExtraHeader(h + ": " + c.Headers[h]); err != nil {
				return nil, fmt.Errorf("header %s: %w", h, err)
			}
		}
		if ck := cookieHeader(c.Cookies); ck != "" {
			if err := o.AddAndValidateExtraHeader("Cookie: " + ck); err != nil {
				return nil, err
			}
		}
		f, err := fhttp.NewClient(o)
		if err != nil || f == nil {
			d.Close()
			return nil, fmt.Errorf("fortio client for %s: %v", u, err)
		}
		d.clients = append(d.clients, f)
		sent := int64(len(c.Body))
		if d.fast {
			sent = fastRequestBytes(o, c.Headers)
		}
		d.sent = append(d.sent, sent)
	}
	return d, nil
}

// fastRequestBytes is the size of the request fortio's fast client writes, built the
// way it builds it (fhttp.NewFastClient): request line, Host, the generated headers,
// the blank line and the payload.
func fastRequestBytes(o *fhttp.HTTPOptions, headers map[string]string) int64 {
	u, err := url.Parse(o.URL)
	if err != nil {
		return int64(len(o.Payload))
	}
	host := u.Host
	for k, v := range headers {
		if strings.EqualFold(k, "Host") {
			host = v
		}
	}
	var hdr bytes.Buffer
	_ = o.GenerateHeaders().Write(&hdr)
	n := len(o.Method()+" "+u.RequestURI()+" HTTP/1.1\r\n") + len("Host: "+host+"\r\n") + hdr.Len() + len("\r\n") + len(o.Payload)
	return int64(n)
}

func (d *fortioHTTP) Do(ctx context.Context, k int64, sent time.Time) Outcome {
	i := k % int64(len(d.clients))
	code, size, _ := d.clients[i].StreamFetch(ctx)
	if code <= 0 {
		// fortio reports every transport failure as -1; the elapsed time tells a timeout.
		cls := ErrSocket
		if time.Since(sent) >= d.timeout-d.timeout/100 {
			cls = ErrTimeout
		}
		return Outcome{Err: cls, BytesSent: d.sent[i]}
	}
	// The fast client's size is everything it read (status line and headers too).
	return Outcome{Code: code, OK: code >= 200 && code < 400, BytesSent: d.sent[i], BytesReceived: max(size, 0)}
}

func (d *fortioHTTP) Close() {
	for _, c := range d.clients {
		c.Close()
	}
}

// fortioGRPC holds one gRPC connection per endpoint for one worker.
type fortioGRPC struct {
	conns   []*grpc.ClientConn
	health  []healthpb.HealthClient
	echo    bool
	service string
	payload []byte
	timeout time.Duration
}

func newFortioGRPC(c *smp.Client) (*fortioGRPC, error) {
	d := &fortioGRPC{
		echo:    c.GRPC != nil && c.GRPC.Call == smp.GRPCEcho,
		timeout: c.Timeout.D(),
		payload: payloadFor(c),
	}
	if c.GRPC != nil {
		d.service = c.GRPC.Service
	}
	for _, u := range c.EndpointURLs {
		target, err := smp.GRPCDialTarget(u) // exactly the address --allow-target checked
		if err != nil {
			d.Close()
			return nil, err
		}
		o := &fgrpc.GRPCRunnerOptions{Destination: target}
		o.Insecure = c.InsecureSkipVerify
		o.CACert = c.SSLCertificate
		conn, err := fgrpc.Dial(o)
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("gRPC dial %s: %w", u, err)
		}
		d.conns = append(d.conns, conn)
		d.health = append(d.health, healthpb.NewHealthClient(conn))
	}
	return d, nil
}

// healthCodeBase offsets a health check's serving status into the code table, so
// NOT_SERVING shows as its own status rather than as a gRPC code.
const healthCodeBase = 100

func (d *fortioGRPC) Do(ctx context.Context, k int64, _ time.Time) Outcome {
	i := k % int64(len(d.conns))
	cctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	if d.echo {
		out, err := grpcecho.Call(cctx, d.conns[i], d.payload)
		if err != nil {
			return grpcOutcome(ctx, err, len(d.payload))
		}
		return Outcome{Code: 0, OK: true, BytesSent: int64(len(d.payload)), BytesReceived: int64(len(out.GetValue()))}
	}
	resp, err := d.health[i].Check(cctx, &healthpb.HealthCheckRequest{Service: d.service})
	if err != nil {
		return grpcOutcome(ctx, err, 0)
	}
	if st := resp.GetStatus(); st != healthpb.HealthCheckResponse_SERVING {
		return Outcome{Code: healthCodeBase + int(st)}
	}
	return Outcome{Code: 0, OK: true}
}

// grpcOutcome tells a status the server sent from a failure on the client's side.
func grpcOutcome(ctx context.Context, err error, sent int) Outcome {
	st, _ := status.FromError(err)
	msg := strings.ToLower(st.Message())
	switch st.Code() {
	case codes.Canceled:
		if ctx.Err() != nil {
			return Outcome{Skip: true}
		}
	case codes.DeadlineExceeded:
		return Outcome{Err: ErrTimeout, BytesSent: int64(sent)}
	case codes.Unavailable, codes.Internal:
		if cls := ClassifyErrorText(msg); cls != ErrOther && (strings.Contains(msg, "connection") ||
			strings.Contains(msg, "transport") || strings.Contains(msg, "dial") || cls == ErrTLS) {
			return Outcome{Err: cls, BytesSent: int64(sent)}
		}
	}
	return Outcome{Code: int(st.Code()), BytesSent: int64(sent)}
}

func grpcCodeName(c int) string {
	if c >= healthCodeBase {
		return healthpb.HealthCheckResponse_ServingStatus(c - healthCodeBase).String()
	}
	return codes.Code(c).String()
}

func (d *fortioGRPC) Close() {
	for _, c := range d.conns {
		_ = c.Close()
	}
}

// fortioTCP holds one tcprunner echo client per endpoint for one worker.
type fortioTCP struct {
	clients []*tcprunner.TCPClient
	payload int64
}

func newFortioTCP(c *smp.Client) (*fortioTCP, error) {
	payload := payloadFor(c)
	d := &fortioTCP{payload: int64(len(payload))}
	for _, u := range c.EndpointURLs {
		cl, err := tcprunner.NewTCPClient(&tcprunner.TCPOptions{
			Destination: smp.EndpointHostPort(u),
			Payload:     payload,
			ReqTimeout:  c.Timeout.D(),
		})
		if err != nil || cl == nil {
			d.Close()
			return nil, fmt.Errorf("tcp client for %s: %v", u, err)
		}
		d.clients = append(d.clients, cl)
	}
	return d, nil
}

func (d *fortioTCP) Do(_ context.Context, k int64, _ time.Time) Outcome {
	_, err := d.clients[k%int64(len(d.clients))].Fetch()
	if err != nil {
		cls := ClassifyError(err)
		var ne interface{ Timeout() bool }
		if errors.As(err, &ne) && ne.Timeout() {
			cls = ErrTimeout
		}
		return Outcome{Err: cls, BytesSent: d.payload}
	}
	return Outcome{Code: 0, OK: true, BytesSent: d.payload, BytesReceived: d.payload}
}

func (d *fortioTCP) Close() {
	for _, c := range d.clients {
		c.Close()
	}
}

// payloadFor is the echo payload: the body if set, else PayloadBytes of filler.
func payloadFor(c *smp.Client) []byte {
	if c.Body != "" {
		return []byte(c.Body)
	}
	n := c.PayloadBytes
	if n <= 0 {
		n = smp.DefaultPayloadBytes
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}

func cookieHeader(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, "; ")
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// moduleVersion is the version of a dependency compiled into this binary.
func moduleVersion(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, m := range bi.Deps {
		if m.Path == path {
			if m.Replace != nil {
				return m.Replace.Version
			}
			return m.Version
		}
	}
	return "unknown"
}
