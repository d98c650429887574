package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshperf/meshperf/loadgen"
	"github.com/meshperf/meshperf/perf"
	"github.com/meshperf/meshperf/promquery"
	"github.com/meshperf/meshperf/report"
	"github.com/meshperf/meshperf/smp"
)

type runFlags struct {
	prometheus  string
	profile     string
	remote      remoteFlags
	file        string
	urls        []string
	rate        int64
	connections int32
	duration    string
	warmup      string
	method      string
	headers     []string
	body        string
	contentType string
	engine      string
	protocol    string
	model       string
	timeout     string
	http2       bool
	grpcCall    string
	payload     int
	insecure    bool
	caCert      string
	name        string
	labels      []string
	thresholds  []string
	output      string
	out         string
	details     string
	markdown    string
	quiet       bool
	scaleStages bool
	dryRun      bool
	traceOut    string // hidden diagnostics: an execution trace of the run
	cpuProfile  string // hidden diagnostics: a CPU profile of the run
	memProfile  string // hidden diagnostics: a heap profile at the run's end
}

func newRunCmd() *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "run [-f test.yaml] [--url URL ...]",
		Short: "Run one performance test locally, with live progress and a summary",
		Long: `Run one performance test from flags or from a config file (-f), show live progress,
and print a summary. With -f, flags that are given override every client of the file.

Durations take a unit (30s, 5m, 250ms); a bare number is refused.

Exit codes: 0 the test ran and every threshold passed; 1 it could not run (or its
result could not be written); 2 bad input; 3 the test ran and a threshold failed;
130 interrupted (Ctrl-C): the partial result, marked partial, is still printed and
written.`,
		Example: `  meshperf run --url http://127.0.0.1:8080/echo --rate 1000 --duration 30s
  meshperf run --url http://127.0.0.1:8080/ -c 32 --duration 1m --engine vegeta
  meshperf run -f test.yaml --output smp --out result.smp.yaml
  meshperf run --protocol grpc --url 127.0.0.1:8079 --grpc-call echo --rate 500
  meshperf run --profile checkout --duration 1m        # on the server of the current context`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runTest(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.file, "file", "f", "", "test config file (YAML or JSON; an SMP PerformanceTestConfig plus meshperf's fields)")
	fl.StringSliceVarP(&f.urls, "url", "u", nil, "endpoint URL (repeat or comma-separate for several; requests rotate among them)")
	fl.Int64VarP(&f.rate, "rate", "r", 0, "requests per second (0 = as fast as possible, closed model)")
	fl.Int32VarP(&f.connections, "connections", "c", 0, fmt.Sprintf("connections (max requests in flight; default %d)", smp.DefaultConnections))
	fl.StringVarP(&f.duration, "duration", "d", "", "measured duration, e.g. 30s, 5m (default 10s)")
	fl.StringVar(&f.warmup, "warmup", "", "warm-up before the measured window (measured, but left out of the summary)")
	fl.StringVarP(&f.method, "method", "X", "", "HTTP method (default GET, or POST with a body)")
	fl.StringArrayVarP(&f.headers, "header", "H", nil, `request header "Name: value" (repeatable)`)
	fl.StringVar(&f.body, "body", "", "request body (HTTP) or echo payload (TCP, gRPC echo)")
	fl.StringVar(&f.contentType, "content-type", "", "request Content-Type")
	fl.StringVar(&f.engine, "engine", "", "load generator: "+strings.Join(loadgen.Names(), ", ")+" (default fortio)")
	fl.StringVar(&f.protocol, "protocol", "", "HTTP, GRPC or TCP (default HTTP)")
	fl.StringVar(&f.model, "model", "", "load model: open (constant arrival rate, latency from the intended send time) or closed (default: open with --rate, else closed)")
	fl.StringVar(&f.timeout, "timeout", "", "per-request timeout (default 3s)")
	fl.BoolVar(&f.http2, "http2", false, "use HTTP/2 (h2 over TLS for https URLs, h2c for http)")
	fl.StringVar(&f.grpcCall, "grpc-call", "", "gRPC call: health (grpc.health.v1 Check) or echo (meshperf's echo)")
	fl.IntVar(&f.payload, "payload-bytes", 0, "echo payload size for TCP and gRPC echo (default 24)")
	fl.BoolVar(&f.insecure, "insecure", false, "skip TLS certificate verification (test targets only)")
	fl.StringVar(&f.caCert, "ca-cert", "", "PEM file of the CA that signed the target's certificate (SMP ssl_certificate)")
	fl.StringVar(&f.name, "name", "", "name of the test")
	fl.StringArrayVar(&f.labels, "label", nil, "label key=value for the result (repeatable)")
	fl.StringArrayVar(&f.thresholds, "threshold", nil, `SLO assertion on the result, e.g. 'p99 < 250ms', 'error_rate < 1%', 'rps >= 950' (repeatable; exit code 3 when one fails)`)
	fl.StringVarP(&f.output, "output", "o", "", "machine output: "+strings.Join(smp.OutputFormats, ", ")+" (to stdout, or to --out)")
	fl.StringVar(&f.out, "out", "", "write the output to this file (format from --output or the file's extension)")
	fl.StringVar(&f.details, "details", "", "also write the full result (JSON) to this file; the SMP details_uri points at it")
	fl.StringVar(&f.markdown, "markdown", "", "also write a Markdown summary here (for CI job summaries)")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "no live progress")
	fl.BoolVar(&f.scaleStages, "scale-stages", false, "with --duration: scale the config's stages in proportion to fit the new duration")
	fl.BoolVar(&f.dryRun, "dry-run", false, "check the config and flags (every problem at once), say what would run, and exit")
	fl.StringVar(&f.prometheus, "prometheus", "", "Prometheus base URL to query over the measured window for the config's metrics section (local runs; server runs use the section's connection)")
	fl.StringVar(&f.profile, "profile", "", "run this stored profile on the server (--duration, --warmup, --rate, --connections and --label override it)")
	fl.StringVar(&f.traceOut, "trace", "", "write a Go execution trace of the run here (go tool trace): the generator's own delays")
	fl.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the run here (go tool pprof)")
	_ = fl.MarkHidden("trace")
	fl.StringVar(&f.memProfile, "memprofile", "", "write a heap profile at the run's end here (go tool pprof)")
	_ = fl.MarkHidden("cpuprofile")
	_ = fl.MarkHidden("memprofile")
	f.remote.add(cmd)
	return cmd
}

func writeMarkdown(path string, res *smp.Result) error {
	if path == "" {
		return nil
	}
	if err := writeFileAtomic(path, func(w io.Writer) error { report.ResultMarkdown(w, res); return nil }); err != nil {
		return fmt.Errorf("writing --markdown: %w", err)
	}
	return nil
}

func printSummary(w io.Writer, res *smp.Result) {
	report.Summary(w, res, report.Style{Color: isTerminal(w)})
}

func runTest(cmd *cobra.Command, f *runFlags) error {
	if f.profile != "" {
		return runRemote(cmd, f)
	}
	cfg, err := buildConfig(cmd, f)
	if err != nil {
		return badInput(err)
	}
	format, err := outputFormat(f)
	if err != nil {
		return badInput(err)
	}
	if err := perf.Validate(cfg); err != nil {
		return badInput(err)
	}
	if f.dryRun {
		where := ""
		if cfg.Agents != nil {
			where = fmt.Sprintf(" on %d agents (a server run: meshperf profile apply -f, then run --profile)", cfg.Agents.Count)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "ok: would run %s for %v%s\n", describe(cfg), cfg.Duration, where)
		return nil
	}

	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	// Machine output on stdout pushes the human summary to stderr.
	human := stdout
	if format != "" && f.out == "" {
		human = stderr
	}
	tty := isTerminal(stderr)
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); stop() }() // a second Ctrl-C kills at once

	opts := perf.Options{Version: version}
	if !f.quiet {
		opts.OnProgress = progressPrinter(stderr, tty)
	}
	if !f.quiet {
		fmt.Fprintf(stderr, "running %s for %v", describe(cfg), cfg.Duration)
		if cfg.Warmup > 0 {
			fmt.Fprintf(stderr, " after %v warm-up", cfg.Warmup)
		}
		fmt.Fprintln(stderr, " (Ctrl-C stops and keeps the partial result)")
	}
	stopDiagnostics, err := startDiagnostics(f.traceOut, f.cpuProfile, f.memProfile)
	if err != nil {
		return err
	}
	res, err := perf.Run(ctx, cfg, opts)
	stopDiagnostics()
	if tty && !f.quiet {
		fmt.Fprint(stderr, "\r\x1b[K")
	}
	if err != nil {
		if smp.IsInputError(err) {
			return badInput(err)
		}
		return err
	}
	if cfg.Metrics != nil {
		var src *promquery.Source
		if f.prometheus != "" {
			src = &promquery.Source{Name: f.prometheus, URL: f.prometheus}
		}
		promquery.Attach(cmd.Context(), src, cfg, res, "no Prometheus given: run with --prometheus URL")
	}
	if f.details != "" {
		if abs, err := filepath.Abs(f.details); err == nil {
			res.DetailsURI = "file://" + abs
		}
	}
	// The summary comes first: a file that cannot be written must not cost the user
	// the figures of the run they just made.
	printSummary(human, res)
	if f.details != "" {
		if err := writeFileAtomic(f.details, func(w io.Writer) error { return smp.WriteResult(w, res, smp.FormatJSON) }); err != nil {
			return fmt.Errorf("writing --details: %w", err)
		}
	}
	if err := writeMarkdown(f.markdown, res); err != nil {
		return err
	}
	if format != "" {
		write := func(w io.Writer) error { return smp.WriteResult(w, res, format) }
		if f.out != "" {
			if err := writeFileAtomic(f.out, write); err != nil {
				return fmt.Errorf("writing --out: %w", err)
			}
			fmt.Fprintf(human, "  %s result written to %s\n", format, f.out)
		} else if err := write(stdout); err != nil {
			return err
		}
	}
	return verdict(res, ctx.Err() != nil && !perf.AbortedByThreshold(res))
}

// verdict turns a result into the exit code: interrupted, thresholds failed, or fine.
func verdict(res *smp.Result, interrupted bool) error {
	if interrupted && res.Status == smp.StatusPartial {
		return &exitError{code: exitInterrupted, err: errors.New("interrupted; partial result kept")}
	}
	if !perf.ThresholdsPassed(res) {
		var failed []string
		for _, t := range res.Thresholds {
			if !t.OK {
				failed = append(failed, fmt.Sprintf("%s (observed %s)", t.Expr, t.Observed))
			}
		}
		return &exitError{code: exitThresholds, err: fmt.Errorf("thresholds failed: %s", strings.Join(failed, "; "))}
	}
	return nil
}

func outputFormat(f *runFlags) (string, error) {
	format := f.output
	if format == "" && f.out != "" {
		switch {
		case strings.HasSuffix(f.out, ".smp.yaml"), strings.HasSuffix(f.out, ".smp.yml"):
			format = smp.FormatSMP
		case strings.HasSuffix(f.out, ".smp.json"):
			format = smp.FormatSMPJSON
		case strings.HasSuffix(f.out, ".json"):
			format = smp.FormatJSON
		case strings.HasSuffix(f.out, ".yaml"), strings.HasSuffix(f.out, ".yml"):
			format = smp.FormatYAML
		case strings.HasSuffix(f.out, ".csv"):
			format = smp.FormatCSV
		default:
			return "", fmt.Errorf("--out %s: give --output (%s)", f.out, strings.Join(smp.OutputFormats, ", "))
		}
	}
	if format == "" {
		return "", nil
	}
	for _, known := range smp.OutputFormats {
		if format == known {
			return format, nil
		}
	}
	return "", fmt.Errorf("--output %q is not one of %s", format, strings.Join(smp.OutputFormats, ", "))
}

func describe(cfg *smp.TestConfig) string {
	if len(cfg.Clients) == 1 {
		c := cfg.Clients[0]
		rate := "as fast as possible"
		if c.RPS > 0 {
			rate = fmt.Sprintf("%d req/s", c.RPS)
		}
		call := ""
		if c.Protocol == smp.ProtocolGRPC {
			call = "gRPC " + c.GRPC.Method() + ", "
		}
		return fmt.Sprintf("%s (%s%s, %s model, %s, %d connections)", strings.Join(c.EndpointURLs, ", "), call, c.LoadGenerator, c.Model, rate, c.Connections)
	}
	return fmt.Sprintf("%d clients", len(cfg.Clients))
}

func progressPrinter(w io.Writer, tty bool) func(perf.Progress) {
	var last time.Time
	return func(p perf.Progress) {
		if tty {
			fmt.Fprint(w, "\r\x1b[K"+report.Progress(p, true))
			return
		}
		// Logs get a line every 5 seconds, not a flood.
		if time.Since(last) >= 5*time.Second || p.Elapsed >= p.Total {
			last = time.Now()
			fmt.Fprintln(w, report.Progress(p, false))
		}
	}
}

// writeFileAtomic writes through a temporary file so a failure leaves no half file.
func writeFileAtomic(path string, write func(io.Writer) error, mode ...os.FileMode) error {
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	perm := os.FileMode(0o644)
	if len(mode) > 0 {
		perm = mode[0]
	}
	if err := os.Chmod(tmp.Name(), perm); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb"
}

func engineVersions() []string {
	var out []string
	for _, n := range loadgen.Names() {
		e, _ := loadgen.Lookup(n)
		out = append(out, fmt.Sprintf("  engine %-8s %s", n, e.Version()))
	}
	return out
}
