//go:build !generator

package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/meshperf/meshperf/dashboards"
	"github.com/meshperf/meshperf/smp"
)

func newDashboardCmd() *cobra.Command {
	var rf remoteFlags
	var out, title, promDS, grafanaURL, tokenFile, folder, output string
	cmd := &cobra.Command{
		Use:   "dashboard RESULT [RESULT...]",
		Short: "A Grafana board comparing results: write its JSON, or upload it",
		Long: `Build a Grafana board comparing results (full result files, or ids on the server of the
current context): latency p50/p90/p99, request rate, errors and error rate per second
for each result, every run drawn over the last run's window, one annotation per run
window. meshperf's numbers travel inside the board (TestData queries: no Prometheus
needed). With --prometheus-datasource the board also shows the proxies' and the
control plane's CPU and memory from that Prometheus over each run's window.

Without --grafana the board's JSON is written (stdout or --out) for Grafana's import;
with --grafana and --grafana-token-file it is uploaded and its URL printed.`,
		Example: `  meshperf dashboard before.json after.json --out board.json
  meshperf dashboard a.json b.json --prometheus-datasource prom --grafana https://grafana.example --grafana-token-file ~/.grafana-token`,
		Args: cobra.RangeArgs(1, 20),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "" && output != "json" {
				return badInput(fmt.Errorf("--output must be json (or nothing)"))
			}
			if (grafanaURL == "") != (tokenFile == "") {
				return badInput(fmt.Errorf("--grafana and --grafana-token-file go together"))
			}
			if grafanaURL != "" && out != "" {
				return badInput(fmt.Errorf("--out writes the board's JSON; --grafana uploads it: choose one"))
			}
			results := make([]*smp.Result, len(args))
			for i, a := range args {
				r, err := loadResult(cmd, &rf, a)
				if err != nil {
					return err
				}
				results[i] = r
			}
			board, err := dashboards.Build(results, dashboards.Options{Title: title, PrometheusDatasource: promDS})
			if err != nil {
				return badInput(err)
			}
			if grafanaURL == "" {
				write := func(w io.Writer) error { _, err := w.Write(append(board.JSON, '\n')); return err }
				if out == "" {
					return write(cmd.OutOrStdout())
				}
				return writeFileAtomic(out, write, 0o644)
			}
			if err := dashboards.CheckURL(grafanaURL); err != nil {
				return badInput(fmt.Errorf("--grafana: %w", err))
			}
			token, err := os.ReadFile(tokenFile)
			if err != nil {
				return badInput(fmt.Errorf("--grafana-token-file: %w", err))
			}
			url, err := dashboards.Upload(cmd.Context(), grafanaURL, strings.TrimSpace(string(token)), board, folder)
			if err != nil {
				return err
			}
			if output == "json" {
				return smp.WriteJSON(cmd.OutOrStdout(), map[string]any{"uid": board.UID, "url": url, "windows": board.Windows})
			}
			fmt.Fprintln(cmd.OutOrStdout(), url)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "write the board's JSON to this file (default: stdout)")
	f.StringVar(&title, "title", "", "the board's title (default: the results' names)")
	f.StringVar(&promDS, "prometheus-datasource", "", "uid of a Prometheus data source in Grafana: adds resource panels")
	f.StringVar(&grafanaURL, "grafana", "", "upload to this Grafana instead of writing the JSON")
	f.StringVar(&tokenFile, "grafana-token-file", "", "file holding a Grafana token (or user:password)")
	f.StringVar(&folder, "folder", "meshperf", "Grafana folder to upload into")
	f.StringVarP(&output, "output", "o", "", "json: print the uploaded board's uid, URL and run windows")
	rf.add(cmd)
	return cmd
}
