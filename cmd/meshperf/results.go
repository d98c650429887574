package main

import (
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/meshperf/meshperf/client"
	"github.com/meshperf/meshperf/smp"
)

func newResultCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "result", Short: "List, fetch and compare results on a server"}
	var rf remoteFlags
	var output, out, profile, since, status, grafana string
	var labels []string
	var limit int
	var listOut outputFlag
	list := &cobra.Command{
		Use: "list", Short: "List results, newest first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			q := url.Values{}
			for k, v := range map[string]string{"profile": profile, "since": since, "status": status} {
				if v != "" {
					q.Set(k, v)
				}
			}
			for _, l := range labels {
				q.Add("label", l)
			}
			q.Set("limit", fmt.Sprint(limit))
			rows, next, err := c.Results(cmd.Context(), q)
			if err != nil {
				return remoteErr(err)
			}
			if err := writeList(cmd, &listOut, resultTable, rows, map[string]any{"items": rows, "next_cursor": next}); err != nil {
				return err
			}
			if next != "" && !listOut.json() {
				fmt.Fprintln(cmd.ErrOrStderr(), "(more: narrow the filters or raise --limit)")
			}
			return nil
		},
	}
	listOut.add(list)
	list.Flags().StringVar(&profile, "profile", "", "only this profile")
	list.Flags().StringArrayVar(&labels, "label", nil, "only results with label key=value (repeatable)")
	list.Flags().StringVar(&since, "since", "", "only results started at or after this RFC 3339 time")
	list.Flags().StringVar(&status, "status", "", "completed, partial or failed")
	list.Flags().IntVar(&limit, "limit", 50, "at most this many")
	rf.add(list)

	get := &cobra.Command{
		Use: "get ID", Short: "Fetch a result (ID: its id, any unambiguous prefix, or its run's id): the summary, or -o json|yaml|smp|smp-json|csv", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			if output == "" {
				res, err := c.Result(cmd.Context(), args[0])
				if err != nil {
					return remoteErr(err)
				}
				printSummary(cmd.OutOrStdout(), res)
				printPanels(cmd, c, res, grafana)
				return nil
			}
			b, err := c.ResultRaw(cmd.Context(), args[0], output)
			if err != nil {
				return remoteErr(err)
			}
			if out != "" {
				return writeFileAtomic(out, func(w io.Writer) error { _, err := w.Write(b); return err }, 0o644)
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	get.Flags().StringVarP(&output, "output", "o", "", strings.Join(smp.OutputFormats, ", "))
	get.Flags().StringVar(&out, "out", "", "write to this file")
	get.Flags().StringVar(&grafana, "grafana", "", "the Grafana connection the attached panels' links point into (default: the only one)")
	rf.add(get)

	compare := &cobra.Command{
		Use: "compare ID ID [ID...]", Short: "Compare results on the server (the first is the baseline), as meshperf compare does",
		Long: `Compare results stored on the server: the same analysis as meshperf compare (per-second
figures, 95% confidence intervals, verdicts), computed by the server. -o json also
gives the side-by-side summary figures.`,
		Args: cobra.RangeArgs(2, 10),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			cmpr, err := c.Compare(cmd.Context(), args)
			if err != nil {
				return remoteErr(err)
			}
			if output == "json" {
				return writeJSONOut(cmd.OutOrStdout(), cmpr)
			}
			if output != "" {
				return badInput(fmt.Errorf("--output must be json (or nothing, for the table)"))
			}
			return writeServerComparison(cmd.OutOrStdout(), cmpr)
		},
	}
	compare.Flags().StringVarP(&output, "output", "o", "", "json for scripts")
	rf.add(compare)
	cmd.AddCommand(list, get, compare)
	return cmd
}

// resultTable prints the id in full; any unambiguous prefix of it, or the run's id, is
// accepted by `result get` and `result compare`.
var resultTable = table[client.ResultRow]{
	columns: []string{"ID", "PROFILE", "STARTED", "STATUS", "REQUESTS", "REQ/S", "P50", "P99", "ERRORS"},
	row: func(r client.ResultRow) []string {
		return []string{r.ID, r.ProfileName, r.StartTime.Local().Format("2006-01-02 15:04:05"), r.Status,
			fmt.Sprint(r.Requests), fmt.Sprintf("%.1f", r.ActualRPS), fmt.Sprintf("%.2fms", r.P50Ms),
			fmt.Sprintf("%.2fms", r.P99Ms), fmt.Sprintf("%.2f%%", r.ErrorRate*100)}
	},
	empty: "no results yet; run a profile with: meshperf run --profile NAME",
}

// printPanels ends a result's summary with the Grafana panels attached to its
// profile, each linked over the run's measured window; a link that cannot be made
// (no or several Grafana connections) says why instead, the summary stands.
func printPanels(cmd *cobra.Command, c *client.Client, res *smp.Result, grafana string) {
	if res.Config == nil || len(res.Config.GrafanaPanels) == 0 {
		return
	}
	w := cmd.OutOrStdout()
	p, err := c.ResultPanels(cmd.Context(), res.ID, grafana)
	if err != nil {
		fmt.Fprintf(w, "\n  grafana panels: %d attached, not linked: %v\n", len(res.Config.GrafanaPanels), err)
		return
	}
	fmt.Fprintf(w, "\n  grafana panels (%s, over the measured window)\n", p.Connection)
	for _, l := range p.Links {
		title := l.Title
		if title == "" {
			title = fmt.Sprintf("%s panel %d", l.BoardUID, l.PanelID)
		}
		fmt.Fprintf(w, "  %s %s\n", title, l.URL)
	}
}
