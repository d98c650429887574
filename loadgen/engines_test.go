package loadgen_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/meshperf/meshperf/loadgen"
	"github.com/meshperf/meshperf/sampleapp"
	"github.com/meshperf/meshperf/smp"
)

func startTarget(t *testing.T, inj sampleapp.Injection) *sampleapp.Server {
	t.Helper()
	srv, err := sampleapp.Start(sampleapp.Config{HTTPAddr: "127.0.0.1:0", HTTPSAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0",
		TCPAddr: "127.0.0.1:0", Injection: inj})
	if err != nil {
		t.Fatalf("target: %v", err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// collect runs one shard and returns its intervals merged.
func collect(t *testing.T, ctx context.Context, c smp.Client, d time.Duration) smp.Interval {
	t.Helper()
	cfg := smp.TestConfig{Clients: []smp.Client{c}, Duration: smp.Duration(d)}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	var errs smp.FieldErrors
	loadgen.Check(&cfg, &errs)
	if len(errs) > 0 {
		t.Fatalf("engine check: %v", errs)
	}
	var mu sync.Mutex
	total := smp.Interval{Latency: smp.NewHistogram(), StatusCodes: map[string]int64{}, Errors: map[string]int64{}}
	sink := loadgen.SinkFunc(func(iv *smp.Interval) {
		mu.Lock()
		defer mu.Unlock()
		total.Requests += iv.Requests
		total.Successes += iv.Successes
		total.MissedSends += iv.MissedSends
		total.BytesSent += iv.BytesSent
		total.BytesReceived += iv.BytesReceived
		for k, v := range iv.StatusCodes {
			total.StatusCodes[k] += v
		}
		for k, v := range iv.Errors {
			total.Errors[k] += v
		}
		total.Latency.Merge(iv.Latency)
	})
	s := &loadgen.Shard{Source: "t", Client: cfg.Clients[0], Duration: d}
	if err := loadgen.Run(ctx, s, sink); err != nil {
		t.Fatalf("run: %v", err)
	}
	return total
}

func writeCA(t *testing.T, srv *sampleapp.Server) string {
	p := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p, srv.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Every engine × protocol sends exactly what the schedule says, gets the right status
// breakdown, and the target counts the same number of requests.
func TestEnginesAndProtocols(t *testing.T) {
	srv := startTarget(t, sampleapp.Injection{})
	a := srv.Addrs()
	ca := writeCA(t, srv)
	const rate, want = 200, 200 // one second at 200/s
	cases := []struct {
		name     string
		c        smp.Client
		codeKey  string
		received func(before, after sampleapp.Stats) int64
	}{
		{"fortio/http1.1", smp.Client{LoadGenerator: "fortio", EndpointURLs: []string{"http://" + a.HTTP + "/fortio-h1"}}, "200", byPath("/fortio-h1")},
		{"fortio/h2c", smp.Client{LoadGenerator: "fortio", HTTPVersion: "2", EndpointURLs: []string{"http://" + a.HTTP + "/fortio-h2c"}}, "200", byPath("/fortio-h2c")},
		{"fortio/h2-tls", smp.Client{LoadGenerator: "fortio", HTTPVersion: "2", SSLCertificate: ca, EndpointURLs: []string{"https://" + a.HTTPS + "/fortio-h2"}}, "200", byPath("/fortio-h2")},
		{"fortio/grpc-health", smp.Client{LoadGenerator: "fortio", Protocol: smp.ProtocolGRPC, EndpointURLs: []string{a.GRPC}}, "OK", byPath("/grpc.health.v1.Health/Check")},
		{"fortio/grpc-echo", smp.Client{LoadGenerator: "fortio", Protocol: smp.ProtocolGRPC, GRPC: &smp.GRPCOptions{Call: smp.GRPCEcho}, EndpointURLs: []string{a.GRPC}}, "OK", byPath("/meshperf.echo.v1.Echo/Echo")},
		{"fortio/tcp", smp.Client{LoadGenerator: "fortio", Protocol: smp.ProtocolTCP, PayloadBytes: 100, EndpointURLs: []string{"tcp://" + a.TCP}}, "OK",
			func(b, a sampleapp.Stats) int64 { return (a.TCPBytes - b.TCPBytes) / 100 }},
		{"vegeta/http1.1", smp.Client{LoadGenerator: "vegeta", EndpointURLs: []string{"http://" + a.HTTP + "/vegeta-h1"}}, "200", byPath("/vegeta-h1")},
		{"vegeta/h2c", smp.Client{LoadGenerator: "vegeta", HTTPVersion: "2", EndpointURLs: []string{"http://" + a.HTTP + "/vegeta-h2c"}}, "200", byPath("/vegeta-h2c")},
		{"vegeta/h2-tls", smp.Client{LoadGenerator: "vegeta", HTTPVersion: "2", SSLCertificate: ca, EndpointURLs: []string{"https://" + a.HTTPS + "/vegeta-h2"}}, "200", byPath("/vegeta-h2")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			c.RPS, c.Connections, c.Model = rate, 4, smp.ModelOpen
			before := srv.Stats()
			got := collect(t, context.Background(), c, time.Second)
			// Every scheduled request is either sent or counted as a missed send: on a
			// loaded machine the last few can fall due too late to leave before the
			// window closes. A lost count still fails (sent + missed != scheduled), and
			// so do more than a few misses.
			sent := got.Requests
			if sent+got.MissedSends != want || got.Successes != sent || got.MissedSends > want/20 {
				t.Fatalf("requests %d successes %d missed %d, want %d scheduled, all answered, at most %d missed (codes %v errors %v)",
					got.Requests, got.Successes, got.MissedSends, want, want/20, got.StatusCodes, got.Errors)
			}
			// The target counts a request once it has answered it, so the last count can
			// land just after the engine read the answer: wait for it, bounded.
			after := srv.Stats()
			for deadline := time.Now().Add(2 * time.Second); tc.received(before, after) < sent && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
				after = srv.Stats()
			}
			if got.StatusCodes[tc.codeKey] != sent || len(got.StatusCodes) != 1 {
				t.Errorf("status codes %v, want %d × %s", got.StatusCodes, sent, tc.codeKey)
			}
			if n := tc.received(before, after); n != sent {
				t.Errorf("the target received %d, the engine counted %d", n, got.Requests)
			}
			if strings.Contains(tc.name, "h2") {
				if n := after.ByProto["HTTP/2.0"] - before.ByProto["HTTP/2.0"]; n != sent {
					t.Errorf("the target saw %d HTTP/2 requests, want %d", n, sent)
				}
			} else if strings.Contains(tc.name, "http1.1") {
				if n := after.ByProto["HTTP/1.1"] - before.ByProto["HTTP/1.1"]; n != sent {
					t.Errorf("the target saw %d HTTP/1.1 requests, want %d", n, sent)
				}
			}
			if got.Latency.Count() != sent {
				t.Errorf("histogram holds %d values", got.Latency.Count())
			}
		})
	}
}

func byPath(p string) func(b, a sampleapp.Stats) int64 {
	return func(b, a sampleapp.Stats) int64 { return a.ByPath[p] - b.ByPath[p] }
}

// Several endpoints share the load evenly, and status codes are counted apart.
func TestEndpointsRotateAndStatusesCount(t *testing.T) {
	srv := startTarget(t, sampleapp.Injection{})
	base := srv.URL()
	for _, engine := range []string{"fortio", "vegeta"} {
		t.Run(engine, func(t *testing.T) {
			before := srv.Stats()
			c := smp.Client{LoadGenerator: engine, RPS: 300, Connections: 3, Model: smp.ModelOpen,
				EndpointURLs: []string{base + "/ok-" + engine, base + "/fail-" + engine + "?status=503", base + "/teapot-" + engine + "?status=418"}}
			got := collect(t, context.Background(), c, time.Second)
			after := srv.Stats()
			for _, p := range []string{"/ok-", "/fail-", "/teapot-"} {
				if n := after.ByPath[p+engine] - before.ByPath[p+engine]; n != 100 {
					t.Errorf("%s%s received %d, want 100", p, engine, n)
				}
			}
			if got.StatusCodes["200"] != 100 || got.StatusCodes["503"] != 100 || got.StatusCodes["418"] != 100 {
				t.Errorf("codes %v", got.StatusCodes)
			}
			if got.Successes != 100 {
				t.Errorf("successes %d, want 100 (only the 200s)", got.Successes)
			}
		})
	}
}

// closedPort is an address where nothing listens and nothing else can start to: a
// socket bound to it but never listening holds the port for the test (a listener
// closed again would free it for any test running beside this one to take), and a
// connection to it is refused.
func closedPort(t *testing.T) string {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
}

// Failures are classified: nothing listening is a connect error (fortio's fast HTTP
// client only says "socket"), a slow answer is a timeout.
func TestErrorClasses(t *testing.T) {
	dead := closedPort(t)
	srv := startTarget(t, sampleapp.Injection{})
	slow := srv.URL() + "/slow?latency=fixed:400ms"
	cases := []struct {
		name string
		c    smp.Client
		want string
	}{
		{"fortio/http-refused", smp.Client{LoadGenerator: "fortio", EndpointURLs: []string{"http://" + dead + "/"}}, smp.ErrSocket},
		{"vegeta/http-refused", smp.Client{LoadGenerator: "vegeta", EndpointURLs: []string{"http://" + dead + "/"}}, smp.ErrConnect},
		{"fortio/tcp-refused", smp.Client{LoadGenerator: "fortio", Protocol: smp.ProtocolTCP, EndpointURLs: []string{dead}}, smp.ErrConnect},
		{"fortio/grpc-refused", smp.Client{LoadGenerator: "fortio", Protocol: smp.ProtocolGRPC, EndpointURLs: []string{dead}}, smp.ErrConnect},
		{"fortio/http-timeout", smp.Client{LoadGenerator: "fortio", Timeout: smp.Duration(100 * time.Millisecond), EndpointURLs: []string{slow}}, smp.ErrTimeout},
		{"vegeta/http-timeout", smp.Client{LoadGenerator: "vegeta", Timeout: smp.Duration(100 * time.Millisecond), EndpointURLs: []string{slow}}, smp.ErrTimeout},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			c.RPS, c.Connections, c.Model = 20, 4, smp.ModelOpen
			got := collect(t, context.Background(), c, time.Second)
			if got.Requests == 0 || got.Successes != 0 {
				t.Fatalf("requests %d successes %d", got.Requests, got.Successes)
			}
			if got.Errors[tc.want] != got.Requests {
				t.Errorf("errors %v, want all %d as %q", got.Errors, got.Requests, tc.want)
			}
		})
	}
}

func TestEngineCheckNamesTheField(t *testing.T) {
	cfg := smp.TestConfig{Clients: []smp.Client{
		{LoadGenerator: "vegeta", Protocol: smp.ProtocolGRPC, EndpointURLs: []string{"127.0.0.1:1"}},
		{LoadGenerator: "wrk9", EndpointURLs: []string{"http://x/"}},
		{LoadGenerator: "fortio", SSLCertificate: "/nonexistent/ca.pem", EndpointURLs: []string{"https://x/"}},
	}}
	cfg.ApplyDefaults()
	var errs smp.FieldErrors
	loadgen.Check(&cfg, &errs)
	msg := errs.Error()
	for _, want := range []string{"clients[0].protocol", "clients[1].load_generator", "clients[2].ssl_certificate"} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %s in %v", want, msg)
		}
	}
}

// Cancelling stops the load promptly; what was measured is delivered.
func TestCancelStopsPromptly(t *testing.T) {
	srv := startTarget(t, sampleapp.Injection{})
	for _, engine := range []string{"fortio", "vegeta"} {
		t.Run(engine, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
			defer cancel()
			start := time.Now()
			got := collect(t, ctx, smp.Client{LoadGenerator: engine, RPS: 100, Connections: 2, Model: smp.ModelOpen,
				EndpointURLs: []string{srv.URL() + "/cancel"}}, 10*time.Second)
			if el := time.Since(start); el > 2*time.Second {
				t.Errorf("took %v to stop", el)
			}
			if got.Requests < 50 || got.Requests > 90 {
				t.Errorf("requests %d, want about 70", got.Requests)
			}
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				t.Errorf("ctx %v", ctx.Err())
			}
		})
	}
}
