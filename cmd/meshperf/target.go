package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/meshperf/meshperf/sampleapp"
)

func newTargetCmd() *cobra.Command {
	var (
		cfg                      sampleapp.Config
		latency, stall           string
		errorRate                float64
		errorCode, responseBytes int
	)
	cmd := &cobra.Command{
		Use:   "target",
		Short: "Serve the sample application: HTTP/gRPC/TCP echo with latency, error and stall injection",
		Long: `Serve meshperf's sample application for demos, tests and conformance.

HTTP (HTTP/1.1 and h2c; h2 on the TLS port) echoes the request body, or --response-size
bytes. Query parameters override the injection per request: ?latency=fixed:5ms,
?status=503, ?error_rate=0.1, ?size=1024. GET /stats reports what was received (by
caller, path and status); GET /metrics serves its Prometheus metrics (requests by path
and code, latency histogram); GET /healthz answers ok. gRPC serves grpc.health.v1 and
meshperf.echo.v1.Echo; TCP echoes bytes.

The conformance role (--name; the app a conformance suite deploys as app-a, app-b, ...):
GET /echo answers with what it received and --name; POST /call makes a described
outbound call ({"url":"http://app-b:9091/echo","method":"GET","headers":{},"count":1});
GET /counts tells per caller what it received and what its calls got; DELETE /counts
resets them.`,
		Example: `  meshperf target
  meshperf target --latency longtail:2ms,50ms --error-rate 0.01
  meshperf target --stall 1s/10s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if cfg.Latency, err = sampleapp.ParseLatency(latency); err != nil {
				return badInput(fmt.Errorf("--latency: %w", err))
			}
			if cfg.Stall, err = sampleapp.ParseStall(stall); err != nil {
				return badInput(fmt.Errorf("--stall: %w", err))
			}
			if errorRate < 0 || errorRate > 1 {
				return badInput(fmt.Errorf("--error-rate must be between 0 and 1"))
			}
			if errorCode != 0 && (errorCode < 100 || errorCode > 599) {
				return badInput(fmt.Errorf("--error-code must be an HTTP status code"))
			}
			cfg.ErrorRate, cfg.ErrorCode, cfg.ResponseBytes = errorRate, errorCode, responseBytes
			srv, err := sampleapp.Start(cfg)
			if err != nil {
				return err
			}
			defer srv.Close()
			a := srv.Addrs()
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "meshperf target %s: latency %s, error rate %g", version, cfg.Latency, cfg.ErrorRate)
			if cfg.Stall.Every > 0 {
				fmt.Fprintf(w, ", stall %v every %v", cfg.Stall.Pause, cfg.Stall.Every)
			}
			fmt.Fprintln(w)
			for _, l := range [][2]string{{"http", a.HTTP}, {"https", a.HTTPS}, {"grpc", a.GRPC}, {"tcp", a.TCP}} {
				if l[1] != "" {
					fmt.Fprintf(w, "  %-5s %s\n", l[0], l[1])
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			<-ctx.Done()
			fmt.Fprintln(w, "stopping")
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&cfg.HTTPAddr, "http-addr", "127.0.0.1:8080", "HTTP listen address (empty: off)")
	fl.StringVar(&cfg.HTTPSAddr, "https-addr", "", "HTTPS listen address with a self-signed certificate (empty: off)")
	fl.StringVar(&cfg.GRPCAddr, "grpc-addr", "127.0.0.1:8079", "gRPC listen address (empty: off)")
	fl.StringVar(&cfg.TCPAddr, "tcp-addr", "127.0.0.1:8078", "TCP echo listen address (empty: off)")
	fl.StringVar(&latency, "latency", "none", "injected latency: fixed:5ms, uniform:1ms-10ms, normal:10ms,2ms, longtail:5ms,100ms (median, p99)")
	fl.Float64Var(&errorRate, "error-rate", 0, "share of requests (0..1) answered with --error-code (gRPC: UNAVAILABLE)")
	fl.IntVar(&errorCode, "error-code", 503, "HTTP status of injected errors")
	fl.IntVar(&responseBytes, "response-size", 0, "response body size when there is no request body to echo")
	fl.StringVar(&cfg.Name, "name", "", "the app's name: turns on the conformance role (/echo, /call, /counts; answers say it, calls are made as it)")
	fl.StringSliceVar(&cfg.ExtraHTTPAddrs, "extra-http-addr", nil, "more HTTP listen addresses serving the same (repeatable)")
	fl.StringVar(&cfg.CallVia, "call-via", "", "connect outbound calls of POST /call to this address instead (a test sidecar; real meshes need none)")
	fl.StringVar(&stall, "stall", "", "pause all responses: PAUSE/EVERY, e.g. 1s/10s")
	return cmd
}
