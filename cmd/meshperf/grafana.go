//go:build !generator

package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/meshperf/meshperf/dashboards"
)

// grafanaFlags name a Grafana and the file holding its credential (never a flag's
// value: it would show in ps and shell history).
type grafanaFlags struct{ url, tokenFile string }

func (g *grafanaFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&g.url, "grafana", "", "the Grafana's URL")
	cmd.Flags().StringVar(&g.tokenFile, "grafana-token-file", "", "file holding a Grafana token (or user:password)")
}

func (g *grafanaFlags) credential() (string, error) {
	if g.url == "" || g.tokenFile == "" {
		return "", badInput(fmt.Errorf("--grafana and --grafana-token-file are needed"))
	}
	if err := dashboards.CheckURL(g.url); err != nil {
		return "", badInput(fmt.Errorf("--grafana: %w", err))
	}
	b, err := os.ReadFile(g.tokenFile)
	if err != nil {
		return "", badInput(fmt.Errorf("--grafana-token-file: %w", err))
	}
	return strings.TrimSpace(string(b)), nil
}

func newGrafanaCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "grafana",
		Short: "A Grafana's boards and panels, to attach to a test config (grafana_panels)",
	}
	var g grafanaFlags
	var out outputFlag
	boards := &cobra.Command{
		Use:   "boards",
		Short: "List a Grafana's boards",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.check(); err != nil {
				return err
			}
			cred, err := g.credential()
			if err != nil {
				return err
			}
			list, err := dashboards.ListBoards(cmd.Context(), g.url, cred)
			if err != nil {
				return err
			}
			return writeList(cmd, &out, table[dashboards.BoardRef]{
				columns: []string{"UID", "TITLE", "FOLDER", "URL"},
				row:     func(b dashboards.BoardRef) []string { return []string{b.UID, b.Title, orDash(b.Folder), b.URL} },
				empty:   "no boards",
			}, list, nil)
		},
	}
	g.add(boards)
	out.add(boards)

	var pg grafanaFlags
	var pout outputFlag
	panels := &cobra.Command{
		Use:   "panels BOARD_UID",
		Short: "List a board's panels: their board_uid and panel_id go into grafana_panels",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := pout.check(); err != nil {
				return err
			}
			cred, err := pg.credential()
			if err != nil {
				return err
			}
			list, err := dashboards.BoardPanels(cmd.Context(), pg.url, cred, args[0])
			if err != nil {
				return err
			}
			return writeList(cmd, &pout, table[dashboards.PanelRef]{
				columns: []string{"BOARD_UID", "PANEL_ID", "TYPE", "TITLE"},
				row: func(p dashboards.PanelRef) []string {
					return []string{p.BoardUID, strconv.Itoa(p.PanelID), orDash(p.Type), p.Title}
				},
				empty: "no panels",
			}, list, nil)
		},
	}
	pg.add(panels)
	pout.add(panels)
	cmd.AddCommand(boards, panels)
	return cmd
}
