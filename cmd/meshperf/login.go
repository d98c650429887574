package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshperf/meshperf/client"
)

func newLoginCmd() *cobra.Command {
	var server, token, name string
	var fromStdin bool
	cmd := &cobra.Command{
		Use:   "login --server URL --token TOKEN",
		Short: "Save a server and token as a context and make it current",
		Example: `  meshperf login --server http://127.0.0.1:9081 --token mpt_...
  echo "$TOKEN" | meshperf login --server https://perf.example.com --token-stdin --name prod`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if fromStdin {
				b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 4096))
				if err != nil {
					return err
				}
				token = strings.TrimSpace(string(b))
			}
			if server == "" || token == "" {
				return badInput(errors.New("give --server and --token (or --token-stdin)"))
			}
			if u, err := url.Parse(server); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return badInput(fmt.Errorf("--server %q is not an http(s) URL", server))
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			u, err := client.New(server, token).WhoAmI(ctx)
			if err != nil {
				return fmt.Errorf("login failed: %w", err)
			}
			cfg, err := loadCLIConfig()
			if err != nil {
				return err
			}
			if name == "" {
				name = strings.TrimPrefix(strings.TrimPrefix(server, "https://"), "http://")
			}
			replaced := false
			for i := range cfg.Contexts {
				if cfg.Contexts[i].Name == name {
					cfg.Contexts[i] = cliContext{Name: name, Server: server, Token: token}
					replaced = true
				}
			}
			if !replaced {
				cfg.Contexts = append(cfg.Contexts, cliContext{Name: name, Server: server, Token: token})
			}
			cfg.Current = name
			if err := cfg.save(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "logged in to %s as %s (%s); context %q is current\n", server, u.Name, u.Role, name)
			return nil
		},
	}
	cmd.Flags().StringVar(&server, "server", "", "server URL, e.g. http://127.0.0.1:9081")
	cmd.Flags().StringVar(&token, "token", "", "API token")
	cmd.Flags().BoolVar(&fromStdin, "token-stdin", false, "read the token from standard input (keeps it out of shell history)")
	cmd.Flags().StringVar(&name, "name", "", "context name (default: the server's host)")
	return cmd
}

func newContextCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "context", Short: "List saved servers or switch between them"}
	var listOut outputFlag
	list := &cobra.Command{
		Use: "list", Short: "List contexts", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadCLIConfig()
			if err != nil {
				return err
			}
			// Tokens stay out of the listing, in both forms.
			type row struct {
				Current bool   `json:"current"`
				Name    string `json:"name"`
				Server  string `json:"server"`
			}
			rows := make([]row, len(cfg.Contexts))
			for i, c := range cfg.Contexts {
				rows[i] = row{c.Name == cfg.Current, c.Name, c.Server}
			}
			return writeList(cmd, &listOut, table[row]{
				columns: []string{"CURRENT", "NAME", "SERVER"},
				row: func(r row) []string {
					return []string{map[bool]string{true: "*"}[r.Current], r.Name, r.Server}
				},
				empty: "no contexts; save one with: meshperf login --server URL --token T",
			}, rows, nil)
		},
	}
	listOut.add(list)
	cmd.AddCommand(list, &cobra.Command{
		Use: "use NAME", Short: "Make a context current", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadCLIConfig()
			if err != nil {
				return err
			}
			for _, c := range cfg.Contexts {
				if c.Name == args[0] {
					cfg.Current = c.Name
					if err := cfg.save(); err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "context %q (%s) is current\n", c.Name, c.Server)
					return nil
				}
			}
			return badInput(fmt.Errorf("no context %q; see `meshperf context list`", args[0]))
		},
	})
	return cmd
}
