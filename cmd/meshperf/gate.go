package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/meshperf/meshperf/perf"
	"github.com/meshperf/meshperf/report"
	"github.com/meshperf/meshperf/smp"
)

const exitRegression = 4 // the gate found a regression

// defaultMaxRounds caps adaptive rounds unless --max-rounds says otherwise.
const defaultMaxRounds = 15

type gateFlags struct {
	baseline, candidate, baselineResult string
	rounds, maxRounds                   int
	maxRegression                       string
	metrics                             []string
	rate                                int64
	connections                         int32
	duration, warmup                    string
	engine, model                       string
	junit, summary, output              string
	remote                              remoteFlags
}

func newGateCmd() *cobra.Command {
	f := &gateFlags{}
	cmd := &cobra.Command{
		Use:   "gate --baseline URL|FILE --candidate URL|FILE",
		Short: "Decide, for CI, whether a candidate regressed against a baseline",
		Long: `Run baseline and candidate interleaved on this machine (A B, B A, A B ...), so drift hits
both, and decide per metric from the per-round ratios' 95% confidence interval against
--max-regression:

  pass          the whole interval lies within the limit (exit 0)
  fail          the whole interval lies past the limit (exit 4)
  inconclusive  the interval straddles the limit (exit 0, with a warning and the
                rounds that would likely decide)

Adaptive rounds: the gate runs at least --rounds rounds, then keeps going while a metric
is inconclusive, up to --max-rounds (default 15, or --rounds if higher).

A side is a URL (loaded with --rate, --connections, --duration ...), a test config
file, or the name of a profile on the server (its config runs here, so both sides share
this machine). --baseline-result ID|FILE gates the candidate against a stored result instead.

Outputs: a table (or -o json), Markdown appended to $GITHUB_STEP_SUMMARY when set (and
to --summary FILE), JUnit XML (--junit FILE), and ::error/::warning annotations under
GitHub Actions.`,
		Example: `  meshperf gate --baseline http://main.svc/api --candidate http://pr.svc/api --rate 200 --rounds 6
  meshperf gate --baseline base.yaml --candidate pr.yaml --max-regression 3% --metric p99 --junit gate.xml
  meshperf gate --baseline-result 3ee75a83-... --candidate pr.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runGate(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.baseline, "baseline", "", "baseline: a URL, a test config file or a profile on the server")
	fl.StringVar(&f.candidate, "candidate", "", "candidate: a URL, a test config file or a profile on the server")
	fl.StringVar(&f.baselineResult, "baseline-result", "", "gate against this stored result (a full result file, or an id on the server)")
	fl.IntVar(&f.rounds, "rounds", 5, "interleaved rounds, at least")
	fl.IntVar(&f.maxRounds, "max-rounds", defaultMaxRounds, "run more rounds, up to this many, while a metric is inconclusive (raised to --rounds when lower and not given)")
	fl.StringVar(&f.maxRegression, "max-regression", "5%", "allowed regression, e.g. 5% or 0.05")
	fl.StringSliceVar(&f.metrics, "metric", nil, "metrics to gate: "+strings.Join(perf.MetricNames(), ", ")+" (default p50,p90,p99)")
	fl.Int64Var(&f.rate, "rate", 100, "for URL sides: requests per second (open model)")
	fl.Int32Var(&f.connections, "connections", 0, "for URL sides: connections")
	fl.StringVar(&f.duration, "duration", "10s", "for URL sides: each run's measured duration")
	fl.StringVar(&f.warmup, "warmup", "1s", "for URL sides: warm-up before each run")
	fl.StringVar(&f.engine, "engine", "", "for URL sides: load generator")
	fl.StringVar(&f.model, "model", "", "for URL sides: load model")
	fl.StringVar(&f.junit, "junit", "", "write JUnit XML here")
	fl.StringVar(&f.summary, "summary", "", "write the Markdown summary here")
	fl.StringVarP(&f.output, "output", "o", "", "json for scripts")
	f.remote.add(cmd)
	return cmd
}

func runGate(cmd *cobra.Command, f *gateFlags) error {
	maxReg, err := parsePercent(f.maxRegression)
	if err != nil {
		return badInput(fmt.Errorf("--max-regression: %w", err))
	}
	if f.output != "" && f.output != "json" {
		return badInput(errors.New("--output must be json (or nothing, for the table)"))
	}
	maxRounds := f.maxRounds
	if !cmd.Flags().Changed("max-rounds") && f.rounds > maxRounds {
		maxRounds = f.rounds
	}
	opt := perf.GateOptions{Rounds: f.rounds, MaxRounds: maxRounds, MaxRegression: maxReg, Metrics: f.metrics, Run: perf.Options{Version: version}}
	if err := perf.CheckGateOptions(&opt); err != nil {
		return badInput(err)
	}
	if f.candidate == "" || (f.baseline == "") == (f.baselineResult == "") {
		return badInput(errors.New("give --candidate and one of --baseline or --baseline-result"))
	}
	cand, err := gateSide(cmd, f, f.candidate)
	if err != nil {
		return badInput(fmt.Errorf("--candidate: %w", err))
	}
	stderr := cmd.ErrOrStderr()
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opt.OnRun = func(round int, side string, r *smp.Result) {
		fmt.Fprintf(stderr, "round %d (%d..%d) %-9s %8.1f req/s  p50 %.3fms  p99 %.3fms  errors %.2f%%\n", round, opt.Rounds, opt.MaxRounds, side,
			r.Summary.ActualRPS, r.Summary.Latency.P50Ms, r.Summary.Latency.P99Ms, r.Summary.ErrorRate*100)
	}
	var rep *perf.GateReport
	if f.baselineResult != "" {
		base, err := loadResult(cmd, &f.remote, f.baselineResult)
		if err != nil {
			return err
		}
		opt.Rounds, opt.MaxRounds = 1, 1 // one candidate run, judged on its seconds
		res, err := perf.Run(ctx, cand.Config, opt.Run)
		if err != nil {
			return err
		}
		opt.OnRun(1, "candidate", res)
		if rep, err = perf.GateAgainstResult(base, res, opt); err != nil {
			return badInput(err)
		}
	} else {
		base, err := gateSide(cmd, f, f.baseline)
		if err != nil {
			return badInput(fmt.Errorf("--baseline: %w", err))
		}
		fmt.Fprintf(stderr, "gate: %d to %d interleaved rounds of %s vs %s\n", opt.Rounds, opt.MaxRounds, base.Name, cand.Name)
		if rep, err = perf.RunGate(ctx, base, cand, opt); err != nil {
			return err
		}
	}
	return writeGate(cmd, f, rep)
}

// gateSide reads a side: a test config file, or a URL loaded with the gate's flags.
func gateSide(cmd *cobra.Command, f *gateFlags, spec string) (perf.GateSide, error) {
	var cfg smp.TestConfig
	if data, err := os.ReadFile(spec); err == nil {
		if err := smp.DecodeStrict(data, &cfg); err != nil {
			return perf.GateSide{}, fmt.Errorf("%s: %w", spec, err)
		}
	} else if strings.HasPrefix(spec, "http://") || strings.HasPrefix(spec, "https://") {
		d, err := smp.ParseDuration(f.duration)
		if err != nil {
			return perf.GateSide{}, fmt.Errorf("--duration: %w", err)
		}
		w, err := smp.ParseDuration(f.warmup)
		if err != nil {
			return perf.GateSide{}, fmt.Errorf("--warmup: %w", err)
		}
		m, err := smp.ParseLoadModel(f.model)
		if err != nil {
			return perf.GateSide{}, err
		}
		cfg = smp.TestConfig{Duration: d, Warmup: w, Clients: []smp.Client{{EndpointURLs: []string{spec}, RPS: f.rate,
			Connections: f.connections, LoadGenerator: f.engine, Model: m}}}
	} else {
		// A profile stored on the server: its config runs here, like the other side.
		c, cerr := f.remote.client()
		if cerr != nil {
			return perf.GateSide{}, fmt.Errorf("%q is neither a file nor an http(s) URL (nor, without a server, a profile)", spec)
		}
		p, perr := c.Profile(cmd.Context(), spec)
		if perr != nil {
			return perf.GateSide{}, fmt.Errorf("%q is neither a file nor an http(s) URL, and the server has no such profile: %v", spec, perr)
		}
		if err := smp.DecodeStrict(p.Config, &cfg); err != nil {
			return perf.GateSide{}, fmt.Errorf("profile %s: %w", spec, err)
		}
		spec = fmt.Sprintf("profile %s (version %d)", p.Name, p.Version)
	}
	cfg.ApplyDefaults()
	if err := perf.Validate(&cfg); err != nil {
		return perf.GateSide{}, err
	}
	return perf.GateSide{Name: spec, Config: &cfg}, nil
}

func writeGate(cmd *cobra.Command, f *gateFlags, rep *perf.GateReport) error {
	out := cmd.OutOrStdout()
	if f.output == "json" {
		if err := smp.WriteJSON(out, rep); err != nil {
			return err
		}
	} else {
		report.GateText(out, rep, report.Style{Color: isTerminal(out)})
	}
	var md bytes.Buffer
	report.GateMarkdown(&md, rep)
	if f.summary != "" {
		if err := writeFileAtomic(f.summary, func(w io.Writer) error { _, err := w.Write(md.Bytes()); return err }); err != nil {
			return fmt.Errorf("--summary: %w", err)
		}
	}
	if p := os.Getenv("GITHUB_STEP_SUMMARY"); p != "" {
		fh, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("GITHUB_STEP_SUMMARY: %w", err)
		}
		_, err = fh.Write(md.Bytes())
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("GITHUB_STEP_SUMMARY: %w", err)
		}
	}
	if f.junit != "" {
		if err := writeFileAtomic(f.junit, func(w io.Writer) error { return report.GateJUnit(w, rep) }); err != nil {
			return fmt.Errorf("--junit: %w", err)
		}
	}
	if os.Getenv("GITHUB_ACTIONS") == "true" {
		for _, a := range report.GateAnnotations(rep) {
			fmt.Fprintln(out, a)
		}
	}
	if rep.Verdict == perf.GateFail {
		var failed []string
		for _, c := range rep.Checks {
			if c.Verdict == perf.GateFail {
				failed = append(failed, c.Metric)
			}
		}
		return &exitError{code: exitRegression, err: fmt.Errorf("regression in %s beyond %.1f%%", strings.Join(failed, ", "), rep.MaxRegression*100)}
	}
	return nil
}

// parsePercent reads "5%" or "0.05".
func parsePercent(s string) (float64, error) {
	if p, ok := strings.CutSuffix(strings.TrimSpace(s), "%"); ok {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a percentage", s)
		}
		return v / 100, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a fraction or a percentage", s)
	}
	return v, nil
}
