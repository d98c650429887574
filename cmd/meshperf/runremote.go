package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshperf/meshperf/client"
	"github.com/meshperf/meshperf/perf"
	"github.com/meshperf/meshperf/smp"
)

// runRemote runs a stored profile on the server and follows it live, with the same
// progress, summary, outputs and exit codes as a local run. Ctrl-C cancels the run on
// the server, which keeps the partial result.
func runRemote(cmd *cobra.Command, f *runFlags) error {
	changed := cmd.Flags().Changed
	for _, local := range []string{"threshold", "details", "file", "url", "method", "header", "body", "content-type", "engine", "protocol", "model",
		"timeout", "http2", "grpc-call", "payload-bytes", "insecure", "ca-cert", "name"} {
		if changed(local) {
			return badInput(fmt.Errorf("--%s cannot change a stored profile; edit it with `meshperf profile apply`, or override --duration, --warmup, --rate, --connections, --label", local))
		}
	}
	var overrides *smp.Overrides
	override := func() *smp.Overrides {
		if overrides == nil {
			overrides = &smp.Overrides{}
		}
		return overrides
	}
	if changed("duration") {
		d, err := parseFlagDuration(f.duration)
		if err != nil {
			return badInput(fmt.Errorf("--duration: %w", err))
		}
		override().Duration = d
	}
	if changed("warmup") {
		d, err := parseFlagDuration(f.warmup)
		if err != nil {
			return badInput(fmt.Errorf("--warmup: %w", err))
		}
		override().Warmup = &d
	}
	if changed("rate") {
		override().RPS = &f.rate
	}
	if changed("connections") {
		override().Connections = &f.connections
	}
	if len(f.labels) > 0 {
		labels := map[string]string{}
		for _, l := range f.labels {
			k, v, ok := strings.Cut(l, "=")
			if !ok || k == "" {
				return badInput(fmt.Errorf("--label %q is not key=value", l))
			}
			labels[k] = v
		}
		override().Labels = labels
	}
	format, err := outputFormat(f)
	if err != nil {
		return badInput(err)
	}
	c, err := f.remote.client()
	if err != nil {
		return err
	}
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	human := stdout
	if format != "" && f.out == "" {
		human = stderr
	}
	run, err := c.RunProfile(cmd.Context(), f.profile, overrides)
	if err != nil {
		return remoteErr(err)
	}
	if !f.quiet {
		fmt.Fprintf(stderr, "run %s of profile %s (version %d) queued on %s (Ctrl-C cancels it and keeps the partial result)\n",
			run.ID, run.ProfileName, run.ProfileVersion, c.Server)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	var interrupted atomic.Bool
	go func() {
		if _, ok := <-sigs; ok {
			interrupted.Store(true)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := c.CancelRun(ctx, run.ID); err != nil {
				fmt.Fprintln(stderr, "\nmeshperf: cancelling the run:", err)
			}
		}
	}()
	tty := isTerminal(stderr)
	var progress func(perf.Progress)
	if !f.quiet {
		progress = progressPrinter(stderr, tty)
	}
	var res *smp.Result
	var end struct {
		Status   string `json:"status"`
		ResultID string `json:"result_id"`
		Error    string `json:"error"`
	}
	err = c.Follow(cmd.Context(), run.ID, func(ev client.Event) {
		switch ev.Type {
		case "progress":
			var p perf.Progress
			if json.Unmarshal(ev.Data, &p) == nil && progress != nil {
				progress(p)
			}
		case "result":
			var r smp.Result
			if json.Unmarshal(ev.Data, &r) == nil {
				res = &r
			}
		case "end":
			_ = json.Unmarshal(ev.Data, &end)
		}
	})
	if tty && !f.quiet {
		fmt.Fprint(stderr, "\r\x1b[K")
	}
	if err != nil {
		return err
	}
	if res == nil {
		msg := end.Error
		if msg == "" {
			msg = "the run ended as " + end.Status + " without a result"
		}
		return errors.New(msg)
	}
	printSummary(human, res)
	if err := writeMarkdown(f.markdown, res); err != nil {
		return err
	}
	if format != "" {
		b, err := c.ResultRaw(cmd.Context(), end.ResultID, format)
		if err != nil {
			return err
		}
		if f.out != "" {
			if err := writeFileAtomic(f.out, func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
				return fmt.Errorf("writing --out: %w", err)
			}
			fmt.Fprintf(human, "  %s result written to %s\n", format, f.out)
		} else if _, err := stdout.Write(b); err != nil {
			return err
		}
	}
	fmt.Fprintf(human, "  result %s: %s/api/v1/results/%s\n", end.ResultID, c.Server, end.ResultID)
	return verdict(res, interrupted.Load())
}
