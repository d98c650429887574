package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/meshperf/meshperf/client"
	"github.com/meshperf/meshperf/smp"
)

// cliConfig is ~/.meshperf/config.yaml: the servers the CLI knows and which is current.
// It holds tokens, so it is written with mode 0600.
type cliConfig struct {
	Current  string       `yaml:"current"`
	Contexts []cliContext `yaml:"contexts"`
}

type cliContext struct {
	Name   string `yaml:"name"`
	Server string `yaml:"server"`
	Token  string `yaml:"token"`
}

func cliConfigPath() string {
	if p := os.Getenv("MESHPERF_CONFIG"); p != "" {
		return p
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".meshperf", "config.yaml")
}

func loadCLIConfig() (*cliConfig, error) {
	var c cliConfig
	b, err := os.ReadFile(cliConfigPath())
	if errors.Is(err, os.ErrNotExist) {
		return &c, nil
	}
	if err != nil {
		return nil, err
	}
	if err := smp.DecodeStrict(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", cliConfigPath(), err)
	}
	return &c, nil
}

func (c *cliConfig) save() error {
	b, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	p := cliConfigPath()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	return writeFileAtomic(p, func(w io.Writer) error { _, err := w.Write(b); return err }, 0o600)
}

// remoteFlags select the server: --server/--token, else MESHPERF_SERVER/MESHPERF_TOKEN,
// else the current context.
type remoteFlags struct{ server, token, context string }

func (r *remoteFlags) add(cmd *cobra.Command) { r.addAs(cmd, "context") }

// addAs names the saved-context flag, for commands whose --context means something else
// (a kubeconfig context).
func (r *remoteFlags) addAs(cmd *cobra.Command, contextFlag string) {
	cmd.Flags().StringVar(&r.server, "server", "", "server URL (default: the current context, or MESHPERF_SERVER)")
	cmd.Flags().StringVar(&r.token, "token", "", "API token (default: the current context, or MESHPERF_TOKEN)")
	cmd.Flags().StringVar(&r.context, contextFlag, "", "use this saved meshperf context instead of the current one")
}

func (r *remoteFlags) client() (*client.Client, error) {
	server, token := r.server, r.token
	if server == "" {
		server = os.Getenv("MESHPERF_SERVER")
	}
	if token == "" {
		token = os.Getenv("MESHPERF_TOKEN")
	}
	if server == "" || token == "" {
		cfg, err := loadCLIConfig()
		if err != nil {
			return nil, err
		}
		name := r.context
		if name == "" {
			name = cfg.Current
		}
		for _, c := range cfg.Contexts {
			if c.Name == name {
				if server == "" {
					server = c.Server
				}
				if token == "" {
					token = c.Token
				}
			}
		}
	}
	if server == "" {
		return nil, badInput(errors.New("no server: run `meshperf login --server URL --token T` first, or give --server"))
	}
	return client.New(server, token), nil
}

// remoteErr turns the server's bad-input answers into exit code 2.
func remoteErr(err error) error {
	var ce *client.Error
	if errors.As(err, &ce) && ce.IsInput() {
		return badInput(err)
	}
	return err
}

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
	cmd.AddCommand(&cobra.Command{
		Use: "list", Short: "List contexts", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadCLIConfig()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CURRENT\tNAME\tSERVER")
			for _, c := range cfg.Contexts {
				cur := ""
				if c.Name == cfg.Current {
					cur = "*"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", cur, c.Name, c.Server)
			}
			return tw.Flush()
		},
	}, &cobra.Command{
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

func newProfileCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "profile", Short: "Manage stored test profiles on a server"}
	var rf remoteFlags
	var file, name, desc, output string
	apply := &cobra.Command{
		Use: "apply -f FILE [--name NAME]", Short: "Create a profile, or save a new version of it", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return badInput(errors.New("give -f FILE (a test config, YAML or JSON)"))
			}
			data, err := os.ReadFile(file)
			if err != nil {
				return badInput(err)
			}
			var cfg smp.TestConfig
			if err := smp.DecodeStrict(data, &cfg); err != nil {
				return badInput(fmt.Errorf("%s: %w", file, err))
			}
			if name == "" {
				name = cfg.Name
			}
			if name == "" {
				return badInput(errors.New("the profile needs a name: --name, or name: in the file"))
			}
			c, err := rf.client()
			if err != nil {
				return err
			}
			p, what, err := c.ApplyProfile(cmd.Context(), name, desc, &cfg)
			if err != nil {
				return remoteErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "profile %s %s (version %d)\n", p.Name, what, p.Version)
			return nil
		},
	}
	apply.Flags().StringVarP(&file, "file", "f", "", "test config file")
	apply.Flags().StringVar(&name, "name", "", "profile name (default: the config's name)")
	apply.Flags().StringVar(&desc, "description", "", "profile description")
	rf.add(apply)

	list := &cobra.Command{
		Use: "list", Short: "List profiles", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			ps, err := c.Profiles(cmd.Context())
			if err != nil {
				return remoteErr(err)
			}
			if output == "json" {
				return writeJSONOut(cmd.OutOrStdout(), ps)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVERSION\tUPDATED\tBY\tDESCRIPTION")
			for _, p := range ps {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", p.Name, p.Version, p.UpdatedAt.Local().Format("2006-01-02 15:04"), p.CreatedBy, p.Description)
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVarP(&output, "output", "o", "", "json for scripts")
	rf.add(list)

	get := &cobra.Command{
		Use: "get NAME", Short: "Show a profile's current config", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			p, err := c.Profile(cmd.Context(), args[0])
			if err != nil {
				return remoteErr(err)
			}
			if output == "json" {
				return writeJSONOut(cmd.OutOrStdout(), p)
			}
			var cfg smp.TestConfig
			if err := smp.DecodeStrict(p.Config, &cfg); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "# profile %s, version %d\n", p.Name, p.Version)
			return smp.WriteConfig(cmd.OutOrStdout(), &cfg)
		},
	}
	get.Flags().StringVarP(&output, "output", "o", "yaml", "yaml (the config) or json (the profile)")
	rf.add(get)

	del := &cobra.Command{
		Use: "delete NAME", Short: "Delete a profile (its results are kept)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			kept, err := c.DeleteProfile(cmd.Context(), args[0])
			if err != nil {
				return remoteErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "profile %s deleted; %d result(s) kept\n", args[0], kept)
			return nil
		},
	}
	rf.add(del)
	cmd.AddCommand(apply, list, get, del)
	return cmd
}

func newResultCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "result", Short: "List, fetch and compare results on a server"}
	var rf remoteFlags
	var output, out, profile, since, status string
	var labels []string
	var limit int
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
			if output == "json" {
				return writeJSONOut(cmd.OutOrStdout(), map[string]any{"items": rows, "next_cursor": next})
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tPROFILE\tSTARTED\tSTATUS\tREQUESTS\tREQ/S\tP50\tP99\tERRORS")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%.1f\t%.2fms\t%.2fms\t%.2f%%\n", r.ID, r.ProfileName,
					r.StartTime.Local().Format("2006-01-02 15:04:05"), r.Status, r.Requests, r.ActualRPS, r.P50Ms, r.P99Ms, r.ErrorRate*100)
			}
			if next != "" {
				fmt.Fprintf(tw, "(more: narrow the filters or raise --limit)\n")
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVarP(&output, "output", "o", "", "json for scripts")
	list.Flags().StringVar(&profile, "profile", "", "only this profile")
	list.Flags().StringArrayVar(&labels, "label", nil, "only results with label key=value (repeatable)")
	list.Flags().StringVar(&since, "since", "", "only results started at or after this RFC 3339 time")
	list.Flags().StringVar(&status, "status", "", "completed, partial or failed")
	list.Flags().IntVar(&limit, "limit", 50, "at most this many")
	rf.add(list)

	get := &cobra.Command{
		Use: "get ID", Short: "Fetch a result: the summary, or -o json|yaml|smp|smp-json|csv", Args: cobra.ExactArgs(1),
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

func writeJSONOut(w io.Writer, v any) error {
	return smp.WriteJSON(w, v)
}
